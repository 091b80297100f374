/* Guest-side helper for the host-files VM tests (static musl binary, copied into the test distribution):
 *   watch DIR SECONDS   watches DIR with inotify as file watchers do (a watch on the directory, then one
 *                       listing of it), prints "watching", then "event MASK NAME" per event (MASK in hex,
 *                       NAME "" for the directory itself), for SECONDS
 *   events DIR          one LSL_FS_IOC_EVENTS on a share's root (proto/fs_notify.h): "events N" and
 *                       "record MASK PATH" lines, or the error
 *   touch PATH          the share daemon's touch (guest/distro/share_watch.c) by hand: mtime the sentinel
 *   locks FILE          flock and POSIX locks on FILE as two processes see them: a held lock refuses the
 * other, a close lets it go (flock: the holding open's; POSIX: any of the holder's fds, even a read-only
 * one); prints "locks ok" */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TOOL_NAME "fs-tool"
#include "tool.h"

static int watch(const char *dir, double seconds)
{
    _Alignas(struct inotify_event) char buf[8192];
    int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    DIR *d;

    if (fd < 0 || inotify_add_watch(fd, dir,
                                    IN_MODIFY | IN_ATTRIB | IN_CREATE | IN_DELETE | IN_MOVED_FROM |
                                        IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE_SELF) < 0) {
        fprintf(stderr, "fs-tool: watch %s: %s\n", dir, strerror(errno));
        return 1;
    }
    d = opendir(dir);
    if (!d) {
        fprintf(stderr, "fs-tool: list %s: %s\n", dir, strerror(errno));
        return 1;
    }
    while (readdir(d))
        ;
    closedir(d);
    printf("watching\n");
    for (double end = now() + seconds; now() < end;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(fd, buf, sizeof(buf));
        for (ssize_t off = 0; n > 0 && off + (ssize_t)sizeof(struct inotify_event) <= n;) {
            const struct inotify_event *ev = (const struct inotify_event *)(buf + off);
            printf("event %x %s\n", ev->mask, ev->len ? ev->name : "");
            off += (ssize_t)sizeof(*ev) + ev->len;
        }
    }
    return 0;
}

#include "fs_notify.h" /* proto/ */

static int events(const char *dir)
{
    static uint8_t buf[LSL_FS_EVENTS_BUF];
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int n = fd < 0 ? -1 : ioctl(fd, LSL_FS_IOC_EVENTS, buf);
    if (n < 0) {
        printf("events error %s\n", strerror(errno));
        return 1;
    }
    printf("events %d\n", n);
    for (int pos = 0; pos + 8 <= n;) {
        struct lsl_fs_event ev;
        memcpy(&ev, buf + pos, sizeof(ev));
        if (ev.len < 8 || ev.len > (uint32_t)(n - pos))
            break;
        printf("record %x %.*s\n", ev.mask, (int)(ev.len - 8), (const char *)buf + pos + 8);
        pos += (int)ev.len;
    }
    return 0;
}

/* A write lock on the whole file, without waiting: 0, or -1 with errno. */
static int posix_lock(int fd, short type)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET};
    return fcntl(fd, F_SETLK, &fl);
}

static int locks(const char *path)
{
    int a = open(path, O_RDWR | O_CREAT, 0644), b = open(path, O_RDWR);
    if (a < 0 || b < 0)
        return die("open");
    if (flock(a, LOCK_EX | LOCK_NB) < 0)
        return die("flock");
    if (flock(b, LOCK_EX | LOCK_NB) == 0 || errno != EWOULDBLOCK) {
        fprintf(stderr, "fs-tool: flock: a second open took a held lock\n");
        return 1;
    }
    close(a);
    if (flock(b, LOCK_EX | LOCK_NB) < 0)
        return die("flock after the holder's close");
    close(b);
    /* POSIX locks belong to the process: its close of any fd on the file lets them all go. */
    int rw = open(path, O_RDWR), ro = open(path, O_RDONLY), go[2], said[2];
    if (rw < 0 || ro < 0 || pipe(go) < 0 || pipe(said) < 0)
        return die("open");
    if (posix_lock(rw, F_WRLCK) < 0)
        return die("F_SETLK");
    pid_t child = fork();
    if (child == 0) {
        int fd = open(path, O_RDWR);
        char c = posix_lock(fd, F_WRLCK) < 0 && (errno == EAGAIN || errno == EACCES) ? 'r' : 'x';
        if (write(said[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
            _exit(3);
        _exit(posix_lock(fd, F_WRLCK) == 0 ? 0 : 4);
    }
    char c = 0;
    if (child < 0 || read(said[0], &c, 1) != 1)
        return die("fork");
    if (c != 'r') {
        fprintf(stderr, "fs-tool: F_SETLK: another process took a held lock\n");
        return 1;
    }
    close(ro); /* not the fd that locked */
    int st;
    if (write(go[1], "g", 1) != 1 || waitpid(child, &st, 0) < 0)
        return die("waitpid");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "fs-tool: F_SETLK: still held after the holder closed a file (child %d)\n", st);
        return 1;
    }
    close(rw);
    printf("locks ok\n");
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 4 && strcmp(argv[1], "watch") == 0)
        return watch(argv[2], atof(argv[3]));
    if (argc == 3 && strcmp(argv[1], "events") == 0)
        return events(argv[2]);
    if (argc == 3 && strcmp(argv[1], "touch") == 0) { /* the helper's touch, by hand */
        const struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_nsec = LSL_FS_TOUCH_NSEC}};
        int r = utimensat(AT_FDCWD, argv[2], ts, AT_SYMLINK_NOFOLLOW);
        printf("touch %s\n", r < 0 ? strerror(errno) : "ok");
        return r < 0;
    }
    if (argc == 3 && strcmp(argv[1], "locks") == 0)
        return locks(argv[2]);
    fprintf(stderr, "usage: fs-tool watch DIR SECONDS | events DIR | touch PATH | locks FILE\n");
    return 2;
}
