/* The client side of a session (agent.h): runs one command on the other side of the VM over an already
 * connected stream and relays the local stdin/stdout/stderr, terminal and signals to it. The CLI runs guest
 * commands with it; lsl-host runs host commands from the guest with it (interop). */
#ifndef LSL_PROTO_SESSION_CLIENT_H
#define LSL_PROTO_SESSION_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lsl_exec_request {
    const char *const *argv; /* NULL-terminated, at least one entry */
    const char *const *envp; /* NULL-terminated "NAME=value" list, or NULL for an empty environment */
    const char *cwd;         /* NULL or "" for the user's home */
    const char *user;        /* NULL or "" for root */
    const char *distro;      /* NULL or "" for the system root, else a running distribution */
    uint32_t flags;          /* LSL_EXEC_* */
};

/* Output kept in memory instead of written to a local fd (lsl_guest_run: what lsl-distro answers, and its
 * complaints). Whatever the guest sends, no more than max bytes are ever held. */
enum lsl_capture_mode {
    LSL_CAPTURE_HEAD, /* the first max bytes; one more ends the session with -EMSGSIZE (a guest that
                       * answers more than any true answer holds is not believed) */
    LSL_CAPTURE_TAIL, /* the last max bytes: the end of a stream of complaints is what tells what went wrong
                       */
};
struct lsl_capture {
    enum lsl_capture_mode mode;
    size_t max;
    char *data; /* malloc'd as it grows (at most max + 1 bytes), NUL-terminated; free it */
    size_t len;
    size_t size; /* allocated */
    bool cut;    /* LSL_CAPTURE_TAIL: the beginning was dropped */
};

/* Local side of the session; NULL means fds 0, 1, 2 and no details. */
struct lsl_session_io {
    int fds[3];                     /* local stdin, stdout, stderr */
    struct lsl_capture *capture[3]; /* [1], [2]: when set, that output goes there, not to fds[] (a pipe for
                                     * the guest) */
    char *errbuf; /* receives a one-line reason when a negative value is returned (may be NULL) */
    size_t errlen;
    int remote_error;      /* out: the enum lsl_error of an ERROR from the agent, else 0 */
    unsigned connect_port; /* in: fd is the VMM's hybrid-vsock socket, not yet connected: connect to this
                            * guest port first (see hybrid_connect() in session.c); 0: fd is connected */
    bool started;          /* out: the command started (before that, nothing of stdin was read) */
    const char *who;       /* in: the program a not-found line names as its speaker ("lsl" when NULL) */
};

/* Runs req over fd (not closed). Each local fd that is a terminal is connected to the guest pty, the others
 * to pipes; while stdin is a terminal it is in raw mode (restored before returning, whatever the outcome).
 * SIGINT, SIGTERM, SIGHUP and SIGQUIT received meanwhile are forwarded to the command's process group
 * (with a pty in raw mode, Ctrl-C is a byte and never becomes a local SIGINT) and SIGWINCH becomes WINSIZE;
 * the caller's signal mask and SIGPIPE disposition are restored before returning. Every wait polls the
 * signals too (the socket and the local fds are never written in a way that blocks): one of those four
 * before the command started, or a second SIGTERM or SIGHUP after, ends the session at once with 128+N.
 * Returns the command's status: 0-255 (128+N when killed by signal N); 127 and 126 when the agent reports
 * NOT_FOUND or NO_EXEC, after writing its message to the local stderr like a shell. Failures of the session
 * itself are negative, so the CLI can exit with a code of its own, with a reason in io->errbuf:
 * -ECONNREFUSED (io->connect_port: nothing accepted the connection on that port),
 * -EPROTO (the agent broke the protocol or rejected ours), -ECONNRESET (the connection ended before EXIT),
 * -ETIMEDOUT (io->connect_port: no answer to CONNECT), -EMSGSIZE (more output than an LSL_CAPTURE_HEAD
 * capture holds),
 * -EREMOTEIO (the agent reported another ERROR: unknown user, bad cwd, distribution not running, internal;
 * see io->remote_error),
 * or another -errno for a local failure. */
int lsl_session_exec(int fd, const struct lsl_exec_request *req, struct lsl_session_io *io);

#endif
