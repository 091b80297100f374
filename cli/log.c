/* Error lines of the lsl CLI. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void lsl_log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("lsl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int lsl_log_errno(int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("lsl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, ": %s\n", strerror(err));
    va_end(ap);
    return -err;
}
