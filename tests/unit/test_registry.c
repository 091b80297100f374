/* The installed-distro registry: add/find/remove/default, a round trip through the file, atomic saves,
 * corrupt files refused, two processes updating it at once without losing either's changes, a private file,
 * and a lock wait that ends. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "lock.h"
#include "macro.h"
#include "registry.h"

static char state[] = "/tmp/lsl-registry-XXXXXX";
static char file[256];

static struct lsl_distro make(const char *name)
{
    struct lsl_distro d = {.default_uid = -1, .version = 2, .created = time(NULL)};
    snprintf(d.name, sizeof(d.name), "%s", name);
    CHECK_EQ(lsl_distro_new_id(NULL, d.id), 0);
    d.dir = "/srv/distros/x";
    d.image = "/srv/distros/x/ext4.img";
    return d;
}

static void write_text(const char *text)
{
    FILE *f = fopen(file, "w");
    CHECK(f && fputs(text, f) >= 0);
    if (f)
        fclose(f);
}

static void test_names(void)
{
    static const char *const good[] = {"Debian", "Ubuntu-24.04", "a", "my_distro.2", "0day"};
    static const char *const bad[] = {"", ".hidden", "-opt", "has space", "slash/y", "ümlaut", "a:b"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        CHECK(lsl_distro_name_valid(good[i]));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(!lsl_distro_name_valid(bad[i]));
    char name[LSL_DISTRO_NAME_MAX + 2];
    memset(name, 'n', sizeof(name));
    name[LSL_DISTRO_NAME_MAX] = '\0';
    CHECK(lsl_distro_name_valid(name));
    name[LSL_DISTRO_NAME_MAX] = 'n';
    name[LSL_DISTRO_NAME_MAX + 1] = '\0';
    CHECK(!lsl_distro_name_valid(name));

    char a[LSL_DISTRO_ID_LEN + 1], b[LSL_DISTRO_ID_LEN + 1];
    CHECK_EQ(lsl_distro_new_id(NULL, a), 0);
    CHECK_EQ(lsl_distro_new_id(NULL, b), 0);
    CHECK_EQ(strlen(a), 16);
    CHECK_EQ(strspn(a, "0123456789abcdef"), 16);
    CHECK(strcmp(a, b) != 0);
}

static void test_edit_and_round_trip(void)
{
    unlink(file);
    struct lsl_registry r;
    CHECK_EQ(lsl_registry_open(&r, state, LSL_REGISTRY_WRITE), 0); /* no file yet: empty */
    CHECK_EQ(r.n, 0);
    CHECK(lsl_registry_default(&r) == NULL);
    struct lsl_distro debian = make("Debian"), ubuntu = make("ubuntu");
    debian.default_user = "alice";
    debian.default_uid = 1000;
    debian.oobe_command = "/usr/lib/wsl/oobe.sh";
    debian.created = 1700000000;
    CHECK_EQ(lsl_registry_add(&r, &debian), 0);
    CHECK_EQ(lsl_registry_add(&r, &ubuntu), 0);
    CHECK(lsl_registry_default(&r) && strcmp(lsl_registry_default(&r)->name, "Debian") == 0); /* the first */
    struct lsl_distro dup = make("DEBIAN");
    CHECK_EQ(lsl_registry_add(&r, &dup), -EEXIST); /* names compare case-insensitively */
    struct lsl_distro same_id = make("Other");
    memcpy(same_id.id, ubuntu.id, sizeof(same_id.id));
    CHECK_EQ(lsl_registry_add(&r, &same_id), -EEXIST);
    struct lsl_distro badname = make("-x");
    CHECK_EQ(lsl_registry_add(&r, &badname), -EINVAL);
    CHECK(lsl_registry_find(&r, "debian") && lsl_registry_find(&r, "UBUNTU"));
    CHECK(lsl_registry_find(&r, "fedora") == NULL);
    CHECK_EQ(lsl_registry_set_default(&r, "UBUNTU"), 0);
    CHECK(strcmp(r.default_name, "ubuntu") == 0); /* the registered spelling */
    CHECK_EQ(lsl_registry_set_default(&r, "fedora"), -ENOENT);
    CHECK_EQ(lsl_registry_save(&r), 0);
    lsl_registry_close(&r);

    CHECK_EQ(lsl_registry_open(&r, state, LSL_REGISTRY_READ), 0);
    CHECK_EQ(r.n, 2);
    CHECK_EQ(lsl_registry_save(&r), -EPERM); /* read-only: no lock held */
    struct lsl_distro *d = lsl_registry_find(&r, "Debian");
    CHECK(d != NULL);
    if (d) {
        CHECK(strcmp(d->id, debian.id) == 0);
        CHECK(strcmp(d->dir, "/srv/distros/x") == 0 && strcmp(d->image, "/srv/distros/x/ext4.img") == 0);
        CHECK(strcmp(d->default_user, "alice") == 0);
        CHECK_EQ(d->default_uid, 1000);
        CHECK(strcmp(d->oobe_command, "/usr/lib/wsl/oobe.sh") == 0);
        CHECK(!d->oobe_done);
        CHECK_EQ(d->version, 2);
        CHECK_EQ(d->created, 1700000000);
    }
    d = lsl_registry_find(&r, "ubuntu");
    CHECK(d && strcmp(d->default_user, "") == 0 && strcmp(d->oobe_command, "") == 0 && d->default_uid == -1);
    CHECK(lsl_registry_default(&r) && strcmp(lsl_registry_default(&r)->name, "ubuntu") == 0);
    lsl_registry_close(&r);

    /* Removing the default makes the first remaining one the default; removing the last leaves none. */
    CHECK_EQ(lsl_registry_open(&r, state, LSL_REGISTRY_WRITE), 0);
    CHECK_EQ(lsl_registry_remove(&r, "Ubuntu"), 0);
    CHECK_EQ(lsl_registry_remove(&r, "Ubuntu"), -ENOENT);
    CHECK(lsl_registry_default(&r) && strcmp(lsl_registry_default(&r)->name, "Debian") == 0);
    lsl_registry_find(&r, "Debian")->oobe_done = true;
    CHECK_EQ(lsl_registry_save(&r), 0);
    lsl_registry_close(&r);
    CHECK_EQ(lsl_registry_open(&r, state, LSL_REGISTRY_WRITE), 0);
    CHECK(r.n == 1 && r.distros[0].oobe_done);
    CHECK_EQ(lsl_registry_remove(&r, "debian"), 0);
    CHECK(r.n == 0 && lsl_registry_default(&r) == NULL && r.default_name == NULL);
    CHECK_EQ(lsl_registry_save(&r), 0);
    lsl_registry_close(&r);
    CHECK_EQ(lsl_registry_open(&r, state, LSL_REGISTRY_READ), 0);
    CHECK(r.n == 0 && r.default_name == NULL);
    lsl_registry_close(&r);
}

