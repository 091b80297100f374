/* Fuzz target: the lsl command line (cli/args.h lsl_args_parse). The input is the arguments after argv[0],
 * separated by NUL bytes; each gets an allocation of its own, so a read past an argument's end is found. */
#include <errno.h>

#include "args.h"
#include "fuzz.h"

#define MAX_ARGS 64

static bool points_into(char **p, char **argv, int argc)
{
    return p >= argv && p < argv + argc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *argv[MAX_ARGS + 2] = {fuzz_strdup((const uint8_t *)"lsl", 3)};
    size_t total = size;
    int argc = 1;
    while (argc <= MAX_ARGS && size > 0) {
        const uint8_t *nul = memchr(data, '\0', size);
        size_t len = nul ? (size_t)(nul - data) : size;
        argv[argc++] = fuzz_strdup(data, len);
        data += nul ? len + 1 : len;
        size -= nul ? len + 1 : len;
    }
    struct lsl_args a;
    char err[256];
    int r = lsl_args_parse(argc, argv, &a, err, sizeof(err));
    if (r < 0) {
        FUZZ_CHECK(r == -EINVAL || r == -ENOMEM);
        FUZZ_CHECK(r == -ENOMEM || *err);
    } else {
        FUZZ_CHECK(r == 0);
        switch (a.action) {
        case LSL_ACT_EXEC:
            /* The argv to exec is the tail of ours, NULL-terminated by it. */
            FUZZ_CHECK(points_into(a.argv, argv, argc) && a.argv[0]);
            break;
        case LSL_ACT_SHELL:
            /* The words joined by single spaces: never longer than the input they came from. */
            FUZZ_CHECK(a.shell_line && strlen(a.shell_line) <= total);
            break;
        case LSL_ACT_IMPORT:
            /* --import-in-place: an image, never stdin, and no directory of lsl's */
            FUZZ_CHECK(a.name && a.file &&
                       (a.in_place ? !a.dir && a.vhd && strcmp(a.file, "-") : a.dir != NULL));
            break;
        case LSL_ACT_SET_VERSION:
            FUZZ_CHECK(a.name != NULL); /* "" for --set-default-version */
            break;
        case LSL_ACT_EXPORT:
            FUZZ_CHECK(a.name && a.file);
            break;
        case LSL_ACT_MANAGE:
            FUZZ_CHECK(!!a.default_user + !!a.resize + !!a.dir == 1);
            break;
        case LSL_ACT_UNREGISTER:
        case LSL_ACT_SET_DEFAULT:
        case LSL_ACT_TERMINATE:
            FUZZ_CHECK(a.name != NULL);
            break;
        default:
            break;
        }
        FUZZ_CHECK(a.action == LSL_ACT_SHELL || !a.shell_line);
    }
    lsl_args_free(&a);
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    return 0;
}
