/* The new mount API (Linux 5.2, mount_setattr 5.12) as the guest's programs call it: musl 1.2.3 has some
 * of the syscall numbers but no constants, structures or wrappers. A stable ABI, spelled out here once. */
#ifndef LSL_DISTRO_MOUNT_API_H
#define LSL_DISTRO_MOUNT_API_H

#include <stdint.h>
#include <sys/syscall.h>

/* The same numbers on every architecture. */
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

#define LSL_OPEN_TREE_CLONE         1
#define LSL_AT_RECURSIVE            0x8000
#define LSL_MOVE_MOUNT_F_EMPTY_PATH 0x4
#define LSL_MOUNT_ATTR_RDONLY       0x1

struct mount_attr_arg { /* struct mount_attr, include/uapi/linux/mount.h */
    uint64_t attr_set, attr_clr, propagation, userns_fd;
};

#endif
