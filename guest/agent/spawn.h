/* Starting the command of an EXEC request (decoded by proto/exec.c) with its user, working directory,
 * environment and pipes or pty. */
#ifndef LSL_AGENT_SPAWN_H
#define LSL_AGENT_SPAWN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "exec.h"
#include "session_server.h"

/* Starts the command. Returns 0 with *c filled, or an enum lsl_error code (NOT_FOUND, NO_EXEC, NO_USER,
 * NO_CWD, INTERNAL) with a one-line message in msg; then nothing is left running. Exec failures are
 * reported by the child over a close-on-exec pipe, so they never look like command output. */
int agent_spawn(struct lsl_exec_msg *e, struct lsl_child *c, char *msg, size_t msglen);

/* What a session calls to start its command: agent_spawn, unless the agent's fuzz target
 * (tests/fuzz/fuzz_agent.c) puts a stub here, so that fuzzing never runs commands on the fuzzing machine. */
extern int (*agent_spawn_fn)(struct lsl_exec_msg *e, struct lsl_child *c, char *msg, size_t msglen);

#endif
