/* The serving side of a session (agent.h), independent of the transport and of what starts the command: the
 * guest agent serves the host's sessions with it (guest/agent/session.c), and lsl-interop serves the guest's
 * host commands with it (cli/interop_main.c). HELLO both ways, frames before the EXEC that the server takes
 * (ops->other), the EXEC, then a poll() loop relaying stdin (bounded by the credit granted), output (read
 * only while the socket keeps up) and control frames until the command has exited and the output it left
 * behind is sent. The socket is non-blocking and always read, so control frames never wait. */
#ifndef LSL_PROTO_SESSION_SERVER_H
#define LSL_PROTO_SESSION_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "exec.h"
#include "frame.h"

/* The running command as the server sees it; every fd is the server's end, non-blocking and close-on-exec,
 * or -1. in is where stdin bytes go (the pipe, or the pty master when stdin is the pty). */
struct lsl_child {
    pid_t pid; /* also the command's process group and session */
    int in;
    int out, err; /* pipes, when stdout/stderr are PIPE */
    int pty;      /* master, when any fd is PTY */
    int hold;     /* kept open while the command runs (the agent's logind session), or -1 */
};
#define LSL_CHILD_NONE ((struct lsl_child){.pid = -1, .in = -1, .out = -1, .err = -1, .pty = -1, .hold = -1})

/* Closes the server's fds of the child (not the process). */
void lsl_child_close(struct lsl_child *c);

struct lsl_serve_ops {
    /* A frame after HELLO that is not the EXEC (the agent's CLOCK, SHUTDOWN, ACTIVITY). Returns 1 to go on
     * to the next frame (the client may end the session there: that is no error), 0 when the session ends
     * with what it queued on wr, or -EPROTO. NULL: every such frame is a protocol error. */
    int (*other)(void *ctx, struct lsl_frame_writer *wr, const struct lsl_frame *f);
    /* Starts the command of e. Returns 0 with *c filled, or an enum lsl_error code with a one-line message
     * in msg; then nothing is left running. May change e (argv[0] for the user's shell). */
    int (*start)(void *ctx, struct lsl_exec_msg *e, struct lsl_child *c, char *msg, size_t msglen);
};

/* Serves fd to completion: HELLO, one EXEC, the relay, EXIT; closes fd. Meant for a process of its own: it
 * blocks SIGCHLD (taken through a signalfd) and ignores SIGPIPE while it runs. Errors are reported to the
 * client as ERROR frames, not logged. If the client goes away before EXIT, the command's process group gets
 * SIGHUP, then SIGKILL after a grace period, and is reaped. Returns 0 when the session ended as the protocol
 * intends (EXIT sent, or ERROR for a command that could not start), -EPROTO after a protocol violation by
 * the client, -ECONNRESET when it went away, or another -errno for a local failure. */
int lsl_session_serve(int fd, const struct lsl_serve_ops *ops, void *ctx);

/* Queues ERROR(code, message). 0 or -ENOMEM. */
int lsl_frame_put_error(struct lsl_frame_writer *wr, uint32_t code, const char *msg);

#endif
