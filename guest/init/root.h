/* The root disk: mounting lsl.root= on /mnt/root, entering it with chroot, and unmounting it cleanly at
 * shutdown. */
#ifndef LSL_INIT_ROOT_H
#define LSL_INIT_ROOT_H

#include <stdbool.h>

/* Where the root disk is mounted (inside the initramfs). */
#define LSL_ROOT_DIR "/mnt/root"

/* Waits up to about 2 s for device to appear, then mounts it as ext4 on LSL_ROOT_DIR.
 * Logs "cannot mount <device>: <reason>" and returns -errno on failure. */
int lsl_root_mount(const char *device, bool read_only);

/* Moves the API file systems into the mounted root, then chroots PID 1 into it and chdirs to "/".
 * A missing mount point for an API file system is logged but not fatal; failing to chroot is.
 * Returns 0 or -errno (logged). */
int lsl_root_enter(void);

/* At shutdown, once every other process is gone: leaves the chroot and unmounts the root disk (lazily,
 * after remounting it read-only, if something still holds it) so ext4 is clean. No-op without a root
 * disk. Failures are logged; there is nothing else to do about them. */
void lsl_root_unmount(void);

#endif
