/* Small helpers for lsl-init: whole-file reads (for /proc files), mkdir -p, mount points, a sleep. */
#ifndef LSL_INIT_FILEIO_H
#define LSL_INIT_FILEIO_H

#include <stdbool.h>
#include <sys/types.h>

/* Reads a whole file into a NUL-terminated malloc'd buffer, growing as needed: /proc files report size 0
 * and /proc/cmdline can be several KiB. Returns the length (bytes before the NUL) or -errno; no logging. */
ssize_t lsl_read_file(const char *path, char **contents_out);

/* Writes text to path (created 0644 or truncated; a symlink there is refused). Returns 0 or -errno. */
int lsl_write_file(const char *path, const char *text);

/* Creates path and its missing parents with mode; existing directories are fine. Returns 0 or -errno. */
int lsl_mkdir_p(const char *path, mode_t mode);

/* Whether path is the root of a mount (its device differs from its parent's, or it is "/").
 * Returns 1, 0, or -errno (e.g. -ENOENT). */
int lsl_is_mountpoint(const char *path);

/* Sleeps ms milliseconds (an interruption cuts it short: callers poll in loops). */
void lsl_sleep_ms(long ms);
/* CLOCK_MONOTONIC in milliseconds. */
long long lsl_now_ms(void);
/* Waits for child pid until deadline (lsl_now_ms), then kills it (SIGKILL) and reaps it. Returns true when
 * it exited by itself in time, with its wait status in *status (may be NULL). */
bool lsl_wait_bounded(pid_t pid, long long deadline, int *status);

#endif
