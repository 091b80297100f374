/* Kernel command line parsing for lsl-init (see cmdline.h). Kept free of I/O and PID-1 side effects
 * so the host unit tests can link it directly. */
#include "cmdline.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The kernel splits parameters with isspace(); use an ASCII-only test so the host locale cannot matter. */
static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Copies a parameter without its double quotes (the kernel strips them before handing values out).
 * Also the module's strdup(), which strict ISO C does not declare. */
static char *unquote(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    size_t n = 0;

    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++)
        if (s[i] != '"')
            out[n++] = s[i];
    out[n] = '\0';
    return out;
}

int lsl_cmdline_get(const char *cmdline, const char *key, char **value_out)
{
    const char *p = cmdline;
    char *found = NULL;
    size_t keylen;

    if (!value_out)
        return -EINVAL;
    *value_out = NULL;
    if (!cmdline || !key)
        return -EINVAL;
    keylen = strlen(key);
    if (keylen > 0 && key[keylen - 1] == '=')
        keylen--;
    if (keylen == 0)
        return -EINVAL;

    for (;;) {
        const char *start;
        bool quoted = false;
        char *param;

        while (is_space(*p))
            p++;
        if (*p == '\0')
            break;
        start = p;
        for (; *p != '\0' && (quoted || !is_space(*p)); p++)
            if (*p == '"')
                quoted = !quoted;
        if (p - start == 2 && start[0] == '-' && start[1] == '-')
            break;

        param = unquote(start, (size_t)(p - start));
        if (!param) {
            free(found);
            return -ENOMEM;
        }
        if (strncmp(param, key, keylen) == 0 && (param[keylen] == '=' || param[keylen] == '\0')) {
            const char *value = param[keylen] == '=' ? param + keylen + 1 : param + keylen;
            char *copy = unquote(value, strlen(value)); /* a plain copy: the quotes are gone already */

            if (!copy) {
                free(param);
                free(found);
                return -ENOMEM;
            }
            free(found);
            found = copy;
        }
        free(param);
    }

    *value_out = found;
    return found ? 1 : 0;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int lsl_hex_argv_decode(const char *hex, char ***argv_out)
{
    size_t len, nbytes, argc = 0, ptr_bytes;
    char **argv, *strings;

    if (!argv_out)
        return -EINVAL;
    *argv_out = NULL;
    if (!hex)
        return -EINVAL;
    len = strlen(hex);
    if (len == 0 || len % 2 != 0)
        return -EINVAL;
    nbytes = len / 2;

    /* Validate everything before allocating, so a bad value fails the same way whatever its size. */
    for (size_t i = 0; i < nbytes; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return -EINVAL;
        if (hi == 0 && lo == 0)
            argc++;
    }
    if (hex[len - 2] != '0' || hex[len - 1] != '0')
        return -EINVAL;
    if (argc > INT_MAX)
        return -E2BIG;

    /* A real command line is a few KiB, but this is a library function: keep the size arithmetic exact. */
    if (argc + 1 > SIZE_MAX / sizeof(char *))
        return -ENOMEM;
    ptr_bytes = (argc + 1) * sizeof(char *);
    if (ptr_bytes > SIZE_MAX - nbytes)
        return -ENOMEM;
    argv = malloc(ptr_bytes + nbytes);
    if (!argv)
        return -ENOMEM;
    strings = (char *)(argv + argc + 1);

    argv[0] = strings;
    for (size_t i = 0, arg = 0; i < nbytes; i++) {
        strings[i] = (char)(hex_digit(hex[2 * i]) << 4 | hex_digit(hex[2 * i + 1]));
        if (strings[i] == '\0' && ++arg < argc)
            argv[arg] = strings + i + 1;
    }
    argv[argc] = NULL;

    *argv_out = argv;
    return (int)argc;
}

int lsl_rootflags_parse(const char *value, bool *read_only_out)
{
    if (!read_only_out)
        return -EINVAL;
    if (!value || strcmp(value, "rw") == 0) {
        *read_only_out = false;
        return 0;
    }
    if (strcmp(value, "ro") == 0) {
        *read_only_out = true;
        return 0;
    }
    return -EINVAL;
}
