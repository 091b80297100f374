/* Attributes: GETATTR, SETATTR (with the notification touch, fs_notify.h), STATFS, ACCESS. Changes go to the
 * inode the node holds: through /proc/self/fd for chmod, truncate and times (the magic link is the inode,
 * never a name), or the O_PATH fd itself with AT_EMPTY_PATH (chown, a symlink's times). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "fs_int.h"

static int reply_attr(struct fs_op *op, struct fs_node *n, const struct stat *st)
{
    struct fuse_attr_out out = {0};
    fs_timeout(op->s, fs_watch_covers_attrs(op->s, n, st), &out.attr_valid, &out.attr_valid_nsec);
    fs_attr_fill(op->s, &out.attr, st);
    return fs_reply(op, &out, sizeof(out));
}

int fs_op_getattr(struct fs_op *op)
{
    const struct fuse_getattr_in *in = fs_arg(op, sizeof(*in));
    struct fs_node *n = fs_node_get(op->s, op->h.nodeid);
    if (!n)
        return fs_reply_err(op, ESTALE);
    struct stat st;
    int r;
    struct fs_handle *h = in && (in->getattr_flags & FUSE_GETATTR_FH) ? fs_handle_get(op->s, in->fh) : NULL;
    /* fstat on the open file when the guest has one (fstat(2) in the guest): same inode, one less lookup. */
    if (h && h->node == n)
        r = fs_fstat(h->fd, &st);
    else
        r = fs_fstat(n->fd, &st);
    fs_handle_put(op->s, h);
    r = r < 0 ? fs_reply_err(op, r) : reply_attr(op, n, &st);
    fs_node_put(op->s, n);
    return r;
}

/* The notification touch: times the helper sets to make the guest's VFS tell its watchers; nothing happens
 * on the host. */
static bool is_touch(const struct fuse_setattr_in *in)
{
    uint32_t other =
        in->valid & ~(uint32_t)(FATTR_ATIME | FATTR_MTIME | FATTR_CTIME | FATTR_FH | FATTR_LOCKOWNER);
    if (other || !(in->valid & FATTR_MTIME) || in->mtime != 0 || in->mtimensec != LSL_FS_TOUCH_NSEC)
        return false;
    return !(in->valid & FATTR_ATIME) || (in->atime == 0 && in->atimensec == LSL_FS_TOUCH_NSEC);
}

static int set_times(struct fs_server *s, struct fs_node *n, const struct fuse_setattr_in *in)
{
    struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_nsec = UTIME_OMIT}};
    if (in->valid & FATTR_ATIME_NOW)
        ts[0].tv_nsec = UTIME_NOW;
    else if (in->valid & FATTR_ATIME)
        ts[0] = (struct timespec){.tv_sec = (time_t)in->atime, .tv_nsec = in->atimensec};
    if (in->valid & FATTR_MTIME_NOW)
        ts[1].tv_nsec = UTIME_NOW;
    else if (in->valid & FATTR_MTIME)
        ts[1] = (struct timespec){.tv_sec = (time_t)in->mtime, .tv_nsec = in->mtimensec};
    for (int i = 0; i < 2; i++)
        if (ts[i].tv_nsec != UTIME_NOW && ts[i].tv_nsec != UTIME_OMIT &&
            (ts[i].tv_nsec < 0 || ts[i].tv_nsec >= 1000000000))
            return -EINVAL;
    if (n->type == S_IFLNK)
        return utimensat(n->fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
    char proc[16];
    snprintf(proc, sizeof(proc), "%d", n->fd);
    return utimensat(s->proc_fd, proc, ts, 0) < 0 ? -errno : 0;
}

static int set_size(struct fs_server *s, struct fs_node *n, struct fs_handle *h, uint64_t size)
{
    if (n->type == S_IFDIR)
        return -EISDIR;
    if (n->type != S_IFREG)
        return -EINVAL;
    if (size > INT64_MAX)
        return -EFBIG;
    if (h && h->node == n && (h->flags & O_ACCMODE) != O_RDONLY)
        return ftruncate(h->fd, (off_t)size) < 0 ? -errno : 0;
    int fd = fs_node_reopen(s, n, O_WRONLY | O_NONBLOCK);
    if (fd < 0)
        return fd;
    int r = ftruncate(fd, (off_t)size) < 0 ? -errno : 0;
    close(fd);
    return r;
}

