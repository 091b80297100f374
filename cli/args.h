/* The lsl command line, wsl.exe's grammar: options first, then either nothing (login shell), a command line
 * for the user's shell, or `--`/`-e` and an argv to exec directly. Parsed by a pure function (unit-tested). */
#ifndef LSL_CLI_ARGS_H
#define LSL_CLI_ARGS_H

#include <stdbool.h>
#include <stdio.h>

enum lsl_action {
    LSL_ACT_LOGIN,    /* no command: the default user's login shell */
    LSL_ACT_SHELL,    /* `lsl CMD LINE`: the words joined with spaces, run by the user's shell */
    LSL_ACT_EXEC,     /* `lsl -- CMD ARGS` or `lsl -e CMD ARGS`: exec without a shell */
    LSL_ACT_SHUTDOWN, /* --shutdown */
    LSL_ACT_STATUS,   /* --status */
    LSL_ACT_VERSION,
    LSL_ACT_HELP,
};

struct lsl_args {
    enum lsl_action action;
    const char *distro; /* -d/--distribution */
    const char *user;   /* -u/--user */
    const char *cd;     /* --cd DIR ("~" = the Linux home) */
    char **argv;        /* LSL_ACT_EXEC: NULL-terminated */
    char *shell_line;   /* LSL_ACT_SHELL: malloc'd, words joined by single spaces */
};

/* Returns 0, or -EINVAL with a one-line message in err. */
int lsl_args_parse(int argc, char **argv, struct lsl_args *a, char *err, size_t errlen);
void lsl_args_free(struct lsl_args *a);
void lsl_usage(FILE *f);

#endif
