/* Open files: OPEN, READ, WRITE, RELEASE(DIR), FLUSH, FSYNC(DIR), FALLOCATE, LSEEK, COPY_FILE_RANGE, SYNCFS.
 *
 * READ and WRITE move data straight between the guest's buffers and the host file: preadv/pwritev on the
 * iovecs the virtqueue resolved (guest RAM mapped in this process), no bounce buffer. A request carries at
 * most FS_MAX_RW bytes in at most FS_IOV_MAX segments; the guest's own page cache batches small writes
 * unless it writes through (no writeback cache: see fuse_ops.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../devices/virtq.h"
#include "fs_int.h"

int fs_open_flags(const struct fs_server *s, uint32_t guest)
{
    int acc = (int)guest & O_ACCMODE;
    if (acc == O_ACCMODE)
        return -EINVAL;
    /* What the host should do for the guest; O_DIRECT (the guest's buffers need not be aligned for the host's
     * file system), O_NOATIME (fails on files the host user does not own), O_CREAT/O_EXCL (CREATE's own) and
     * O_NONBLOCK/O_ASYNC go. */
    int keep = (int)guest & (O_APPEND | O_TRUNC | O_SYNC | O_DSYNC);
    if (s->share.readonly && (acc != O_RDONLY || (keep & O_TRUNC)))
        return -EROFS;
    if (s->writeback) {
        /* The guest's page cache reads around partial writes, and sends appends at the offsets it knows. */
        if (acc == O_WRONLY)
            acc = O_RDWR;
        keep &= ~O_APPEND;
    }
    return acc | keep | O_LARGEFILE | O_NOCTTY;
}

int fs_op_open(struct fs_op *op)
{
    const struct fuse_open_in *in = fs_arg(op, sizeof(*in));
    if (!in)
        return fs_reply_err(op, EINVAL);
    struct fs_node *n = fs_node_get(op->s, op->h.nodeid);
    if (!n)
        return fs_reply_err(op, ESTALE);
    int flags = fs_open_flags(op->s, in->flags), fd = flags;
    if (flags >= 0)
        fd = n->type == S_IFREG ? fs_node_reopen(op->s, n, flags) : n->type == S_IFDIR ? -EISDIR : -EACCES;
    if (fd == -EACCES && n->type == S_IFREG && op->s->writeback && (in->flags & O_ACCMODE) == O_WRONLY) {
        flags = (flags & ~O_ACCMODE) | O_WRONLY; /* a write-only file: no read-around, the guest copes */
        fd = fs_node_reopen(op->s, n, flags);
    }
    int ret;
    uint64_t fh;
    if (fd < 0)
        ret = fs_reply_err(op, fd);
    else if ((fd = fs_handle_add(op->s, fd, flags, false, n, &fh)) < 0)
        ret = fs_reply_err(op, fd);
    else {
        struct fuse_open_out out = {.fh = fh, .open_flags = op->s->share.keep_cache ? FOPEN_KEEP_CACHE : 0};
        ret = fs_reply(op, &out, sizeof(out));
    }
    fs_node_put(op->s, n);
    return ret;
}

/* The file handle a request names, of the kind wanted; NULL after replying EBADF. */
static struct fs_handle *get_file(struct fs_op *op, uint64_t fh, bool dir, int *ret)
{
    struct fs_handle *h = fs_handle_get(op->s, fh);
    if (h && h->dir == dir)
        return h;
    fs_handle_put(op->s, h);
    *ret = fs_reply_err(op, EBADF);
    return NULL;
}

/* Skips n bytes of an iovec array (in place). */
static void iov_skip(struct iovec **iov, int *cnt, size_t n)
{
    while (*cnt > 0 && n >= (*iov)->iov_len) {
        n -= (*iov)->iov_len;
        (*iov)++;
        (*cnt)--;
    }
    if (*cnt > 0 && n) {
        (*iov)->iov_base = (uint8_t *)(*iov)->iov_base + n;
        (*iov)->iov_len -= n;
    }
}

