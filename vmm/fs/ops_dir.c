/* Directories: OPENDIR, READDIR and READDIRPLUS. A listing continues from the host's own d_off cookie (what
 * the guest hands back as the offset of the next READDIR), so entries added or removed meanwhile are seen or
 * not, as on the host, and an entry that stayed is listed exactly once. READDIRPLUS looks each entry up as
 * LOOKUP does (same checks, one guest reference each); an entry that cannot be looked up (gone meanwhile, the
 * node table full) still appears, without attributes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs_int.h"

/* getdents64's record, as the kernel writes it. */
struct host_dirent {
    uint64_t d_ino;
    int64_t d_off;
    uint16_t d_reclen;
    uint8_t d_type;
    char d_name[];
};

/* The guest may keep a directory's listing (FOPEN_CACHE_DIR) and reuses it until the directory's mtime or its
 * own changes say otherwise. A change within the same timestamp tick as the one the guest knows leaves the
 * mtime as it was (file systems stamp with a coarse clock), so a listing is offered for keeping only once the
 * directory has been still for FS_DIR_STILL_NS (git's "racy" rule): any later change then stamps a new
 * mtime, which the guest sees within its attribute timeout, or at once where the host watches (watch.c). */
#define FS_DIR_STILL_NS (1000ull * 1000000)

static int64_t ts_ns(struct timespec t)
{
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static bool dir_still(int fd)
{
    struct stat st;
    struct timespec now;
    if (fstat(fd, &st) < 0 || clock_gettime(CLOCK_REALTIME, &now) < 0)
        return false;
    int64_t m = ts_ns(st.st_mtim), c = ts_ns(st.st_ctim);
    return ts_ns(now) - (m > c ? m : c) >= (int64_t)FS_DIR_STILL_NS; /* a stamp in the future is not still */
}

int fs_op_opendir(struct fs_op *op)
{
    const struct fuse_open_in *in = fs_arg(op, sizeof(*in));
    if (!in)
        return fs_reply_err(op, EINVAL);
    struct fs_node *n = fs_node_get(op->s, op->h.nodeid);
    if (!n)
        return fs_reply_err(op, ESTALE);
    int ret, fd = n->type == S_IFDIR ? fs_node_reopen(op->s, n, O_RDONLY) : -ENOTDIR;
    uint64_t fh;
    bool keep = fd >= 0 && op->s->share.keep_cache && dir_still(fd);
    if (fd < 0)
        ret = fs_reply_err(op, fd);
    else if ((fd = fs_handle_add(op->s, fd, O_RDONLY, true, n, &fh)) < 0)
        ret = fs_reply_err(op, fd);
    else {
        /* A directory the guest lists is one its file watchers may care about (watch.c). */
        fs_watch_dir(op->s, n);
        /* Not kept: the guest drops what it cached of the listing and reads it anew. */
        struct fuse_open_out out = {.fh = fh, .open_flags = keep ? FOPEN_CACHE_DIR | FOPEN_KEEP_CACHE : 0};
        ret = fs_reply(op, &out, sizeof(out));
    }
    fs_node_put(op->s, n);
    return ret;
}

/* Appends one entry at reply + used if it fits in size; returns its length, 0 when it does not fit. */
static size_t put_entry(struct fs_op *op, struct fs_handle *h, const struct host_dirent *d, size_t namelen,
                        bool plus, size_t used, size_t size)
{
    size_t head = plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET;
    size_t reclen = FUSE_DIRENT_ALIGN(head + namelen);
    if (used + reclen > size)
        return 0;
    uint8_t *p = op->c->reply + used;
    memset(p, 0, reclen);
    struct fuse_dirent *de = (struct fuse_dirent *)(p + head - FUSE_NAME_OFFSET);
    if (plus && !fs_name_is_dot(d->d_name)) {
        struct fuse_entry_out e;
        if (fs_lookup_entry(op->s, h->node, d->d_name, &e) == 0)
            memcpy(p, &e, sizeof(e));
    }
    de->ino = d->d_ino;
    de->off = (uint64_t)d->d_off;
    de->namelen = (uint32_t)namelen;
    de->type = d->d_type;
    memcpy(de->name, d->d_name, namelen);
    return reclen;
}

int fs_op_readdir(struct fs_op *op)
{
    const struct fuse_read_in *in = fs_arg(op, sizeof(*in));
    int ret;
    if (!in || in->offset > INT64_MAX)
        return fs_reply_err(op, EINVAL);
    struct fs_handle *h = fs_handle_get(op->s, in->fh);
    if (!h || !h->dir) {
        fs_handle_put(op->s, h);
        return fs_reply_err(op, EBADF);
    }
    bool plus = op->h.opcode == FUSE_READDIRPLUS;
    size_t size = in->size < FS_REPLY_MAX ? in->size : FS_REPLY_MAX;
    size_t room =
        op->in_len > sizeof(struct fuse_out_header) ? op->in_len - sizeof(struct fuse_out_header) : 0;
    if (size > room)
        size = room;
    size_t used = 0;
    int err = 0;
    pthread_mutex_lock(&h->dir_lock);
    if (lseek(h->fd, (off_t)in->offset, SEEK_SET) < 0)
        err = errno;
    for (bool full = false; !err && !full;) {
        ssize_t n = getdents64(h->fd, op->c->dents, FS_DENTS_MAX);
        if (n < 0)
            err = errno;
        if (n <= 0)
            break;
        for (size_t pos = 0; pos + offsetof(struct host_dirent, d_name) < (size_t)n;) {
            const struct host_dirent *d = (const struct host_dirent *)(op->c->dents + pos);
            if (d->d_reclen <= offsetof(struct host_dirent, d_name) || pos + d->d_reclen > (size_t)n)
                break;
            size_t max = d->d_reclen - offsetof(struct host_dirent, d_name);
            size_t namelen = strnlen(d->d_name, max);
            pos += d->d_reclen;
            if (namelen == 0 || namelen == max)
                continue;
            size_t len = put_entry(op, h, d, namelen, plus, used, size);
            if (!len) {
                full = true;
                break;
            }
            used += len;
        }
    }
    pthread_mutex_unlock(&h->dir_lock);
    fs_handle_put(op->s, h);
    /* An error after some entries: what we have goes out, the guest asks again from the last one. */
    ret = err && !used ? fs_reply_err(op, err) : fs_reply(op, op->c->reply, used);
    return ret;
}