int fs_op_setattr(struct fs_op *op)
{
    struct fs_server *s = op->s;
    const struct fuse_setattr_in *in = fs_arg(op, sizeof(*in));
    if (!in)
        return fs_reply_err(op, EINVAL);
    struct fs_node *n = fs_node_get(s, op->h.nodeid);
    if (!n)
        return fs_reply_err(op, ESTALE);
    struct stat st;
    int r = 0;
    struct fs_handle *h = NULL;
    if (is_touch(in))
        goto done;
    if (s->share.readonly) {
        r = -EROFS;
        goto done;
    }
    if (in->valid & FATTR_FH)
        h = fs_handle_get(s, in->fh);
    if (in->valid & FATTR_MODE) {
        char proc[16];
        snprintf(proc, sizeof(proc), "%d", n->fd);
        mode_t mode = fs_safe_mode(n->type | (in->mode & 07777)) & 07777;
        r = n->type == S_IFLNK ? -EOPNOTSUPP : fchmodat(s->proc_fd, proc, mode, 0) < 0 ? -errno : 0;
    }
    if (r == 0 && (in->valid & (FATTR_UID | FATTR_GID))) {
        uid_t uid = in->valid & FATTR_UID ? fs_uid_to_host(s, in->uid) : (uid_t)-1;
        gid_t gid = in->valid & FATTR_GID ? fs_gid_to_host(s, in->gid) : (gid_t)-1;
        r = fchownat(n->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
    }
    if (r == 0 && (in->valid & FATTR_SIZE))
        r = set_size(s, n, h, in->size);
    if (r == 0 && (in->valid & (FATTR_ATIME | FATTR_MTIME | FATTR_ATIME_NOW | FATTR_MTIME_NOW)))
        r = set_times(s, n, in);
done:
    if (r == 0)
        r = fs_fstat(h && h->node == n ? h->fd : n->fd, &st);
    fs_handle_put(s, h);
    r = r < 0 ? fs_reply_err(op, r) : reply_attr(op, n, &st);
    fs_node_put(s, n);
    return r;
}

int fs_op_statfs(struct fs_op *op)
{
    struct fs_node *n = fs_node_get(op->s, op->h.nodeid);
    if (!n)
        return fs_reply_err(op, ESTALE);
    struct statfs sf;
    int r = fstatfs(n->fd, &sf) < 0 ? -errno : 0;
    fs_node_put(op->s, n);
    if (r < 0)
        return fs_reply_err(op, r);
    struct fuse_statfs_out out = {.st = {
                                      .blocks = sf.f_blocks,
                                      .bfree = sf.f_bfree,
                                      .bavail = sf.f_bavail,
                                      .files = sf.f_files,
                                      .ffree = sf.f_ffree,
                                      .bsize = (uint32_t)sf.f_bsize,
                                      .namelen = (uint32_t)sf.f_namelen,
                                      .frsize = (uint32_t)sf.f_frsize,
                                  }};
    return fs_reply(op, &out, sizeof(out));
}

/* The guest kernel checks permissions itself (virtio-fs mounts with default_permissions), so this comes only
 * from other drivers: answered for the host user, the one whose rights the share has. */
int fs_op_access(struct fs_op *op)
{
    const struct fuse_access_in *in = fs_arg(op, sizeof(*in));
    if (!in)
        return fs_reply_err(op, EINVAL);
    struct fs_node *n = fs_node_get(op->s, op->h.nodeid);
    if (!n)
        return fs_reply_err(op, ESTALE);
    int mask = (int)(in->mask & (R_OK | W_OK | X_OK));
    int r = 0;
    if ((mask & W_OK) && op->s->share.readonly)
        r = -EROFS;
    else if (mask && n->type != S_IFLNK) {
        char proc[16];
        snprintf(proc, sizeof(proc), "%d", n->fd);
        r = faccessat(op->s->proc_fd, proc, mask, AT_EACCESS) < 0 ? -errno : 0;
    }
    fs_node_put(op->s, n);
    return r < 0 ? fs_reply_err(op, r) : fs_reply(op, NULL, 0);
}
