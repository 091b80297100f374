/* File locks: GETLK, SETLK and SETLKW, POSIX (fcntl) and BSD (flock, FUSE_LK_FLOCK).
 *
 * POSIX locks belong to a process (FUSE's lock owner), not to an open file: two opens of one file by the same
 * guest process must not conflict, and its close of any of them drops all its locks (FLUSH). So each
 * (node, owner) gets an open file description of its own and takes open-file-description locks (F_OFD_*)
 * on it: they conflict with every other owner's and with the host's own locks, never with the owner itself.
 * flock locks belong to the open file itself: the handle's fd, which is its own OFD. Open-less files
 * (ops_file.c) have no open file here, so they are not offered: the guest's kernel keeps flock locks itself
 * (between all of the guest's processes; the host's flock locks do not see them).
 *
 * SETLKW never blocks a thread: the lock is tried without waiting and the request, if it must wait, goes
 * back to the device (FS_RETRY), which tries again a little later. A guest cannot tie up the server's
 * threads with locks it will never get. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include "fs_int.h"

#define FS_LOCK_OWNERS_MAX 1024 /* (node, owner) descriptors per share: ENOLCK beyond */

struct fs_lock_owner {
    struct fs_lock_owner *next;
    uint64_t owner;
    int fd;
};

/* Caller holds s->lock. */
static struct fs_lock_owner *find_owner(struct fs_node *n, uint64_t owner)
{
    for (struct fs_lock_owner *o = n->locks; o; o = o->next)
        if (o->owner == owner)
            return o;
    return NULL;
}

/* fcntl(cmd, fl) on the owner's own OFD for the node, made on first use when create is set (without it and
 * without an OFD, fallback_fd is used, or nothing is done when that is -1). The fcntl runs under s->lock,
 * never blocking (F_OFD_SETLK, F_OFD_GETLK): a FLUSH of the same owner racing with it cannot close the fd
 * under it. */
static int owner_fcntl(struct fs_server *s, struct fs_node *n, int acc, uint64_t owner, int cmd,
                       struct flock *fl, bool create, int fallback_fd)
{
    pthread_mutex_lock(&s->lock);
    struct fs_lock_owner *o = find_owner(n, owner);
    pthread_mutex_unlock(&s->lock);
    int fd = -1;
    if (!o && create) {
        /* Read and write if the host lets us (a write lock needs write access, a read lock read access);
         * else the access the guest opened the file with (or, without an open, the lock needs). */
        fd = s->share.readonly ? -EROFS : fs_node_reopen(s, n, O_RDWR | O_NONBLOCK);
        if (fd < 0)
            fd = fs_node_reopen(s, n, acc | O_NONBLOCK);
        if (fd < 0)
            return fd;
    }
    struct fs_lock_owner *fresh = fd >= 0 ? malloc(sizeof(*fresh)) : NULL;
    int r = 0;
    pthread_mutex_lock(&s->lock);
    if (!(o = find_owner(n, owner)) && fd >= 0) {
        if (!fresh || s->lock_owners >= FS_LOCK_OWNERS_MAX || !fs_fd_reserve()) {
            r = -ENOLCK;
        } else {
            *fresh = (struct fs_lock_owner){.next = n->locks, .owner = owner, .fd = fd};
            n->locks = o = fresh;
            s->lock_owners++;
            fresh = NULL;
            fd = -1;
        }
    }
    if (r == 0) {
        int use = o ? o->fd : fallback_fd;
        if (use >= 0 && fcntl(use, cmd, fl) < 0)
            r = -errno;
    }
    pthread_mutex_unlock(&s->lock);
    if (fd >= 0)
        close(fd); /* another request made the owner's OFD meanwhile, or there was no room */
    free(fresh);
    return r;
}

void fs_locks_release_owner(struct fs_server *s, struct fs_node *n, uint64_t owner)
{
    struct fs_lock_owner *found = NULL;
    pthread_mutex_lock(&s->lock);
    for (struct fs_lock_owner **p = &n->locks; *p; p = &(*p)->next)
        if ((*p)->owner == owner) {
            found = *p;
            *p = found->next;
            s->lock_owners--;
            break;
        }
    pthread_mutex_unlock(&s->lock);
    if (found) {
        close(found->fd); /* its only reference: the OFD and its locks go */
        fs_fd_release();
        free(found);
    }
}

