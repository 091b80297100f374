/* See automount.h. The system's mount is nosuid and nodev whatever the options say: the host's setuid
 * programs (its sudo, owned by root) and device nodes (the share of "/" holds /dev) must not become the
 * guest's, where they would run as the guest's root or open the guest's own devices. */
#include "automount.h"

#include "distro.h"
#include "fileio.h"
#include "mount_api.h"
#include "share_watch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SYSTEM_SHARES  "/run/lsl/shares"
#define LSLPATH_IN_RUN "/run/lsl/lslpath"
#define LSLPATH_LINK   "/usr/bin/lslpath"

static void warn(const char *text)
{
    char line[LSL_DISTRO_OUT_TEXT_MAX + 32];

    if (lsl_distro_out_format(line, sizeof(line), LSL_DISTRO_OUT_WARNING, text) > 0)
        fputs(line, stdout);
}

void distro_shares_init(struct distro_shares *s)
{
    *s = (struct distro_shares){.enabled = true, .uid = 1000, .gid = 1000};
    snprintf(s->root, sizeof(s->root), "/mnt");
}

int distro_shares_key(struct distro_shares *s, const char *key, const char *value)
{
    char why[200], msg[LSL_DISTRO_OUT_TEXT_MAX];

    if (strcmp(key, LSL_DISTRO_KEY_SHARES) == 0) {
        if (lsl_hostshares_parse(value, &s->list, why, sizeof(why)) < 0) {
            s->list.n = 0;
            snprintf(msg, sizeof(msg), "no host shares: %s", why);
            warn(msg);
        }
    } else if (strcmp(key, LSL_DISTRO_KEY_AUTOMOUNT) == 0) {
        s->enabled = strcmp(value, "1") == 0;
    } else if (strcmp(key, LSL_DISTRO_KEY_MOUNTROOT) == 0) {
        if (lsl_path_normalize(value, s->root, sizeof(s->root)) < 0) {
            snprintf(s->root, sizeof(s->root), "/mnt");
            snprintf(msg, sizeof(msg), "invalid [automount] root '%.64s'; using " LSL_HOSTSHARE_ROOT_DFLT,
                     value);
            warn(msg);
        }
    } else if (strcmp(key, LSL_DISTRO_KEY_MOUNTOPTS) == 0) {
        s->options = value;
    } else if (strcmp(key, LSL_DISTRO_KEY_SHAREOWNER) == 0) {
        unsigned uid, gid;
        char end;

        if (sscanf(value, "%u:%u%c", &uid, &gid, &end) == 2) {
            s->uid = uid;
            s->gid = gid;
        }
    } else {
        return 0;
    }
    return 1;
}

/* The share's readahead: FUSE starts at the block layer's 128 KiB (and INIT can only lower it), which makes a
 * sequential read 128 KiB requests; 4 MiB keeps four of the server's largest (1 MiB, FS_MAX_PAGES) in
 * flight: measured 93 -> 381 MB/s reading 256 MiB under emulation. The bdi is named after the superblock's
 * device ("0:N"); the host's mounts below the share (submounts) share it. */
#define SHARE_READAHEAD_KB "4096"
static void share_readahead(const char *dir)
{
    char path[96];
    struct stat st;
    int fd;

    if (stat(dir, &st) < 0)
        return;
    snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb", major(st.st_dev), minor(st.st_dev));
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    (void)!write(fd, SHARE_READAHEAD_KB, strlen(SHARE_READAHEAD_KB));
    close(fd);
}

