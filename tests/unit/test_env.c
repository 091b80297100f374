/* The environment a guest command gets (cli/env.h): WSLENV and LSLENV with WSL's flags, unset and empty
 * variables, duplicates, the lists themselves, the distribution's name, and /p and /l through a share; and
 * the grammar both ways share (proto/wslenv.h), seen from the guest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "env.h"
#include "wslenv.h"

/* The value of NAME in env, NULL if absent; how many times it is there in *count. */
static const char *get(char **env, const char *name, int *count)
{
    const char *v = NULL;
    size_t n = strlen(name);
    int c = 0;
    for (char **e = env; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') {
            if (!c++)
                v = *e + n + 1;
        }
    if (count)
        *count = c;
    return v;
}

static bool is(char **env, const char *name, const char *want)
{
    int count;
    const char *v = get(env, name, &count);
    if (!v || strcmp(v, want) != 0 || count != 1)
        fprintf(stderr, "%s: '%s' (%d times), want '%s'\n", name, v ? v : "(unset)", count, want);
    return v && strcmp(v, want) == 0 && count == 1;
}

static void test_flags(void)
{
    char *host[] = {"a=b",
                    "UP=up",
                    "DOWN=down",
                    "EMPTY=",
                    "P=/home/me/x",
                    "NEW=x",
                    "TERM=xterm",
                    "LC_ALL=C",
                    "SECRET=s",
                    "WSLENV=a/u:DOWN/w:EMPTY:UNSET:NEW/z:P/p:UP/uw ",
                    "LSLENV=a:UP",
                    "PATH=/host/bin",
                    NULL};
    char **env = lsl_guest_env_from(host, NULL, NULL, 0);
    CHECK(env != NULL);
    CHECK(is(env, "a", "b"));          /* /u: host to guest */
    CHECK(!get(env, "DOWN", NULL));    /* /w: guest to host only */
    CHECK(is(env, "EMPTY", ""));       /* an empty one arrives empty */
    CHECK(!get(env, "UNSET", NULL));   /* an unset one is skipped */
    CHECK(!get(env, "NEW", NULL));     /* an unknown flag skips the entry, as WSL does */
    CHECK(is(env, "P", "/home/me/x")); /* /p without a share: unchanged */
    CHECK(is(env, "UP", "up"));        /* /uw skipped in WSLENV, passed by LSLENV */
    CHECK(is(env, "TERM", "xterm"));
    CHECK(is(env, "LC_ALL", "C"));
    CHECK(!get(env, "SECRET", NULL));                                    /* not listed: not passed */
    CHECK(is(env, "WSLENV", "a/u:DOWN/w:EMPTY:UNSET:NEW/z:P/p:UP/uw ")); /* the lists themselves */
    CHECK(is(env, "LSLENV", "a:UP"));                                    /* a twice (WSLENV, LSLENV): once */
    CHECK(is(env, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")); /* the guest's */
    CHECK(!get(env, "LSL_DISTRO_NAME", NULL) && !get(env, "WSL_DISTRO_NAME", NULL));
    lsl_env_free(env);
}

static void test_odd_lists(void)
{
    char *host[] = {"A=1", "B=2", "WSLENV=::A::/u:=x:B/:A", "LSLENV=", "PATH=/host/bin", NULL};
    char **env = lsl_guest_env_from(host, NULL, NULL, 0);
    CHECK(is(env, "A", "1")); /* empty entries and names are nothing; A twice is once */
    CHECK(is(env, "B", "2")); /* no flags after the slash */
    CHECK(is(env, "LSLENV", ""));
    lsl_env_free(env);
    /* PATH listed: the host's passes, as asked. */
    char *host2[] = {"LSLENV=PATH", "PATH=/host/bin", NULL};
    env = lsl_guest_env_from(host2, NULL, NULL, 0);
    CHECK(is(env, "PATH", "/host/bin"));
    lsl_env_free(env);
    /* Nothing at all: a PATH still. */
    char *none[] = {NULL};
    env = lsl_guest_env_from(none, NULL, NULL, 0);
    CHECK(env && env[0] && !env[1]);
    lsl_env_free(env);
}

static void test_distro_name(void)
{
    char *host[] = {"WSL_DISTRO_NAME=Ubuntu", "WSLENV=WSL_DISTRO_NAME", NULL};
    char **env = lsl_guest_env_from(host, "Debian", NULL, 0);
    CHECK(is(env, "LSL_DISTRO_NAME", "Debian"));
    CHECK(is(env, "WSL_DISTRO_NAME", "Debian")); /* the one it runs in, not one passed from outside */
    lsl_env_free(env);
}

static void test_paths(void)
{
    const struct lsl_env_share shares[] = {{"/home/me", "/mnt/host/me"}, {"/srv", "/mnt/srv"}};
    char *host[] = {"P=/home/me/x",
                    "Q=/home/meat",
                    "L=/srv:/home/me/a:/etc::rel",
                    "R=/home/me",
                    "WSLENV=P/p:Q/p:L/l:R/up",
                    NULL};
    char **env = lsl_guest_env_from(host, NULL, shares, 2);
    CHECK(is(env, "P", "/mnt/host/me/x"));
    CHECK(is(env, "Q", "/home/meat")); /* not under /home/me: a prefix of the name is not a directory */
    CHECK(is(env, "L", "/mnt/srv:/mnt/host/me/a:/etc::rel"));
    CHECK(is(env, "R", "/mnt/host/me"));
    lsl_env_free(env);
    /* /p maps the whole value as one path, colons and all. */
    char *m = lsl_env_map_paths("/srv/a:/srv/b", false, shares, 2);
    CHECK(m && strcmp(m, "/mnt/srv/a:/srv/b") == 0);
    free(m);
    m = lsl_env_map_paths("", true, shares, 2);
    CHECK(m && strcmp(m, "") == 0);
    free(m);
}

/* Out of the guest: u entries stay, w and plain ones go; the same flags and skips as into it. */
static int note(const char *name, size_t len, char mode, void *opaque)
{
    char *seen = opaque;
    size_t at = strlen(seen);
    snprintf(seen + at, 256 - at, "%.*s/%c ", (int)len, name, mode ? mode : '-');
    return strncmp(name, "STOP", len) == 0 && len == 4 ? -7 : 0;
}

/* An element starting with /h becomes /H + the rest; others stay. */
static ssize_t upper_h(const char *path, size_t len, char *out, size_t room, void *opaque)
{
    (void)opaque;
    if (len < 2 || strncmp(path, "/h", 2) != 0)
        return -1;
    return snprintf(out, room, "/H%.*s", (int)(len - 2), path + 2);
}

static void test_both_ways(void)
{
    char seen[256] = "";
    const char *list = "A:B/u:C/w:D/p:E/l:F/wp:G/x:=H:I=J/w::K/up \t\n";
    CHECK_EQ(lsl_wslenv_each(list, LSL_WSLENV_OUT_OF_GUEST, note, seen), 0);
    CHECK(strcmp(seen, "A/- C/- D/p E/l F/p ") == 0);
    seen[0] = '\0';
    CHECK_EQ(lsl_wslenv_each(list, LSL_WSLENV_INTO_GUEST, note, seen), 0);
    CHECK(strcmp(seen, "A/- B/- D/p E/l K/p ") == 0);
    seen[0] = '\0';
    CHECK_EQ(lsl_wslenv_each("A:STOP:B", LSL_WSLENV_INTO_GUEST, note, seen), -7); /* fn's error ends it */
    CHECK(strcmp(seen, "A/- STOP/- ") == 0);
    char *v = lsl_wslenv_map("/home/x:rel:/hh::/other", true, upper_h, NULL);
    CHECK(strcmp(v, "/Home/x:rel:/Hh::/other") == 0);
    free(v);
    v = lsl_wslenv_map("/h/a:b", false, upper_h, NULL); /* p: one path, colons and all */
    CHECK(strcmp(v, "/H/a:b") == 0);
    free(v);
}

int main(void)
{
    RUN(test_flags);
    RUN(test_odd_lists);
    RUN(test_distro_name);
    RUN(test_paths);
    RUN(test_both_ways);
    return CHECK_DONE();
}
