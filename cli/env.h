/* The environment a guest command gets: a guest PATH, the terminal and locale variables, and whatever the
 * user lists in LSLENV (colon-separated names, like WSLENV). */
#ifndef LSL_CLI_ENV_H
#define LSL_CLI_ENV_H

/* NULL-terminated "NAME=value" array (malloc'd), or NULL on allocation failure (logged). */
char **lsl_guest_env(void);
void lsl_env_free(char **env);

#endif
