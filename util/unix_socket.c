/* Unix stream sockets: listeners that are private from the start, and clients. */
#include "unix_socket.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int unix_listen(const char *path, int backlog)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(a.sun_path))
        return -ENAMETOOLONG;
    memcpy(a.sun_path, path, strlen(path) + 1);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return -EEXIST;
        unlink(path); /* a stale socket from an earlier run */
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    /* Created under the umask: 0600 from the start rather than chmod afterwards. */
    mode_t old = umask(0177);
    int r = bind(fd, (struct sockaddr *)&a, sizeof(a));
    umask(old);
    if (r < 0 || listen(fd, backlog) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

int unix_connect(const char *path, bool nonblock)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(a.sun_path))
        return -ENAMETOOLONG;
    memcpy(a.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0)
        return -errno;
    int r;
    do
        r = connect(fd, (struct sockaddr *)&a, sizeof(a));
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

int hvsock_connect_line(char line[HVSOCK_LINE_MAX], uint32_t port)
{
    return snprintf(line, HVSOCK_LINE_MAX, "CONNECT %" PRIu32 "\n", port);
}

int hvsock_dial(const char *path, uint32_t port)
{
    char line[HVSOCK_LINE_MAX];
    int n = hvsock_connect_line(line, port), fd = unix_connect(path, true);
    if (fd < 0)
        return fd;
    if (send(fd, line, (size_t)n, MSG_NOSIGNAL) != n) {
        int err = errno ? errno : EAGAIN;
        close(fd);
        return -err;
    }
    return fd;
}

int unix_send_fd(int sock, const void *buf, size_t len, int fd)
{
    struct iovec iov = {(void *)buf, len};
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(sizeof(int))];
    } ctl = {0};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl, .msg_controllen = sizeof(ctl)};
    struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_RIGHTS;
    h->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(h), &fd, sizeof(int));
    ssize_t n;
    do
        n = sendmsg(sock, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    return (size_t)n == len ? 0 : -EIO;
}

/* Room for the fds one message may carry here: more than any caller keeps, so extras are seen and closed. */
#define RECV_FDS_ROOM 16

ssize_t unix_recv_fds(int sock, void *buf, size_t len, int *fds, size_t max, size_t *nfds)
{
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(sizeof(int) * RECV_FDS_ROOM)];
    } ctl;
    struct iovec iov = {buf, len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl, .msg_controllen = sizeof(ctl)};
    ssize_t n;
    *nfds = 0;
    do
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h; h = CMSG_NXTHDR(&mh, h)) {
        if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS || h->cmsg_len < CMSG_LEN(0))
            continue;
        size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
            if (*nfds < max)
                fds[(*nfds)++] = fd;
            else
                close(fd);
        }
    }
    return n;
}

int unix_path_listening(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return -errno;
    if (!S_ISSOCK(st.st_mode))
        return -ENOTSOCK;
    int fd = unix_connect(path, true);
    if (fd >= 0)
        close(fd);
    return fd >= 0 || fd == -EAGAIN ? 1 : fd == -ECONNREFUSED ? 0 : fd;
}

void unix_remove_stale(const char *path)
{
    if (unix_path_listening(path) == 0)
        unlink(path);
}

int unix_listener_path(int fd, char *path, size_t len)
{
    struct sockaddr_un a;
    socklen_t alen = sizeof(a);
    int type, listening;
    socklen_t olen = sizeof(int);
    if (getsockname(fd, (struct sockaddr *)&a, &alen) < 0)
        return -errno;
    if (a.sun_family != AF_UNIX || alen <= offsetof(struct sockaddr_un, sun_path) || a.sun_path[0] == '\0')
        return -EINVAL; /* not a unix socket, or unnamed, or abstract */
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &olen) < 0 || type != SOCK_STREAM ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &olen) < 0 || !listening)
        return -EINVAL;
    size_t n = strnlen(a.sun_path, alen - offsetof(struct sockaddr_un, sun_path));
    if (n >= len)
        return -ENAMETOOLONG;
    memcpy(path, a.sun_path, n);
    path[n] = '\0';
    return 0;
}
