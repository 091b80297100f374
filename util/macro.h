/* Everyday macros of the host programs (lsl, lsl-fetch, lsl-vmm): array size, min/max, alignment and
 * systemd-style cleanup attributes, so every function frees and closes the same way. */
#ifndef LSL_UTIL_MACRO_H
#define LSL_UTIL_MACRO_H

#include <stdio.h>
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
static inline void fclosep(FILE **f)
{
    if (*f)
        fclose(*f);
}
#define _cleanup_(f)     __attribute__((cleanup(f)))
#define _cleanup_free_   _cleanup_(freep)
#define _cleanup_close_  _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

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

#endif
