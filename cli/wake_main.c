/* lsl-wake: holds the forwarded sockets' listeners (Docker's socket) while the VM is down after an idle stop,
 * and starts the VM again for the first client (proto/wake.h). lsl-vmm starts it at the idle stop:
 *   lsl-wake --wake-fd N --socket-fd N... [--resume NAME]...
 * It accepts no client of a forwarded socket itself: a client waits in the listener's backlog, and a starter
 * (a child running what `lsl` runs: the service's start, then the distributions that ran at the stop) takes
 * the listeners from here through the wake socket on its way, as any lsl that starts the VM would; the new
 * service serves the backlog once the guest is up. lsl-wake exits once it has handed them over, when the
 * wake socket is no longer its own (the runtime directory went with the user's login), or never otherwise:
 * a sleeping process of ~200 KiB. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "distro.h"
#include "fwd.h"
#include "log.h"
#include "macro.h"
#include "paths.h"
#include "registry.h"
#include "service.h"
#include "unix_socket.h"
#include "verbs/distro_store.h"
#include "distro_vm.h"
#include "wake.h"

/* How often the wake socket is checked to be still ours, while nothing happens. */
#define CHECK_MS 60000

static struct {
    int wake;
    char wake_path[LSL_FWD_HOST_PATH_MAX + 1];
    dev_t wake_dev;
    ino_t wake_ino;
    int socks[LSL_FWD_SOCKS_MAX];
    char paths[LSL_FWD_SOCKS_MAX][LSL_FWD_HOST_PATH_MAX + 1];
    size_t n;
    const char *resume[LSL_WAKE_RESUME_MAX];
    size_t nresume;
} w = {.wake = -1};

static int parse_fd(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    return errno || *end || end == s || v < 3 || v > 65535 ? -1 : (int)v;
}

/* The starter, in a child: the VM (whose start takes the listeners from the parent), then the distributions
 * that ran at the idle stop, or the default one. Its errors go to the service log, as the service's own. */
static int starter(void)
{
    struct lsl_paths p;
    if (lsl_paths_init(&p) < 0 || lsl_service_ensure(&p) < 0)
        return 1;
    _cleanup_(lsl_registry_closep) struct lsl_registry reg = {0};
    if (lsl_store_open(&p, &reg, false) != 0)
        return 1;
    int rc = 0;
    struct lsl_distro *def = lsl_registry_default(&reg);
    size_t n = w.nresume;
    for (size_t i = 0; i < (n ? n : 1); i++) {
        struct lsl_distro *d = n ? lsl_registry_find(&reg, w.resume[i]) : def;
        struct lsl_distro_run run;
        if (!d)
            continue; /* unregistered since, or no distribution at all */
        if (lsl_distro_start(&p, d->name, d->id, d->image, d->default_user, &run) < 0)
            rc = 1;
        else
            log_info("started %s again for a forwarded socket's client", d->name);
    }
    return rc;
}

/* One request on the wake socket. Returns true once a TAKE was answered, all of it or not: a taker that
 * stopped reading (its bound ran out) may hold some of the listeners already, and two holders would compete
 * for their clients; what it did not get goes with us (its clients' connections are reset, the next service
 * binds the path anew). */
static bool serve(int conn)
{
    struct timeval tv = {.tv_sec = 2};
    char what = 0;
    (void)setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void)setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (recv(conn, &what, 1, 0) != 1)
        return false;
    if (what == LSL_WAKE_LIST) {
        for (size_t i = 0; i < w.n; i++) {
            char line[LSL_FWD_HOST_PATH_MAX + 2];
            int len = snprintf(line, sizeof(line), "%s\n", w.paths[i]);
            if (send(conn, line, (size_t)len, MSG_NOSIGNAL) != len)
                break;
        }
        return false;
    }
    if (what != LSL_WAKE_TAKE)
        return false;
    const char fd_byte = LSL_WAKE_FD, end = LSL_WAKE_END;
    for (size_t i = 0; i < w.n; i++)
        if (unix_send_fd(conn, &fd_byte, 1, w.socks[i]) < 0) {
            log_warn("the taker of the forwarded sockets went away after %zu of %zu", i, w.n);
            return true;
        }
    (void)send(conn, &end, 1, MSG_NOSIGNAL);
    return true;
}

static bool wake_is_ours(void)
{
    struct stat st;
    return lstat(w.wake_path, &st) == 0 && st.st_dev == w.wake_dev && st.st_ino == w.wake_ino;
}

/* A start that failed: the clients that woke it get their connection closed (a refusal, in effect), and
 * the next client tries again. */
