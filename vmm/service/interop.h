/* Interop, the guest's host commands (lsl-host): the service listens where the VMM's vsock device takes the
 * guest's connections to host port LSL_INTEROP_PORT (the vsock socket's path + "_5002") and hands each
 * connection to a program of its own (lsl-interop, the session's server), never serving it on this thread. */
#ifndef LSL_SERVICE_INTEROP_H
#define LSL_SERVICE_INTEROP_H

struct evloop;
struct interop;

/* Listens at vsock_path "_" LSL_INTEROP_PORT; each connection becomes the stdin of `program DIR` (DIR: the
 * service's runtime directory; stdout and stderr are the service's log). Returns 0 or -errno (logged). */
int interop_create(struct evloop *loop, const char *dir, const char *vsock_path, const char *program,
                   struct interop **out);
void interop_free(struct interop *i);
/* How many connections were handed to the program (for --status). */
unsigned interop_served(const struct interop *i);

#endif
