/* Running the lsl.cmd= command. PID 1 installs no signal handlers: it keeps SIGCHLD and the shutdown requests
 * blocked and takes them with sigwaitinfo(), which cannot race with the waitpid() loop. */
#include "run.h"

#include "boot.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

void lsl_signals_init_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGCHLD);
    sigaddset(set, SIGTERM); /* busybox reboot */
    sigaddset(set, SIGUSR1); /* busybox halt */
    sigaddset(set, SIGUSR2); /* busybox poweroff */
    sigaddset(set, SIGINT);  /* ctrl-alt-del */
    sigaddset(set, SIGPWR);
}

int lsl_signals_block(void)
{
    sigset_t set;

    lsl_signals_init_set(&set);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return lsl_log_errno(errno, "cannot block signals: %m");
    return 0;
}

/* The inherited descriptors are the initramfs's /dev/console node, which after a chroot is not the
 * /dev/console the command sees, so ttyname() would fail; the devtmpfs node is the same device. Then make it
 * the controlling tty, which gives a shell job control and Ctrl-C. Both only where possible: without
 * devtmpfs, or on a console that is not a tty, the inherited descriptors still work. */
static void reopen_console(void)
{
    int fd = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);

    if (fd < 0)
        fd = STDIN_FILENO;
    else if (dup2(fd, STDIN_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
        (void)lsl_log_errno(errno, "cannot reopen /dev/console: %m");
    (void)ioctl(fd, TIOCSCTTY, 1);
    if (fd > STDERR_FILENO)
        close(fd);
}

/* The child's side: everything PID 1 set up for itself must not leak into the command. */
static _Noreturn void exec_command(char *const argv[])
{
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigset_t none;
    int err;

    if (setsid() < 0)
        (void)lsl_log_errno(errno, "cannot start a session: %m");
    reopen_console();

    /* Some signals cannot be reset (SIGKILL, SIGSTOP, libc-internal ones); failing on those is expected. */
    for (int sig = 1; sig < NSIG; sig++)
        (void)sigaction(sig, &dfl, NULL);
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0) {
        (void)lsl_log_errno(errno, "cannot unblock signals: %m");
        _exit(LSL_INIT_EXIT_SETUP);
    }

    errno = 0; /* clearenv() need not set it; do not report a stale one */
    if (clearenv() != 0 ||
        setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1) < 0 ||
        setenv("HOME", "/root", 1) < 0 || setenv("TERM", "linux", 1) < 0) {
        (void)lsl_log_errno(errno ? errno : ENOMEM, "cannot set up the environment: %m");
        _exit(LSL_INIT_EXIT_SETUP);
    }

    execvp(argv[0], argv);
    err = errno;
    (void)lsl_log_errno(err, "cannot execute %s: %m", argv[0]);
    _exit(err == ENOENT ? LSL_INIT_EXIT_NOTFOUND : LSL_INIT_EXIT_NOEXEC);
}

static int status_of(int wstatus)
{
    if (WIFEXITED(wstatus))
        return WEXITSTATUS(wstatus);
    if (WIFSIGNALED(wstatus))
        return 128 + WTERMSIG(wstatus);
    return LSL_INIT_EXIT_SETUP; /* not reachable without WUNTRACED/WCONTINUED */
}

int lsl_run_command(char *const argv[])
{
    sigset_t waited;
    pid_t pid;

    lsl_signals_init_set(&waited);
    pid = fork();
    if (pid < 0) {
        (void)lsl_log_errno(errno, "cannot fork: %m");
        return LSL_INIT_EXIT_SETUP;
    }
    if (pid == 0)
        exec_command(argv);

    for (;;) {
        int wstatus, sig;
        pid_t reaped;

        /* Orphans are reparented to PID 1: reap them all, not only the command. */
        while ((reaped = waitpid(-1, &wstatus, WNOHANG)) > 0)
            if (reaped == pid)
                return status_of(wstatus);
        if (reaped < 0 && errno != EINTR) {
            (void)lsl_log_errno(errno, "cannot wait for the command: %m");
            return LSL_INIT_EXIT_SETUP;
        }

        sig = sigwaitinfo(&waited, NULL);
        if (sig < 0) {
            if (errno == EINTR)
                continue;
            (void)lsl_log_errno(errno, "cannot wait for signals: %m");
            return LSL_INIT_EXIT_SETUP;
        }
        if (sig != SIGCHLD)
            return 0; /* someone asked for a shutdown (e.g. "poweroff"): the caller stops everything */
    }
}
