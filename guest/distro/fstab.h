/* [automount] mountFsTab: a distribution's /etc/fstab mounted as `mount -a` would, by its init inside its
 * own mount namespace and root, without mount(8) (a distribution may not have it, the system root's is
 * busybox's). The parsers are pure, for the unit tests. */
#ifndef LSL_DISTRO_FSTAB_H
#define LSL_DISTRO_FSTAB_H

#include <stdbool.h>
#include <stddef.h>

/* One entry, pointing into the parsed line. */
struct fstab_entry {
    char *spec, *file, *type;
    const char *opts;
};

/* Splits one line of fstab in place by getmntent's rules: fields separated by blanks, octal escapes such as
 * \040 decoded, the options field "defaults" when missing. Returns 1 for an entry, 0 for a blank line or a
 * comment, -1 when the type is missing. */
int fstab_parse_line(char *line, struct fstab_entry *e);

/* An options field split as mount(8) splits it. */
struct fstab_opts {
    unsigned long flags;       /* MS_* for mount(2) */
    unsigned long propagation; /* MS_SHARED, MS_PRIVATE, ... (with MS_REC), applied after mounting; 0: none */
    bool bind, noauto, nofail, mkdir;
    char data[1024]; /* the file system's own options, comma-separated */
};
/* Returns 0, or -E2BIG when the file system's options do not fit in data. */
int fstab_parse_opts(const char *opts, struct fstab_opts *o);

/* Mounts every entry of the current root's /etc/fstab that mount -a would: not noauto, not swap, not the
 * root, not on a mount point that is mounted already. When some fail (nofail entries aside), warning gets
 * one line about them. Returns how many failed. */
int fstab_mount_all(char *warning, size_t warnlen);

#endif
