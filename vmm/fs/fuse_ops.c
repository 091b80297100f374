/* FUSE request dispatch: the header and arguments copied out of guest memory once and checked, INIT and
 * DESTROY, the reply helpers, and the server's life. The operations live in ops_*.c, xattr.c, locks.c.
 *
 * Protocol choices (INIT). Linux 6.1 speaks 7.38; we need 7.27 (every struct read here at its full size).
 * Offered: ASYNC_READ, POSIX_LOCKS and, where opens keep handles, FLOCK_LOCKS (locks.c) and ATOMIC_O_TRUNC
 * (open-less files, ops_file.c, are the rule when the guest can: NO_OPEN_SUPPORT), AUTO_INVAL_DATA (a host
 * change the guest sees in the attributes drops its cached pages: that is what bounds staleness to the
 * attribute timeout), PARALLEL_DIROPS (the tables are thread-safe), MAX_PAGES (1 MiB requests; Linux caps
 * max_pages at the queue size - 4, our request queue has 1024 entries), CACHE_SYMLINKS, SUBMOUNTS (a host
 * mount below the root gets its own st_dev in the guest, so inode numbers of two host file systems never
 * collide), and READDIRPLUS as the share says. Not offered: DONT_MASK (the guest kernel applies the umask;
 * our threads run with umask 0), EXPORT_SUPPORT (no "."/".." lookups needed), POSIX_ACL (the guest would
 * enforce ACLs it cannot see being changed on the host), HANDLE_KILLPRIV (the guest kernel clears suid/sgid
 * itself), SPLICE_* (no /dev/fuse here). With a DAX window (dax.c): MAP_ALIGNMENT (2 MiB, the guest's own
 * range size) and HAS_INODE_DAX (we say per file which ones the guest maps).
 *
 * Cache policy, measured with bench/fsbench.py in the emulated KVM host (numbers in vmm/fs/README.md): two
 * timeouts. What a host watch covers while the guest's change helper runs (watch.c: names, negative ones
 * too, in a watched directory; attributes of single-link files found there and of watched directories) is
 * trusted for watched_ms (FS_DEFAULT_WATCHED_MS, 10 min): any host change there is an event the helper turns
 * into a revalidation of that name in the guest (fs_notify.h), so the guest sees it at once and asks nothing
 * while nothing changes. Everything else gets timeout_ms (FS_DEFAULT_TIMEOUT_MS, 1 s): the next access after
 * it revalidates the name and attributes. keep_cache on (a reopened file keeps its pages; AUTO_INVAL_DATA
 * drops them when the host changed the file's size or mtime), writeback cache off. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "../devices/virtq.h"
#include "fs_int.h"
#include "io.h"
#include "log.h"

#define FS_MAX_BACKGROUND 64 /* async requests (readahead, writeback) the guest keeps in flight */

/* Each thread that serves requests gets umask 0 of its own: the guest kernel has applied the caller's umask
 * already, and a process-wide umask 0 would loosen every file the rest of the VMM creates. */
static __thread bool thread_ready;

static void thread_setup(void)
{
    thread_ready = true;
    if (unshare(CLONE_FS) == 0)
        umask(0);
    else
        log_warn("virtio-fs: unshare(CLONE_FS): %s; new files get the VMM's umask", strerror(errno));
}

/* --- replies ------------------------------------------------------------------------------------------ */

static int write_reply(struct fs_op *op, int err, const void *a, size_t alen, const void *b, size_t blen)
{
    const struct fs_req *r = op->req;
    size_t len = sizeof(struct fuse_out_header) + alen + blen;
    if (op->in_len < sizeof(struct fuse_out_header)) {
        FS_COUNT(op->s, no_reply_room);
        return 0;
    }
    if (op->in_len < len) { /* the guest offered less room than the reply it asked for takes */
        FS_COUNT(op->s, malformed);
        err = EINVAL;
        alen = blen = 0;
        len = sizeof(struct fuse_out_header);
    }
    struct fuse_out_header oh = {.len = (uint32_t)len, .error = -err, .unique = op->h.unique};
    iov_from_buf(r->in, r->n_in, 0, &oh, sizeof(oh));
    if (alen)
        iov_from_buf(r->in, r->n_in, sizeof(oh), a, alen);
    if (blen)
        iov_from_buf(r->in, r->n_in, sizeof(oh) + alen, b, blen);
    return (int)len;
}

