/* Where lsl keeps things: the per-user runtime directory (sockets, lock), the state directory (logs, the
 * VM's disks) and the built pieces it starts the VM with (overridable through the environment). */
#ifndef LSL_CLI_PATHS_H
#define LSL_CLI_PATHS_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

struct lsl_paths {
    char runtime[PATH_MAX]; /* $XDG_RUNTIME_DIR/lsl, 0700 */
    char state[PATH_MAX];   /* ${XDG_STATE_HOME:-~/.local/state}/lsl, 0700 */
    /* $LSL_VMM, $LSL_KERNEL, $LSL_INITRD, $LSL_ROOTFS, or lsl's own (lsl_own_path). The rootfs is the VM's
     * system root, read-only. */
    char vmm[PATH_MAX], kernel[PATH_MAX], initrd[PATH_MAX], rootfs[PATH_MAX];
};

/* lsl's own programs and images. */
enum lsl_own_file {
    LSL_OWN_VMM,
    LSL_OWN_FETCH,
    LSL_OWN_INTEROP,
    LSL_OWN_INITRD,
    LSL_OWN_ROOTFS,
    LSL_OWN_KERNEL,
    LSL_OWN_WAKE
};
/* Where f is for this lsl (or lsl-wake): installed (PREFIX/bin/lsl: PREFIX/libexec/lsl/, PREFIX/lib/lsl/) or
 * in its build tree (BUILD/cli/lsl: BUILD/vmm/, BUILD/guest/; the kernel in ~/.cache/lsl/kernel/current). 0,
 * or -errno after one error line. */
int lsl_own_path(enum lsl_own_file f, char *out, size_t len);

/* Fills p and creates the runtime and state directories. Returns 0 or -errno after one error line. */
int lsl_paths_init(struct lsl_paths *p);
/* ~/.lslconfig (warnings on stderr), then the LSL_* environment over it. Free with lsl_config_free. */
struct lsl_config;
void lsl_config_load_user(struct lsl_config *c);

/* snprintf into a path buffer: 0, or -ENAMETOOLONG when it does not fit (nothing is logged). */
int lsl_path_fmt(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* mkdir -p: path and its missing parents (parents 0700). Returns 0 or -errno. */
int lsl_mkdir_p(const char *path, mode_t mode);

/* path = dir + "/" + name, or -ENAMETOOLONG. */
int lsl_path_join(char *out, const char *dir, const char *name);

#endif
