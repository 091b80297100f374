/* Environment passthrough for guest commands (env.h). WSLENV's rules are WSL's own (UtilParseWslEnv in
 * microsoft/WSL src/linux/init/util.cpp), seen from the host: "u" entries go into the guest, "w" ones only
 * come out of it, so they are not sent. */
#include "env.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

extern char **environ;

#define GUEST_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Passed without being asked for: they describe the terminal and locale the user is sitting at, and which
 * variables the user wants to pass (a shell in the guest may start another lsl-like tool). */
static const char *const always[] = {"TERM", "COLORTERM", "LANG", "LANGUAGE", "TZ", "WSLENV", "LSLENV", NULL};
/* Both spellings: lsl's, and WSL's for the tools and shell prompts written for WSL. */
static const char *const distro_vars[] = {"LSL_DISTRO_NAME", "WSL_DISTRO_NAME"};

/* The value of NAME (len bytes) in env, NULL if unset. */
static const char *env_get(char *const *env, const char *name, size_t len)
{
    for (char *const *e = env; e && *e; e++)
        if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
            return *e + len + 1;
    return NULL;
}

struct out {
    char **v;
    size_t n, cap;
};

static bool out_has(const struct out *o, const char *name, size_t len)
{
    for (size_t i = 0; i < o->n; i++)
        if (strncmp(o->v[i], name, len) == 0 && o->v[i][len] == '=')
            return true;
    return false;
}

/* Adds "NAME=value" unless NAME is there already (the first one wins). 0 or -1 when out of memory. */
static int out_add(struct out *o, const char *name, size_t len, const char *value)
{
    if (out_has(o, name, len))
        return 0;
    if (o->n + 2 > o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 32;
        char **v = realloc(o->v, cap * sizeof(*v));
        if (!v)
            return -1;
        o->v = v;
        o->cap = cap;
    }
    size_t vlen = strlen(value);
    char *e = malloc(len + 1 + vlen + 1);
    if (!e)
        return -1;
    memcpy(e, name, len);
    e[len] = '=';
    memcpy(e + len + 1, value, vlen + 1);
    o->v[o->n++] = e;
    o->v[o->n] = NULL;
    return 0;
}

/* One path through the shares, the one holding it most closely (the host's "/" is the empty prefix and
 * holds every absolute path); appended to *dst (the caller sized it). */
static char *map_one(char *dst, const char *path, size_t len, const struct lsl_env_share *shares, size_t n)
{
    const struct lsl_env_share *best = NULL;
    for (size_t i = 0; len && i < n; i++) {
        size_t hl = strlen(shares[i].host);
        if (len >= hl && memcmp(path, shares[i].host, hl) == 0 && (len == hl || path[hl] == '/') &&
            (!best || hl > strlen(best->host)))
            best = &shares[i];
    }
    if (best) {
        size_t hl = strlen(best->host);
        dst = stpcpy(dst, best->guest);
        path += hl;
        len -= hl;
    }
    memcpy(dst, path, len);
    return dst + len;
}

char *lsl_env_map_paths(const char *value, bool list, const struct lsl_env_share *shares, size_t nshares)
{
    /* The longest a mapped element grows by is the longest guest path: size for that per element. */
    size_t grow = 0, elements = 1;
    for (size_t i = 0; i < nshares; i++)
        grow = strlen(shares[i].guest) > grow ? strlen(shares[i].guest) : grow;
    for (const char *p = value; list && *p; p++)
        elements += *p == ':';
    char *out = malloc(strlen(value) + elements * grow + 1), *end = out;
    if (!out)
        return NULL;
    for (const char *p = value;;) {
        const char *colon = list ? strchr(p, ':') : NULL;
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        end = map_one(end, p, len, shares, nshares);
        if (!colon)
            break;
        *end++ = ':';
        p = colon + 1;
    }
    *end = '\0';
    return out;
}

/* The entries of one list (WSLENV or LSLENV) into o. 0 or -1 when out of memory. */
static int add_listed(struct out *o, char *const *env, const char *list, const struct lsl_env_share *shares,
                      size_t nshares)
{
    size_t total = strlen(list);
    while (total && (list[total - 1] == ' ' || list[total - 1] == '\t' || list[total - 1] == '\n' ||
                     list[total - 1] == '\r'))
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
            else if (*f == 'w')
                skip = true; /* guest to host only */
            else if (*f != 'u')
                skip = true; /* a flag of a newer WSL: WSL skips the entry, so does lsl */
        }
        const char *value = skip ? NULL : env_get(env, entry, name_len);
        if (!value)
            continue; /* unset on the host: nothing to pass (WSL would pass it empty) */
        if (!mode) {
            if (out_add(o, entry, name_len, value) < 0)
                return -1;
            continue;
        }
        char *mapped = lsl_env_map_paths(value, mode == 'l', shares, nshares);
        int r = mapped ? out_add(o, entry, name_len, mapped) : -1;
        free(mapped);
        if (r < 0)
            return -1;
    }
    return 0;
}

char **lsl_guest_env_from(char *const *env, const char *distro, const struct lsl_env_share *shares,
                          size_t nshares)
{
    struct out o = {0};
    /* The distribution's name first: nothing the user passes can claim to be another one. */
    for (size_t i = 0; distro && i < sizeof(distro_vars) / sizeof(distro_vars[0]); i++)
        if (out_add(&o, distro_vars[i], strlen(distro_vars[i]), distro) < 0)
            goto oom;
    for (char *const *e = env; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || eq == *e)
            continue;
        size_t len = (size_t)(eq - *e);
        bool pass = len > 3 && strncmp(*e, "LC_", 3) == 0;
        for (unsigned i = 0; always[i] && !pass; i++)
            pass = strlen(always[i]) == len && strncmp(*e, always[i], len) == 0;
        if (pass && out_add(&o, *e, len, eq + 1) < 0)
            goto oom;
    }
    static const char *const lists[] = {"WSLENV", "LSLENV"};
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        const char *list = env_get(env, lists[i], strlen(lists[i]));
        if (list && add_listed(&o, env, list, shares, nshares) < 0)
            goto oom;
    }
    if (out_add(&o, "PATH", 4, &GUEST_PATH[5]) < 0)
        goto oom;
    if (!o.v && !(o.v = calloc(1, sizeof(*o.v))))
        goto oom;
    return o.v;
oom:
    lsl_env_free(o.v);
    log_error("out of memory");
    return NULL;
}

char **lsl_guest_env(const char *distro, const struct lsl_env_share *shares, size_t nshares)
{
    return lsl_guest_env_from(environ, distro, shares, nshares);
}

void lsl_env_free(char **env)
{
    for (char **e = env; e && *e; e++)
        free(*e);
    free(env);
}
