/* [automount] options (wsl.conf) as lsl can honour them: the host shares are bind mounts of one virtio-fs
 * mount per share, so what a bind mount can carry (read-only, noexec, nosuid, nodev, the atime modes) is
 * applied; drvfs's uid=/gid= are the VM's one owner of host files (hostShareOwner: one superblock serves
 * every distribution) and can only be checked against it; umask=, fmask=, dmask=, metadata, case= and
 * anything else are named in one warning. Pure, for the unit tests and the fuzzer. */
#ifndef LSL_DISTRO_AUTOMOUNT_OPTS_H
#define LSL_DISTRO_AUTOMOUNT_OPTS_H

#include <stddef.h>
#include <stdint.h>

/* Linux's mount_setattr(2) attributes (include/uapi/linux/mount.h; musl 1.2.3 has none of them). */
#define AUTOMOUNT_ATTR_RDONLY      0x00000001
#define AUTOMOUNT_ATTR_NOSUID      0x00000002
#define AUTOMOUNT_ATTR_NODEV       0x00000004
#define AUTOMOUNT_ATTR_NOEXEC      0x00000008
#define AUTOMOUNT_ATTR__ATIME      0x00000070
#define AUTOMOUNT_ATTR_RELATIME    0x00000000
#define AUTOMOUNT_ATTR_NOATIME     0x00000010
#define AUTOMOUNT_ATTR_STRICTATIME 0x00000020
#define AUTOMOUNT_ATTR_NODIRATIME  0x00000080

struct automount_opts {
    uint64_t attr_set, attr_clr; /* for every share's bind mount, recursively */
};

/* Parses options ("ro,uid=1000,umask=022"; NULL or "" is none) for shares whose host files show as
 * owner_uid/owner_gid. Returns 1 with one line in warning when something is not applied, else 0. */
int automount_opts_parse(const char *options, unsigned owner_uid, unsigned owner_gid,
                         struct automount_opts *o, char *warning, size_t warnlen);

#endif
