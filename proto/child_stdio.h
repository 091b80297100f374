/* The stdin, stdout and stderr of a command a session server starts (session_server.h), as its EXEC asks:
 * a pipe each, or one pty for every fd in PTY mode. Shared by the agent's spawn and lsl-interop's, which
 * differ in who runs the command, not in how it is wired. */
#ifndef LSL_PROTO_CHILD_STDIO_H
#define LSL_PROTO_CHILD_STDIO_H

#include <stdint.h>
#include <sys/types.h>

#include "exec.h"
#include "session_server.h"

struct lsl_stdio {
    int src[3];  /* the child's ends: what becomes its 0, 1, 2 (the pty's slave for PTY) */
    int ours[3]; /* the server's ends of the pipes, non-blocking, or -1 */
    int master;  /* the pty's master, non-blocking, or -1 */
    int slave;   /* the pty's slave, or -1 */
};
#define LSL_STDIO_NONE                                                                                       \
    ((struct lsl_stdio){.src = {-1, -1, -1}, .ours = {-1, -1, -1}, .master = -1, .slave = -1})

/* Opens what e asks, all close-on-exec; the pty gets e's window size and, when owner is not (uid_t)-1, the
 * slave belongs to owner (as login and sshd arrange, so that programs reopening it by name work). Returns 0
 * or -errno, with nothing left open. */
int lsl_stdio_open(const struct lsl_exec_msg *e, uid_t owner, struct lsl_stdio *s);
/* In the child, leading a session of its own: the pty (if any) as its controlling terminal. 0 or -errno. */
int lsl_stdio_ctty(const struct lsl_stdio *s);
/* In the child: src onto 0, 1, 2 (moved above 2 first, so that placing one cannot clobber another). Returns
 * 0 or -errno. */
int lsl_stdio_dup(const struct lsl_stdio *s);
/* The command started as pid: the server's ends move into *c, the rest is closed. */
void lsl_stdio_started(struct lsl_stdio *s, const struct lsl_exec_msg *e, pid_t pid, struct lsl_child *c);
/* Closes whatever is still open. */
void lsl_stdio_close(struct lsl_stdio *s);

/* In the child, first: every signal's default action, none blocked (what the server blocked or ignored is
 * not the command's business). 0 or -errno. */
int lsl_child_defaults(void);
/* In the child: what kept it from exec, as {u32 code (enum lsl_error), u32 errno} on the close-on-exec
 * status fd (which the server reads empty when exec succeeded); then _exit(127). */
_Noreturn void lsl_child_fail(int status_fd, uint32_t code, int err);

#endif
