/* The agent listeners. Signals stay blocked as everywhere in lsl-init and arrive through a signalfd, so one
 * poll() covers the spare's hand-over, exited children and stop requests. */
#include "agent_listen.h"

#include "activity_scan.h"
#include "agent.h"
#include "boot.h"
#include "fileio.h"
#include "forwarder.h"
#include "log.h"
#include "run.h"
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vsock_addr.h"

#define BACKLOG  64 /* connections wait here while the next spare is forked */
#define RETRY_MS 100

int lsl_agent_listen(unsigned port)
{
    struct lsl_sockaddr_vm addr = {.svm_family = AF_VSOCK, .svm_cid = LSL_VMADDR_CID_ANY, .svm_port = port};
    int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    if (fd < 0)
        return lsl_log_errno(errno, "cannot create an agent vsock socket: %m");
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, BACKLOG) < 0) {
        int err = errno;

        close(fd);
        return lsl_log_errno(err, "cannot listen on vsock port %u: %m", port);
    }
    return fd;
}

/* The spare: waits for one connection, says so by closing its end of the pipe `taken` (the server then
 * forks the next spare), and serves it. Nothing of the server's state but the connection stays open. */
static _Noreturn void spare_main(int listener, int sigfd, int taken, const char *home)
{
    sigset_t none;

    close(sigfd);
    (void)prctl(PR_SET_NAME,
                LSL_SESSION_COMM); /* how ACTIVITY tells lsl's processes from the distribution's */
    /* The server blocks its stop signals; a session must die of the SIGTERM that a shutdown sends. */
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    for (;;) {
        struct pollfd p = {.fd = listener, .events = POLLIN};
        int conn;

        if (poll(&p, 1, -1) < 0 && errno != EINTR)
            lsl_sleep_ms(RETRY_MS);
        conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (conn >= 0) {
            close(taken);
            close(listener);
            _exit(agent_session_run(conn, home) < 0 ? 1 : 0);
        }
        /* A connection that went away before accept is nobody's problem. Out of fds or memory: the pending
         * connection keeps the listener readable, so wait instead of spinning on the same failure. */
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
            (void)lsl_log_errno(errno, "agent: cannot accept a connection: %m");
            lsl_sleep_ms(RETRY_MS);
        }
    }
}

/* Forks a spare; returns the read end of its `taken` pipe, or -errno. */
static int fork_spare(int listener, int sigfd, const char *home)
{
    int pfd[2];
    pid_t pid;

    if (pipe2(pfd, O_CLOEXEC) < 0)
        return -errno;
    pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        spare_main(listener, sigfd, pfd[1], home);
    }
    close(pfd[1]);
    if (pid < 0) {
        int err = errno;

        close(pfd[0]);
        return -err;
    }
    return pfd[0];
}

int lsl_agent_serve_on(int listener, const char *home, const sigset_t *stop)
{
    sigset_t set = *stop;
    int sigfd, taken = -1, result = 0;
    bool fork_failed = false;

    sigaddset(&set, SIGCHLD);
    sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sigfd < 0)
        return lsl_log_errno(errno, "cannot create a signalfd: %m");
    while (!result) {
        struct pollfd p[2] = {{.fd = sigfd, .events = POLLIN}, {.fd = -1, .events = POLLIN}};
        struct signalfd_siginfo si;

        if (taken < 0) {
            taken = fork_spare(listener, sigfd, home);
            /* Without a spare, clients wait in the backlog: try again shortly, say so once. */
            if (taken < 0 && !fork_failed)
                (void)lsl_log_errno(-taken, "agent: cannot fork a session process: %m");
            fork_failed = taken < 0;
        }
        p[1].fd = taken;
        if (poll(p, 2, taken < 0 ? RETRY_MS : -1) < 0) {
            if (errno == EINTR)
                continue;
            result = lsl_log_errno(errno, "agent: poll failed: %m");
            break;
        }
        while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
            if (si.ssi_signo != SIGCHLD)
                result = (int)si.ssi_signo;
        /* Orphans are reparented to us: reap them all, not only the sessions. */
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        if (taken >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            close(taken); /* the spare took a connection, or died: the next one */
            taken = -1;
        }
    }
    if (taken >= 0)
        close(taken);
    close(sigfd);
    return result;
}

int lsl_agent_serve(void)
{
    sigset_t stop;
    int listener, r;

    /* Before the listener, which the forwarder has no use for; a forwarder that fails is logged, and the
     * agent serves all the same. */
    (void)lsl_fwd_start();
    listener = lsl_agent_listen(LSL_AGENT_PORT);

    if (listener < 0)
        return LSL_INIT_EXIT_SETUP;
    lsl_signals_init_set(&stop);
    sigdelset(&stop, SIGCHLD);
    r = lsl_agent_serve_on(listener, NULL, &stop);
    close(listener);
    return r < 0 ? LSL_INIT_EXIT_SETUP : 0;
}
