/* Interop's host half: one host command for the guest (proto/agent.h's LSL_INTEROP_PORT), served only for a
 * distribution whose start allowed it ([interop] enabled in its wsl.conf, the default), as the run record the
 * CLI keeps in the runtime directory says; the guest's lsl-host checks first too, but the guest is not
 * trusted. No user but this one, no command for the VM's system root. */
#ifndef LSL_CLI_INTEROP_H
#define LSL_CLI_INTEROP_H

#include <stddef.h>

#include "exec.h"
#include "session_server.h"

/* Serves fd (closed) to completion, with runtime the service's runtime directory: lsl_session_serve's
 * returns. */
int lsl_interop_serve(int fd, const char *runtime);

/* What starts the command: lsl_interop_spawn, unless the fuzz target (tests/fuzz/fuzz_interop.c) puts its
 * stub here, so that fuzzing runs nothing on the fuzzing machine. */
extern int (*lsl_interop_spawn_fn)(struct lsl_exec_msg *e, struct lsl_child *c, char *msg, size_t msglen);

#endif
