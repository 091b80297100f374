/* The lsl command line, wsl.exe's grammar: options first, then either nothing (login shell), a command line
 * for the user's shell (`--` only ends the options: `lsl -- WORDS` is `lsl WORDS`), or `-e` and an argv to
 * exec directly. Parsed by a pure function (unit-tested). */
#ifndef LSL_CLI_ARGS_H
#define LSL_CLI_ARGS_H

#include <stdbool.h>
#include <stdio.h>

enum lsl_action {
    LSL_ACT_LOGIN, /* no command: the default user's login shell */
    LSL_ACT_SHELL, /* `lsl CMD LINE`, `lsl -- CMD LINE`: the words joined with spaces, run by the user's shell
                    */
    LSL_ACT_EXEC,  /* `lsl -e CMD ARGS` (or --shell-type none): exec without a shell */
    LSL_ACT_SHUTDOWN, /* --shutdown [--force] */
    LSL_ACT_STATUS,   /* --status */
    LSL_ACT_VERSION,
    LSL_ACT_HELP,
    /* Distribution management, wsl.exe's verbs (each must come first on the command line). */
    LSL_ACT_INSTALL,     /* --install [NAME] [--name X] [--location DIR] [--from-file F] [--no-launch] */
    LSL_ACT_IMPORT,      /* --import NAME DIR FILE|- [--vhd], --import-in-place NAME FILE */
    LSL_ACT_EXPORT,      /* --export NAME FILE|- [--format tar|tar.gz|tar.xz|tar.zst] [--vhd] */
    LSL_ACT_UNREGISTER,  /* --unregister NAME */
    LSL_ACT_SET_DEFAULT, /* -s/--set-default NAME */
    LSL_ACT_LIST,        /* -l/--list [-v|--verbose | -q|--quiet] [--running | --all] [-o|--online] */
    LSL_ACT_TERMINATE,   /* -t/--terminate NAME */
    LSL_ACT_MANAGE,      /* --manage NAME --set-default-user USER | --resize SIZE | --move DIR */
    LSL_ACT_SET_VERSION, /* --set-version NAME 2, --set-default-version 2 (2 is all there is) */
};

/* wsl.exe's --shell-type: how a command line (or no command) reaches the user's shell. */
enum lsl_shell_type {
    LSL_SHELL_STANDARD, /* the command line through `SHELL -c`; no command: a login shell */
    LSL_SHELL_LOGIN,    /* the command line through a login shell (profile read first) */
    LSL_SHELL_NONE,     /* the words exec'd as they are; no command: a shell that is not a login shell */
};

struct lsl_args {
    enum lsl_action action;
    const char *distro; /* -d/--distribution (once) */
    const char *user;   /* -u/--user */
    const char *cd;     /* --cd DIR ("~" = the Linux home) */
    char **argv;        /* LSL_ACT_EXEC: NULL-terminated */
    char *shell_line;   /* LSL_ACT_SHELL: malloc'd, words joined by single spaces */
    bool system;        /* --system: the VM's system root instead of a distribution */
    bool force;         /* --shutdown --force: kill the VM without the guest's orderly poweroff */
    enum lsl_shell_type shell_type;
    bool json; /* --status --json: for scripts */

    /* Management verbs. */
    const char *name;     /* the distribution (install: the catalog entry, "" for the default) */
    const char *new_name; /* --install --name */
    const char *dir;      /* --import DIR, --install --location, --manage --move */
    const char *file;     /* --import/--export FILE ("-" = stdin/stdout), --install --from-file */
    const char *format;   /* --export --format (NULL: from FILE's name, else tar) */
    bool vhd, no_launch, download_only;
    bool in_place; /* --import-in-place: FILE, an ext4 image, is the disk where it lies */
    bool verbose, quiet, running, all, online; /* --list */
    const char *default_user;                  /* --manage --set-default-user */
    const char *new_user;                      /* --install/--import --user (own_user.h) */
    bool no_user;                              /* --install/--import --no-user */
    const char *resize;                        /* --manage --resize */
};

/* Returns 0, or -EINVAL with a one-line message in err (a usage error: exit LSL_EXIT_USAGE). */
int lsl_args_parse(int argc, char **argv, struct lsl_args *a, char *err, size_t errlen);
void lsl_args_free(struct lsl_args *a);
void lsl_usage(FILE *f);

#endif
