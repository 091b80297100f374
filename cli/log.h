/* "lsl: ..." error lines on stderr: one per failure, at the level that decides. */
#ifndef LSL_CLI_LOG_H
#define LSL_CLI_LOG_H

void lsl_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Logs "<message>: <strerror(err)>" and returns -err. */
int lsl_log_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
