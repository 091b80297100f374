/* Unix stream sockets of the host programs: the service's control socket and the VMM's hybrid-vsock socket
 * (listening), and the clients of both. */
#ifndef LSL_UTIL_UNIX_SOCKET_H
#define LSL_UTIL_UNIX_SOCKET_H

#include <stdbool.h>

/* Binds a non-blocking, close-on-exec stream socket at path with mode 0600 (replacing a stale socket, but
 * never another kind of file) and listens. Returns the fd or -errno; the caller logs. */
int unix_listen(const char *path, int backlog);
/* Connects a close-on-exec stream socket to path. nonblock: the socket is non-blocking and a listener whose
 * backlog is full fails with -EAGAIN at once instead of blocking the caller (a thread that serves that very
 * listener must never wait for it). Returns the fd or -errno (-ENAMETOOLONG for a path that cannot be a
 * socket address). */
int unix_connect(const char *path, bool nonblock);

#endif
