/* The agent's EXEC request: parsing the wire payload (every length and string checked) and starting the
 * command with its user, working directory, environment and pipes or pty. */
#ifndef LSL_AGENT_EXEC_H
#define LSL_AGENT_EXEC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A parsed EXEC: the strings point into payload, which this struct owns. */
struct agent_exec {
    uint32_t flags;   /* LSL_EXEC_* */
    uint8_t stdio[3]; /* enum lsl_stdio_mode */
    uint16_t rows, cols;
    const char *cwd;    /* "" = the user's home */
    const char *user;   /* "" = the agent's own user (root in the guest) */
    const char *distro; /* "" = the system root, else a running distribution's name */
    uint32_t argc, envc;
    char **argv; /* argc entries + NULL */
    char **env;  /* envc entries + NULL */
    char *payload;
};

/* The running command as the session sees it; every fd is the agent's end, non-blocking and close-on-exec,
 * or -1. in is where stdin bytes go (the pipe, or the pty master when stdin is the pty). */
struct agent_child {
    pid_t pid; /* also the command's process group and session */
    int in;
    int out, err; /* pipes, when stdout/stderr are PIPE */
    int pty;      /* master, when any fd is PTY */
};

/* Parses an EXEC payload. Returns 0, -EPROTO for anything malformed (sizes, counts, unterminated strings,
 * trailing bytes, unknown flags or modes, nonzero reserved, env entries without '='), or -ENOMEM. */
int agent_exec_parse(const uint8_t *data, size_t len, struct agent_exec *e);
void agent_exec_free(struct agent_exec *e);

/* Starts the command. Returns 0 with *c filled, or an enum lsl_error code (NOT_FOUND, NO_EXEC, NO_USER,
 * NO_CWD, INTERNAL) with a one-line message in msg; then nothing is left running. Exec failures are
 * reported by the child over a close-on-exec pipe, so they never look like command output. */
int agent_spawn(const struct agent_exec *e, struct agent_child *c, char *msg, size_t msglen);

/* Closes the agent's fds of the child (not the process). */
void agent_child_close(struct agent_child *c);

#endif
