/* Open files: OPEN, READ, WRITE, RELEASE(DIR), FLUSH, FSYNC(DIR), FALLOCATE, LSEEK, COPY_FILE_RANGE, SYNCFS.
 *
 * READ and WRITE move data straight between the guest's buffers and the host file: preadv/pwritev on the
 * iovecs the virtqueue resolved (guest RAM mapped in this process), no bounce buffer. A request carries at
 * most FS_MAX_RW bytes in at most FS_IOV_MAX segments; the guest's own page cache batches small writes
 * unless it writes through (no writeback cache: see fuse_ops.c).
 *
 * Open-less files (s->no_open, chosen at INIT: fuse_ops.c): OPEN answers ENOSYS, after which Linux opens and
 * closes regular files without a message and sends fh 0 (RELEASE never comes); a guest open and close of a
 * file is then its READs or WRITEs and one FLUSH instead of four round trips. Each request opens the node's
 * inode itself (through /proc/self/fd, like OPEN did). Reading keeps that descriptor on the node while the
 * guest reads (the host's readahead lives in it) until a FLUSH (a close in the guest) or the node goes, and
 * CREATE's descriptor until the FLUSH of that open; every other access opens for the one request: a write
 * descriptor kept past a close would make the host's execve of the file fail with ETXTBSY, and no message
 * says when the guest is done with a file it did not create. */
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

#define FS_KEPT_MAX 256 /* kept descriptors per share; past them a request opens for itself */

static void kept_close_locked(struct fs_server *s, struct fs_kept *k)
{
    if (k->fd < 0)
        return;
    if (k->users) {
        k->drop = true;
        return;
    }
    close(k->fd);
    fs_fd_release();
    *k = (struct fs_kept){.fd = -1};
    s->kept_fds--;
}

void fs_node_kept_drop_locked(struct fs_server *s, struct fs_node *n)
{
    kept_close_locked(s, &n->kept[FS_KEPT_READ]);
    kept_close_locked(s, &n->kept[FS_KEPT_WRITE]);
}

/* Caller holds s->lock. */
static bool keep_locked(struct fs_server *s, struct fs_kept *k, int fd)
{
    if (k->fd >= 0 || s->kept_fds >= FS_KEPT_MAX || !fs_fd_reserve())
        return false;
    *k = (struct fs_kept){.fd = fd};
    s->kept_fds++;
    return true;
}

bool fs_node_keep_write(struct fs_server *s, struct fs_node *n, int fd, int flags)
{
    /* Plain, as the other opens' WRITEs expect it (their flags come with each request): O_SYNC and O_DSYNC
     * cannot be taken off an open file. */
    if ((flags & O_ACCMODE) == O_RDONLY || (flags & (O_SYNC | O_DSYNC)))
        return false;
    pthread_mutex_lock(&s->lock);
    bool kept = keep_locked(s, &n->kept[FS_KEPT_WRITE], fd);
    pthread_mutex_unlock(&s->lock);
    return kept;
}

/* The node's kept descriptor for acc, with one more user, or NULL. Caller holds s->lock. */
static struct fs_kept *kept_use_locked(struct fs_node *n, int acc)
{
    struct fs_kept *k = NULL;
    if (acc != O_WRONLY && n->kept[FS_KEPT_READ].fd >= 0)
        k = &n->kept[FS_KEPT_READ];
    else if (acc != O_RDONLY && n->kept[FS_KEPT_WRITE].fd >= 0)
        k = &n->kept[FS_KEPT_WRITE];
    if (k)
        k->users++;
    return k;
}

int fs_file_get(struct fs_op *op, uint64_t nodeid, uint64_t fh, int acc, struct fs_file *f)
{
    struct fs_server *s = op->s;
    *f = (struct fs_file){.fd = -1};
    if (fh || !s->no_open) {
        struct fs_handle *h = fs_handle_get(s, fh);
        if (!h || h->dir) {
            fs_handle_put(s, h);
            return -EBADF;
        }
        f->h = h;
        f->fd = h->fd;
        return 0;
    }
    struct fs_node *n = fs_node_get(s, nodeid);
    if (!n)
        return -ESTALE;
    if (n->type != S_IFREG) {
        fs_node_put(s, n);
        return -EBADF; /* only regular files are opened without a message */
    }
    f->n = n;
    if (acc == FS_IO_NONE)
        return 0;
    pthread_mutex_lock(&s->lock);
    f->kept = kept_use_locked(n, acc);
    pthread_mutex_unlock(&s->lock);
    if (f->kept) {
        f->fd = f->kept->fd;
        return 0;
    }
    int fd = fs_node_reopen(s, n, acc == FS_IO_ANY ? O_RDONLY : acc);
    if (fd == -EACCES && acc == FS_IO_ANY)
        fd = fs_node_reopen(s, n, O_WRONLY); /* fsync, lseek: any access will do */
    if (fd < 0) {
        fs_node_put(s, n);
        f->n = NULL;
        return fd;
    }
    f->fd = fd;
    if (acc == O_RDONLY) {
        pthread_mutex_lock(&s->lock);
        if (keep_locked(s, &n->kept[FS_KEPT_READ], fd)) {
            f->kept = &n->kept[FS_KEPT_READ];
            f->kept->users = 1;
        }
        pthread_mutex_unlock(&s->lock);
    }
    return 0;
}

