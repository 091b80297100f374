/* See share_watch.h: the daemon. A touch or a revalidation must reach the guest inodes the watchers hold,
 * and a host mount below the share's root is a FUSE submount, automounted per mount namespace with a
 * superblock (and inodes) of its own: through the system's mount it would reach nobody in a distribution.
 * So each path is handled in every running distribution, through /proc/PID/root of its init (a walk from
 * there follows that namespace's mounts), at the place its [automount] root gives the share (its
 * LSL_HOSTSHARE_MAP).
 *
 * Revalidation (fs_notify.h says why names are trusted long): open(name, O_CREAT | O_EXCL) makes the VFS
 * look the name up again whatever the guest had cached, negative or not (LOOKUP_EXCL), and then fails with
 * EEXIST or, on a read-only mount, EROFS: never creating or opening anything. So it runs on a read-only
 * clone of each distribution's mount (open_tree, made in that mount namespace: the clone shares the
 * superblocks and so the cached names), made afresh for each batch so that submounts automounted since are
 * in it. */
#include "share_watch.h"

#include "distro_enter.h"
#include "distro_layout.h"
#include "fileio.h"
#include "fs_notify.h" /* proto/ */
#include "hostshare.h" /* proto/ */
#include "mount_api.h"
#include "openat2.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sched.h>
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

#define RETRY_MAX   64 /* names waiting for the guest's negative entry to expire (no revalidation) */
#define RETRY_TIMES 4  /* rounds: each waits up to LSL_FS_EVENTS_WAIT_MS for the next batch */

#define PLACES_MAX 32 /* running distributions seeing the share */

struct place {
    char path[64 + LSL_HOSTSHARE_PATH_MAX]; /* "/proc/PID/root" + its guest path, this batch */
    int tree;                               /* its read-only clone, -1 without */
};

struct watcher {
    int root;
    const char *tag;
    const char *alone; /* lsl-fswatch DIR: the share is at DIR in our own namespace, the only place */
    int own_ns, own_root;
    struct place place[PLACES_MAX];
    size_t nplace;
    bool revalidates; /* every place has its clone: no negative entry needs waiting out */
    /* What this batch did already (the same directory for each of its names, say): once is enough. */
    struct done {
        enum share_act act;
        char path[256];
    } done[4];
    unsigned ndone;
    char retry[RETRY_MAX][LSL_FS_EVENTS_BUF / 16]; /* long names are not retried */
    int tries[RETRY_MAX];
    size_t nretry;
};

/* The read-only clone of the mount at path, made in the mount namespace of pid (0: ours); -1 if not. */
static int clone_ro(struct watcher *w, const char *path, pid_t pid)
{
    struct mount_attr_arg ro = {.attr_set = LSL_MOUNT_ATTR_RDONLY};
    char ns[64];
    int at, nsfd = -1, tree = -1;

    at = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (at < 0)
        return -1;
    if (pid > 0) {
        snprintf(ns, sizeof(ns), "/proc/%d/ns/mnt", (int)pid);
        nsfd = open(ns, O_RDONLY | O_CLOEXEC);
    }
    /* open_tree clones only a mount of the caller's namespace: enter the distribution's for the call. */
    if (pid <= 0 || (nsfd >= 0 && w->own_ns >= 0 && w->own_root >= 0 && setns(nsfd, CLONE_NEWNS) == 0)) {
        tree = (int)syscall(SYS_open_tree, at, "",
                            AT_EMPTY_PATH | LSL_OPEN_TREE_CLONE | LSL_AT_RECURSIVE | O_CLOEXEC);
        if (tree >= 0 &&
            syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | LSL_AT_RECURSIVE, &ro, sizeof(ro)) < 0) {
            close(tree);
            tree = -1;
        }
        /* setns() also moves root and cwd to the namespace's root mount; ours is a chroot (the system
         * root), so it is taken back by fd. Stranded elsewhere, the daemon is better gone: nothing is
         * trusted long without it. */
        if (pid > 0 && (setns(w->own_ns, CLONE_NEWNS) < 0 || fchdir(w->own_root) < 0 || chroot(".") < 0 ||
                        chdir("/") < 0))
            _exit(1);
    }
    if (nsfd >= 0)
        close(nsfd);
    close(at);
    return tree;
}

