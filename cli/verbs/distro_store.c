/* See distro_store.h. The registry is changed under its lock and only once the disk work is done, so a
 * failure or a concurrent lsl never leaves a half-made distribution registered; directories a verb created
 * are taken away again when it fails. */
#include "distro_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "distconf.h"
#include "distro_vm.h"
#include "exitcodes.h"
#include "image.h"
#include "lock.h"
#include "log.h"
#include "macro.h"
#include "own_user.h"

int lsl_store_open(const struct lsl_paths *p, struct lsl_registry *reg, bool lock)
{
    return lsl_registry_open(reg, p->state, lock ? LSL_REGISTRY_WRITE : LSL_REGISTRY_READ) < 0
               ? LSL_EXIT_FAILURE
               : 0;
}

int lsl_store_no_such(const char *name)
{
    log_error("there is no distribution '%s' (lsl --list shows them)", name);
    return LSL_EXIT_NOT_FOUND;
}

int lsl_store_lookup(const struct lsl_paths *p, const char *name, struct lsl_registry *reg, bool lock,
                     struct lsl_distro **d)
{
    int rc = lsl_store_open(p, reg, lock);
    if (rc)
        return rc;
    *d = lsl_registry_find(reg, name);
    return *d ? 0 : lsl_store_no_such(name);
}

int lsl_store_lock_path(const struct lsl_paths *p, const struct lsl_distro *d, const char *what, char *out,
                        size_t len)
{
    int r = lsl_path_fmt(out, len, "%s/locks", p->state);
    if (!r && (r = lsl_mkdir_p(out, 0700)) < 0)
        return log_errno(-r, "cannot create %s", out), LSL_EXIT_FAILURE;
    /* By id: stable for the distribution's life and free of the name's case. */
    if (r < 0 || lsl_path_fmt(out, len, "%s/locks/%s.%s", p->state, d->id, what) < 0) {
        log_error("the path %s is too long", p->state);
        return LSL_EXIT_FAILURE;
    }
    return 0;
}

