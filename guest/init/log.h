/* Console output of lsl-init: the boot marker and one-line errors that lsl-vmm forwards to the user. */
#ifndef LSL_INIT_LOG_H
#define LSL_INIT_LOG_H

/* Writes one formatted line (a newline is appended) to stdout in a single write. */
void lsl_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Writes LSL_INIT_ERROR_PREFIX + the formatted message + newline to stderr. Preserves errno. */
void lsl_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Like lsl_log_error with errno set to |err| while formatting, so "%m" names it.
 * Returns -|err|, for "return lsl_log_errno(errno, ...)". */
int lsl_log_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