static void add_place(struct watcher *w, pid_t pid, const char *fmt_root)
{
    struct place *p = &w->place[w->nplace++];

    snprintf(p->path, sizeof(p->path), "%s", fmt_root);
    p->tree = clone_ro(w, p->path, pid);
    if (p->tree < 0)
        w->revalidates = false;
}

/* The running distributions that mount this share, and where. */
static void find_places(struct watcher *w)
{
    for (size_t i = 0; i < w->nplace; i++)
        if (w->place[i].tree >= 0)
            close(w->place[i].tree);
    w->nplace = 0;
    w->revalidates = true;
    if (w->alone) {
        add_place(w, 0, w->alone);
        return;
    }

    DIR *d = opendir(LSL_DISTROS_DIR);
    struct dirent *de;

    while (d && (de = readdir(d)) && w->nplace < PLACES_MAX) {
        char path[300], root[LSL_HOSTSHARE_PATH_MAX], *map = NULL, place[sizeof(w->place[0].path)];
        struct lsl_hostshares shares;
        pid_t pid;

        if (de->d_name[0] == '.' || (pid = lsl_distro_init_pid(de->d_name)) <= 0)
            continue;
        snprintf(path, sizeof(path), "/proc/%d/root" LSL_HOSTSHARE_MAP, (int)pid);
        if (lsl_read_file(path, &map) < 0)
            continue; /* no shares there ([automount] enabled=false) */
        if (lsl_hostshare_map_parse(map, root, &shares) == 0)
            for (size_t i = 0; i < shares.n && w->nplace < PLACES_MAX; i++)
                if (strcmp(shares.s[i].name, w->tag) == 0) {
                    snprintf(place, sizeof(place), "/proc/%d/root%s%s%s", (int)pid, root,
                             root[strlen(root) - 1] == '/' ? "" : "/", w->tag);
                    add_place(w, pid, place);
                }
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

    const char *slash = strrchr(path, '/');
    char dir[LSL_FS_EVENTS_BUF];

    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 0, path);
    for (size_t i = 0; i < w->nplace; i++) {
        /* The directory resolved inside the share's place (a symlink the host planted on the way leads
         * nowhere else), the name itself never followed. */
        struct {
            unsigned long long flags, mode, resolve;
        } how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC, .resolve = LSL_RESOLVE_IN_ROOT};
        int place = open(w->place[i].path, O_PATH | O_DIRECTORY | O_CLOEXEC), d = -1, e = 0;
        if (place >= 0 && !path[0])
            e = utimensat(place, ".", ts, 0) < 0 ? errno : 0;
        else if (place >= 0 &&
                 (d = dir[0] ? (int)syscall(SYS_openat2, place, dir, &how, sizeof(how)) : place) >= 0)
            e = utimensat(d, slash ? slash + 1 : path, ts, AT_SYMLINK_NOFOLLOW) < 0 ? errno : 0;
        else
            e = errno;
        if (d >= 0 && d != place)
            close(d);
        if (place >= 0)
            close(place);
        if (e == ENOENT)
            r = -ENOENT;
    }
    return r;
}

static void touch(struct watcher *w, const char *path, int attrib)
{
    if (touch_now(w, path, attrib) != -ENOENT || w->revalidates || w->nretry == RETRY_MAX ||
        strlen(path) >= sizeof(w->retry[0]))
        return;
    snprintf(w->retry[w->nretry], sizeof(w->retry[0]), "%s", path);
    w->tries[w->nretry++] = RETRY_TIMES;
}

/* True if act was done on path lately in this batch; else remembers it (long paths are not remembered). */
static bool done_already(struct watcher *w, const char *path, enum share_act act)
{
    const unsigned n = sizeof(w->done) / sizeof(w->done[0]);

    for (unsigned i = 0; i < w->ndone && i < n; i++)
        if (w->done[i].act == act && strcmp(w->done[i].path, path) == 0)
            return true;
    if (strlen(path) < sizeof(w->done[0].path)) {
        w->done[w->ndone % n].act = act;
        snprintf(w->done[w->ndone % n].path, sizeof(w->done[0].path), "%s", path);
        w->ndone++;
    }
    return false;
}