static void test_atomic_save(void)
{
    unlink(file);
    struct lsl_registry r;
    CHECK_EQ(lsl_registry_open(&r, state, LSL_REGISTRY_WRITE), 0);
    struct lsl_distro d = make("One");
    CHECK_EQ(lsl_registry_add(&r, &d), 0);
    CHECK_EQ(lsl_registry_save(&r), 0);
    struct stat before, after;
    CHECK_EQ(stat(file, &before), 0);
    d = make("Two");
    CHECK_EQ(lsl_registry_add(&r, &d), 0);
    CHECK_EQ(lsl_registry_save(&r), 0);
    CHECK_EQ(stat(file, &after), 0);
    CHECK(before.st_ino != after.st_ino); /* a new file renamed over the old, never rewritten in place */
    lsl_registry_close(&r);
    /* No temporary files left behind: the directory holds the registry and its lock only. */
    DIR *dir = opendir(state);
    struct dirent *e;
    int others = 0;
    while (dir && (e = readdir(dir)))
        if (e->d_name[0] != '.' && strcmp(e->d_name, "distros.json") != 0 &&
            strcmp(e->d_name, "distros.lock") != 0)
            others++;
    if (dir)
        closedir(dir);
    CHECK_EQ(others, 0);
}

static void test_corrupt_refused(void)
{
    static const char *const corrupt[] = {
        "{\"distros\": [",
        "[]",
        "{\"default\": null}",
        "{\"distros\": [{\"name\": \"x\"}]}",
        "{\"distros\": [{\"name\": \"x\", \"id\": \"0123456789abcdef\", \"dir\": \"/d\", \"image\": \"/d/i\","
        " \"default_uid\": \"root\"}]}",
        "{\"default\": \"ghost\", \"distros\": []}",
        "{\"distros\": [{\"name\": \"x\", \"id\": \"0123456789abcdef\", \"dir\": \"/d\", \"image\": \"/i\"},"
        " {\"name\": \"X\", \"id\": \"fedcba9876543210\", \"dir\": \"/d\", \"image\": \"/i\"}]}",
    };
    for (size_t i = 0; i < sizeof(corrupt) / sizeof(corrupt[0]); i++) {
        write_text(corrupt[i]);
        struct lsl_registry r;
        CHECK_EQ(lsl_registry_open(&r, state, LSL_REGISTRY_WRITE), -EBADMSG);
        CHECK_EQ(lsl_registry_open(&r, state, LSL_REGISTRY_READ), -EBADMSG);
        /* ... and left exactly as it was. */
        FILE *f = fopen(file, "r");
        char buf[512] = "";
        size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
        buf[n] = '\0';
        if (f)
            fclose(f);
        CHECK(strcmp(buf, corrupt[i]) == 0);
    }
    unlink(file);
}