static void turn_away_waiting(void)
{
    for (size_t i = 0; i < w.n; i++) {
        int fd;
        (void)fcntl(w.socks[i], F_SETFL, fcntl(w.socks[i], F_GETFL) | O_NONBLOCK);
        while ((fd = accept4(w.socks[i], NULL, NULL, SOCK_CLOEXEC)) >= 0)
            close(fd);
    }
}

static int usage(void)
{
    fprintf(stderr, "usage: lsl-wake " LSL_WAKE_OPT_WAKE " N " LSL_WAKE_OPT_SOCKET
                    " N... [" LSL_WAKE_OPT_RESUME " NAME]... (lsl-vmm starts it at an idle stop)\n");
    return 2;
}

int main(int argc, char **argv)
{
    log_init("lsl-wake");
    signal(SIGPIPE, SIG_IGN);
    (void)!chdir("/"); /* it may wait for days: no directory of the user's held busy meanwhile */
    if (argc % 2 == 0)
        return usage(); /* options come in pairs */
    for (int i = 1; i < argc; i += 2) {
        const char *opt = argv[i], *v = argv[i + 1];
        int fd = parse_fd(v);
        if (!strcmp(opt, LSL_WAKE_OPT_WAKE) && w.wake < 0 && fd >= 0) {
            w.wake = fd;
        } else if (!strcmp(opt, LSL_WAKE_OPT_SOCKET) && w.n < LSL_FWD_SOCKS_MAX && fd >= 0) {
            if (unix_listener_path(fd, w.paths[w.n], sizeof(w.paths[w.n])) == 0)
                w.socks[w.n++] = fd;
            else
                log_warn("fd %d is not a forwarded socket's listener; left out", fd);
        } else if (!strcmp(opt, LSL_WAKE_OPT_RESUME) && w.nresume < LSL_WAKE_RESUME_MAX &&
                   lsl_distro_name_valid(v)) {
            w.resume[w.nresume++] = v;
        } else {
            return usage();
        }
    }
    struct stat st;
    if (w.wake < 0 || !w.n || unix_listener_path(w.wake, w.wake_path, sizeof(w.wake_path)) < 0 ||
        lstat(w.wake_path, &st) < 0) {
        log_error("no wake socket or no listeners: nothing to wait for");
        return 1;
    }
    w.wake_dev = st.st_dev;
    w.wake_ino = st.st_ino;
    (void)fcntl(w.wake, F_SETFD, FD_CLOEXEC);
    for (size_t i = 0; i < w.n; i++)
        (void)fcntl(w.socks[i], F_SETFD, FD_CLOEXEC);
    pid_t start = 0;
    for (;;) {
        struct pollfd pfd[1 + LSL_FWD_SOCKS_MAX] = {{.fd = w.wake, .events = POLLIN}};
        /* While a start is under way the waiting clients are its business: not polled (they stay readable).
         */
        for (size_t i = 0; i < w.n; i++)
            pfd[1 + i] = (struct pollfd){.fd = start ? -1 : w.socks[i], .events = POLLIN};
        int r = poll(pfd, 1 + w.n, start ? 500 : CHECK_MS);
        if (r < 0 && errno != EINTR)
            return log_errno(errno, "poll"), 1;
        if (r > 0 && (pfd[0].revents & POLLIN)) {
            int conn = accept4(w.wake, NULL, NULL, SOCK_CLOEXEC);
            bool handed = conn >= 0 && serve(conn);
            if (handed) {
                /* Our copies go before the connection: the taker's end of file means they are its alone. */
                for (size_t i = 0; i < w.n; i++)
                    close(w.socks[i]);
                if (wake_is_ours())
                    unlink(w.wake_path);
                close(conn);
                return 0;
            }
            if (conn >= 0)
                close(conn);
        }
        if (start && waitpid(start, NULL, WNOHANG) == start) {
            start = 0; /* still here: nobody took the listeners, so the VM did not start */
            log_warn(
                "the VM did not start for a forwarded socket's client (see above); waiting for the next");
            turn_away_waiting();
            continue;
        }
        if (!start && r > 0) {
            for (size_t i = 0; i < w.n && !start; i++) {
                if (!(pfd[1 + i].revents & POLLIN))
                    continue;
                log_info("a client of %s: starting the VM", w.paths[i]);
                start = fork();
                if (start == 0) {
                    close(w.wake);
                    for (size_t j = 0; j < w.n; j++)
                        close(w.socks[j]);
                    _exit(starter());
                }
                if (start < 0) {
                    log_errno(errno, "fork");
                    start = 0;
                    turn_away_waiting();
                }
            }
        }
        if (r == 0 && !start && !wake_is_ours()) {
            log_info("the wake socket %s is gone; the forwarded sockets go too", w.wake_path);
            return 0;
        }
    }
}
