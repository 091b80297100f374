/* Logging, size parsing and clock helpers shared by the VMM. */
#include "util.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void vlog(const char *fmt, va_list ap, int err)
{
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (err)
        fprintf(stderr, "lsl-vmm: %s: %s\n", msg, strerror(err));
    else
        fprintf(stderr, "lsl-vmm: %s\n", msg);
}

void log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(fmt, ap, 0);
    va_end(ap);
}

void log_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(fmt, ap, 0);
    va_end(ap);
}

int log_errno(int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(fmt, ap, err);
    va_end(ap);
    return -err;
}

int parse_size(const char *s, uint64_t *bytes)
{
    char *end;
    if (!s || !*s || *s == '-')
        return -EINVAL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -EINVAL;
    unsigned shift;
    switch (*end) {
    case '\0':
    case 'M':
    case 'm':
        shift = 20;
        break;
    case 'K':
    case 'k':
        shift = 10;
        break;
    case 'G':
    case 'g':
        shift = 30;
        break;
    case 'T':
    case 't':
        shift = 40;
        break;
    case 'B':
    case 'b':
        shift = 0;
        break;
    default:
        return -EINVAL;
    }
    if (*end) {
        end++;
        /* Accept "MB", "MiB", "GB", "GiB". */
        if (shift && (*end == 'i' || *end == 'I'))
            end++;
        if (shift && (*end == 'B' || *end == 'b'))
            end++;
        if (*end)
            return -EINVAL;
    }
    if (v > (UINT64_MAX >> shift))
        return -ERANGE;
    *bytes = (uint64_t)v << shift;
    return 0;
}

const char *format_size(uint64_t bytes, char *buf, size_t len)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    unsigned u = 0;
    while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%" PRIu64 " B", bytes);
    else
        snprintf(buf, len, "%.4g %s", v, units[u]);
    return buf;
}

uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