/* Two processes each add their own distros, one lock/load/add/save cycle at a time; with the lock all land.
 */
static void test_concurrent_updates(void)
{
    enum { ROUNDS = 20 };
    unlink(file);
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            for (int i = 0; i < ROUNDS; i++) {
                struct lsl_registry r;
                char name[32];
                snprintf(name, sizeof(name), "p%d-%d", k, i);
                if (lsl_registry_open(&r, state, LSL_REGISTRY_WRITE) < 0)
                    _exit(1);
                struct lsl_distro d = make(name);
                if (lsl_distro_new_id(&r, d.id) < 0 || lsl_registry_add(&r, &d) < 0)
                    _exit(2);
                usleep(2000); /* widen the window a lost update would need */
                if (lsl_registry_save(&r) < 0)
                    _exit(3);
                lsl_registry_close(&r);
            }
            _exit(0);
        }
    }
    for (int k = 0; k < 2; k++) {
        int st = -1;
        waitpid(kids[k], &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    struct lsl_registry r;
    CHECK_EQ(lsl_registry_open(&r, state, LSL_REGISTRY_READ), 0);
    CHECK_EQ(r.n, 2 * ROUNDS);
    lsl_registry_close(&r);
}

/* distros.json names where every disk is: 0600 (and its lock file), whatever the umask lets through. */
static void test_private(void)
{
    unlink(file);
    mode_t old = umask(0);
    struct lsl_registry r;
    CHECK_EQ(lsl_registry_open(&r, state, LSL_REGISTRY_WRITE), 0);
    struct lsl_distro d = make("Private");
    CHECK_EQ(lsl_registry_add(&r, &d), 0);
    CHECK_EQ(lsl_registry_save(&r), 0);
    lsl_registry_close(&r);
    umask(old);
    struct stat st;
    char lock[300];
    CHECK_EQ(stat(file, &st), 0);
    CHECK_EQ(st.st_mode & 0777, 0600);
    snprintf(lock, sizeof(lock), "%s/distros.lock", state);
    CHECK_EQ(stat(lock, &st), 0);
    CHECK_EQ(st.st_mode & 0777, 0600);
    unlink(file);
}

/* The cleanup function: a zeroed registry (a lookup that never opened it) closes nothing, fd 0 included. */
static void test_cleanup(void)
{
    {
        _cleanup_(lsl_registry_closep) struct lsl_registry zero = {0};
    }
    CHECK(fcntl(0, F_GETFD) >= 0 || errno != EBADF);
    {
        _cleanup_(lsl_registry_closep) struct lsl_registry r = {0};
        CHECK_EQ(lsl_registry_open(&r, state, LSL_REGISTRY_WRITE), 0);
    } /* closed here: the lock is free again */
    struct lsl_registry r;
    CHECK_EQ(lsl_registry_open(&r, state, LSL_REGISTRY_WRITE), 0);
    lsl_registry_close(&r);
    lsl_registry_close(&r); /* twice is harmless */
}

/* A lock nobody lets go of costs a bounded wait, not a hung lsl. */
static void test_lock_bounded(void)
{
    char lock[300];
    snprintf(lock, sizeof(lock), "%s/held.lock", state);
    int holder = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    CHECK(holder >= 0 && flock(holder, LOCK_EX) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = lsl_lock_take(lock, 1);
        _exit(fd == -ETIMEDOUT ? 0 : 1);
    }
    int st = -1;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(holder);
    int fd = lsl_lock_take(lock, 1); /* free now: at once */
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
    /* Never through a symlink someone put there. */
    snprintf(lock, sizeof(lock), "%s/link.lock", state);
    CHECK_EQ(symlink("/nonexistent/lsl-target", lock), 0);
    CHECK_EQ(lsl_lock_take(lock, 1), -ELOOP);
    unlink(lock);
}

int main(void)
{
    if (!mkdtemp(state)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(file, sizeof(file), "%s/distros.json", state);
    RUN(test_names);
    RUN(test_edit_and_round_trip);
    RUN(test_atomic_save);
    RUN(test_corrupt_refused);
    RUN(test_concurrent_updates);
    RUN(test_private);
    RUN(test_cleanup);
    RUN(test_lock_bounded);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", state);
    return CHECK_DONE();
}