void distro_shares_prepare(struct distro_shares *s)
{
    char dir[128], msg[LSL_DISTRO_OUT_TEXT_MAX];
    size_t kept = 0;
    int lock;

    if (!s->enabled || s->list.n == 0)
        return;
    if (automount_opts_parse(s->options, s->uid, s->gid, &s->opts, msg, sizeof(msg)))
        warn(msg);
    (void)lsl_mkdir_p(SYSTEM_SHARES, 0755);
    /* Starts of several distributions may run at once: one mount per share for the VM. */
    lock = open(SYSTEM_SHARES ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock >= 0)
        (void)flock(lock, LOCK_EX);
    for (size_t i = 0; i < s->list.n; i++) {
        const struct lsl_hostshare *h = &s->list.s[i];
        int r;

        snprintf(dir, sizeof(dir), SYSTEM_SHARES "/%s", h->name);
        r = lsl_mkdir_p(dir, 0755);
        if (r == 0 && lsl_is_mountpoint(dir) <= 0) {
            /* dax=inode: the device says per file whether it is read through its DAX window (vmm/fs/dax.c);
             * a kernel without FUSE_DAX refuses the option, and mounts without it. */
            r = mount(h->name, dir, "virtiofs", MS_NOSUID | MS_NODEV, "dax=inode") < 0 ? -errno : 0;
            if (r == -EINVAL)
                r = mount(h->name, dir, "virtiofs", MS_NOSUID | MS_NODEV, NULL) < 0 ? -errno : 0;
            if (r == 0) {
                share_readahead(dir);
                share_watch_spawn(dir); /* host changes wake the guest's file watchers */
            }
        }
        if (r < 0) {
            /* ENOENT: the VM has no such tag (hostShares changed since it started). */
            snprintf(msg, sizeof(msg), "host share %s (%.80s) not mounted: %s%s", h->name, h->host,
                     strerror(-r), r == -ENOENT ? " (lsl --shutdown applies a changed hostShares)" : "");
            warn(msg);
            continue;
        }
        s->list.s[kept++] = *h;
    }
    s->list.n = kept;
    if (lock >= 0)
        close(lock);
}

int distro_shares_bind(const struct distro_shares *s, const char *root, char *warning, size_t len)
{
    char src[128], path[LSL_HOSTSHARE_PATH_MAX + LSL_HOSTSHARE_NAME_MAX + 2], target[4096 + 64];
    char map[LSL_HOSTSHARES_MAX * (LSL_HOSTSHARE_NAME_MAX + LSL_HOSTSHARE_PATH_MAX + 2) + 64];
    struct lsl_hostshares bound = {0};
    struct mount_attr_arg attr = {.attr_set = s->opts.attr_set, .attr_clr = s->opts.attr_clr};
    int failed = 0;

    if (!s->enabled || s->list.n == 0)
        return 0;
    warning[0] = '\0';
    for (size_t i = 0; i < s->list.n; i++) {
        const char *name = s->list.s[i].name;
        int r;

        snprintf(src, sizeof(src), SYSTEM_SHARES "/%s", name);
        snprintf(path, sizeof(path), "%s/%s", strcmp(s->root, "/") == 0 ? "" : s->root, name);
        snprintf(target, sizeof(target), "%s%s", root, path);
        r = distro_mount_dir(root, path);
        if (r == 0)
            r = mount(src, target, NULL, MS_BIND | MS_REC, NULL) < 0 ? -errno : 0;
        if (r == 0 && (attr.attr_set || attr.attr_clr) &&
            syscall(SYS_mount_setattr, AT_FDCWD, target, LSL_AT_RECURSIVE, &attr, sizeof(attr)) < 0) {
            r = -errno;
            (void)umount2(target, MNT_DETACH); /* not without the options asked for (ro, say) */
        }
        if (r < 0) {
            if (!failed++)
                snprintf(warning, len, "host share %s not mounted at %s: %s", name, path, strerror(-r));
            continue;
        }
        bound.s[bound.n++] = s->list.s[i];
    }
    snprintf(target, sizeof(target), "%s/run/lsl", root);
    if (bound.n && lsl_mkdir_p(target, 0755) == 0 &&
        lsl_hostshare_map_format(s->root, &bound, map, sizeof(map)) > 0) {
        snprintf(target, sizeof(target), "%s" LSL_HOSTSHARE_MAP, root);
        (void)lsl_write_file(target, map);
    }
    return failed ? 1 : 0;
}

void distro_lslpath_install(void)
{
    struct stat st;
    int in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC), out = -1;
    off_t off = 0;

    /* The binary's own copy: the system root it lives on is not in the distribution. */
    if (in >= 0 && fstat(in, &st) == 0 && lsl_mkdir_p("/run/lsl", 0755) == 0)
        out = open(LSLPATH_IN_RUN, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0755);
    while (out >= 0 && off < st.st_size && sendfile(out, in, &off, (size_t)(st.st_size - off)) > 0)
        ;
    if (out >= 0)
        close(out);
    if (in >= 0)
        close(in);
    /* As WSL links /usr/bin/wslpath: once, and never over a file of the distribution's own. */
    if (lstat(LSLPATH_LINK, &st) < 0 && errno == ENOENT)
        (void)symlink(LSLPATH_IN_RUN, LSLPATH_LINK);
}
