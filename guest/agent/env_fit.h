/* The host's LANG, LC_* and TERM travel with every command, but a distribution often lacks that locale
 * (Debian's minimal install has only C.UTF-8) or that terminal's terminfo entry (kitty, alacritty, foot...),
 * and then perl, apt and bash warn on every run and full-screen programs misbehave. Before a command starts,
 * each such value the distribution cannot serve is replaced by one it can: C.UTF-8 (C for another codeset),
 * xterm-256color. */
#ifndef LSL_AGENT_ENV_FIT_H
#define LSL_AGENT_ENV_FIT_H

#include <stdbool.h>
#include <stddef.h>

/* Whether env (NULL-terminated "NAME=value" entries) sets name. */
bool agent_env_has(char *const env[], const char *name);

enum agent_locale {
    AGENT_LOCALE_UNKNOWN,   /* no ROOT/usr/lib/locale: not glibc's layout (musl loads any name), leave it */
    AGENT_LOCALE_AVAILABLE, /* in ROOT/usr/lib/locale/locale-archive or a directory there */
    AGENT_LOCALE_MISSING,
};

/* How glibc under root (a directory; "/" inside the distribution) would fare with locale name. */
enum agent_locale agent_locale_find(const char *root, const char *name);

/* The value to use instead of value for a locale variable, or NULL to keep it. */
const char *agent_locale_substitute(const char *root, const char *value);

/* The TERM to use instead of term, or NULL to keep it: kept when root (or home/.terminfo) has its terminfo
 * entry, or when no replacement exists there either. */
const char *agent_term_substitute(const char *root, const char *home, const char *term);

/* Rewrites env (NULL-terminated) in place: each LANG=, LC_*= and TERM= entry to replace points to a new
 * string, also stored in owned[] (room for every entry of env; the caller frees them). TERM is left alone
 * when env names its own terminfo (TERMINFO, TERMINFO_DIRS). home: the user's, under root. Returns 0 or
 * -ENOMEM. */
int agent_env_fit(const char *root, const char *home, char **env, char **owned);

#endif