int fs_reply_err(struct fs_op *op, int err)
{
    if (err < 0)
        err = -err;
    return write_reply(op, err ? err : EIO, NULL, 0, NULL, 0);
}

int fs_reply(struct fs_op *op, const void *data, size_t len)
{
    return write_reply(op, 0, data, len, NULL, 0);
}

int fs_reply2(struct fs_op *op, const void *a, size_t alen, const void *b, size_t blen)
{
    return write_reply(op, 0, a, alen, b, blen);
}

int fs_reply_data(struct fs_op *op, size_t len)
{
    struct fuse_out_header oh = {.len = (uint32_t)(sizeof(oh) + len), .unique = op->h.unique};
    iov_from_buf(op->req->in, op->req->n_in, 0, &oh, sizeof(oh));
    return (int)oh.len;
}

/* --- arguments ---------------------------------------------------------------------------------------- */

const void *fs_arg(struct fs_op *op, size_t size)
{
    return op->arg_len >= size ? op->arg : NULL;
}

int fs_arg_name(struct fs_op *op, size_t off, const char **name)
{
    if (off >= op->arg_len)
        return -EINVAL;
    const char *p = (const char *)op->arg + off;
    const char *nul = memchr(p, '\0', op->arg_len - off);
    if (!nul)
        return -EINVAL; /* not terminated inside the request */
    size_t len = (size_t)(nul - p);
    if (len == 0 || len > FS_NAME_MAX || memchr(p, '/', len))
        return -EINVAL;
    *name = p;
    return (int)len + 1;
}