/* The name looked up again in every place (see the top of the file); the root has no name to look up. */
static void revalidate(struct watcher *w, const char *path)
{
    if (!path[0])
        return;
    for (size_t i = 0; i < w->nplace; i++) {
        if (w->place[i].tree < 0)
            continue;
        /* Resolved inside the clone: a symlink the host planted on the way cannot lead anywhere else. */
        struct {
            unsigned long long flags, mode, resolve;
        } how = {.flags = O_CREAT | O_EXCL | O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
                 .resolve = LSL_RESOLVE_IN_ROOT};
        int fd = (int)syscall(SYS_openat2, w->place[i].tree, path, &how, sizeof(how));
        if (fd >= 0)
            close(fd); /* not on a read-only mount; harmless if it ever were */
    }
}

static void act_cb(const char *path, enum share_act act, void *opaque)
{
    struct watcher *w = opaque;

    if (act != SHARE_LOST && done_already(w, path, act))
        return;
    switch (act) {
    case SHARE_REVAL:
        revalidate(w, path);
        break;
    case SHARE_TOUCH_MTIME:
    case SHARE_TOUCH_ATTRIB:
        touch(w, path, act == SHARE_TOUCH_ATTRIB);
        break;
    case SHARE_LOST: {
        /* Anything cached may be stale now: drop what the kernel can let go (names in use stay). */
        int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            (void)!write(fd, "2", 1);
            close(fd);
        }
        touch(w, "", 1);
        break;
    }
    }
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

static _Noreturn void watch_main(const char *dir, bool alone)
{
    static struct watcher w;
    static uint8_t buf[LSL_FS_EVENTS_BUF];
    int errors = 0;
    const char *slash = strrchr(dir, '/');

    w.tag = slash ? slash + 1 : dir;
    w.alone = alone ? dir : NULL;
    w.own_ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
    w.own_root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    w.root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (w.root < 0)
        _exit(1);
    while (errors < 10) {
        /* The long wait unless names wait for their next try (fs_notify.h). */
        int n = ioctl(w.root, w.nretry ? LSL_FS_IOC_EVENTS : LSL_FS_IOC_EVENTS_IDLE, buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == ENOTTY || errno == ENOSYS || errno == EINVAL || errno == ESHUTDOWN))
            _exit(0); /* a server without events, or the guest powering off */
        if (n < 0) {
            errors++;
            sleep(1);
            continue;
        }
        errors = 0;
        if (n > 0 || w.nretry)
            find_places(&w);
        w.ndone = 0;
        if (n > 0 &&
            share_watch_batch(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf), act_cb, &w) < 0)
            act_cb("", SHARE_LOST, &w); /* a batch we cannot read: as if events were lost */
        retry_round(&w);
    }
    _exit(1);
}

int lsl_fswatch_main(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] != '/') {
        fprintf(stderr,
                "usage: lsl-fswatch DIR   (the host share mounted at DIR: host changes to the guest)\n");
        return 2;
    }
    (void)prctl(PR_SET_NAME, "lsl-fswatch");
    watch_main(argv[1], true);
}

void share_watch_end_all(void)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    char line[1024];

    /* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS...] - FSTYPE SOURCE SUPEROPTIONS" */
    while (f && fgets(line, sizeof(line), f)) {
        char root[8], point[512], type[16];
        const char *dash = strstr(line, " - ");

        if (!dash || sscanf(line, "%*s %*s %*s %7s %511s", root, point) != 2 ||
            sscanf(dash, " - %15s", type) != 1 || strcmp(type, "virtiofs") != 0 || strcmp(root, "/") != 0 ||
            strchr(point, '\\'))
            continue; /* not a share's root (an escaped mount point is none of ours) */
        int fd = open(point, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK);
        if (fd >= 0) {
            (void)ioctl(fd, LSL_FS_IOC_EVENTS_END); /* ENOTTY from a submount's root: not a share's */
            close(fd);
        }
    }
    if (f)
        fclose(f);
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
    watch_main(dir, false);
}
