/* A minimal test harness: CHECK() records failures with file:line, RUN() prints one line per test case. */
#ifndef LSL_CHECK_H
#define LSL_CHECK_H

#include <stdio.h>

static int check_failures;

#define CHECK(c)                                                                                             \
    do {                                                                                                     \
        if (!(c)) {                                                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c);                            \
            check_failures++;                                                                                \
        }                                                                                                    \
    } while (0)

#define CHECK_EQ(a, b)                                                                                       \
    do {                                                                                                     \
        long long _a = (long long)(a), _b = (long long)(b);                                                  \
        if (_a != _b) {                                                                                      \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, \
                    #a, _a, #b, _b);                                                                         \
            check_failures++;                                                                                \
        }                                                                                                    \
    } while (0)

#define RUN(t)                                                                                               \
    do {                                                                                                     \
        int _before = check_failures;                                                                        \
        t();                                                                                                 \
        printf("%s %s\n", check_failures == _before ? "ok  " : "FAIL", #t);                                  \
    } while (0)

#define CHECK_DONE() (check_failures ? 1 : 0)

#endif
