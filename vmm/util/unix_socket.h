/* Listening unix sockets for the VMM's host-facing endpoints (vsock, service control). */
#ifndef LSL_UNIX_SOCKET_H
#define LSL_UNIX_SOCKET_H

/* Binds a non-blocking, close-on-exec stream socket at path with mode 0600 (replacing a stale socket, but
 * never another kind of file) and listens. Returns the fd or -errno; the caller logs. */
int unix_listen(const char *path, int backlog);

#endif
