/* See share_watch.h: the daemon. A touch must reach the guest inodes the watchers hold, and a host mount
 * below the share's root is a FUSE submount, automounted per mount namespace with a superblock (and inodes)
 * of its own: a touch through the system's mount would wake nobody in a distribution. So each path is touched
 * in every running distribution, through /proc/PID/root of its init (a walk from there follows that
 * namespace's mounts), at the place its [automount] root gives the share (its LSL_HOSTSHARE_MAP). */
#include "share_watch.h"

#include "distro_enter.h"
#include "distro_layout.h"
#include "fileio.h"
#include "fs_notify.h" /* proto/ */
#include "hostshare.h" /* proto/ */

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436 /* not in musl 1.2.3 */
#endif

#define RETRY_MAX   64 /* names waiting for the guest's negative entry to expire */
#define RETRY_TIMES 4  /* rounds: each waits up to LSL_FS_EVENTS_WAIT_MS for the next batch */

#define PLACES_MAX 32 /* running distributions seeing the share */

struct watcher {
    int root;
    const char *tag;
    /* Where the share is in each running distribution: "/proc/PID/root" + its guest path, this batch. */
    char place[PLACES_MAX][64 + LSL_HOSTSHARE_PATH_MAX];
    size_t nplace;
    char retry[RETRY_MAX][LSL_FS_EVENTS_BUF / 16]; /* long names are not retried */
    int tries[RETRY_MAX];
    size_t nretry;
};

/* The running distributions that mount this share, and where. */
static void find_places(struct watcher *w)
{
    DIR *d = opendir(LSL_DISTROS_DIR);
    struct dirent *de;

    w->nplace = 0;
    while (d && (de = readdir(d)) && w->nplace < PLACES_MAX) {
        char path[300], root[LSL_HOSTSHARE_PATH_MAX], *map = NULL;
        struct lsl_hostshares shares;
        pid_t pid;

        if (de->d_name[0] == '.' || (pid = lsl_distro_init_pid(de->d_name)) <= 0)
            continue;
        snprintf(path, sizeof(path), "/proc/%d/root" LSL_HOSTSHARE_MAP, (int)pid);
        if (lsl_read_file(path, &map) < 0)
            continue; /* no shares there ([automount] enabled=false) */
        if (lsl_hostshare_map_parse(map, root, &shares) == 0)
            for (size_t i = 0; i < shares.n; i++)
                if (strcmp(shares.s[i].name, w->tag) == 0)
                    snprintf(w->place[w->nplace++], sizeof(w->place[0]), "/proc/%d/root%s%s%s", (int)pid,
                             root, root[strlen(root) - 1] == '/' ? "" : "/", w->tag);
        free(map);
    }
    if (d)
        closedir(d);
}

/* Touches path in every place; -ENOENT if it is not there yet in one of them (a negative entry). */
static int touch_now(struct watcher *w, const char *path, int attrib)
{
    const struct timespec ts[2] = {
        {.tv_sec = 0, .tv_nsec = attrib ? LSL_FS_TOUCH_NSEC : UTIME_OMIT},
        {.tv_sec = 0, .tv_nsec = LSL_FS_TOUCH_NSEC},
    };
    int r = 0;

    for (size_t i = 0; i < w->nplace; i++) {
        char full[sizeof(w->place[0]) + LSL_FS_EVENTS_BUF];
        snprintf(full, sizeof(full), "%s%s%s", w->place[i], path[0] ? "/" : "", path);
        if (utimensat(AT_FDCWD, full, ts, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
            r = -ENOENT;
    }
    return r;
}

static void touch_cb(const char *path, int attrib, void *opaque)
{
    struct watcher *w = opaque;

    if (touch_now(w, path, attrib) != -ENOENT || w->nretry == RETRY_MAX ||
        strlen(path) >= sizeof(w->retry[0]))
        return;
    snprintf(w->retry[w->nretry], sizeof(w->retry[0]), "%s", path);
    w->tries[w->nretry++] = RETRY_TIMES;
}

static void retry_round(struct watcher *w)
{
    for (size_t i = 0; i < w->nretry;) {
        if (touch_now(w, w->retry[i], 1) != -ENOENT || --w->tries[i] == 0) {
            w->nretry--;
            memcpy(w->retry[i], w->retry[w->nretry], sizeof(w->retry[0]));
            w->tries[i] = w->tries[w->nretry];
            continue;
        }
        i++;
    }
}

static _Noreturn void watch_main(const char *dir)
{
    static struct watcher w;
    static uint8_t buf[LSL_FS_EVENTS_BUF];
    int errors = 0;
    const char *slash = strrchr(dir, '/');

    w.tag = slash ? slash + 1 : dir;
    w.root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (w.root < 0)
        _exit(1);
    while (errors < 10) {
        int n = ioctl(w.root, LSL_FS_IOC_EVENTS, buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == ENOTTY || errno == ENOSYS || errno == EINVAL))
            _exit(0); /* a server without events */
        if (n < 0) {
            errors++;
            sleep(1);
            continue;
        }
        errors = 0;
        if (n > 0 || w.nretry)
            find_places(&w);
        if (n > 0 &&
            share_watch_batch(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf), touch_cb, &w) < 0)
            touch_cb("", 1, &w); /* a batch we cannot read: watchers rescan everything */
        retry_round(&w);
    }
    _exit(1);
}

void share_watch_spawn(const char *dir)
{
    pid_t pid = fork();

    if (pid < 0)
        return;
    if (pid > 0) {
        (void)waitpid(pid, NULL, 0);
        return;
    }
    /* Out of lsl-distro's session (the agent waits for its pipes to close), then orphaned to PID 1. */
    setsid();
    if (fork() != 0)
        _exit(0);
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
    }
    syscall(SYS_close_range, 3, ~0u, 0);
    sigset_t none;
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    (void)prctl(PR_SET_NAME, "lsl-fswatch");
    watch_main(dir);
}
