/* The host shares in a distribution ([automount]): mounted once for the VM in the system's namespace
 * (virtio-fs, by tag, at /run/lsl/shares/NAME), bound into each distribution at its [automount] root/NAME by
 * its init, with the share map for lslpath beside them. */
#ifndef LSL_DISTRO_AUTOMOUNT_H
#define LSL_DISTRO_AUTOMOUNT_H

#include <stdbool.h>

#include "automount_opts.h"
#include "hostshare.h"

struct distro_shares {
    struct lsl_hostshares list;        /* shares=: the VM's; after prepare, those mounted */
    bool enabled;                      /* automount= ([automount] enabled) */
    char root[LSL_HOSTSHARE_PATH_MAX]; /* mountroot=, normalized */
    unsigned uid, gid;                 /* shareowner= */
    const char *options;               /* mountopts= */
    struct automount_opts opts;        /* what prepare made of options */
};

/* The defaults: enabled, no shares, root /mnt, owner 1000:1000. */
void distro_shares_init(struct distro_shares *s);
/* A start key: 1 when key is one of proto/distro.h's share keys (a bad value is a warning line on stdout
 * and the default stays), 0 when it is none of them. */
int distro_shares_key(struct distro_shares *s, const char *key, const char *value);
/* In the system's namespace: mounts each share once for the VM (under a lock), leaves out of the list those
 * that fail, and reads the options; each problem is a warning line on stdout. */
void distro_shares_prepare(struct distro_shares *s);
/* In the distribution's mount namespace before it enters root: binds each share at root/ROOT/NAME and writes
 * the map into root's /run. Returns 0, or 1 with one line in warning about what failed. */
int distro_shares_bind(const struct distro_shares *s, const char *root, char *warning, size_t len);
/* Inside the distribution: lslpath at /run/lsl/lslpath (this binary) and /usr/bin/lslpath linking to it when
 * nothing has that name. Best effort. */
void distro_lslpath_install(void);

/* The distribution's own mkdir -p under root, refusing symlinks on the way (init.c). */
int distro_mount_dir(const char *root, const char *path);

#endif
