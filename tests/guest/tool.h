/* What the guest test tools (static musl binaries, one source file each) share: the error line and the
 * clock. A tool defines TOOL_NAME before including it. */
#ifndef LSL_TEST_TOOL_H
#define LSL_TEST_TOOL_H

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* "TOOL: what: strerror(errno)" on stderr; returns 1, the tools' failure status. */
static inline int die(const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", TOOL_NAME, what, strerror(errno));
    return 1;
}

/* Seconds on the monotonic clock. */
static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
