/* Collects the warnings a config parser hands to its lsl_warn_fn, for the tests to look at. */
#ifndef LSL_TEST_WARNINGS_H
#define LSL_TEST_WARNINGS_H

#include <stdio.h>

static char warnings[16][256];
static int nwarnings;

static void collect(const char *line)
{
    if (nwarnings < 16)
        snprintf(warnings[nwarnings], sizeof(warnings[0]), "%s", line);
    nwarnings++;
}

#endif
