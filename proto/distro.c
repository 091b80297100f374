/* Shared distribution rules and lsl-distro's framing (proto/distro.h). */
#include "distro.h"

#include <stdio.h>
#include <string.h>

#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"

bool lsl_distro_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || n > LSL_DISTRO_NAME_MAX || name[0] == '.' || name[0] == '-')
        return false;
    return strspn(name, NAME_CHARS) == n;
}

bool lsl_disk_id_valid(const char *id)
{
    size_t n = id ? strlen(id) : 0;

    return n >= 1 && n <= LSL_DISK_ID_MAX && strspn(id, NAME_CHARS) == n;
}

static const struct {
    const char *name;
    int min_args, max_args; /* after the verb; -1: no limit */
} verbs[] = {
    [LSL_DISTRO_MOUNT] = {"mount", 2, 2},   [LSL_DISTRO_START] = {"start", 1, -1},
    [LSL_DISTRO_STOP] = {"stop", 1, 2},     [LSL_DISTRO_LIST] = {"list", 0, 0},
    [LSL_DISTRO_IMPORT] = {"import", 2, 2}, [LSL_DISTRO_EXPORT] = {"export", 3, 3},
};

const char *lsl_distro_verb_name(enum lsl_distro_verb v)
{
    return (unsigned)v < sizeof(verbs) / sizeof(verbs[0]) ? verbs[v].name : NULL;
}

int lsl_distro_verb_parse(int argc, char *const argv[])
{
    if (argc < 2)
        return -1;
    for (unsigned v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++) {
        int n = argc - 2;
        if (strcmp(argv[1], verbs[v].name) != 0)
            continue;
        if (n < verbs[v].min_args || (verbs[v].max_args >= 0 && n > verbs[v].max_args))
            return -1;
        return (int)v;
    }
    return -1;
}

bool lsl_archive_format_valid(const char *format)
{
    static const char *const formats[] = {"tar", "gz", "xz", "zst", "bz2"};

    for (size_t i = 0; format && i < sizeof(formats) / sizeof(formats[0]); i++)
        if (strcmp(format, formats[i]) == 0)
            return true;
    return false;
}

int lsl_file_frame_header(char *buf, size_t buflen, const char *path, size_t len)
{
    int n;

    if (!path[0] || strlen(path) > LSL_FILE_FRAME_PATH_MAX || strpbrk(path, " \t\r\n"))
        return -1;
    n = snprintf(buf, buflen, LSL_FILE_FRAME_MAGIC "%s %zu\n", path, len);
    return n < 0 || (size_t)n >= buflen ? -1 : n;
}

int lsl_file_frame_next(const char *text, size_t textlen, size_t *pos, struct lsl_file_frame *f)
{
    const size_t mlen = strlen(LSL_FILE_FRAME_MAGIC);
    const char *p = text + *pos, *end = text + textlen, *sp, *nl;
    size_t plen, len = 0;

    if (p == end)
        return 0;
    /* Byte-exact: no whitespace is skipped, so a file that starts with blanks or CRs keeps them. */
    if ((size_t)(end - p) < mlen || memcmp(p, LSL_FILE_FRAME_MAGIC, mlen) != 0)
        return -1;
    p += mlen;
    nl = memchr(p, '\n', (size_t)(end - p));
    sp = nl ? memchr(p, ' ', (size_t)(nl - p)) : NULL;
    if (!sp || sp == p || sp + 1 == nl)
        return -1;
    plen = (size_t)(sp - p);
    if (plen > LSL_FILE_FRAME_PATH_MAX)
        return -1;
    for (const char *d = sp + 1; d < nl; d++) {
        if (*d < '0' || *d > '9' || len > (textlen / 10))
            return -1;
        len = len * 10 + (size_t)(*d - '0');
    }
    if ((size_t)(end - (nl + 1)) < len)
        return -1;
    memcpy(f->path, p, plen);
    f->path[plen] = '\0';
    f->data = nl + 1;
    f->len = len;
    p = nl + 1 + len;
    if (p < end && *p == '\n')
        p++;
    *pos = (size_t)(p - text);
    return 1;
}

static const char *const out_prefix[] = {
    [LSL_DISTRO_OUT_USER_YES] = "user yes ",
    [LSL_DISTRO_OUT_USER_NO] = "user no ",
    [LSL_DISTRO_OUT_WARNING] = "warning ",
};

int lsl_distro_out_format(char *buf, size_t buflen, enum lsl_distro_out_kind kind, const char *text)
{
    size_t n, len;

    if ((unsigned)kind >= sizeof(out_prefix) / sizeof(out_prefix[0]))
        return -1;
    n = strlen(out_prefix[kind]);
    len = strnlen(text, LSL_DISTRO_OUT_TEXT_MAX);
    if (n + len + 2 > buflen)
        return -1;
    memcpy(buf, out_prefix[kind], n);
    /* Warnings quote a distribution's own files: nothing in them may pass for a line of its own. */
    for (size_t i = 0; i < len; i++)
        buf[n + i] = text[i] >= 0x20 && text[i] < 0x7f ? text[i] : '?';
    buf[n + len] = '\n';
    buf[n + len + 1] = '\0';
    return (int)(n + len + 1);
}

int lsl_distro_out_next(const char *text, size_t textlen, size_t *pos, struct lsl_distro_out *o)
{
    const char *p = text + *pos, *end = text + textlen, *nl;
    size_t len;

    if (p >= end)
        return 0;
    nl = memchr(p, '\n', (size_t)(end - p));
    len = nl ? (size_t)(nl - p) : (size_t)(end - p);
    *pos += len + (nl ? 1 : 0);
    for (unsigned k = 0; k < sizeof(out_prefix) / sizeof(out_prefix[0]); k++) {
        size_t n = strlen(out_prefix[k]);

        bool printable = true;

        if (len < n || memcmp(p, out_prefix[k], n) != 0 || len - n > LSL_DISTRO_OUT_TEXT_MAX)
            continue;
        for (size_t i = n; i < len; i++)
            printable &= p[i] >= 0x20 && p[i] < 0x7f;
        if (!printable)
            return -1;
        o->kind = (enum lsl_distro_out_kind)k;
        memcpy(o->text, p + n, len - n);
        o->text[len - n] = '\0';
        return 1;
    }
    return -1;
}
