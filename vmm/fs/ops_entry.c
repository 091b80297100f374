/* Names: LOOKUP, FORGET, MKNOD, MKDIR, SYMLINK, LINK, UNLINK, RMDIR, RENAME(2), READLINK, CREATE, TMPFILE.
 *
 * Never escaping the root: a name is one component (fs_arg_name refuses '/', NUL and the empty name) opened
 * relative to its directory's O_PATH fd with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS): the host never follows a symlink for the guest (the guest kernel reads the link
 * and resolves it in the guest), so absolute and relative links pointing out, or one swapped in while a
 * request runs, lead nowhere. BENEATH rather than IN_ROOT: a component that would leave its directory is an
 * error, not silently clamped. "." and ".." never reach openat2: "." is the directory itself, ".." of the
 * root is the root, and ".." of any other directory is taken only after checking that the share's root is
 * above it (a directory the host moved out of the share stays out of reach). Crossing into a host procfs is
 * refused: /proc/<pid>/mem of this very process would hand the guest the VMM. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../devices/virtq.h"
#include "fs_int.h"

#define FS_DOTDOT_DEPTH 4096 /* a directory deeper than PATH_MAX allows components is not ours */

int fs_openat2(struct fs_server *s, int dirfd, const char *name, int flags, mode_t mode)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
                   (s->share.xdev ? 0 : RESOLVE_NO_XDEV),
    };
    long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
    return fd < 0 ? -errno : (int)fd;
}

static bool same_inode(const struct stat *a, dev_t dev, ino_t ino)
{
    return a->st_dev == dev && a->st_ino == ino;
}

/* The parent of dir, if the share's root is at or above it; -EACCES when walking up reaches the host's "/"
 * first. */
