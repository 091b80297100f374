/* Environment passthrough for guest commands (env.h). WSLENV's grammar is proto/wslenv.c's, seen from the
 * host: "u" entries go into the guest, "w" ones only come out of it, so they are not sent. */
#include "env.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "wslenv.h" /* proto/ */

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

struct shares {
    const struct lsl_env_share *s;
    size_t n;
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

/* One p or l element through the shares (a lsl_wslenv_path_fn): the share holding it most closely gives its
 * guest path for the share's host prefix (the host's "/" is the empty prefix and holds every absolute
 * path); a relative or empty path, or one on no share, stays. */
static ssize_t to_guest(const char *path, size_t len, char *out, size_t room, void *opaque)
{
    const struct shares *sh = opaque;
    const struct lsl_env_share *best = NULL;
    for (size_t i = 0; len && i < sh->n; i++) {
        size_t hl = strlen(sh->s[i].host);
        if (len >= hl && memcmp(path, sh->s[i].host, hl) == 0 && (len == hl || path[hl] == '/') &&
            (!best || hl > strlen(best->host)))
            best = &sh->s[i];
    }
    if (!best)
        return -1;
    size_t hl = strlen(best->host), gl = strlen(best->guest), n = gl + len - hl;
    if (n >= room)
        return -1;
    memcpy(out, best->guest, gl);
    memcpy(out + gl, path + hl, len - hl);
    out[n] = '\0';
    return (ssize_t)n;
}

char *lsl_env_map_paths(const char *value, bool list, const struct lsl_env_share *shares, size_t nshares)
{
    struct shares sh = {shares, nshares};
    return lsl_wslenv_map(value, list, to_guest, &sh);
}

struct listed {
    struct out *o;
    char *const *env;
    struct shares sh;
};

/* One WSLENV or LSLENV entry into the guest's environment (a lsl_wslenv_entry_fn). */
static int add_listed(const char *name, size_t len, char mode, void *opaque)
{
    struct listed *l = opaque;
    const char *value = env_get(l->env, name, len);
    if (!value)
        return 0; /* unset on the host: nothing to pass (WSL would pass it empty) */
    if (!mode)
        return out_add(l->o, name, len, value);
    char *mapped = lsl_env_map_paths(value, mode == 'l', l->sh.s, l->sh.n);
    int r = mapped ? out_add(l->o, name, len, mapped) : -1;
    free(mapped);
    return r;
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
    struct listed l = {&o, env, {shares, nshares}};
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        const char *list = env_get(env, lists[i], strlen(lists[i]));
        if (list && lsl_wslenv_each(list, LSL_WSLENV_INTO_GUEST, add_listed, &l) < 0)
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
