/* A command's stdio (child_stdio.h). */
#include "child_stdio.h"

#include "frame.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

void lsl_stdio_close(struct lsl_stdio *s)
{
    for (int i = 0; i < 3; i++) {
        if (s->src[i] == s->slave)
            s->src[i] = -1; /* the slave, closed once below */
        close_fd(&s->src[i]);
        close_fd(&s->ours[i]);
    }
    close_fd(&s->master);
    close_fd(&s->slave);
}

static int open_pty(const struct lsl_exec_msg *e, uid_t owner, struct lsl_stdio *s)
{
    struct winsize ws = {.ws_row = e->rows, .ws_col = e->cols};
    char name[64];

    s->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
    if (s->master < 0)
        return -errno;
    errno = 0; /* ptsname_r() returns its error instead of setting errno */
    if (grantpt(s->master) < 0 || unlockpt(s->master) < 0 || ptsname_r(s->master, name, sizeof(name)) != 0 ||
        (s->slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0 || ioctl(s->master, TIOCSWINSZ, &ws) < 0 ||
        (owner != (uid_t)-1 && fchown(s->slave, owner, (gid_t)-1) < 0))
        return errno ? -errno : -EIO;
    return 0;
}

int lsl_stdio_open(const struct lsl_exec_msg *e, uid_t owner, struct lsl_stdio *s)
{
    int r = 0;

    *s = LSL_STDIO_NONE;
    if ((e->stdio[0] | e->stdio[1] | e->stdio[2]) == LSL_STDIO_PTY)
        r = open_pty(e, owner, s);
    for (int i = 0; i < 3 && r == 0; i++) {
        int p[2];
        if (e->stdio[i] == LSL_STDIO_PTY) {
            s->src[i] = s->slave;
            continue;
        }
        if (pipe2(p, O_CLOEXEC) < 0) {
            r = -errno;
            break;
        }
        s->src[i] = p[i == 0 ? 0 : 1];
        s->ours[i] = p[i == 0 ? 1 : 0];
        int fl = fcntl(s->ours[i], F_GETFL);
        if (fl < 0 || fcntl(s->ours[i], F_SETFL, fl | O_NONBLOCK) < 0)
            r = -errno;
    }
    if (r < 0)
        lsl_stdio_close(s);
    return r;
}

int lsl_stdio_ctty(const struct lsl_stdio *s)
{
    return s->slave >= 0 && ioctl(s->slave, TIOCSCTTY, 0) < 0 ? -errno : 0;
}

int lsl_stdio_dup(const struct lsl_stdio *s)
{
    int tmp[3];

    for (int i = 0; i < 3; i++)
        if ((tmp[i] = fcntl(s->src[i], F_DUPFD_CLOEXEC, 3)) < 0)
            return -errno;
    for (int i = 0; i < 3; i++)
        if (dup2(tmp[i], i) < 0)
            return -errno;
    return 0;
}

int lsl_child_defaults(void)
{
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigset_t none;

    /* Some signals cannot be reset (SIGKILL, SIGSTOP, libc-internal ones); failing on those is expected. */
    for (int sig = 1; sig < NSIG; sig++)
        (void)sigaction(sig, &dfl, NULL);
    sigemptyset(&none);
    return sigprocmask(SIG_SETMASK, &none, NULL) < 0 ? -errno : 0;
}

_Noreturn void lsl_child_fail(int status_fd, uint32_t code, int err)
{
    uint8_t msg[8];

    lsl_put_u32(msg, code);
    lsl_put_u32(msg + 4, (uint32_t)err);
    (void)!write(status_fd, msg, sizeof(msg)); /* 8 bytes into an empty pipe or socket: atomic */
    _exit(127);
}

void lsl_stdio_started(struct lsl_stdio *s, const struct lsl_exec_msg *e, pid_t pid, struct lsl_child *c)
{
    *c = LSL_CHILD_NONE;
    c->pid = pid;
    c->pty = s->master;
    s->master = -1;
    c->in = e->stdio[0] == LSL_STDIO_PTY ? c->pty : s->ours[0];
    c->out = s->ours[1];
    c->err = s->ours[2];
    s->ours[0] = s->ours[1] = s->ours[2] = -1;
    lsl_stdio_close(s);
}