/* preadv/pwritev until len bytes, end of file, or an error after some bytes (which then count). */
static ssize_t rw_all(int fd, bool write, struct iovec *iov, int cnt, uint64_t off, size_t len)
{
    size_t done = 0;
    while (done < len && cnt > 0) {
        ssize_t r =
            write ? pwritev(fd, iov, cnt, (off_t)(off + done)) : preadv(fd, iov, cnt, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return done ? (ssize_t)done : -errno;
        if (r == 0)
            break;
        done += (size_t)r;
        iov_skip(&iov, &cnt, (size_t)r);
    }
    return (ssize_t)done;
}

int fs_op_read(struct fs_op *op)
{
    const struct fuse_read_in *in = fs_arg(op, sizeof(*in));
    int ret;
    if (!in || in->offset > INT64_MAX)
        return fs_reply_err(op, EINVAL);
    struct fs_handle *h = get_file(op, in->fh, false, &ret);
    if (!h)
        return ret;
    /* What the guest asked for, within the protocol's bound and the room it gave for the answer. */
    size_t size = in->size < FS_MAX_RW ? in->size : FS_MAX_RW;
    size_t room =
        op->in_len > sizeof(struct fuse_out_header) ? op->in_len - sizeof(struct fuse_out_header) : 0;
    if (size > room)
        size = room;
    if (size > INT64_MAX - in->offset)
        size = (size_t)(INT64_MAX - in->offset);
    int k = size ? iov_slice(op->req->in, op->req->n_in, sizeof(struct fuse_out_header), size, op->c->iov,
                             FS_IOV_MAX)
                 : 0;
    ssize_t n = k < 0 ? -EINVAL : rw_all(h->fd, false, op->c->iov, k, in->offset, size);
    fs_handle_put(op->s, h);
    if (n < 0) {
        if (k < 0)
            FS_COUNT(op->s, malformed);
        return fs_reply_err(op, (int)n);
    }
    if (op->in_len < sizeof(struct fuse_out_header))
        return fs_reply_err(op, EINVAL); /* no room even for the header: counted there */
    return fs_reply_data(op, (size_t)n);
}

int fs_op_write(struct fs_op *op)
{
    const struct fuse_write_in *in = fs_arg(op, sizeof(*in));
    int ret;
    if (!in || in->offset > INT64_MAX)
        return fs_reply_err(op, EINVAL);
    /* The data follows the struct inside the request; its length is checked against what the guest sent. */
    if (in->size > FS_MAX_RW || sizeof(*in) + (uint64_t)in->size > op->body_len ||
        in->size > INT64_MAX - in->offset) {
        FS_COUNT(op->s, malformed);
        return fs_reply_err(op, EINVAL);
    }
    if (op->s->share.readonly)
        return fs_reply_err(op, EROFS);
    struct fs_handle *h = get_file(op, in->fh, false, &ret);
    if (!h)
        return ret;
    int k = in->size ? iov_slice(op->req->out, op->req->n_out, sizeof(struct fuse_in_header) + sizeof(*in),
                                 in->size, op->c->iov, FS_IOV_MAX)
                     : 0;
    ssize_t n = k < 0 ? -EINVAL : rw_all(h->fd, true, op->c->iov, k, in->offset, in->size);
    if (n > 0)
        fs_window_file_grew(op->s, h->fd); /* the guest reads what it wrote through its DAX mapping next */
    fs_handle_put(op->s, h);
    if (n < 0)
        return fs_reply_err(op, (int)n);
    struct fuse_write_out out = {.size = (uint32_t)n};
    return fs_reply(op, &out, sizeof(out));
}

int fs_op_release(struct fs_op *op)
{
    const struct fuse_release_in *in = fs_arg(op, sizeof(*in));
    if (!in)
        return fs_reply_err(op, EINVAL);
    bool dir = op->h.opcode == FUSE_RELEASEDIR;
    if (!dir && (in->release_flags & FUSE_RELEASE_FLUSH)) {
        struct fs_handle *h = fs_handle_get(op->s, in->fh);
        if (h && !h->dir)
            fs_locks_release_owner(op->s, h->node, in->lock_owner);
        fs_handle_put(op->s, h);
    }
    /* Closing the fd lets go of its flock lock too (FUSE_RELEASE_FLOCK_UNLOCK): it is its own OFD. */
    int r = fs_handle_release(op->s, in->fh, dir);
    return r < 0 ? fs_reply_err(op, r) : fs_reply(op, NULL, 0);
}

int fs_op_flush(struct fs_op *op)
{
    const struct fuse_flush_in *in = fs_arg(op, sizeof(*in));
    int ret;
    if (!in)
        return fs_reply_err(op, EINVAL);
    struct fs_handle *h = get_file(op, in->fh, false, &ret);
    if (!h)
        return ret;
    /* close(2) in the guest: POSIX says the process's locks on the file go, whichever fd it closed. */
    fs_locks_release_owner(op->s, h->node, in->lock_owner);
    fs_handle_put(op->s, h);
    return fs_reply(op, NULL, 0);
}

int fs_op_fsync(struct fs_op *op)
{
    const struct fuse_fsync_in *in = fs_arg(op, sizeof(*in));
    int ret;
    if (!in)
        return fs_reply_err(op, EINVAL);
    struct fs_handle *h = get_file(op, in->fh, op->h.opcode == FUSE_FSYNCDIR, &ret);
    if (!h)
        return ret;
    int r = (in->fsync_flags & FUSE_FSYNC_FDATASYNC ? fdatasync(h->fd) : fsync(h->fd)) < 0 ? -errno : 0;
    fs_handle_put(op->s, h);
    return r < 0 ? fs_reply_err(op, r) : fs_reply(op, NULL, 0);
}

int fs_op_fallocate(struct fs_op *op)
{
    const struct fuse_fallocate_in *in = fs_arg(op, sizeof(*in));
    int ret;
    if (!in)
        return fs_reply_err(op, EINVAL);
    const uint32_t known = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE |
                           FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE | FALLOC_FL_UNSHARE_RANGE;
    if ((in->mode & ~known) || in->offset > INT64_MAX || in->length > INT64_MAX - in->offset)
        return fs_reply_err(op, in->mode & ~known ? EOPNOTSUPP : EINVAL);
    if (op->s->share.readonly)
        return fs_reply_err(op, EROFS);
    struct fs_handle *h = get_file(op, in->fh, false, &ret);
    if (!h)
        return ret;
    int r = fallocate(h->fd, (int)in->mode, (off_t)in->offset, (off_t)in->length) < 0 ? -errno : 0;
    fs_handle_put(op->s, h);
    return r < 0 ? fs_reply_err(op, r) : fs_reply(op, NULL, 0);
}

int fs_op_lseek(struct fs_op *op)
{
    const struct fuse_lseek_in *in = fs_arg(op, sizeof(*in));
    int ret;
    if (!in)
        return fs_reply_err(op, EINVAL);
    /* The guest's kernel keeps file positions; it asks only where data and holes are. */
    if ((in->whence != SEEK_DATA && in->whence != SEEK_HOLE) || in->offset > INT64_MAX)
        return fs_reply_err(op, EINVAL);
    struct fs_handle *h = get_file(op, in->fh, false, &ret);
    if (!h)
        return ret;
    off_t off = lseek(h->fd, (off_t)in->offset, (int)in->whence);
    int e = errno;
    fs_handle_put(op->s, h);
    if (off < 0)
        return fs_reply_err(op, e);
    struct fuse_lseek_out out = {.offset = (uint64_t)off};
    return fs_reply(op, &out, sizeof(out));
}

int fs_op_copy_file_range(struct fs_op *op)
{
    const struct fuse_copy_file_range_in *in = fs_arg(op, sizeof(*in));
    int ret;
    if (!in)
        return fs_reply_err(op, EINVAL);
    if (in->flags || in->off_in > INT64_MAX || in->off_out > INT64_MAX)
        return fs_reply_err(op, EINVAL);
    if (op->s->share.readonly)
        return fs_reply_err(op, EROFS);
    struct fs_handle *hin = get_file(op, in->fh_in, false, &ret);
    if (!hin)
        return ret;
    struct fs_handle *hout = get_file(op, in->fh_out, false, &ret);
    if (!hout) {
        fs_handle_put(op->s, hin);
        return ret;
    }
    loff_t off_in = (loff_t)in->off_in, off_out = (loff_t)in->off_out;
    size_t len = in->len < FS_COPY_MAX ? (size_t)in->len : FS_COPY_MAX;
    ssize_t n = copy_file_range(hin->fd, &off_in, hout->fd, &off_out, len, 0);
    int e = errno;
    if (n > 0)
        fs_window_file_grew(op->s, hout->fd);
    fs_handle_put(op->s, hout);
    fs_handle_put(op->s, hin);
    if (n < 0)
        return fs_reply_err(op, e);
    struct fuse_write_out out = {.size = (uint32_t)n};
    return fs_reply(op, &out, sizeof(out));
}

int fs_op_syncfs(struct fs_op *op)
{
    if (op->s->share.readonly)
        return fs_reply(op, NULL, 0);
    int fd = openat(op->s->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int r = fd < 0 || syncfs(fd) < 0 ? -errno : 0;
    if (fd >= 0)
        close(fd);
    return r < 0 ? fs_reply_err(op, r) : fs_reply(op, NULL, 0);
}