void fs_file_put(struct fs_server *s, struct fs_file *f)
{
    if (f->h) {
        fs_handle_put(s, f->h);
    } else if (f->n) {
        if (f->kept) {
            pthread_mutex_lock(&s->lock);
            f->kept->users--;
            if (f->kept->drop)
                kept_close_locked(s, f->kept);
            pthread_mutex_unlock(&s->lock);
        } else if (f->fd >= 0) {
            close(f->fd);
        }
        fs_node_put(s, f->n);
    }
    *f = (struct fs_file){.fd = -1};
}

int fs_op_open(struct fs_op *op)
{
    if (op->s->no_open)
        return fs_reply_err(op, ENOSYS); /* Linux opens files without us from here on */
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

/* preadv/pwritev2 until len bytes, end of file, or an error after some bytes (which then count). */
static ssize_t rw_all(int fd, bool write, int rwf, struct iovec *iov, int cnt, uint64_t off, size_t len)
{
    size_t done = 0;
    while (done < len && cnt > 0) {
        ssize_t r = write ? pwritev2(fd, iov, cnt, (off_t)(off + done), rwf)
                          : preadv(fd, iov, cnt, (off_t)(off + done));
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
    if (!in || in->offset > INT64_MAX)
        return fs_reply_err(op, EINVAL);
    struct fs_file f;
    int r = fs_file_get(op, op->h.nodeid, in->fh, O_RDONLY, &f);
    if (r < 0)
        return fs_reply_err(op, r);
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
    ssize_t n = k < 0 ? -EINVAL : rw_all(f.fd, false, 0, op->c->iov, k, in->offset, size);
    fs_file_put(op->s, &f);
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
    struct fs_file f;
    int r = fs_file_get(op, op->h.nodeid, in->fh, O_WRONLY, &f);
    if (r < 0)
        return fs_reply_err(op, r);
    /* An open-less file's descriptor is plain: the flags the guest opened with come with each write. */
    int rwf = f.h ? 0
                  : (in->flags & O_APPEND ? RWF_APPEND : 0) | ((in->flags & O_SYNC) == O_SYNC ? RWF_SYNC
                                                               : in->flags & O_DSYNC          ? RWF_DSYNC
                                                                                              : 0);
    int k = in->size ? iov_slice(op->req->out, op->req->n_out, sizeof(struct fuse_in_header) + sizeof(*in),
                                 in->size, op->c->iov, FS_IOV_MAX)
                     : 0;
    ssize_t n = k < 0 ? -EINVAL : rw_all(f.fd, true, rwf, op->c->iov, k, in->offset, in->size);
    if (n > 0)
        fs_window_file_grew(op->s, f.fd); /* the guest reads what it wrote through its DAX mapping next */
    fs_file_put(op->s, &f);
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
    if (!dir) {
        struct fs_file f;
        int r = fs_file_get(op, op->h.nodeid, in->fh, FS_IO_NONE, &f);
        if (r == 0 && (in->release_flags & FUSE_RELEASE_FLUSH))
            fs_locks_release_owner(op->s, fs_file_node(&f), in->lock_owner);
        fs_file_put(op->s, &f);
        /* A file created before Linux knew opens need no message (fh 0 from CREATE): nothing to close. */
        if (!in->fh && op->s->no_open)
            return r < 0 ? fs_reply_err(op, r) : fs_reply(op, NULL, 0);
    }
    /* Closing the fd lets go of its flock lock too (FUSE_RELEASE_FLOCK_UNLOCK): it is its own OFD. */
    int r = fs_handle_release(op->s, in->fh, dir);
    return r < 0 ? fs_reply_err(op, r) : fs_reply(op, NULL, 0);
}

int fs_op_flush(struct fs_op *op)
{
    const struct fuse_flush_in *in = fs_arg(op, sizeof(*in));
    if (!in)
        return fs_reply_err(op, EINVAL);
    struct fs_file f;
    int r = fs_file_get(op, op->h.nodeid, in->fh, FS_IO_NONE, &f);
    if (r < 0)
        return fs_reply_err(op, r);
    /* close(2) in the guest: POSIX says the process's locks on the file go, whichever fd it closed. */
    fs_locks_release_owner(op->s, fs_file_node(&f), in->lock_owner);
    if (!f.h) {
        /* An open-less file was closed: what the node kept open goes (another open reads it anew). */
        pthread_mutex_lock(&op->s->lock);
        fs_node_kept_drop_locked(op->s, f.n);
        pthread_mutex_unlock(&op->s->lock);
    }
    fs_file_put(op->s, &f);
    return fs_reply(op, NULL, 0);
}

int fs_op_fsync(struct fs_op *op)
{
    const struct fuse_fsync_in *in = fs_arg(op, sizeof(*in));
    int ret;
    if (!in)
        return fs_reply_err(op, EINVAL);
    struct fs_handle *h = NULL;
    struct fs_file f = {.fd = -1};
    if (op->h.opcode == FUSE_FSYNCDIR) {
        if (!(h = get_file(op, in->fh, true, &ret)))
            return ret;
    } else if ((ret = fs_file_get(op, op->h.nodeid, in->fh, FS_IO_ANY, &f)) < 0) {
        return fs_reply_err(op, ret);
    }
    int fd = h ? h->fd : f.fd;
    int r = (in->fsync_flags & FUSE_FSYNC_FDATASYNC ? fdatasync(fd) : fsync(fd)) < 0 ? -errno : 0;
    fs_handle_put(op->s, h);
    fs_file_put(op->s, &f);
    return r < 0 ? fs_reply_err(op, r) : fs_reply(op, NULL, 0);
}

int fs_op_fallocate(struct fs_op *op)
{
    const struct fuse_fallocate_in *in = fs_arg(op, sizeof(*in));
    if (!in)
        return fs_reply_err(op, EINVAL);
    const uint32_t known = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE |
                           FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE | FALLOC_FL_UNSHARE_RANGE;
    if ((in->mode & ~known) || in->offset > INT64_MAX || in->length > INT64_MAX - in->offset)
        return fs_reply_err(op, in->mode & ~known ? EOPNOTSUPP : EINVAL);
    if (op->s->share.readonly)
        return fs_reply_err(op, EROFS);
    struct fs_file f;
    int r = fs_file_get(op, op->h.nodeid, in->fh, O_WRONLY, &f);
    if (r < 0)
        return fs_reply_err(op, r);
    r = fallocate(f.fd, (int)in->mode, (off_t)in->offset, (off_t)in->length) < 0 ? -errno : 0;
    fs_file_put(op->s, &f);
    return r < 0 ? fs_reply_err(op, r) : fs_reply(op, NULL, 0);
}

int fs_op_lseek(struct fs_op *op)
{
    const struct fuse_lseek_in *in = fs_arg(op, sizeof(*in));
    if (!in)
        return fs_reply_err(op, EINVAL);
    /* The guest's kernel keeps file positions; it asks only where data and holes are. */
    if ((in->whence != SEEK_DATA && in->whence != SEEK_HOLE) || in->offset > INT64_MAX)
        return fs_reply_err(op, EINVAL);
    struct fs_file f;
    int r = fs_file_get(op, op->h.nodeid, in->fh, FS_IO_ANY, &f);
    if (r < 0)
        return fs_reply_err(op, r);
    off_t off = lseek(f.fd, (off_t)in->offset, (int)in->whence);
    int e = errno;
    fs_file_put(op->s, &f);
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
    struct fs_file fin, fout;
    if ((ret = fs_file_get(op, op->h.nodeid, in->fh_in, O_RDONLY, &fin)) < 0)
        return fs_reply_err(op, ret);
    if ((ret = fs_file_get(op, in->nodeid_out, in->fh_out, O_WRONLY, &fout)) < 0) {
        fs_file_put(op->s, &fin);
        return fs_reply_err(op, ret);
    }
    loff_t off_in = (loff_t)in->off_in, off_out = (loff_t)in->off_out;
    size_t len = in->len < FS_COPY_MAX ? (size_t)in->len : FS_COPY_MAX;
    ssize_t n = copy_file_range(fin.fd, &off_in, fout.fd, &off_out, len, 0);
    int e = errno;
    if (n > 0)
        fs_window_file_grew(op->s, fout.fd);
    fs_file_put(op->s, &fout);
    fs_file_put(op->s, &fin);
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
