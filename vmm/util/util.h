/* Small helpers used across the VMM: cleanup attributes (systemd style), error logging, overflow-safe math.
 */
#ifndef LSL_UTIL_H
#define LSL_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define ARRAY_SIZE(a)    (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)        ((a) < (b) ? (a) : (b))
#define MAX(a, b)        ((a) > (b) ? (a) : (b))
#define ALIGN_UP(x, a)   (((x) + ((a)-1)) & ~((__typeof__(x))(a)-1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a)-1))

static inline void freep(void *p)
{
    free(*(void **)p);
}
static inline void closep(int *fd)
{
    if (*fd >= 0)
        close(*fd);
}
#define _cleanup_free_  __attribute__((cleanup(freep)))
#define _cleanup_close_ __attribute__((cleanup(closep)))

/* Takes ownership out of a cleanup variable. */
#define TAKE_PTR(p)                                                                                          \
    ({                                                                                                       \
        __typeof__(p) _p = (p);                                                                              \
        (p) = NULL;                                                                                          \
        _p;                                                                                                  \
    })
#define TAKE_FD(fd)                                                                                          \
    ({                                                                                                       \
        int _fd = (fd);                                                                                      \
        (fd) = -1;                                                                                           \
        _fd;                                                                                                 \
    })

/* "lsl-vmm: <message>" on stderr. The caller decides once whether a failure is worth a line. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Returns -errno after printing "<message>: <strerror>" (errno value passed explicitly, positive). */
int log_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* True if [start, start+len) does not wrap around 2^64. */
static inline bool range_ok(uint64_t start, uint64_t len)
{
    return start + len >= start;
}

/* Parses "512", "512M", "2G", "64K", "1048576B" (bare numbers are MiB, like wsl's memory= without unit
 * is not allowed; we accept it because users type it). Returns 0 or -EINVAL/-ERANGE. */
int parse_size(const char *s, uint64_t *bytes);
/* "1.5 GiB"-style rendering into buf. */
const char *format_size(uint64_t bytes, char *buf, size_t len);
/* Monotonic nanoseconds. */
uint64_t now_ns(void);

#endif
