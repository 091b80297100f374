/* Unix stream sockets of the host programs: the service's control socket and the VMM's hybrid-vsock socket
 * (listening), and the clients of both. */
#ifndef LSL_UTIL_UNIX_SOCKET_H
#define LSL_UTIL_UNIX_SOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Binds a non-blocking, close-on-exec stream socket at path with mode 0600 (replacing a stale socket, but
 * never another kind of file) and listens. Returns the fd or -errno; the caller logs. */
int unix_listen(const char *path, int backlog);
/* Connects a close-on-exec stream socket to path. nonblock: the socket is non-blocking and a listener whose
 * backlog is full fails with -EAGAIN at once instead of blocking the caller (a thread that serves that very
 * listener must never wait for it). Returns the fd or -errno (-ENAMETOOLONG for a path that cannot be a
 * socket address). */
int unix_connect(const char *path, bool nonblock);

/* Whether a unix socket at path is served: 1 when a connect is taken (or its backlog is full), 0 when it is
 * refused (nobody listens there any more), -ENOTSOCK when path is something else, else -errno. */
int unix_path_listening(const char *path);

/* Removes path if it is a unix socket nobody listens on any more (a connect is refused there): a listener of
 * ours just closed, never a live one or another kind of file. */
void unix_remove_stale(const char *path);

/* The path fd, a listening unix stream socket, is bound to, into path (len bytes). Returns 0, -EINVAL when
 * fd is not such a socket (or has no path), -ENAMETOOLONG or -errno. */
int unix_listener_path(int fd, char *path, size_t len);

/* Sends len bytes (at least one) with fd passed beside them (SCM_RIGHTS). Returns 0 or -errno (-EIO for a
 * short send). */
int unix_send_fd(int sock, const void *buf, size_t len, int fd);
/* One recvmsg on sock (EINTR retried): bytes into buf, passed fds into fds (close-on-exec), at most max of
 * them; any beyond max are closed. Returns the byte count (0 at end of file) or -errno; *nfds: the fds kept.
 */
ssize_t unix_recv_fds(int sock, void *buf, size_t len, int *fds, size_t max, size_t *nfds);

/* The VMM's hybrid vsock (parsed by vmm/devices/vsock_conn.c): a host program connects to the VMM's vsock
 * socket and writes "CONNECT PORT\n"; "OK HOSTPORT\n" answers once the guest accepted, and nothing past the
 * line is read before that. The line for port into line; returns its length. */
#define HVSOCK_LINE_MAX 32
int hvsock_connect_line(char line[HVSOCK_LINE_MAX], uint32_t port);
/* Connects to the VMM's vsock socket at path without waiting (unix_connect's nonblock) and sends the line
 * for port (a fresh socket's buffer takes it whole). Returns the fd (the answer still to come) or -errno. */
int hvsock_dial(const char *path, uint32_t port);

#endif
