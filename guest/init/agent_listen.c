/* The agent listener in PID 1. Signals stay blocked as everywhere in lsl-init and arrive through a
 * signalfd, so one poll() covers new connections, exited children and shutdown requests. */
#include "agent_listen.h"

#include "agent.h"
#include "boot.h"
#include "log.h"
#include "run.h"
#include "session.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <time.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* musl-gcc has no kernel headers, so <linux/vm_sockets.h> is spelled out here: a stable kernel ABI. */
struct lsl_sockaddr_vm {
    sa_family_t svm_family;
    unsigned short svm_reserved1;
    unsigned int svm_port;
    unsigned int svm_cid;
    unsigned char svm_zero[sizeof(struct sockaddr) - sizeof(sa_family_t) - sizeof(unsigned short) -
                           2 * sizeof(unsigned int)];
};
#define LSL_VMADDR_CID_ANY 0xffffffffu

static int listen_vsock(void)
{
    struct lsl_sockaddr_vm addr = {
        .svm_family = AF_VSOCK, .svm_cid = LSL_VMADDR_CID_ANY, .svm_port = LSL_AGENT_PORT};
    int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    if (fd < 0)
        return lsl_log_errno(errno, "cannot create the agent's vsock socket: %m");
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 16) < 0) {
        int err = errno;

        close(fd);
        return lsl_log_errno(err, "cannot listen on vsock port %d: %m", LSL_AGENT_PORT);
    }
    return fd;
}

/* The connection's process: nothing of PID 1's state but the connection, then the session. */
static _Noreturn void serve_connection(int conn, int listener, int sigfd)
{
    sigset_t none;

    close(listener);
    close(sigfd);
    /* PID 1 blocks the shutdown signals; the session must die of the SIGTERM that poweroff sends. */
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    _exit(agent_session_run(conn) < 0 ? 1 : 0);
}

int lsl_agent_serve(void)
{
    sigset_t set;
    int listener, sigfd, status = 0;

    listener = listen_vsock();
    if (listener < 0)
        return LSL_INIT_EXIT_SETUP;
    lsl_signals_init_set(&set);
    sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sigfd < 0) {
        (void)lsl_log_errno(errno, "cannot create a signalfd: %m");
        close(listener);
        return LSL_INIT_EXIT_SETUP;
    }

    for (;;) {
        struct pollfd p[2] = {{.fd = listener, .events = POLLIN}, {.fd = sigfd, .events = POLLIN}};
        struct signalfd_siginfo si;
        bool shutdown = false;

        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            (void)lsl_log_errno(errno, "agent: poll failed: %m");
            status = LSL_INIT_EXIT_SETUP;
            break;
        }
        while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
            if (si.ssi_signo != SIGCHLD)
                shutdown = true; /* "poweroff" and friends */
        /* Orphans are reparented to PID 1: reap them all, not only the sessions. */
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        if (shutdown)
            break;
        if (p[0].revents & POLLIN) {
            int conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
            pid_t pid;

            if (conn < 0) {
                /* A connection that went away before accept is nobody's problem; keep serving. */
                if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
                    struct timespec pause = {.tv_nsec = 100 * 1000 * 1000};

                    (void)lsl_log_errno(errno, "agent: cannot accept a connection: %m");
                    /* Out of fds or memory: the pending connection keeps the listener readable, so wait
                     * for sessions to end instead of spinning on the same failure. */
                    (void)nanosleep(&pause, NULL);
                }
                continue;
            }
            pid = fork();
            if (pid == 0)
                serve_connection(conn, listener, sigfd);
            if (pid < 0)
                (void)lsl_log_errno(errno, "agent: cannot fork for a connection: %m");
            close(conn); /* without a process to serve it, the client sees the connection close */
        }
    }
    close(sigfd);
    close(listener);
    return status;
}
