/* The host shares as the CLI uses them: which ones the running VM was given (recorded when the service is
 * started, so a ~/.lslconfig edited since does not mistranslate), and a command's working directory and
 * WSLENV paths seen through them from a distribution that mounts them under its [automount] root. */
#ifndef LSL_CLI_HOSTSHARES_H
#define LSL_CLI_HOSTSHARES_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "env.h"
#include "hostshare.h"
#include "paths.h"

/* What a distribution sees of the host. */
struct lsl_host_view {
    struct lsl_hostshares shares;
    unsigned uid, gid;                 /* whom the host user's files show as */
    char root[LSL_HOSTSHARE_PATH_MAX]; /* where the distribution mounts them; "" = it does not */
    /* WSLENV's share list (lsl_host_view_env), its guest paths kept here */
    struct lsl_env_share env[LSL_HOSTSHARES_MAX];
    char guest[LSL_HOSTSHARES_MAX][LSL_HOSTSHARE_PATH_MAX];
};

/* Records c's shares and owner as those of the VM the service is about to start: $RUNTIME/hostshares.
 * Returns 0 or -errno (nothing logged: the CLI then reads ~/.lslconfig instead). */
int lsl_hostshares_record(const struct lsl_paths *p, const struct lsl_config *c);
/* The record's text ("UID:GID\nLIST\n") into the view; -EINVAL when it is not one. */
int lsl_hostshares_record_parse(const char *text, struct lsl_host_view *v);
/* The view of a distribution mounting them at root ("" or NULL: not mounted): the VM's record, or
 * ~/.lslconfig's shares when there is none. */
void lsl_host_view_load(const struct lsl_paths *p, const char *root, struct lsl_host_view *v);
/* The view's shares as env.h takes them (host -> guest path). Returns how many. */
size_t lsl_host_view_env(struct lsl_host_view *v);

/* The cwd of an EXEC (proto/exec.h) for --cd cd (NULL: none given) from the host directory host_cwd:
 *   no --cd: host_cwd's guest path when a mounted share holds it, with LSL_EXEC_CWD_OR_HOME in *flags (a
 *            directory the guest cannot enter is the home, as WSL does); otherwise "" (the home)
 *   "~", "~/DIR", an absolute path: the guest's, as they are
 *   a relative path: a host path from host_cwd, which a mounted share must hold (else -ENOENT, reason in
 *   err) */
int lsl_exec_cwd(const struct lsl_host_view *v, const char *cd, const char *host_cwd, char *out, size_t len,
                 uint32_t *flags, char *err, size_t errlen);

#endif
