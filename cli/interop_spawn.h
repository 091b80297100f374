/* Starting a host command for the guest (interop, proto/agent.h's LSL_INTEROP_PORT): as this process's own
 * user, in its own session, on pipes or a pty as the guest's client asked, with this process's environment
 * and the variables the guest passed over it. */
#ifndef LSL_CLI_INTEROP_SPAWN_H
#define LSL_CLI_INTEROP_SPAWN_H

#include <stddef.h>

#include "exec.h"
#include "session_server.h"

/* Starts e (e->cwd: a host directory, "" for the home; e->user must be ""; an empty argv[0] is the user's
 * shell). Returns 0 with *c filled (the server's ends non-blocking and close-on-exec), or an enum lsl_error
 * code with one line in msg; then nothing runs. Exec failures come back over a close-on-exec pipe, so they
 * never look like output. */
int lsl_interop_spawn(struct lsl_exec_msg *e, struct lsl_child *c, char *msg, size_t msglen);

#endif
