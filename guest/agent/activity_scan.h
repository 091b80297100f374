/* The agent's answer to ACTIVITY (proto/agent.h): for each running distribution, how many processes run in
 * its PID namespace besides its init and lsl's own session processes. Counted from /proc only when asked. */
#ifndef LSL_AGENT_ACTIVITY_SCAN_H
#define LSL_AGENT_ACTIVITY_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "activity.h" /* proto/ */

/* The comm of lsl's session processes (the agent's spare and each session's relay): children of a
 * distribution's init by this name are lsl's, not the distribution's. */
#define LSL_SESSION_COMM "lsl-session"
/* The comm of lsl's agent in a distribution run by systemd (guest/distro/systemd.c). */
#define LSL_DISTRO_AGENT_COMM "lsl-agent"

/* Counts, for each of the n inits (PIDs as proc shows them), the live processes in the same PID namespace
 * other than the init itself and its LSL_SESSION_COMM children, into counts[i]; where the init is systemd,
 * not its own machinery either (activity_scan.c). Unless what is NULL, what[i] names them (proto/activity.h:
 * their services where systemd runs them, command names otherwise, each once). proc is a directory laid
 * out as /proc (PID/ns/pid, PID/stat, PID/cgroup). An init whose namespace cannot be read counts 0.
 * Returns 0 or -errno. */
int agent_activity_count(int proc, const pid_t *inits, size_t n, uint32_t *counts,
                         char (*what)[LSL_ACTIVITY_WHAT_MAX + 1]);

/* The running distributions (lsl-distro's records, checked against PID reuse) and their counts. Returns
 * how many entries were filled (at most LSL_ACTIVITY_MAX), or -errno. */
int agent_activity(struct lsl_activity out[LSL_ACTIVITY_MAX]);

#endif
