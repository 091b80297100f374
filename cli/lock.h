/* The lock files of the CLI (the registry's, the service start-up's): an exclusive flock taken with a
 * bounded wait, so a holder that never lets go costs a timeout and one error line, never a hung lsl. */
#ifndef LSL_CLI_LOCK_H
#define LSL_CLI_LOCK_H

/* Opens (creating, 0600, never through a symlink) path and takes an exclusive flock on it, waiting at most
 * timeout_s. Returns the fd (closing it drops the lock), -ETIMEDOUT, or -errno; nothing is logged. */
int lsl_lock_take(const char *path, int timeout_s);

#endif
