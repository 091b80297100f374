/* Joining a running distribution: its namespaces and cgroup, so that a command started afterwards is one of
 * its processes (what `lsl -d NAME` runs in). */
#ifndef LSL_AGENT_DISTRO_ENTER_H
#define LSL_AGENT_DISTRO_ENTER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The start time of PID (field 22 of /proc/PID/stat) in *out. Returns 0 or -errno. */
int lsl_proc_start_time(pid_t pid, unsigned long long *out);

/* NAME's records under LSL_DISTROS_DIR (distro_layout.h: init, keepalive, umask), which lsl-distro start
 * writes (and stop drops) and the agent reads. Put, drop: 0 or -errno. Get: the record into buf,
 * NUL-terminated (at most len - 1 bytes), its length, or -errno (-ENODATA when empty). */
int lsl_distro_record_put(const char *name, const char *record, const char *text);
int lsl_distro_record_drop(const char *name, const char *record);
ssize_t lsl_distro_record_get(const char *name, const char *record, char *buf, size_t len);

/* Reads NAME's init record and checks that the process is still that init (not a reused PID).
 * Returns its PID, or -ESRCH when the distribution is not running, -EINVAL for a bad name. */
pid_t lsl_distro_init_pid(const char *name);
/* Whether a distribution's PID 1 (pid as this /proc shows it: 1 from inside the distribution) is systemd,
 * which guest/distro/systemd.c exec'd in lsl's init's place. */
bool lsl_distro_init_is_systemd(pid_t pid);

/* Moves the calling process into NAME's cgroup, user-visible namespaces (mount, UTS, IPC, cgroup) and PID
 * namespace (which applies to the children it forks afterwards); the root and working directory become the
 * distribution's. Must be single-threaded. Returns 0, or an enum lsl_error code (NO_DISTRO, INTERNAL) with a
 * one-line message in msg. */
int agent_distro_enter(const char *name, char *msg, size_t msglen);

#endif
