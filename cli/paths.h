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
    char vmm[PATH_MAX];     /* $LSL_VMM or lsl-vmm next to this build */
    char kernel[PATH_MAX];  /* $LSL_KERNEL or ~/.cache/lsl/kernel/current/vmlinux */
    char initrd[PATH_MAX];  /* $LSL_INITRD or this build's guest/initramfs.cpio */
    char rootfs[PATH_MAX]; /* $LSL_ROOTFS or this build's guest/system.img: the VM's system root, read-only */
};

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
