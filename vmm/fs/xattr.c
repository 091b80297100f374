/* Extended attributes: GETXATTR, LISTXATTR, SETXATTR, REMOVEXATTR, on the node's inode through its
 * /proc/self/fd magic link (the *xattr calls take a path, and an O_PATH fd has no fgetxattr; the link
 * resolves to the very inode, a symlink's own for a symlink node, never to a name). Values and lists are
 * bounded by XATTR_SIZE_MAX. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/xattr.h>

#include "fs_int.h"

struct xattr_path {
    char p[32];
};

static void node_path(const struct fs_node *n, struct xattr_path *x)
{
    snprintf(x->p, sizeof(x->p), "/proc/self/fd/%d", n->fd);
}

/* An attribute name: NUL-terminated inside the request, 1 to XATTR_NAME_MAX bytes (a '/' is allowed). */
static int xattr_name(struct fs_op *op, size_t off, const char **name)
{
    if (off >= op->arg_len)
        return -EINVAL;
    const char *p = (const char *)op->arg + off;
    const char *nul = memchr(p, '\0', op->arg_len - off);
    if (!nul || nul == p || nul - p > FS_NAME_MAX)
        return -EINVAL;
    *name = p;
    return (int)(nul - p) + 1;
}

/* GETXATTR and LISTXATTR: size 0 asks how large the answer is; otherwise at most size bytes, ERANGE if the
 * answer is larger. */
static int get_or_list(struct fs_op *op, bool list)
{
    const struct fuse_getxattr_in *in = fs_arg(op, sizeof(*in));
    const char *name = NULL;
    if (!in || (!list && xattr_name(op, sizeof(*in), &name) < 0)) {
        FS_COUNT(op->s, malformed);
        return fs_reply_err(op, EINVAL);
    }
    struct fs_node *n = fs_node_get(op->s, op->h.nodeid);
    if (!n)
        return fs_reply_err(op, ESTALE);
    struct xattr_path x;
    node_path(n, &x);
    size_t size = in->size < FS_XATTR_MAX ? in->size : FS_XATTR_MAX;
    void *buf = size ? op->c->reply : NULL;
    ssize_t r = list ? listxattr(x.p, buf, size) : getxattr(x.p, name, buf, size);
    int e = errno;
    fs_node_put(op->s, n);
    if (r < 0)
        return fs_reply_err(op, e);
    if (!size) {
        struct fuse_getxattr_out out = {.size = (uint32_t)r};
        return fs_reply(op, &out, sizeof(out));
    }
    return fs_reply(op, op->c->reply, (size_t)r);
}

int fs_op_getxattr(struct fs_op *op)
{
    return get_or_list(op, false);
}

int fs_op_listxattr(struct fs_op *op)
{
    return get_or_list(op, true);
}

int fs_op_setxattr(struct fs_op *op)
{
    /* We do not offer FUSE_SETXATTR_EXT: the kernel sends the 8-byte struct (size, flags). */
    const struct fuse_setxattr_in *in = fs_arg(op, FUSE_COMPAT_SETXATTR_IN_SIZE);
    const char *name;
    int n;
    if (!in || (n = xattr_name(op, FUSE_COMPAT_SETXATTR_IN_SIZE, &name)) < 0 || in->size > FS_XATTR_MAX ||
        FUSE_COMPAT_SETXATTR_IN_SIZE + (size_t)n + in->size > op->arg_len) {
        FS_COUNT(op->s, malformed);
        return fs_reply_err(op, EINVAL);
    }
    if (in->flags & ~(uint32_t)(XATTR_CREATE | XATTR_REPLACE))
        return fs_reply_err(op, EINVAL);
    if (op->s->share.readonly)
        return fs_reply_err(op, EROFS);
    struct fs_node *node = fs_node_get(op->s, op->h.nodeid);
    if (!node)
        return fs_reply_err(op, ESTALE);
    struct xattr_path x;
    node_path(node, &x);
    const void *value = op->arg + FUSE_COMPAT_SETXATTR_IN_SIZE + n;
    int r = setxattr(x.p, name, value, in->size, (int)in->flags) < 0 ? -errno : 0;
    fs_node_put(op->s, node);
    return r < 0 ? fs_reply_err(op, r) : fs_reply(op, NULL, 0);
}

int fs_op_removexattr(struct fs_op *op)
{
    const char *name;
    if (xattr_name(op, 0, &name) < 0) {
        FS_COUNT(op->s, malformed);
        return fs_reply_err(op, EINVAL);
    }
    if (op->s->share.readonly)
        return fs_reply_err(op, EROFS);
    struct fs_node *n = fs_node_get(op->s, op->h.nodeid);
    if (!n)
        return fs_reply_err(op, ESTALE);
    struct xattr_path x;
    node_path(n, &x);
    int r = removexattr(x.p, name) < 0 ? -errno : 0;
    fs_node_put(op->s, n);
    return r < 0 ? fs_reply_err(op, r) : fs_reply(op, NULL, 0);
}
