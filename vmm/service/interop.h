/* Interop, the guest's host commands (lsl-host): the service listens where the VMM's vsock device takes the
 * guest's connections to host port LSL_INTEROP_PORT (agent.h's LSL_INTEROP_SOCKET) and hands each connection
 * to a program of its own (lsl-interop, the session's server), never serving it on this thread. */
#ifndef LSL_SERVICE_INTEROP_H
#define LSL_SERVICE_INTEROP_H

struct evloop;
struct interop;

/* Listens at DIR/LSL_INTEROP_SOCKET (DIR: the service's runtime directory, where the VMM's vsock socket is);
 * each connection becomes the stdin of `program DIR` (stdout and stderr are the service's log). Returns 0 or
 * -errno (logged). */
int interop_create(struct evloop *loop, const char *dir, const char *program, struct interop **out);
void interop_free(struct interop *i);
/* How many connections were handed to the program (for --status). */
unsigned interop_served(const struct interop *i);

#endif
