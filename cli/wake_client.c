/* See wake_client.h. lsl-wake answers one request per connection; every wait for it is bounded
 * (LSL_WAKE_ANSWER_MS): a hung lsl-wake costs that, and its listeners are then bound anew. */
#include "wake_client.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "unix_socket.h"
#include "wake.h" /* proto/: the socket's name and bytes */

/* A connection to lsl-wake with the request sent, or -errno (-ENOENT/-ECONNREFUSED: none waits). */
static int ask(const struct lsl_paths *p, char what)
{
    char path[PATH_MAX];
    int r = lsl_path_join(path, p->runtime, LSL_WAKE_SOCKET);
    if (r < 0)
        return r;
    int fd = unix_connect(path, false);
    if (fd < 0)
        return fd;
    struct timeval tv = {.tv_sec = LSL_WAKE_ANSWER_MS / 1000, .tv_usec = LSL_WAKE_ANSWER_MS % 1000 * 1000};
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
        send(fd, &what, 1, MSG_NOSIGNAL) != 1) {
        r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

static bool nobody(int r)
{
    return r == -ENOENT || r == -ECONNREFUSED;
}

int lsl_wake_take(const struct lsl_paths *p, int *fds, size_t max)
{
    _cleanup_close_ int fd = ask(p, LSL_WAKE_TAKE);
    if (fd < 0)
        return nobody(fd) ? 0 : (log_warn("lsl-wake: %s", strerror(-fd)), fd);
    size_t n = 0;
    for (;;) {
        char b;
        int got[1];
        size_t ngot = 0;
        ssize_t r = unix_recv_fds(fd, &b, 1, got, 1, &ngot);
        if (ngot == 1 && got[0] < 3) {
            /* Never 0-2, which a service's start points at /dev/null and its log. */
            int moved = fcntl(got[0], F_DUPFD_CLOEXEC, 3);
            close(got[0]);
            got[0] = moved;
            ngot = moved >= 0;
        }
        if (r == 1 && b == LSL_WAKE_FD && ngot == 1) {
            if (n < max)
                fds[n++] = got[0];
            else
                close(got[0]);
            continue;
        }
        if (ngot)
            close(got[0]);
        if (r == 1 && b == LSL_WAKE_END) {
            /* lsl-wake closes its copies, then the connection: after its end nothing but ours is left. */
            while (recv(fd, &b, 1, 0) > 0)
                ;
            return (int)n;
        }
        /* Cut short (or timed out): what came is still the listeners; the rest are bound anew. */
        log_warn("lsl-wake did not hand over all forwarded sockets (%s); binding them anew",
                 r < 0 ? strerror((int)-r) : "it went away");
        return (int)n;
    }
}

int lsl_wake_release(const struct lsl_paths *p)
{
    int fds[64];
    int n = lsl_wake_take(p, fds, sizeof(fds) / sizeof(fds[0]));
    for (int i = 0; i < n; i++) {
        char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
        bool named = unix_listener_path(fds[i], path, sizeof(path)) == 0;
        close(fds[i]);
        if (named) /* ours no more: removed unless something else listens there now */
            unix_remove_stale(path);
    }
    return n < 0 ? 0 : n;
}

int lsl_wake_list(const struct lsl_paths *p, char *buf, size_t len)
{
    _cleanup_close_ int fd = ask(p, LSL_WAKE_LIST);
    if (fd < 0 || !len)
        return 0;
    size_t have = 0;
    for (;;) {
        ssize_t r = recv(fd, buf + have, len - 1 - have, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        have += (size_t)r;
        if (have == len - 1)
            break;
    }
    buf[have] = '\0';
    return 1;
}
