/* The environment a guest command gets: a guest PATH, the terminal and locale variables, the variables WSLENV
 * and LSLENV name (WSL's syntax and flags), and the distribution's name. */
#ifndef LSL_CLI_ENV_H
#define LSL_CLI_ENV_H

#include <stdbool.h>
#include <stddef.h>

/* A host directory seen in the guest under another path: what /p and /l entries of WSLENV translate through
 * (the host shares a distribution mounts, hostshares.h). */
struct lsl_env_share {
    const char *host;  /* absolute, no trailing '/' ("" for the host's "/") */
    const char *guest; /* absolute, no trailing '/' */
};

/* The guest environment from the process's: NULL-terminated "NAME=value" array (malloc'd), or NULL on
 * allocation failure (logged). distro (the registered name, NULL for the system root) becomes
 * LSL_DISTRO_NAME and WSL_DISTRO_NAME; /p and /l values go through shares. */
char **lsl_guest_env(const char *distro, const struct lsl_env_share *shares, size_t nshares);
/* The same from env (a NULL-terminated environ) and a list of shares: what the unit tests call.
 *   always passed: TERM COLORTERM LANG LANGUAGE TZ LC_*; WSLENV and LSLENV themselves when set
 *   WSLENV / LSLENV: "NAME[/FLAGS]:..." (colon-separated, trailing blanks ignored), flags as WSL's:
 *     u  host to guest only (passed), w  guest to host only (not passed), p  a path, l  a list of paths
 *     (colon-separated), each mapped through shares; an unknown flag skips the entry, as WSL does
 *   a variable not set on the host is skipped, an empty one arrives empty, a name listed twice (or also
 *   passed anyway) arrives once, with the first entry's translation
 *   PATH: a guest one unless listed. */
char **lsl_guest_env_from(char *const *env, const char *distro, const struct lsl_env_share *shares,
                          size_t nshares);
/* One /p (list false) or /l (list true) value mapped to the guest: a path under a share's host directory
 * (the directory itself or below it; the closest share when several hold it) gets the share's guest path
 * instead of that prefix; any other path (a relative or empty one too) is left as it is. malloc'd, NULL when
 * out of memory. */
char *lsl_env_map_paths(const char *value, bool list, const struct lsl_env_share *shares, size_t nshares);

void lsl_env_free(char **env);
/* For _cleanup_(lsl_env_freep) char **env = lsl_guest_env(name); */
static inline void lsl_env_freep(char ***env)
{
    lsl_env_free(*env);
}

#endif