void fs_locks_drop(struct fs_server *s, struct fs_node *n)
{
    while (n->locks) {
        struct fs_lock_owner *o = n->locks;
        n->locks = o->next;
        close(o->fd);
        fs_fd_release();
        free(o);
        s->lock_owners--;
    }
}

/* The guest's lock range as struct flock; -EINVAL when it makes no sense. OFFSET_MAX as the end is "to the
 * end of the file, however long it grows" (l_len 0). */
static int to_flock(const struct fuse_file_lock *lk, struct flock *fl)
{
    const uint64_t offset_max = INT64_MAX;
    if (lk->type != F_RDLCK && lk->type != F_WRLCK && lk->type != F_UNLCK)
        return -EINVAL;
    if (lk->start > offset_max || lk->end > offset_max || lk->end < lk->start)
        return -EINVAL;
    *fl = (struct flock){
        .l_type = (short)lk->type,
        .l_whence = SEEK_SET,
        .l_start = (off_t)lk->start,
        .l_len = lk->end == offset_max ? 0 : (off_t)(lk->end - lk->start + 1),
    };
    return 0;
}

/* The access an owner's OFD falls back to when the host refuses read-write: the guest's open, or for an
 * open-less file what the lock needs (a write lock, write access). */
static int lock_access(const struct fs_file *f, const struct flock *fl)
{
    if (f->h)
        return f->h->flags & O_ACCMODE;
    return fl->l_type == F_WRLCK ? O_WRONLY : O_RDONLY;
}

int fs_op_getlk(struct fs_op *op)
{
    const struct fuse_lk_in *in = fs_arg(op, sizeof(*in));
    struct flock fl;
    if (!in || to_flock(&in->lk, &fl) < 0)
        return fs_reply_err(op, EINVAL);
    /* Without the owner's own OFD, F_OFD_GETLK asks on the open file (an open-less one: opened for it). */
    struct fs_file f;
    int r = fs_file_get(op, op->h.nodeid, in->fh, FS_IO_ANY, &f);
    if (r < 0)
        return fs_reply_err(op, r);
    r = owner_fcntl(op->s, fs_file_node(&f), lock_access(&f, &fl), in->owner, F_OFD_GETLK, &fl, false, f.fd);
    fs_file_put(op->s, &f);
    if (r < 0)
        return fs_reply_err(op, r);
    struct fuse_lk_out out = {.lk = {.type = (uint32_t)fl.l_type}};
    if (fl.l_type != F_UNLCK) {
        out.lk.start = (uint64_t)fl.l_start;
        out.lk.end = fl.l_len == 0 ? INT64_MAX : (uint64_t)(fl.l_start + fl.l_len - 1);
        out.lk.pid = 0; /* a host process or another owner: no pid the guest could use */
    }
    return fs_reply(op, &out, sizeof(out));
}

int fs_op_setlk(struct fs_op *op)
{
    const struct fuse_lk_in *in = fs_arg(op, sizeof(*in));
    struct flock fl;
    bool wait = op->h.opcode == FUSE_SETLKW;
    if (!in || to_flock(&in->lk, &fl) < 0)
        return fs_reply_err(op, EINVAL);
    /* An open-less file needs no descriptor here: the owner's OFD is opened for the lock. */
    struct fs_file f;
    int r = fs_file_get(op, op->h.nodeid, in->fh, FS_IO_NONE, &f);
    if (r == 0 && !f.h && (in->lk_flags & FUSE_LK_FLOCK))
        r = -EBADF; /* flock locks of open-less files are the guest kernel's own (not offered) */
    if (r == 0 && (in->lk_flags & FUSE_LK_FLOCK)) {
        int how = fl.l_type == F_RDLCK ? LOCK_SH : fl.l_type == F_WRLCK ? LOCK_EX : LOCK_UN;
        r = flock(f.fd, how | LOCK_NB) < 0 ? -errno : 0;
        if (r == -EWOULDBLOCK)
            r = -EAGAIN;
    } else if (r == 0) {
        r = owner_fcntl(op->s, fs_file_node(&f), lock_access(&f, &fl), in->owner, F_OFD_SETLK, &fl,
                        fl.l_type != F_UNLCK, -1);
        if (r == -EACCES)
            r = -EAGAIN; /* POSIX lets F_SETLK say either; Linux says EAGAIN */
    }
    fs_file_put(op->s, &f);
    if (r == -EAGAIN && wait)
        return FS_RETRY;
    return r < 0 ? fs_reply_err(op, r) : fs_reply(op, NULL, 0);
}
