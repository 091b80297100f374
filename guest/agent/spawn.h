/* Starting the command of an EXEC request (decoded by proto/exec.c) with its user, working directory,
 * environment and pipes or pty. */
#ifndef LSL_AGENT_SPAWN_H
#define LSL_AGENT_SPAWN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "exec.h"

/* The running command as the session sees it; every fd is the agent's end, non-blocking and close-on-exec,
 * or -1. in is where stdin bytes go (the pipe, or the pty master when stdin is the pty). */
struct agent_child {
    pid_t pid; /* also the command's process group and session */
    int in;
    int out, err; /* pipes, when stdout/stderr are PIPE */
    int pty;      /* master, when any fd is PTY */
    int logind;   /* holds the command's logind session open (logind.h) */
};

/* Starts the command. Returns 0 with *c filled, or an enum lsl_error code (NOT_FOUND, NO_EXEC, NO_USER,
 * NO_CWD, INTERNAL) with a one-line message in msg; then nothing is left running. Exec failures are
 * reported by the child over a close-on-exec pipe, so they never look like command output. */
int agent_spawn(const struct lsl_exec_msg *e, struct agent_child *c, char *msg, size_t msglen);

/* What a session calls to start its command: agent_spawn, unless the agent's fuzz target
 * (tests/fuzz/fuzz_agent.c) puts a stub here, so that fuzzing never runs commands on the fuzzing machine. */
extern int (*agent_spawn_fn)(const struct lsl_exec_msg *e, struct agent_child *c, char *msg, size_t msglen);

/* Closes the agent's fds of the child (not the process). */
void agent_child_close(struct agent_child *c);

#endif
