/* See log.h. One write per line, so lines of concurrent threads (the VMM's vCPUs and I/O thread) do not
 * interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *program = "lsl";
static enum log_level level = LOG_WARN;

int log_level_parse(const char *name)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};

    for (unsigned i = 0; name && i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(name, names[i]) == 0)
            return (int)i;
    return -1;
}

void log_init(const char *name)
{
    int l = log_level_parse(getenv("LSL_LOG"));

    program = name;
    if (l >= 0)
        level = (enum log_level)l;
}

void log_set_level(enum log_level l)
{
    level = l;
}

enum log_level log_get_level(void)
{
    return level;
}

__attribute__((format(printf, 3, 0))) static void vlog(enum log_level l, int err, const char *fmt, va_list ap)
{
    char line[1200];
    int n;

    if (l > level)
        return;
    n = snprintf(line, sizeof(line), "%s: ", program);
    if (n < 0 || (size_t)n >= sizeof(line))
        return;
    n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    if ((size_t)n < sizeof(line) && err)
        n += snprintf(line + n, sizeof(line) - (size_t)n, ": %s", strerror(err));
    if ((size_t)n >= sizeof(line) - 1)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

void log_msg(enum log_level l, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(l, 0, fmt, ap);
    va_end(ap);
}

int log_errno(int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(LOG_ERROR, err, fmt, ap);
    va_end(ap);
    return -err;
}
