/* A logind session for a command on a terminal, where systemd is the distribution's PID 1: what
 * pam_systemd opens for a login over ssh or on a console (spawn.c says why only on a terminal). The command
 * then runs in session-N.scope, `loginctl` lists it, logind makes /run/user/UID and starts the user's manager
 * (systemctl --user), and the user's sessions end and their manager stops as on any systemd machine. Spoken
 * over the distribution's system bus directly: the agent is static, with no libsystemd or PAM to lean on. */
#ifndef LSL_AGENT_LOGIND_H
#define LSL_AGENT_LOGIND_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "dbus_msg.h"

/* Whether a session can be asked for here: systemd is PID 1 and its system bus listens. */
bool agent_logind_usable(void);

/* Asks logind for a session of uid led by the calling process (a new process group and session, not yet
 * switched to uid), on its terminal tty ("pts/3"). Bounded. Returns the session's fd, which keeps the
 * session open until every copy of it is closed, with *s filled; or -errno with the reason in why. */
int agent_logind_session(uid_t uid, const char *tty, struct logind_created *s, char *why, size_t whylen);

#endif