/* "VERB PID" of the hold's owner, from its lock file ("" when it has not written it yet). */
static void holder(int fd, char *out, size_t len)
{
    ssize_t n = pread(fd, out, len - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    out[strcspn(out, "\n")] = '\0';
}

/* The exclusive hold on d: the fd, or an exit code (negated) after one error line. */
static int hold(const struct lsl_paths *p, const struct lsl_distro *d, const char *verb)
{
    char path[PATH_MAX], who[64] = "";
    int rc = lsl_store_lock_path(p, d, "hold", path, sizeof(path));
    if (rc)
        return -rc;
    int fd = lsl_lock_take(path, 0);
    if (fd == -ETIMEDOUT) {
        /* Someone holds it: an export for as long as the export takes, so it is refused at once; the others
         * (a stop, a resize) are short and waited for. */
        _cleanup_close_ int peek = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (peek >= 0)
            holder(peek, who, sizeof(who));
        if (strncmp(who, "export ", 7) != 0)
            fd = lsl_lock_take(path, LSL_STORE_HOLD_WAIT_S);
    }
    if (fd == -ETIMEDOUT) {
        char verb_of[32] = "another lsl", *sp = strchr(who, ' ');
        if (sp)
            snprintf(verb_of, sizeof(verb_of), "lsl --%.*s, pid %s", (int)(sp - who), who, sp + 1);
        log_error("%s is being %s (%s); try again when that is done", d->name,
                  !strncmp(who, "export ", 7) ? "exported" : "changed", verb_of);
        return -LSL_EXIT_BUSY;
    }
    if (fd < 0) {
        log_errno(-fd, "cannot lock %s", path);
        return -LSL_EXIT_FAILURE;
    }
    char line[64];
    int n = snprintf(line, sizeof(line), "%s %d\n", verb, (int)getpid());
    /* Failing only makes another lsl's refusal less precise. */
    (void)(ftruncate(fd, 0) == 0 && pwrite(fd, line, (size_t)n, 0) == n);
    return fd;
}

int lsl_store_lookup_held(const struct lsl_paths *p, const char *name, struct lsl_registry *reg, bool lock,
                          const char *verb, struct lsl_distro **d, int *hold_fd)
{
    char id[LSL_DISTRO_ID_LEN + 1];
    *hold_fd = -1;
    {
        /* The id first, without the registry's lock: waiting for the hold must not keep other writers out. */
        _cleanup_(lsl_registry_closep) struct lsl_registry r = {0};
        struct lsl_distro *found;
        int rc = lsl_store_lookup(p, name, &r, false, &found);
        if (rc)
            return rc;
        int fd = hold(p, found, verb);
        if (fd < 0)
            return -fd;
        *hold_fd = fd;
        snprintf(id, sizeof(id), "%s", found->id);
    }
    int rc = lsl_store_lookup(p, name, reg, lock, d);
    if (!rc && strcmp((*d)->id, id) != 0)
        rc = lsl_store_no_such(name); /* unregistered, and another made under its name, while we waited */
    if (rc) {
        close(*hold_fd);
        *hold_fd = -1;
    }
    return rc;
}

int lsl_store_lookup_stopped(const struct lsl_paths *p, const char *name, struct lsl_registry *reg, bool lock,
                             const char *verb, struct lsl_distro **d, int *hold_fd)
{
    int rc = lsl_store_lookup_held(p, name, reg, lock, verb, d, hold_fd);
    if (rc)
        return rc;
    bool was;
    return lsl_distro_stop(p, (*d)->name, (*d)->id, &was) < 0 ? LSL_EXIT_FAILURE : 0;
}

int lsl_store_commit(struct lsl_registry *reg)
{
    return lsl_registry_save(reg) < 0 ? LSL_EXIT_FAILURE : 0;
}

int lsl_store_set_str(char **field, const char *value)
{
    char *copy = strdup(value ? value : "");
    if (!copy)
        return -ENOMEM;
    free(*field);
    *field = copy;
    return 0;
}

uint64_t lsl_store_default_vhd_size(void)
{
    _cleanup_(lsl_config_freep) struct lsl_config c = {0};
    lsl_config_load_user(&c);
    return c.default_vhd_size;
}

int lsl_store_check_new_name(const struct lsl_paths *p, const char *name)
{
    if (!lsl_distro_name_valid(name)) {
        log_error("invalid distribution name '%s' (1-64 letters, digits, '.', '_' or '-')", name);
        return LSL_EXIT_USAGE;
    }
    _cleanup_(lsl_registry_closep) struct lsl_registry reg = {0};
    int rc = lsl_store_open(p, &reg, false);
    if (rc)
        return rc;
    if (lsl_registry_find(&reg, name)) {
        log_error("a distribution named '%s' already exists", name);
        return LSL_EXIT_EXISTS;
    }
    return 0;
}

/* The distribution whose disk image is the file at path (the same inode, whatever path names it), or NULL. */
static const struct lsl_distro *image_owner(const struct lsl_registry *reg, const char *path)
{
    struct stat want, st;
    if (stat(path, &want) < 0)
        return NULL;
    for (size_t i = 0; i < reg->n; i++)
        if (stat(reg->distros[i].image, &st) == 0 && st.st_dev == want.st_dev && st.st_ino == want.st_ino)
            return &reg->distros[i];
    return NULL;
}

int lsl_store_register(const struct lsl_paths *p, const char *name, const char *dir, const char *image,
                       const char *id, const char *distribution_conf, const char *own_user)
{
    struct lsl_distro d = {.dir = (char *)dir,
                           .image = (char *)image,
                           .default_uid = -1,
                           .version = 2,
                           .created = (int64_t)time(NULL)};
    snprintf(d.name, sizeof(d.name), "%s", name);
    snprintf(d.id, sizeof(d.id), "%s", id);
    _cleanup_(lsl_distconf_free) struct lsl_distconf conf = {0};
    if (distribution_conf && lsl_distconf_init(&conf) == 0) {
        (void)lsl_distconf_parse_distribution(&conf, distribution_conf, NULL);
        d.oobe_command = conf.oobe_command;
        d.default_uid = conf.oobe_default_uid;
    }
    struct lsl_own_user u;
    if (lsl_own_user_plan(own_user, &d, &u)) {
        /* Asked before the registry's lock is taken: a user thinking holds up no other lsl. */
        if (!own_user && isatty(STDIN_FILENO) && isatty(STDERR_FILENO))
            lsl_own_user_ask(stdin, stderr, name, &u);
        d.new_user = u.name; /* "" after Ctrl-C there: none */
        d.new_uid = u.uid;
        d.new_gid = u.gid;
    }
    _cleanup_(lsl_registry_closep) struct lsl_registry reg = {0};
    int rc = lsl_store_open(p, &reg, true);
    if (rc)
        return rc;
    if (lsl_registry_find(&reg, name)) { /* another lsl got there first */
        log_error("a distribution named '%s' already exists", name);
        return LSL_EXIT_EXISTS;
    }
    const struct lsl_distro *has = image_owner(&reg, image);
    if (has) {
        log_error("%s is already the disk of %s", image, has->name);
        return LSL_EXIT_EXISTS;
    }
    int r = lsl_registry_add(&reg, &d);
    if (r < 0) {
        log_errno(-r, "cannot register %s", name);
        return r == -EEXIST ? LSL_EXIT_EXISTS : LSL_EXIT_FAILURE;
    }
    return lsl_store_commit(&reg);
}

int lsl_store_place_for(struct lsl_store_place *place, const char *dir)
{
    int n;
    place->created[0] = '\0';
    if (dir[0] == '/') {
        n = snprintf(place->dir, sizeof(place->dir), "%s", dir);
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof(cwd)))
            return log_errno(errno, "cannot tell the working directory"), LSL_EXIT_FAILURE;
        n = snprintf(place->dir, sizeof(place->dir), "%s/%s", cwd, dir);
    }
    if (n < 0 || (size_t)n >= sizeof(place->dir) ||
        lsl_path_fmt(place->image, sizeof(place->image), "%s/%s", place->dir, LSL_IMAGE_NAME) < 0) {
        log_error("the path %s is too long", dir);
        return LSL_EXIT_FAILURE;
    }
    if (access(place->image, F_OK) == 0) {
        log_error("%s exists already (another distribution's disk?)", place->image);
        return LSL_EXIT_EXISTS;
    }
    return 0;
}

int lsl_store_place_make(struct lsl_store_place *place)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", place->dir);
    place->created[0] = '\0';
    for (char *s = buf + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(buf, 0700) == 0) {
            if (!place->created[0])
                snprintf(place->created, sizeof(place->created), "%s", buf);
        } else if (errno != EEXIST) {
            log_errno(errno, "cannot create %s", buf);
            lsl_store_place_unmake(place);
            return LSL_EXIT_FAILURE;
        }
        *s = c;
        if (!c)
            break;
    }
    struct stat st;
    if (stat(place->dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        log_errno(ENOTDIR, "%s", place->dir);
        lsl_store_place_unmake(place);
        return LSL_EXIT_FAILURE;
    }
    return 0;
}

void lsl_store_place_unmake(const struct lsl_store_place *place)
{
    if (!place->created[0])
        return;
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", place->dir);
    size_t stop = strlen(place->created);
    for (;;) {
        if (rmdir(buf) < 0 || strlen(buf) <= stop)
            break;
        char *slash = strrchr(buf, '/');
        if (!slash || slash == buf)
            break;
        *slash = '\0';
    }
}
