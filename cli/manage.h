/* The distribution verbs of the lsl CLI (wsl.exe's --import, --export, --list, ...). Each returns the
 * process exit code (0 or an LSL_EXIT_* from exitcodes.h) after at most one error line. */
#ifndef LSL_CLI_MANAGE_H
#define LSL_CLI_MANAGE_H

#include "args.h"
#include "paths.h"

int lsl_cmd_import(const struct lsl_paths *p, const char *name, const char *dir, const char *file, bool vhd);
int lsl_cmd_export(const struct lsl_paths *p, const struct lsl_args *a);
int lsl_cmd_unregister(const struct lsl_paths *p, const char *name);
int lsl_cmd_set_default(const struct lsl_paths *p, const char *name);
int lsl_cmd_terminate(const struct lsl_paths *p, const char *name);
int lsl_cmd_list(const struct lsl_paths *p, const struct lsl_args *a);
int lsl_cmd_manage(const struct lsl_paths *p, const struct lsl_args *a);
int lsl_cmd_install(const struct lsl_paths *p, const struct lsl_args *a);
int lsl_cmd_list_online(const struct lsl_paths *p);

/* The import behind --import and --install: ARCHIVE_FD streams a tar (compression FORMAT) into a new image
 * in DIR, and NAME is registered only when everything worked; on failure nothing is left behind. */
int lsl_import_stream(const struct lsl_paths *p, const char *name, const char *dir, int archive_fd,
                      const char *format);

#endif
