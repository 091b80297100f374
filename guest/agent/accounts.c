/* See accounts.h. */
#include "accounts.h"
#include "openat2.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

long agent_read_in_root(const char *root, const char *path, size_t max, char **out)
{
    struct stat st;
    size_t len = 0, cap;
    char *buf;
    int fd, err;

    *out = NULL;
    fd = lsl_open_in_root(root, path);
    if (fd < 0)
        return fd;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return -EINVAL;
    }
    /* The size is a hint (the file may change meanwhile); max is what counts. */
    cap = (size_t)(st.st_size > 0 && (uintmax_t)st.st_size < max ? st.st_size : 4096) + 1;
    buf = malloc(cap);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    for (;;) {
        ssize_t n;

        if (len + 1 == cap) {
            char *bigger;

            if (len > max) {
                err = EFBIG;
                goto fail;
            }
            cap = cap * 2 > max + 2 ? max + 2 : cap * 2;
            bigger = realloc(buf, cap);
            if (!bigger) {
                err = ENOMEM;
                goto fail;
            }
            buf = bigger;
        }
        n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = errno;
            goto fail;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len > max) {
        err = EFBIG;
        goto fail;
    }
    close(fd);
    buf[len] = '\0';
    *out = buf;
    return (long)len;
fail:
    close(fd);
    free(buf);
    return -err;
}

/* Splits line [p, end) at ':' into at most n fields; returns how many it found. */
static size_t fields(const char *p, const char *end, const char **start, size_t *len, size_t n)
{
    size_t i = 0;

    while (i < n) {
        const char *colon = memchr(p, ':', (size_t)(end - p));

        start[i] = p;
        len[i] = (size_t)((colon ? colon : end) - p);
        i++;
        if (!colon)
            break;
        p = colon + 1;
    }
    return i;
}

/* A decimal id as musl's parser takes it: digits only, no overflow. */
static bool parse_id(const char *p, size_t len, unsigned long *id)
{
    unsigned long v = 0;

    if (len == 0 || len > 10)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (unsigned long)(p[i] - '0');
    }
    if (v > UINT32_MAX)
        return false;
    *id = v;
    return true;
}

static bool same(const char *p, size_t len, const char *s)
{
    return strlen(s) == len && memcmp(p, s, len) == 0;
}

static int cmp_gid(const void *a, const void *b)
{
    gid_t x = *(const gid_t *)a, y = *(const gid_t *)b;

    return x < y ? -1 : x > y;
}

size_t agent_groups_parse(const char *text, size_t len, const char *user, gid_t primary, gid_t *out,
                          size_t max)
{
    const char *p = text, *end = text + len;
    size_t n = 0, kept;

    if (max == 0)
        return 0;
    out[n++] = primary;
    while (p < end && n < max) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *line_end = nl ? nl : end;
        const char *f[4];
        size_t fl[4];
        unsigned long gid;

        if (fields(p, line_end, f, fl, 4) == 4 && parse_id(f[2], fl[2], &gid)) {
            /* The member list: names separated by ','; a trailing ':' would be part of the last one. */
            for (const char *m = f[3], *mend = f[3] + fl[3]; m <= mend;) {
                const char *comma = memchr(m, ',', (size_t)(mend - m)), *stop = comma ? comma : mend;

                if (same(m, (size_t)(stop - m), user)) {
                    out[n++] = (gid_t)gid;
                    break;
                }
                m = stop + 1;
            }
        }
        p = line_end + 1;
    }
    /* Each group once, the primary still first (id -G shows it first, as initgroups leaves it). */
    qsort(out + 1, n - 1, sizeof(gid_t), cmp_gid);
    kept = 1;
    for (size_t i = 1; i < n; i++)
        if (out[i] != primary && (kept == 1 || out[i] != out[kept - 1]))
            out[kept++] = out[i];
    return kept;
}

long agent_groups_load(const char *user, gid_t primary, gid_t **out)
{
    char *text = NULL;
    long len = agent_read_in_root("/", "/etc/group", LSL_ACCOUNT_FILE_MAX, &text);
    size_t n;

    *out = NULL;
    /* No file, or something that is no file (a directory, a FIFO): no groups but the primary, as
     * initgroups() gives without a group file. */
    if (len < 0 && len != -ENOENT && len != -EINVAL)
        return len;
    *out = malloc(LSL_NGROUPS_MAX * sizeof(gid_t));
    if (!*out) {
        free(text);
        return -ENOMEM;
    }
    n = agent_groups_parse(text ? text : "", len > 0 ? (size_t)len : 0, user, primary, *out, LSL_NGROUPS_MAX);
    free(text);
    return (long)n;
}

bool agent_passwd_has(const char *text, size_t len, const char *user)
{
    const char *p = text, *end = text + len;
    unsigned long want = 0, uid, gid;
    bool numeric = parse_id(user, strlen(user), &want), uid_match = false;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *line_end = nl ? nl : end;
        const char *f[7];
        size_t fl[7];

        /* musl's getpwent wants all seven fields and numeric ids. */
        if (fields(p, line_end, f, fl, 7) == 7 && parse_id(f[2], fl[2], &uid) &&
            parse_id(f[3], fl[3], &gid)) {
            if (same(f[0], fl[0], user))
                return true;
            uid_match |= numeric && uid == want;
        }
        p = line_end + 1;
    }
    return uid_match;
}
