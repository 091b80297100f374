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
    char user[256]; /* its /etc/wsl.conf [user] default, "" if none */
    unsigned port;  /* its own agent's vsock port (LSL_DISTRO_PORT_BASE + disk slot), 0 if unknown */
};
/* Starts distribution NAME (disk IMAGE, virtio serial ID) unless it runs already; the VM must be running.
 * Fills run and remembers it in the runtime directory. Returns 0 or -errno after one error line. */
int lsl_distro_start(const struct lsl_paths *p, const char *name, const char *id, const char *image,
                     struct lsl_distro_run *run);
/* What the start of NAME remembered. Returns 0, or -ENOENT if nothing (run is then empty). It may be out of
 * date (the distribution or the VM stopped since): the agent behind the port checks the name. */
int lsl_distro_cached(const struct lsl_paths *p, const char *name, struct lsl_distro_run *run);
/* Stops NAME if it runs and takes its disk out of the VM. true in *was_running if it ran. */
int lsl_distro_stop(const struct lsl_paths *p, const char *name, const char *id, bool *was_running);
/* The names of the running distributions, newline-separated (malloc'd), or NULL when the VM is not running.
 */
char *lsl_distro_running(const struct lsl_paths *p);
/* Whether list (from lsl_distro_running, may be NULL) names NAME. */
bool lsl_distro_in_list(const char *list, const char *name);

#endif