static int parent_within(struct fs_server *s, struct fs_node *dir)
{
    int parent = openat(dir->fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (parent < 0)
        return -errno;
    int cur = fcntl(parent, F_DUPFD_CLOEXEC, 0);
    for (int depth = 0; cur >= 0 && depth < FS_DOTDOT_DEPTH; depth++) {
        struct stat st, up_st;
        if (fs_fstat(cur, &st) < 0)
            break;
        if (same_inode(&st, s->root_dev, s->root_ino)) {
            close(cur);
            return parent;
        }
        int up = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
        close(cur);
        cur = -1;
        if (up < 0 || fs_fstat(up, &up_st) < 0 || same_inode(&up_st, st.st_dev, st.st_ino)) {
            if (up >= 0)
                close(up);
            break; /* the host's root, reached without meeting the share's */
        }
        cur = up;
    }
    if (cur >= 0)
        close(cur);
    close(parent);
    FS_COUNT(s, escapes);
    return -EACCES;
}

/* Whether the attributes of the node id, found by a name a watch covers, are covered too (watch.c). */
static unsigned entry_attr_cover(struct fs_server *s, uint64_t id, const struct stat *st, unsigned cover)
{
    if (!cover)
        return 0;
    struct fs_node *n = fs_node_get(s, id);
    if (!n)
        return 0;
    __atomic_store_n(&n->covered, true, __ATOMIC_RELAXED);
    bool attrs = fs_watch_covers_attrs(s, n, st);
    fs_node_put(s, n);
    return attrs ? FS_COVER_ATTR : 0;
}

/* Looks up name in dir: the entry, with one more guest reference on its node. */
int fs_lookup_entry(struct fs_server *s, struct fs_node *dir, const char *name, struct fuse_entry_out *e)
{
    if (dir->type != S_IFDIR)
        return -ENOTDIR;
    unsigned cover = !fs_name_is_dot(name) && fs_watch_covers_names(s, dir) ? FS_COVER_NAME : 0;
    int fd;
    if (strcmp(name, ".") == 0 || (strcmp(name, "..") == 0 && dir->slot == 1)) {
        fd = fcntl(dir->fd, F_DUPFD_CLOEXEC, 0); /* the root's parent is the root */
        if (fd < 0)
            return -errno;
    } else if (strcmp(name, "..") == 0) {
        if ((fd = parent_within(s, dir)) < 0)
            return fd;
    } else {
        /* Most LOOKUPs revalidate a name the guest knows: when it still names an inode we hold (on the same
         * file system: a mount point takes the full path below), one stat answers it. No name is opened or
         * followed; the node's own fd is what any later request uses. */
        struct stat st;
        uint64_t id;
        if (fstatat(dir->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_dev == dir->dev &&
            fs_node_ref_inode(s, st.st_dev, st.st_ino, &id)) {
            fs_entry_fill(s, e, id, &st, cover | entry_attr_cover(s, id, &st, cover));
            return 0;
        }
        if ((fd = fs_openat2(s, dir->fd, name, O_PATH | O_NOFOLLOW, 0)) < 0)
            return fd;
    }
    struct stat st;
    int r = fs_fstat(fd, &st);
    if (r < 0) {
        close(fd);
        return r;
    }
    bool crossed = st.st_dev != dir->dev;
    if (crossed) {
        struct statfs sf;
        if (fstatfs(fd, &sf) == 0 && sf.f_type == PROC_SUPER_MAGIC) {
            close(fd);
            FS_COUNT(s, escapes);
            return -EACCES;
        }
    }
    uint64_t id;
    if ((r = fs_node_add(s, fd, &st, NULL, &id)) < 0)
        return r;
    fs_entry_fill(s, e, id, &st, cover | entry_attr_cover(s, id, &st, cover));
    /* A host mount below the root: the guest mounts it apart (its own st_dev), as the host does. */
    if (crossed && s->submounts && S_ISDIR(st.st_mode))
        e->attr.flags |= FUSE_ATTR_SUBMOUNT;
    return 0;
}

static int reply_entry(struct fs_op *op, struct fs_node *dir, const char *name)
{
    struct fuse_entry_out e;
    int r = fs_lookup_entry(op->s, dir, name, &e);
    return r < 0 ? fs_reply_err(op, r) : fs_reply(op, &e, sizeof(e));
}

int fs_op_lookup(struct fs_op *op)
{
    const char *name;
    if (fs_arg_name(op, 0, &name) < 0)
        return fs_reply_err(op, EINVAL);
    struct fs_node *dir = fs_node_get(op->s, op->h.nodeid);
    if (!dir)
        return fs_reply_err(op, ESTALE);
    struct fuse_entry_out e;
    int r = fs_lookup_entry(op->s, dir, name, &e);
    if (r == -ENOENT && op->s->share.timeout_ms) {
        /* A negative entry: the guest remembers the name is not there for as long as it trusts names (the
         * helper revalidates a name the host creates, negative or not). */
        e = (struct fuse_entry_out){0};
        fs_timeout(op->s, fs_watch_covers_names(op->s, dir), &e.entry_valid, &e.entry_valid_nsec);
        fs_node_put(op->s, dir);
        return fs_reply(op, &e, sizeof(e));
    }
    fs_node_put(op->s, dir);
    return r < 0 ? fs_reply_err(op, r) : fs_reply(op, &e, sizeof(e));
}

int fs_op_forget(struct fs_op *op)
{
    const struct fuse_forget_in *in = fs_arg(op, sizeof(*in));
    if (in)
        fs_node_forget(op->s, op->h.nodeid, in->nlookup);
    return 0; /* FORGET has no reply */
}

int fs_op_batch_forget(struct fs_op *op)
{
    const struct fuse_batch_forget_in *in = fs_arg(op, sizeof(*in));
    if (!in)
        return 0;
    /* The list stays in guest memory and is read in slices: at most what the request's length holds. */
    uint64_t max = (op->body_len - sizeof(*in)) / sizeof(struct fuse_forget_one);
    uint64_t count = in->count < max ? in->count : max;
    size_t off = sizeof(struct fuse_in_header) + sizeof(*in);
    struct fuse_forget_one one[64];
    while (count) {
        size_t k = count < 64 ? (size_t)count : 64;
        size_t got = iov_to_buf(op->req->out, op->req->n_out, off, one, k * sizeof(one[0])) / sizeof(one[0]);
        for (size_t i = 0; i < got; i++)
            fs_node_forget(op->s, one[i].nodeid, one[i].nlookup);
        if (got < k)
            break;
        count -= k;
        off += k * sizeof(one[0]);
    }
    return 0;
}

/* The directory a create-like request names, checked; NULL after replying (the caller returns *ret). */
static struct fs_node *write_dir(struct fs_op *op, int *ret)
{
    if (op->s->share.readonly) {
        *ret = fs_reply_err(op, EROFS);
        return NULL;
    }
    struct fs_node *dir = fs_node_get(op->s, op->h.nodeid);
    if (!dir)
        *ret = fs_reply_err(op, ESTALE);
    else if (dir->type != S_IFDIR) {
        fs_node_put(op->s, dir);
        dir = NULL;
        *ret = fs_reply_err(op, ENOTDIR);
    }
    return dir;
}

/* Modes the guest asks for, as the host gets them: no setuid/setgid on files, which would be programs
 * running as the host user for every other local user (setgid stays on directories: group inheritance). */
mode_t fs_safe_mode(mode_t mode)
{
    mode &= S_IFMT | 07777;
    if (!S_ISDIR(mode))
        mode &= ~(mode_t)(S_ISUID | S_ISGID);
    return mode & ~(mode_t)S_ISUID;
}

static int new_name(struct fs_op *op, size_t off, const char **name, int *ret)
{
    int n = fs_arg_name(op, off, name);
    if (n < 0) {
        FS_COUNT(op->s, malformed);
        *ret = fs_reply_err(op, EINVAL);
    } else if (fs_name_is_dot(*name)) {
        *ret = fs_reply_err(op, EEXIST);
        n = -1;
    }
    return n;
}

/* What MKNOD, MKDIR and LINK start with: their fixed argument (size bytes), the new name behind it, and the
 * directory to make it in, held. NULL with *ret the reply when any of them is wrong. */
static struct fs_node *make_start(struct fs_op *op, size_t size, const void **in, const char **name, int *ret)
{
    *in = fs_arg(op, size);
    if (!*in) {
        *ret = fs_reply_err(op, EINVAL);
        return NULL;
    }
    if (new_name(op, size, name, ret) < 0)
        return NULL;
    return write_dir(op, ret);
}

int fs_op_mknod(struct fs_op *op)
{
    const struct fuse_mknod_in *in;
    const char *name;
    int ret;
    struct fs_node *dir = make_start(op, sizeof(*in), (const void **)&in, &name, &ret);
    if (!dir)
        return ret;
    mode_t mode = fs_safe_mode(in->mode);
    int r = 0;
    switch (mode & S_IFMT) {
    case S_IFREG:
    case 0: {
        int fd = fs_openat2(op->s, dir->fd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW, mode & 07777);
        if (fd >= 0)
            close(fd);
        r = fd < 0 ? fd : 0;
        break;
    }
    case S_IFIFO:
    case S_IFSOCK:
        r = mknodat(dir->fd, name, mode, 0) < 0 ? -errno : 0;
        break;
    case S_IFCHR:
    case S_IFBLK:
        r = -EPERM; /* a device node in a host directory is a door to the host's hardware: never */
        break;
    default:
        r = -EINVAL;
    }
    ret = r < 0 ? fs_reply_err(op, r) : reply_entry(op, dir, name);
    fs_node_put(op->s, dir);
    return ret;
}

int fs_op_mkdir(struct fs_op *op)
{
    const struct fuse_mkdir_in *in;
    const char *name;
    int ret;
    struct fs_node *dir = make_start(op, sizeof(*in), (const void **)&in, &name, &ret);
    if (!dir)
        return ret;
    if (mkdirat(dir->fd, name, fs_safe_mode(S_IFDIR | (in->mode & 07777)) & 07777) < 0)
        ret = fs_reply_err(op, errno);
    else
        ret = reply_entry(op, dir, name);
    fs_node_put(op->s, dir);
    return ret;
}

int fs_op_symlink(struct fs_op *op)
{
    const char *name;
    int ret, n = new_name(op, 0, &name, &ret);
    if (n < 0)
        return ret;
    /* The target: any text up to PATH_MAX, never followed here (the guest resolves it in the guest). */
    const char *target = (const char *)op->arg + n;
    size_t room = op->arg_len - (size_t)n;
    const char *nul = (size_t)n < op->arg_len ? memchr(target, '\0', room) : NULL;
    if (!nul || nul == target || nul - target >= PATH_MAX) {
        FS_COUNT(op->s, malformed);
        return fs_reply_err(op, nul && nul - target >= PATH_MAX ? ENAMETOOLONG : EINVAL);
    }
    struct fs_node *dir = write_dir(op, &ret);
    if (!dir)
        return ret;
    if (symlinkat(target, dir->fd, name) < 0)
        ret = fs_reply_err(op, errno);
    else
        ret = reply_entry(op, dir, name);
    fs_node_put(op->s, dir);
    return ret;
}

int fs_op_link(struct fs_op *op)
{
    const struct fuse_link_in *in;
    const char *name;
    int ret;
    struct fs_node *dir = make_start(op, sizeof(*in), (const void **)&in, &name, &ret);
    if (!dir)
        return ret;
    struct fs_node *old = fs_node_get(op->s, in->oldnodeid);
    struct stat st;
    char proc[16];
    if (!old) {
        ret = fs_reply_err(op, ESTALE);
    } else if (old->type == S_IFDIR) {
        ret = fs_reply_err(op, EPERM);
    } else {
        /* Through the magic link: the inode we hold, not whatever its old name points at now (linkat's
         * AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH). */
        snprintf(proc, sizeof(proc), "%d", old->fd);
        int r = linkat(op->s->proc_fd, proc, dir->fd, name, AT_SYMLINK_FOLLOW) < 0 ? -errno : 0;
        if (r == 0)
            r = fs_fstat(old->fd, &st);
        if (r < 0) {
            ret = fs_reply_err(op, r);
        } else {
            struct fuse_entry_out e;
            fs_node_ref(op->s, old);
            /* Two links now: the attributes may change through the other one unseen (watch.c). */
            fs_entry_fill(op->s, &e, fs_node_id(op->s, old), &st,
                          fs_watch_covers_names(op->s, dir) ? FS_COVER_NAME : 0);
            ret = fs_reply(op, &e, sizeof(e));
        }
    }
    fs_node_put(op->s, old);
    fs_node_put(op->s, dir);
    return ret;
}

int fs_op_unlink(struct fs_op *op)
{
    const char *name;
    if (fs_arg_name(op, 0, &name) < 0) {
        FS_COUNT(op->s, malformed);
        return fs_reply_err(op, EINVAL);
    }
    if (fs_name_is_dot(name))
        return fs_reply_err(op, op->h.opcode == FUSE_RMDIR && name[1] ? ENOTEMPTY : EINVAL);
    int ret;
    struct fs_node *dir = write_dir(op, &ret);
    if (!dir)
        return ret;
    int flags = op->h.opcode == FUSE_RMDIR ? AT_REMOVEDIR : 0;
    ret = unlinkat(dir->fd, name, flags) < 0 ? fs_reply_err(op, errno) : fs_reply(op, NULL, 0);
    fs_node_put(op->s, dir);
    return ret;
}

int fs_op_rename(struct fs_op *op)
{
    uint64_t newdir;
    uint32_t flags = 0;
    size_t hdr;
    if (op->h.opcode == FUSE_RENAME2) {
        const struct fuse_rename2_in *in = fs_arg(op, sizeof(*in));
        if (!in)
            return fs_reply_err(op, EINVAL);
        newdir = in->newdir;
        flags = in->flags;
        hdr = sizeof(*in);
    } else {
        const struct fuse_rename_in *in = fs_arg(op, sizeof(*in));
        if (!in)
            return fs_reply_err(op, EINVAL);
        newdir = in->newdir;
        hdr = sizeof(*in);
    }
    const char *oldname, *newname;
    int n = fs_arg_name(op, hdr, &oldname);
    if (n < 0 || fs_arg_name(op, hdr + (size_t)n, &newname) < 0) {
        FS_COUNT(op->s, malformed);
        return fs_reply_err(op, EINVAL);
    }
    /* RENAME_WHITEOUT makes a device node (overlayfs's), which a share never holds. */
    if ((flags & ~(uint32_t)(RENAME_NOREPLACE | RENAME_EXCHANGE)) ||
        (flags & RENAME_NOREPLACE && flags & RENAME_EXCHANGE))
        return fs_reply_err(op, EINVAL);
    if (fs_name_is_dot(oldname) || fs_name_is_dot(newname))
        return fs_reply_err(op, EBUSY);
    int ret;
    struct fs_node *olddir = write_dir(op, &ret);
    if (!olddir)
        return ret;
    struct fs_node *nd = fs_node_get(op->s, newdir);
    if (!nd)
        ret = fs_reply_err(op, ESTALE);
    else if (nd->type != S_IFDIR)
        ret = fs_reply_err(op, ENOTDIR);
    else if (renameat2(olddir->fd, oldname, nd->fd, newname, flags) < 0)
        ret = fs_reply_err(op, errno);
    else
        ret = fs_reply(op, NULL, 0);
    fs_node_put(op->s, nd);
    fs_node_put(op->s, olddir);
    return ret;
}

int fs_op_readlink(struct fs_op *op)
{
    struct fs_node *n = fs_node_get(op->s, op->h.nodeid);
    if (!n)
        return fs_reply_err(op, ESTALE);
    int ret;
    if (n->type != S_IFLNK) {
        ret = fs_reply_err(op, EINVAL);
    } else {
        ssize_t len = readlinkat(n->fd, "", (char *)op->c->reply, PATH_MAX);
        ret = len < 0 ? fs_reply_err(op, errno) : fs_reply(op, op->c->reply, (size_t)len);
    }
    fs_node_put(op->s, n);
    return ret;
}

/* CREATE and TMPFILE: fd is the open file; its node comes from the inode itself (through /proc, not by its
 * name, which may already name something else), then a handle. */
static int reply_created(struct fs_op *op, int fd, int flags, unsigned cover)
{
    struct fs_server *s = op->s;
    struct stat st;
    int r = fs_fstat(fd, &st);
    if (r == 0 && !S_ISREG(st.st_mode))
        r = -EEXIST; /* the name was taken by something that is not a file: a FIFO, a device */
    /* O_NONBLOCK off again; an open-less file's descriptor serves every open's WRITEs (their flags come
     * with each), so it is plain. */
    if (r == 0 && fcntl(fd, F_SETFL, s->no_open ? 0 : flags & O_APPEND) < 0)
        r = -errno;
    char proc[16];
    snprintf(proc, sizeof(proc), "%d", fd);
    int pfd = r < 0 ? -1 : openat(s->proc_fd, proc, O_PATH | O_CLOEXEC);
    if (r == 0 && pfd < 0)
        r = -errno;
    if (r < 0) {
        close(fd);
        return fs_reply_err(op, r);
    }
    struct fs_node *n;
    uint64_t id, fh;
    if ((r = fs_node_add(s, pfd, &st, &n, &id)) < 0) {
        close(fd);
        return fs_reply_err(op, r);
    }
    /* An open-less file: no handle (Linux sends no RELEASE for it); the node keeps the descriptor for the
     * WRITEs that follow, until the FLUSH of this open. */
    fh = 0;
    if (!s->no_open)
        r = fs_handle_add(s, fd, flags, false, n, &fh);
    else if (!fs_node_keep_write(s, n, fd, flags))
        close(fd);
    if (r < 0) {
        fs_node_put(s, n);
        fs_node_forget(s, id, 1);
        return fs_reply_err(op, r);
    }
    fs_node_put(s, n);
    struct fuse_entry_out e;
    fs_entry_fill(s, &e, id, &st, cover | entry_attr_cover(s, id, &st, cover));
    struct fuse_open_out o = {.fh = fh, .open_flags = s->share.keep_cache ? FOPEN_KEEP_CACHE : 0};
    return fs_reply2(op, &e, sizeof(e), &o, sizeof(o));
}

int fs_op_create(struct fs_op *op)
{
    const struct fuse_create_in *in = fs_arg(op, sizeof(*in));
    const char *name;
    int ret;
    if (!in)
        return fs_reply_err(op, EINVAL);
    if (new_name(op, sizeof(*in), &name, &ret) < 0)
        return ret;
    int flags = fs_open_flags(op->s, in->flags);
    if (flags < 0)
        return fs_reply_err(op, flags);
    struct fs_node *dir = write_dir(op, &ret);
    if (!dir)
        return ret;
    unsigned cover = fs_watch_covers_names(op->s, dir) ? FS_COVER_NAME : 0;
    /* O_NONBLOCK until we know it is a regular file: opening a FIFO someone put there must not block. */
    int oflags = flags | O_CREAT | O_NOFOLLOW | O_NONBLOCK | (in->flags & O_EXCL);
    int fd = fs_openat2(op->s, dir->fd, name, oflags, fs_safe_mode(in->mode) & 07777);
    fs_node_put(op->s, dir);
    return fd < 0 ? fs_reply_err(op, fd) : reply_created(op, fd, flags, cover);
}

int fs_op_tmpfile(struct fs_op *op)
{
    const struct fuse_create_in *in = fs_arg(op, sizeof(*in));
    int ret;
    if (!in)
        return fs_reply_err(op, EINVAL);
    int flags = fs_open_flags(op->s, in->flags);
    if (flags < 0)
        return fs_reply_err(op, flags);
    if ((flags & O_ACCMODE) == O_RDONLY)
        return fs_reply_err(op, EINVAL);
    struct fs_node *dir = write_dir(op, &ret);
    if (!dir)
        return ret;
    int fd = openat(dir->fd, ".", (flags & ~O_TRUNC) | O_TMPFILE | O_CLOEXEC, fs_safe_mode(in->mode) & 07777);
    fs_node_put(op->s, dir);
    return fd < 0 ? fs_reply_err(op, errno) : reply_created(op, fd, flags, 0); /* no name to cover */
}
