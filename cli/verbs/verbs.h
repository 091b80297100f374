/* The handlers of lsl's verbs, one file each in cli/verbs/ (named for the verb), dispatched by main.c's table
 * from enum lsl_action. Each returns the process exit code: the command's status for the run verbs, else 0
 * or an LSL_EXIT_* from exitcodes.h after at most one error line. */
#ifndef LSL_CLI_VERBS_H
#define LSL_CLI_VERBS_H

#include <sys/types.h>

#include "args.h"
#include "paths.h"

typedef int lsl_verb_fn(const struct lsl_paths *p, struct lsl_args *a);

lsl_verb_fn lsl_verb_run;         /* run.c: no command, a command line ([--] WORDS), -e CMD */
lsl_verb_fn lsl_verb_status;      /* status.c: --status */
lsl_verb_fn lsl_verb_shutdown;    /* shutdown.c: --shutdown [--force] */
lsl_verb_fn lsl_verb_install;     /* install.c: --install */
lsl_verb_fn lsl_verb_import;      /* import.c: --import */
lsl_verb_fn lsl_verb_export;      /* export.c: --export */
lsl_verb_fn lsl_verb_list;        /* list.c: --list, --list --online */
lsl_verb_fn lsl_verb_unregister;  /* unregister.c: --unregister */
lsl_verb_fn lsl_verb_terminate;   /* terminate.c: -t/--terminate */
lsl_verb_fn lsl_verb_set_default; /* set_default.c: -s/--set-default */
lsl_verb_fn lsl_verb_manage;      /* manage.c: --manage */
lsl_verb_fn lsl_verb_set_version; /* set_version.c: --set-version, --set-default-version */

/* What one verb lends another. */

/* What a new distribution's first launch is to do (run.c first_launch). */
struct lsl_first_run {
    bool oobe;            /* its wsl-distribution.conf's first-run setup, on its first interactive shell
                           * (--install; --import records none) */
    const char *own_user; /* own_user.h: --user NAME, "" for --no-user, NULL for the host user's name */
};
/* import.c, for --install: FILE (a tar or .wsl file, "-" for stdin; with vhd an ext4 image) becomes the
 * distribution NAME with its disk in DIR; registered only when everything worked, nothing left otherwise. */
int lsl_import_file(const struct lsl_paths *p, const char *name, const char *dir, const char *file, bool vhd,
                    const struct lsl_first_run *fr);

/* export.c: creates FILE.lsl-partial (its name into tmp, the fd into *fd) for an export to FILE:
 * exclusively (never an existing file, never through a symlink someone put there) and private (0600).
 * Returns 0, or an exit code after one error line. Declared for the unit tests. */
int lsl_export_create_partial(const char *file, char *tmp, size_t tmplen, int *fd);

/* install.c: whether the file of subordinate ids (/etc/subuid, /etc/subgid: "NAME-or-UID:START:COUNT"
 * lines) gives the user (by name, or by uid) a range, which an ordinary user's mmdebstrap needs. Declared
 * for the unit tests. */
bool lsl_has_subids(const char *file, const char *name, uid_t uid);

#endif
