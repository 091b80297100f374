/* Environment passthrough for guest commands. */
#include "env.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

extern char **environ;

#define GUEST_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Passed without being asked for: they describe the terminal and locale the user is sitting at. */
static const char *const always[] = {"TERM", "COLORTERM", "LANG", "LANGUAGE", "TZ", NULL};

static bool listed(const char *name, size_t len, const char *list)
{
    while (list && *list) {
        const char *end = strchr(list, ':');
        size_t n = end ? (size_t)(end - list) : strlen(list);
        /* WSLENV allows "/flags" after a name; lsl has no path translation, so flags are accepted and
         * ignored. */
        const char *slash = memchr(list, '/', n);
        size_t name_len = slash ? (size_t)(slash - list) : n;
        if (name_len == len && strncmp(list, name, len) == 0)
            return true;
        list = end ? end + 1 : NULL;
    }
    return false;
}

static bool wanted(const char *entry, const char *lslenv)
{
    const char *eq = strchr(entry, '=');
    if (!eq || eq == entry)
        return false;
    size_t len = (size_t)(eq - entry);
    for (unsigned i = 0; always[i]; i++)
        if (strlen(always[i]) == len && strncmp(entry, always[i], len) == 0)
            return true;
    if (len > 3 && strncmp(entry, "LC_", 3) == 0)
        return true;
    return listed(entry, len, lslenv);
}

char **lsl_guest_env(void)
{
    const char *lslenv = getenv("LSLENV");
    size_t n = 0;
    for (char **e = environ; *e; e++)
        n++;
    char **out = calloc(n + 2, sizeof(*out));
    if (!out) {
        log_error("out of memory");
        return NULL;
    }
    size_t k = 0;
    bool path_given = false;
    for (char **e = environ; *e; e++) {
        if (!wanted(*e, lslenv))
            continue;
        if (strncmp(*e, "PATH=", 5) == 0)
            path_given = true;
        if (!(out[k++] = strdup(*e)))
            goto oom;
    }
    if (!path_given && !(out[k++] = strdup(GUEST_PATH)))
        goto oom;
    return out;
oom:
    lsl_env_free(out);
    log_error("out of memory");
    return NULL;
}

void lsl_env_free(char **env)
{
    for (char **e = env; e && *e; e++)
        free(*e);
    free(env);
}
