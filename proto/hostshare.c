/* The share list and host/guest path translation (hostshare.h). Translation is lexical, as wslpath's is:
 * a path is normalized first, so "/mnt/host/../etc" is the guest's /mnt/etc and never the host's /etc. */
#include "hostshare.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "errmsg.h"

#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"

bool lsl_hostshare_name_valid(const char *name)
{
    size_t n = strlen(name);

    return n >= 1 && n <= LSL_HOSTSHARE_NAME_MAX && name[0] != '.' && name[0] != '-' &&
           strspn(name, NAME_CHARS) == n;
}

int lsl_path_normalize(const char *path, char *out, size_t len)
{
    size_t o = 0;

    if (path[0] != '/' || len < 2)
        return -EINVAL;
    for (const char *p = path; *p;) {
        while (*p == '/')
            p++;
        size_t c = strcspn(p, "/");

        for (size_t i = 0; i < c; i++)
            if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
                return -EINVAL;
        if (c == 0 || (c == 1 && p[0] == '.')) {
            /* nothing to add */
        } else if (c == 2 && p[0] == '.' && p[1] == '.') {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--; /* and the '/' before the component */
        } else {
            if (o + 1 + c >= len)
                return -ENAMETOOLONG;
            out[o++] = '/';
            memcpy(out + o, p, c);
            o += c;
        }
        p += c;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
    return 0;
}

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

int lsl_hostshares_parse(const char *text, struct lsl_hostshares *out, char *err, size_t errlen)
{
    out->n = 0;
    for (const char *p = text; *p;) {
        size_t len = strcspn(p, ";");
        const char *end = p + len, *next = *end ? end + 1 : end;

        while (p < end && blank(*p))
            p++;
        while (end > p && blank(end[-1]))
            end--;
        if (p == end) {
            p = next;
            continue;
        }
        const char *eq = memchr(p, '=', (size_t)(end - p));
        char name[LSL_HOSTSHARE_NAME_MAX + 2], path[LSL_HOSTSHARE_PATH_MAX];
        size_t nl = eq ? (size_t)(eq - p) : 0, pl = eq ? (size_t)(end - eq - 1) : 0;

        if (!eq)
            return lsl_errmsg(err, errlen, "'%.*s' is not NAME=HOSTDIR", (int)(end - p), p);
        if (nl >= sizeof(name) || pl >= sizeof(path))
            return lsl_errmsg(err, errlen, "'%.*s' is too long", (int)(end - p), p);
        memcpy(name, p, nl);
        name[nl] = '\0';
        memcpy(path, eq + 1, pl);
        path[pl] = '\0';
        if (!lsl_hostshare_name_valid(name))
            return lsl_errmsg(err, errlen, "'%s' is no share name (1-%d of A-Z a-z 0-9 . _ -)", name,
                              LSL_HOSTSHARE_NAME_MAX);
        if (out->n == LSL_HOSTSHARES_MAX)
            return lsl_errmsg(err, errlen, "more than %d shares", LSL_HOSTSHARES_MAX);
        for (size_t i = 0; i < out->n; i++)
            if (strcmp(out->s[i].name, name) == 0)
                return lsl_errmsg(err, errlen, "share '%s' named twice", name);
        struct lsl_hostshare *s = &out->s[out->n];
        if (lsl_path_normalize(path, s->host, sizeof(s->host)) < 0)
            return lsl_errmsg(err, errlen, "'%s' is no absolute host directory", path);
        memcpy(s->name, name, nl + 1); /* valid names fit */
        out->n++;
        p = next;
    }
    return 0;
}

int lsl_hostshares_format(const struct lsl_hostshares *s, char *out, size_t len)
{
    size_t o = 0;

    if (len == 0)
        return -1;
    out[0] = '\0';
    for (size_t i = 0; i < s->n; i++) {
        int n = snprintf(out + o, len - o, "%s%s=%s", i ? ";" : "", s->s[i].name, s->s[i].host);

        if (n < 0 || (size_t)n >= len - o)
            return -1;
        o += (size_t)n;
    }
    return (int)o;
}

/* How many bytes of path dir covers as a whole-component prefix (dir normalized; "/" covers everything):
 * 0 when it does not. The tail path+n is then "" or starts with '/'. */
static size_t covers(const char *dir, const char *path)
{
    size_t n = strlen(dir);

    if (strcmp(dir, "/") == 0)
        return 1;
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/') ? n + 1 : 0;
}

/* root/name, normalized, into out. */
static int guest_dir(const char *root, const char *name, char *out, size_t len)
{
    char joined[LSL_HOSTSHARE_PATH_MAX + LSL_HOSTSHARE_NAME_MAX + 2];

    if (root[0] != '/')
        return -EINVAL;
    if ((size_t)snprintf(joined, sizeof(joined), "%s/%s", root, name) >= sizeof(joined))
        return -ENAMETOOLONG;
    return lsl_path_normalize(joined, out, len);
}

/* dir followed by the tail (""or "/..."), with dir "/" not doubling the slash. */
static int join_tail(const char *dir, const char *tail, char *out, size_t len)
{
    int n = snprintf(out, len, "%s%s", strcmp(dir, "/") == 0 && tail[0] ? "" : dir, tail);

    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 1;
}

int lsl_hostshare_to_guest(const struct lsl_hostshares *s, const char *root, const char *path, char *out,
                           size_t len)
{
    char norm[LSL_HOSTSHARE_PATH_MAX], dir[LSL_HOSTSHARE_PATH_MAX];
    size_t best = 0, bi = 0;
    int r = lsl_path_normalize(path, norm, sizeof(norm));

    if (r < 0)
        return r;
    if (root[0] != '/')
        return -EINVAL;
    for (size_t i = 0; i < s->n; i++) {
        size_t c = covers(s->s[i].host, norm);

        if (c > best) {
            best = c;
            bi = i;
        }
    }
    if (!best)
        return 0;
    if ((r = guest_dir(root, s->s[bi].name, dir, sizeof(dir))) < 0)
        return r;
    /* covers() counted one past the directory; for "/" the whole path is the tail. */
    const char *tail = strcmp(s->s[bi].host, "/") == 0 ? norm : norm + best - 1;
    return join_tail(dir, strcmp(tail, "/") == 0 ? "" : tail, out, len);
}

int lsl_hostshare_to_host(const struct lsl_hostshares *s, const char *root, const char *path, char *out,
                          size_t len)
{
    char norm[LSL_HOSTSHARE_PATH_MAX], dir[LSL_HOSTSHARE_PATH_MAX];
    int r = lsl_path_normalize(path, norm, sizeof(norm));

    if (r < 0)
        return r;
    for (size_t i = 0; i < s->n; i++) {
        if ((r = guest_dir(root, s->s[i].name, dir, sizeof(dir))) < 0)
            return r;
        size_t c = covers(dir, norm);
        if (!c)
            continue;
        return join_tail(s->s[i].host, norm + c - 1, out, len);
    }
    return 0;
}

int lsl_hostshare_map_format(const char *root, const struct lsl_hostshares *s, char *out, size_t len)
{
    char list[LSL_HOSTSHARES_MAX * (LSL_HOSTSHARE_NAME_MAX + LSL_HOSTSHARE_PATH_MAX + 2)];
    int n;

    if (lsl_hostshares_format(s, list, sizeof(list)) < 0)
        return -1;
    n = snprintf(out, len, "%s\n%s\n", root, list);
    return n < 0 || (size_t)n >= len ? -1 : n;
}

int lsl_hostshare_map_parse(const char *text, char *root, struct lsl_hostshares *s)
{
    char line[LSL_HOSTSHARE_PATH_MAX],
        list[LSL_HOSTSHARES_MAX * (LSL_HOSTSHARE_NAME_MAX + LSL_HOSTSHARE_PATH_MAX + 2)], err[160];
    size_t n = strcspn(text, "\n");

    if (!text[n] || n >= sizeof(line))
        return -EINVAL;
    memcpy(line, text, n);
    line[n] = '\0';
    text += n + 1;
    if (lsl_path_normalize(line, root, LSL_HOSTSHARE_PATH_MAX) < 0)
        return -EINVAL;
    n = strcspn(text, "\n");
    if (n >= sizeof(list))
        return -EINVAL;
    memcpy(list, text, n);
    list[n] = '\0';
    return lsl_hostshares_parse(list, s, err, sizeof(err));
}
