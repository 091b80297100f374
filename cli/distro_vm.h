/* A distribution inside the running VM: its disk in a virtio-blk slot, mounted and running in its own
 * namespaces (lsl-distro in the guest does the guest half). */
#ifndef LSL_CLI_DISTRO_VM_H
#define LSL_CLI_DISTRO_VM_H

#include <stdbool.h>
#include <stddef.h>

#include "paths.h"

struct lsl_distro_files {
    char *wsl_conf, *lsl_conf, *distribution_conf; /* malloc'd contents, NULL when absent */
};
void lsl_distro_files_free(struct lsl_distro_files *f);
/* Takes the configuration files out of lsl-distro's output (proto/distro.h framing). Returns 0, -EPROTO or
 * -ENOMEM. */
int lsl_distro_files_parse(const char *out, size_t len, struct lsl_distro_files *f);

/* What the start of a running distribution leaves for the commands that follow. */
struct lsl_distro_run {
    char user[256];        /* its /etc/wsl.conf [user] default, "" if none or if no such user exists in it */
    char missing[256];     /* the registered default user the start found missing in it, "" if none */
    unsigned port;         /* its own agent's vsock port (LSL_DISTRO_PORT_BASE + disk slot), 0 if unknown */
    char mount_root[1024]; /* where it mounts the host shares ([automount] root), "" = it does not */
    bool interop;          /* lsl-interop runs host commands for it ([interop] enabled, not isolated) */
};
/* The user a command runs as without -u: wsl.conf's [user] default, else the registry's default user (reg,
 * may be NULL or "") unless the start found it missing, else root (""). WSL's order and fallback. */
const char *lsl_distro_default_user(const struct lsl_distro_run *run, const char *reg);

/* Starts distribution NAME (disk IMAGE, virtio serial ID) unless it runs already; the VM must be running.
 * Its wsl.conf is read (warnings as "lsl: NAME: ..."), its settings go to lsl-distro start, whose warnings
 * are shown the same way; of wsl.conf's [user] default and reg_user (the registry's default user, may be
 * NULL), the first that exists in it is the default user, and one warning says which was missing. Fills run
 * and remembers it in the runtime directory. Returns 0 or -errno after one error line. */
int lsl_distro_start(const struct lsl_paths *p, const char *name, const char *id, const char *image,
                     const char *reg_user, struct lsl_distro_run *run);
/* Whether USER (a name, or a UID in digits) exists in distribution NAME: it is started (and the VM) if it
 * does not run. Returns 1, 0, or -errno after one error line. */
int lsl_distro_has_user(const struct lsl_paths *p, const char *name, const char *id, const char *image,
                        const char *reg_user, const char *user);
/* What the start of NAME remembered. Returns 0, or -ENOENT if nothing (run is then empty). It may be out of
 * date (the distribution or the VM stopped since): the agent behind the port checks the name. */
int lsl_distro_cached(const struct lsl_paths *p, const char *name, struct lsl_distro_run *run);
/* Stops NAME if it runs and takes its disk out of the VM. true in *was_running if it ran. */
int lsl_distro_stop(const struct lsl_paths *p, const char *name, const char *id, bool *was_running);
/* The names of the running distributions, newline-separated, into *list (malloc'd; NULL when the VM is not
 * running). Returns 0, or -EIO after one error line when the VM runs but does not say (lsl-distro failed, or
 * answered more than any list holds). */
int lsl_distro_running(const struct lsl_paths *p, char **list);
/* Whether list (from lsl_distro_running, may be NULL) names NAME. */
bool lsl_distro_in_list(const char *list, const char *name);

#endif
