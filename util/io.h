/* Whole reads and writes with one error contract for every host program: EINTR retried, a non-blocking fd
 * waited for, short transfers continued; failures are -errno, never logged here. */
#ifndef LSL_UTIL_IO_H
#define LSL_UTIL_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads until len bytes or end of file. Returns the bytes read (fewer than len only at end of file) or
 * -errno. */
ssize_t read_full(int fd, void *buf, size_t len);
/* Writes all len bytes. Returns 0 or -errno (-EPIPE when the reader is gone; never raises SIGPIPE on a
 * socket). */
int write_full(int fd, const void *buf, size_t len);
/* Reads what is left of fd into a NUL-terminated malloc'd buffer (*len bytes before the NUL). Returns 0,
 * -EFBIG when there are more than max bytes (nothing returned), or -errno. */
int read_fd_text(int fd, size_t max, char **out, size_t *len);

/* Monotonic nanoseconds. */
uint64_t now_ns(void);

#endif
