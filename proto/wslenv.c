/* See wslenv.h. */
#include "wslenv.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

int lsl_wslenv_each(const char *list, enum lsl_wslenv_way way, lsl_wslenv_entry_fn *fn, void *opaque)
{
    size_t total = strlen(list);
    while (total && strchr(" \t\r\n", list[total - 1]))
        total--;
    for (size_t pos = 0; pos < total;) {
        const char *entry = list + pos, *colon = memchr(entry, ':', total - pos);
        size_t len = colon ? (size_t)(colon - entry) : total - pos;
        pos += len + 1;
        const char *slash = memchr(entry, '/', len);
        size_t name_len = slash ? (size_t)(slash - entry) : len;
        char mode = 0;
        bool skip = name_len == 0 || memchr(entry, '=', name_len) != NULL;
        for (const char *f = slash ? slash + 1 : entry + len; f < entry + len; f++) {
            if (*f == 'p' || *f == 'l')
                mode = *f;
            else if (*f == 'u')
                skip |= way == LSL_WSLENV_OUT_OF_GUEST;
            else if (*f == 'w')
                skip |= way == LSL_WSLENV_INTO_GUEST;
            else
                skip = true; /* a flag of a newer WSL: WSL skips the entry, so does lsl */
        }
        int r = skip ? 0 : fn(entry, name_len, mode, opaque);
        if (r < 0)
            return r;
    }
    return 0;
}

char *lsl_wslenv_map(const char *value, bool list, lsl_wslenv_path_fn *map, void *opaque)
{
    size_t cap = strlen(value) + PATH_MAX, n = 0;
    char *out = malloc(cap), one[PATH_MAX];
    if (!out)
        return NULL;
    for (const char *p = value;;) {
        size_t len = list ? strcspn(p, ":") : strlen(p);
        ssize_t got = map(p, len, one, sizeof(one), opaque);
        const char *use = got >= 0 ? one : p;
        size_t use_len = got >= 0 ? (size_t)got : len;
        if (n + use_len + 2 > cap) {
            char *grown = realloc(out, cap = cap * 2 + use_len);
            if (!grown) {
                free(out);
                return NULL;
            }
            out = grown;
        }
        memcpy(out + n, use, use_len);
        n += use_len;
        if (!list || !p[len])
            break;
        out[n++] = ':';
        p += len + 1;
    }
    out[n] = '\0';
    return out;
}
