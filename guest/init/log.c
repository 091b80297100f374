/* Console output of lsl-init. Each line goes out in one writev() so that lsl-vmm, which forwards
 * error lines by their prefix, never sees a line split by other console output. */
#include "log.h"

#include "boot.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

__attribute__((format(printf, 4, 0))) static void write_line(int fd, const char *prefix, int err,
                                                             const char *fmt, va_list ap)
{
    static const char oom[] = "(message lost: out of memory)";
    struct iovec iov[3];
    char *msg = NULL;
    va_list ap2;
    int n;

    /* Format twice with errno pinned: "%m" must name err even if something in between touched errno. */
    va_copy(ap2, ap);
    errno = err;
    n = vsnprintf(NULL, 0, fmt, ap);
    if (n >= 0)
        msg = malloc((size_t)n + 1);
    if (msg) {
        errno = err;
        n = vsnprintf(msg, (size_t)n + 1, fmt, ap2);
    }
    va_end(ap2);

    iov[0] = (struct iovec){.iov_base = (void *)prefix, .iov_len = strlen(prefix)};
    if (msg && n >= 0)
        iov[1] = (struct iovec){.iov_base = msg, .iov_len = (size_t)n};
    else
        iov[1] = (struct iovec){.iov_base = (void *)oom, .iov_len = sizeof(oom) - 1};
    iov[2] = (struct iovec){.iov_base = (void *)"\n", .iov_len = 1};

    /* Nothing sensible to do if the console itself fails; retry only interruptions. */
    while (writev(fd, iov, 3) < 0 && errno == EINTR)
        ;
    free(msg);
}

void lsl_log_info(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    write_line(STDOUT_FILENO, "", saved, fmt, ap);
    va_end(ap);
    errno = saved;
}

void lsl_log_error(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    write_line(STDERR_FILENO, LSL_INIT_ERROR_PREFIX, saved, fmt, ap);
    va_end(ap);
    errno = saved;
}

int lsl_log_errno(int err, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    if (err < 0)
        err = -err;
    if (err == 0) /* callers return the result as a failure; never let it read as success */
        err = EIO;
    va_start(ap, fmt);
    write_line(STDERR_FILENO, LSL_INIT_ERROR_PREFIX, err, fmt, ap);
    va_end(ap);
    errno = saved;
    return -err;
}
