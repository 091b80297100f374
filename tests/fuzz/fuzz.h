/* What every fuzz target shares: the libFuzzer entry point, and FUZZ_CHECK for the invariants a parser
 * promises in its header (a broken promise is a finding like a crash, so it aborts). */
#ifndef LSL_FUZZ_H
#define LSL_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Where sanitizer reports go: `make fuzz` closes the targets' stderr (-close_fd_mask) to silence the
 * parsers' own error lines, and this way the failed check is still in the log. NULL without sanitizers. */
void __sanitizer_report_error_summary(const char *summary) __attribute__((weak));

__attribute__((noreturn)) static inline void fuzz_check_failed(const char *file, int line, const char *cond)
{
    char msg[512];
    snprintf(msg, sizeof(msg), "%s:%d: fuzz invariant failed: %s", file, line, cond);
    if (__sanitizer_report_error_summary)
        __sanitizer_report_error_summary(msg);
    else
        fprintf(stderr, "%s\n", msg);
    abort();
}

#define FUZZ_CHECK(c)                                                                                        \
    do {                                                                                                     \
        if (!(c))                                                                                            \
            fuzz_check_failed(__FILE__, __LINE__, #c);                                                       \
    } while (0)

/* The input as a C string of its own allocation, so reading past the text's NUL is an ASan report, not
 * a read of the fuzzer's buffer. Aborts when out of memory. */
static inline char *fuzz_strdup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    FUZZ_CHECK(s != NULL);
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Warnings of the config parsers: read each (so a bad string is found) and drop it. */
static inline void fuzz_drop_warning(const char *line)
{
    FUZZ_CHECK(strlen(line) < 1024);
}

#endif