bool fs_name_is_dot(const char *name)
{
    return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/* --- INIT, DESTROY ------------------------------------------------------------------------------------ */

static int op_init(struct fs_op *op)
{
    struct fs_server *s = op->s;
    const struct fuse_init_in *in = fs_arg(op, 16); /* major, minor, max_readahead, flags: every version */
    if (!in)
        return fs_reply_err(op, EINVAL);
    if (in->major > FUSE_KERNEL_VERSION) {
        /* The protocol says: answer with our major only, and the kernel asks again in ours. */
        struct fuse_init_out out = {.major = FUSE_KERNEL_VERSION, .minor = FUSE_KERNEL_MINOR_VERSION};
        return fs_reply(op, &out, FUSE_COMPAT_INIT_OUT_SIZE);
    }
    if (in->major < FUSE_KERNEL_VERSION || in->minor < FS_MIN_MINOR)
        return fs_reply_err(op, EPROTO);
    /* A second INIT starts a new session: nothing of the old one stays. */
    fs_server_reset(s);
    uint64_t want = FUSE_ASYNC_READ | FUSE_POSIX_LOCKS | FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES |
                    FUSE_FLOCK_LOCKS | FUSE_AUTO_INVAL_DATA | FUSE_ASYNC_DIO | FUSE_PARALLEL_DIROPS |
                    FUSE_MAX_PAGES | FUSE_CACHE_SYMLINKS | FUSE_SUBMOUNTS;
    if (s->share.readdirplus != FS_READDIRPLUS_NEVER)
        want |= FUSE_DO_READDIRPLUS;
    if (s->share.readdirplus == FS_READDIRPLUS_AUTO)
        want |= FUSE_READDIRPLUS_AUTO;
    if (s->share.writeback && !s->share.readonly)
        want |= FUSE_WRITEBACK_CACHE;
    uint64_t offered = in->flags;
    if (offered & FUSE_INIT_EXT) {
        const struct fuse_init_in *ext = fs_arg(op, offsetof(struct fuse_init_in, flags2) + 4);
        offered |= ext ? (uint64_t)ext->flags2 << 32 : 0;
    }
    if (s->window.base)
        want |= FUSE_MAP_ALIGNMENT | FUSE_HAS_INODE_DAX | FUSE_INIT_EXT;
    /* Open-less files (ops_file.c) where a reopened file keeps its pages anyway and writes go through:
     * without an open there is no per-open choice of caching or flags, no handle for flock locks (the
     * guest keeps those), and O_TRUNC comes as a SETATTR. */
    s->no_open =
        (offered & FUSE_NO_OPEN_SUPPORT) && s->share.keep_cache && !(offered & want & FUSE_WRITEBACK_CACHE);
    if (s->no_open)
        want &= ~(uint64_t)(FUSE_FLOCK_LOCKS | FUSE_ATOMIC_O_TRUNC);
    uint64_t got = offered & want;
    struct fuse_init_out out = {
        .major = FUSE_KERNEL_VERSION,
        .minor = FUSE_KERNEL_MINOR_VERSION,
        .max_readahead = in->max_readahead,
        .flags = (uint32_t)got,
        .flags2 = (uint32_t)(got >> 32),
        .map_alignment = got & FUSE_MAP_ALIGNMENT ? FS_DAX_SHIFT : 0,
        .max_background = FS_MAX_BACKGROUND,
        .congestion_threshold = FS_MAX_BACKGROUND * 3 / 4,
        .max_write = FS_MAX_RW,
        .time_gran = 1,
        .max_pages = FS_MAX_PAGES,
    };
    s->minor = in->minor < FUSE_KERNEL_MINOR_VERSION ? in->minor : FUSE_KERNEL_MINOR_VERSION;
    s->writeback = got & FUSE_WRITEBACK_CACHE;
    s->posix_locks = got & FUSE_POSIX_LOCKS;
    s->flock = got & FUSE_FLOCK_LOCKS;
    s->submounts = got & FUSE_SUBMOUNTS;
    s->dax_inode = got & FUSE_HAS_INODE_DAX;
    __atomic_store_n(&s->initialized, true, __ATOMIC_RELEASE);
    return fs_reply(op, &out, in->minor < 23 ? FUSE_COMPAT_22_INIT_OUT_SIZE : sizeof(out));
}

static int op_destroy(struct fs_op *op)
{
    fs_server_reset(op->s);
    return fs_reply(op, NULL, 0);
}

/* --- dispatch ----------------------------------------------------------------------------------------- */

typedef int (*fs_op_fn)(struct fs_op *op);

static const fs_op_fn ops[] = {
    [FUSE_LOOKUP] = fs_op_lookup,
    [FUSE_FORGET] = fs_op_forget,
    [FUSE_GETATTR] = fs_op_getattr,
    [FUSE_SETATTR] = fs_op_setattr,
    [FUSE_READLINK] = fs_op_readlink,
    [FUSE_SYMLINK] = fs_op_symlink,
    [FUSE_MKNOD] = fs_op_mknod,
    [FUSE_MKDIR] = fs_op_mkdir,
    [FUSE_UNLINK] = fs_op_unlink,
    [FUSE_RMDIR] = fs_op_unlink,
    [FUSE_RENAME] = fs_op_rename,
    [FUSE_LINK] = fs_op_link,
    [FUSE_OPEN] = fs_op_open,
    [FUSE_READ] = fs_op_read,
    [FUSE_WRITE] = fs_op_write,
    [FUSE_STATFS] = fs_op_statfs,
    [FUSE_RELEASE] = fs_op_release,
    [FUSE_FSYNC] = fs_op_fsync,
    [FUSE_SETXATTR] = fs_op_setxattr,
    [FUSE_GETXATTR] = fs_op_getxattr,
    [FUSE_LISTXATTR] = fs_op_listxattr,
    [FUSE_REMOVEXATTR] = fs_op_removexattr,
    [FUSE_FLUSH] = fs_op_flush,
    [FUSE_INIT] = op_init,
    [FUSE_OPENDIR] = fs_op_opendir,
    [FUSE_READDIR] = fs_op_readdir,
    [FUSE_RELEASEDIR] = fs_op_release,
    [FUSE_FSYNCDIR] = fs_op_fsync,
    [FUSE_GETLK] = fs_op_getlk,
    [FUSE_SETLK] = fs_op_setlk,
    [FUSE_SETLKW] = fs_op_setlk,
    [FUSE_ACCESS] = fs_op_access,
    [FUSE_CREATE] = fs_op_create,
    [FUSE_DESTROY] = op_destroy,
    [FUSE_IOCTL] = fs_op_ioctl,
    [FUSE_BATCH_FORGET] = fs_op_batch_forget,
    [FUSE_FALLOCATE] = fs_op_fallocate,
    [FUSE_READDIRPLUS] = fs_op_readdir,
    [FUSE_RENAME2] = fs_op_rename,
    [FUSE_LSEEK] = fs_op_lseek,
    [FUSE_COPY_FILE_RANGE] = fs_op_copy_file_range,
    [FUSE_SYNCFS] = fs_op_syncfs,
    [FUSE_TMPFILE] = fs_op_tmpfile,
    [FUSE_SETUPMAPPING] = fs_op_setupmapping,
    [FUSE_REMOVEMAPPING] = fs_op_removemapping,
};

/* How much of the body to copy: all of it but for the requests whose tail is bulk data the operation reads
 * straight from guest memory (WRITE's data, BATCH_FORGET's list). */
static uint64_t copy_len(uint32_t opcode, uint64_t body)
{
    if (opcode == FUSE_WRITE)
        return body < sizeof(struct fuse_write_in) ? body : sizeof(struct fuse_write_in);
    if (opcode == FUSE_BATCH_FORGET)
        return body < sizeof(struct fuse_batch_forget_in) ? body : sizeof(struct fuse_batch_forget_in);
    return body;
}

int fs_handle(struct fs_server *s, struct fs_ctx *c, struct fs_req *req)
{
    if (!thread_ready)
        thread_setup();
    struct fs_op op = {.s = s, .c = c, .req = req, .arg = c->arg};
    for (unsigned i = 0; i < req->n_out; i++)
        op.out_len += req->out[i].iov_len;
    for (unsigned i = 0; i < req->n_in; i++)
        op.in_len += req->in[i].iov_len;
    if (iov_to_buf(req->out, req->n_out, 0, &op.h, sizeof(op.h)) < sizeof(op.h)) {
        FS_COUNT(s, malformed);
        memset(&op.h, 0, sizeof(op.h)); /* unique 0: the driver matches no request to it */
        return fs_reply_err(&op, EINVAL);
    }
    /* The header's length must cover the header and stay inside what the guest gave us. */
    if (op.h.len < sizeof(op.h) || op.h.len > op.out_len) {
        FS_COUNT(s, malformed);
        return fs_reply_err(&op, EINVAL);
    }
    op.body_len = op.h.len - sizeof(op.h);
    uint64_t n = copy_len(op.h.opcode, op.body_len);
    if (n > FS_ARG_MAX) {
        FS_COUNT(s, malformed);
        return fs_reply_err(&op, EINVAL);
    }
    op.arg_len = (uint32_t)iov_to_buf(req->out, req->n_out, sizeof(op.h), c->arg, (size_t)n);
    memset(c->arg + op.arg_len, 0, 8); /* nothing after the copied bytes reads as part of a name */

    uint32_t code = op.h.opcode;
    fs_op_fn fn = code < sizeof(ops) / sizeof(ops[0]) ? ops[code] : NULL;
    if (!fn) {
        FS_COUNT(s, unknown);
        return fs_reply_err(&op, ENOSYS);
    }
    if (code < 64)
        __atomic_add_fetch(&s->stats.ops[code], 1, __ATOMIC_RELAXED);
    if (!__atomic_load_n(&s->initialized, __ATOMIC_ACQUIRE) && code != FUSE_INIT)
        return fs_reply_err(&op, EIO);
    return fn(&op);
}

/* --- the server --------------------------------------------------------------------------------------- */

int fs_server_new(const struct fs_share *share, struct fs_server **out)
{
    struct fs_server *s = calloc(1, sizeof(*s));
    if (!s)
        return log_errno(ENOMEM, "virtio-fs");
    s->share = *share;
    s->root_fd = s->proc_fd = s->window.ino_fd = -1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->watch_lock, NULL);
    pthread_mutex_init(&s->window_lock, NULL);
    int r;
    s->root_fd = open(share->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (s->root_fd < 0) {
        r = log_errno(errno, "--share %s: cannot open %s", share->tag, share->path);
        goto fail;
    }
    struct stat st;
    if ((r = fs_fstat(s->root_fd, &st)) < 0) {
        log_errno(-r, "--share %s: %s", share->tag, share->path);
        goto fail;
    }
    struct statfs sf;
    if (fstatfs(s->root_fd, &sf) == 0 && sf.f_type == PROC_SUPER_MAGIC) {
        log_error("--share %s: %s is the host's procfs, which is never shared", share->tag, share->path);
        r = -EPERM;
        goto fail;
    }
    s->root_dev = st.st_dev;
    s->root_ino = st.st_ino;
    s->proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (s->proc_fd < 0) {
        r = log_errno(errno, "--share %s: /proc/self/fd is needed to reopen shared files", share->tag);
        goto fail;
    }
    s->root_path = realpath(share->path, NULL);
    s->host_uid = geteuid();
    s->host_gid = getegid();
    if ((r = fs_nodes_init(s)) < 0 || (r = fs_handles_init(s)) < 0) {
        log_errno(-r, "virtio-fs");
        goto fail;
    }
    *out = s;
    return 0;
fail:
    fs_server_free(s);
    return r;
}

void fs_server_free(struct fs_server *s)
{
    if (!s)
        return;
    fs_watch_free(s);
    fs_handles_free(s);
    fs_nodes_free(s);
    if (s->proc_fd >= 0)
        close(s->proc_fd);
    if (s->root_fd >= 0)
        close(s->root_fd);
    free(s->root_path);
    fs_window_free(s);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->watch_lock);
    pthread_mutex_destroy(&s->window_lock);
    free(s);
}

void fs_server_reset(struct fs_server *s)
{
    __atomic_store_n(&s->initialized, false, __ATOMIC_RELEASE);
    fs_handles_reset(s);
    fs_nodes_reset(s);
    fs_watch_reset(s);
    fs_window_reset(s); /* the guest's driver starts with an empty window */
}

struct fs_ctx *fs_ctx_new(void)
{
    return malloc(sizeof(struct fs_ctx));
}

void fs_ctx_free(struct fs_ctx *c)
{
    free(c);
}

const struct fs_counters *fs_server_counters(const struct fs_server *s)
{
    return &s->stats;
}

void fs_server_usage(const struct fs_server *s, unsigned *nodes, unsigned *nodes_max, unsigned *handles,
                     unsigned *handles_max)
{
    struct fs_server *m = (struct fs_server *)s;
    pthread_mutex_lock(&m->lock);
    *nodes = s->nodes_used;
    *nodes_max = s->max_nodes;
    *handles = s->handles_used;
    *handles_max = s->max_handles;
    pthread_mutex_unlock(&m->lock);
}
