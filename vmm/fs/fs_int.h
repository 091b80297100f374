/* What the FUSE server's files share: the server, its node and handle tables, one request being served,
 * and the reply helpers. Not for the device or anyone else (they use fs.h). */
#ifndef LSL_FS_INT_H
#define LSL_FS_INT_H

#include <linux/fuse.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "fs.h"

/* Requests and replies. The largest request that is not file data is SETXATTR: a name and a 64 KiB value. */
#define FS_NAME_MAX        255
#define FS_XATTR_MAX       65536
#define FS_ARG_MAX         (sizeof(struct fuse_setxattr_in) + FS_NAME_MAX + 1 + FS_XATTR_MAX)
#define FS_REPLY_MAX       (FS_XATTR_MAX + 4096) /* readdir, xattr values and lists, readlink */
#define FS_DENTS_MAX       (32u << 10)           /* one getdents64 per READDIR */
#define FS_IOV_MAX         1024                  /* IOV_MAX: segments of one READ or WRITE */
#define FS_MAX_PAGES       256                   /* FUSE_MAX_MAX_PAGES of Linux 6.1: 1 MiB per request */
#define FS_MAX_RW          (FS_MAX_PAGES * 4096u)
#define FS_COPY_MAX        (64u << 20) /* COPY_FILE_RANGE: bytes per request, so no request holds a thread long */
#define FS_MIN_MINOR       27 /* protocol 7.27 (Linux 4.20): every structure we read has its full size */
#define FS_NODEID_SLOT(id) ((uint32_t)(id))
#define FS_NODEID_GEN(id)  ((uint32_t)((id) >> 32))

/* The two sentinel timestamps of the notification touch (watch.c, fs_notify.h). */
#include "fs_notify.h"

struct fs_lock_owner;

/* The DAX window (dax.c): mapped in ranges of FS_DAX_RANGE (Linux's FUSE_DAX_SZ), for regular files of at
 * least FS_DAX_MIN_SIZE (chosen by measurement: vmm/fs/README.md). */
#define FS_DAX_SHIFT    21
#define FS_DAX_RANGE    (1ull << FS_DAX_SHIFT)
#define FS_DAX_MIN_SIZE (1ull << 20)
/* A file the window maps, held for mending (dax.c): its watch, a descriptor to map it back, its last size. */
struct fs_dax_file {
    int wd, fd;
    bool write; /* fd is read-write */
    dev_t dev;
    ino_t ino;
    uint64_t size;
};
struct fs_window {
    uint8_t *base; /* NULL: the share has no window */
    uint64_t size;
    /* Per range: hole, read or write mapping, lost; the inotify watch on its file (-1 without); the file
     * offset it maps; how many of its bytes map the file (the rest: zeroes after a shrink). */
    uint8_t *state;
    int *wd;
    uint64_t *foff;
    uint32_t *mapped;
    int ino_fd;
    struct fs_dax_file *files;
    unsigned nfiles, cap;
    bool shrunk; /* some range has zeroes for what its file lost */
};

/* A host inode the guest holds (it looked it up and has not forgotten it): an O_PATH fd of its own, so no
 * operation ever resolves a path again. Nodeids are slot | generation << 32; the root is slot 1, gen 0. */
struct fs_node {
    int fd; /* O_PATH | O_NOFOLLOW; -1 while the slot is free */
    uint32_t slot;
    uint32_t gen;     /* bumped each time the slot is reused, so an old nodeid never names the new node */
    uint32_t refs;    /* requests using it now: it is freed only when this and nlookup are both zero */
    uint64_t nlookup; /* the guest's references (LOOKUP, CREATE, ... counted; FORGET takes them back) */
    dev_t dev;
    ino_t ino;
    mode_t type;                 /* S_IFMT bits, fixed for the inode's life */
    uint32_t hnext;              /* (dev, ino) hash chain, or the free list */
    int wd;                      /* inotify watch (watch.c), -1 without */
    bool covered;                /* handed out from a watched directory: its attributes are too (watch.c) */
    struct fs_lock_owner *locks; /* POSIX lock owners with an OFD of their own (locks.c) */
    /* Open-less files (ops_file.c): the inode kept open for reading while the guest reads it, and for
     * writing from a CREATE to its FLUSH (FS_KEPT_READ, FS_KEPT_WRITE). */
    struct fs_kept {
        int fd; /* -1 without */
        uint32_t users;
        bool drop; /* close it when its users are done (a FLUSH came meanwhile) */
    } kept[2];
};

/* An open file or directory of the guest (OPEN, CREATE, OPENDIR): fh = slot | generation << 32. */
struct fs_handle {
    int fd;
    uint32_t slot;
    uint32_t gen, refs;
    bool used, dir;
    int flags; /* the host open flags */
    struct fs_node *node;
    pthread_mutex_t dir_lock; /* a directory's position: one READDIR at a time */
};

#define FS_CHUNK 1024 /* table entries per allocation: entries never move, so pointers to them stay valid */

struct fs_server {
    struct fs_share share;
    int root_fd; /* O_PATH of the share's root: the one path ever resolved from a string */
    int proc_fd; /* /proc/self/fd: reopens a node's inode exactly (regular files and dirs only) */
    dev_t root_dev;
    ino_t root_ino;
    char *root_path; /* for the event channel's paths only */
    uid_t host_uid;
    gid_t host_gid;

    /* Negotiated by INIT. */
    bool initialized;
    uint32_t minor;
    bool writeback, flock, posix_locks, submounts;
    bool no_open; /* open-less files: OPEN answers ENOSYS, file requests carry fh 0 (ops_file.c) */

    pthread_mutex_t lock; /* both tables */
    struct fs_node **node_chunks;
    unsigned node_cap, nodes_used, max_nodes;
    uint32_t node_free; /* free list of slots (0: none) */
    uint32_t *node_hash;
    unsigned hash_mask;
    struct fs_handle **handle_chunks;
    unsigned handle_cap, handles_used, max_handles;
    uint32_t handle_free;
    unsigned lock_owners;
    unsigned kept_fds; /* nodes' kept descriptors (ops_file.c) */

    struct fs_watch *watch; /* watch.c; NULL until a guest asks for events */
    pthread_mutex_t watch_lock;
    bool watch_ended; /* LSL_FS_IOC_EVENTS_END came: every later event call is ESHUTDOWN, until a reset */

    struct fs_window window;
    pthread_mutex_t window_lock;
    bool dax_inode; /* INIT: the guest maps the files whose attributes say FUSE_ATTR_DAX */

    struct fs_counters stats;
};

struct fs_ctx {
    uint8_t arg[FS_ARG_MAX + 8];
    uint8_t reply[FS_REPLY_MAX];
    uint8_t dents[FS_DENTS_MAX];
    struct iovec iov[FS_IOV_MAX];
};

/* One request in the server: the header, its arguments (copied out of guest memory once: the guest may
 * change its buffers while we look), and where the reply goes. */
struct fs_op {
    struct fs_server *s;
    struct fs_ctx *c;
    struct fs_req *req;
    struct fuse_in_header h;
    const uint8_t *arg; /* copied arguments after the header */
    uint32_t arg_len;
    uint64_t out_len, in_len;
    uint64_t body_len; /* h.len - header: the arguments as the guest sized them (WRITE: with the data) */
};

/* Counters are bumped by every serving thread. */
#define FS_COUNT(s, field) __atomic_add_fetch(&(s)->stats.field, 1, __ATOMIC_RELAXED)

/* Replies: each writes the out header and returns the reply length (fs_handle's result). */
int fs_reply_err(struct fs_op *op, int err);
int fs_reply(struct fs_op *op, const void *data, size_t len);
/* A reply of two parts (CREATE: entry and open). */
int fs_reply2(struct fs_op *op, const void *a, size_t alen, const void *b, size_t blen);
/* The reply's payload was written at offset 16 of the in segments already (READ): only the header. */
int fs_reply_data(struct fs_op *op, size_t len);

/* Arguments: a fixed-size struct at the start (NULL when the request is shorter) and NUL-terminated names
 * after it. fs_arg_name checks a name (no '/', not empty, at most NAME_MAX) and returns its length + 1, or
 * -EINVAL; "." and ".." pass: each operation decides about those. */
const void *fs_arg(struct fs_op *op, size_t size);
int fs_arg_name(struct fs_op *op, size_t off, const char **name);
bool fs_name_is_dot(const char *name);

/* attr.c: host stat to the guest's view (ownership mapped), and the guest's owners back to the host's. */
void fs_attr_fill(const struct fs_server *s, struct fuse_attr *a, const struct stat *st);
/* cover: FS_COVER_NAME and FS_COVER_ATTR as host watches cover the entry (watch.c); the rest gets the
 * share's timeout. */
#define FS_COVER_NAME 1u
#define FS_COVER_ATTR 2u
void fs_entry_fill(const struct fs_server *s, struct fuse_entry_out *e, uint64_t nodeid,
                   const struct stat *st, unsigned cover);
void fs_timeout(const struct fs_server *s, bool covered, uint64_t *sec, uint32_t *nsec);
uint32_t fs_uid_to_host(const struct fs_server *s, uint32_t guest_uid);
uint32_t fs_gid_to_host(const struct fs_server *s, uint32_t guest_gid);
int fs_fstat(int fd, struct stat *st);

/* inodes.c; fs_fd_reserve/release count the descriptors all shares' nodes and handles hold. */
bool fs_fd_reserve(void);
void fs_fd_release(void);
int fs_nodes_init(struct fs_server *s);
void fs_nodes_free(struct fs_server *s);
struct fs_node *fs_node_get(struct fs_server *s, uint64_t nodeid);
void fs_node_put(struct fs_server *s, struct fs_node *n);
/* fs_node_put with s->lock held (a handle letting go of its node). */
void fs_node_unref_locked(struct fs_server *s, struct fs_node *n);
uint64_t fs_node_id(struct fs_server *s, const struct fs_node *n);
/* Takes fd (an O_PATH of st's inode) and returns the inode's node with one more guest reference: an
 * existing one (fd is closed) or a new one. *id its nodeid. -ENFILE when the table is full. */
int fs_node_add(struct fs_server *s, int fd, const struct stat *st, struct fs_node **out, uint64_t *id);
/* One more guest reference to the node of (dev, ino) if there is one (a LOOKUP that revalidates). */
bool fs_node_ref_inode(struct fs_server *s, dev_t dev, ino_t ino, uint64_t *id);
/* One more guest reference to a node we hold (LINK, "." and ".." lookups). */
void fs_node_ref(struct fs_server *s, struct fs_node *n);
void fs_node_forget(struct fs_server *s, uint64_t nodeid, uint64_t nlookup);
void fs_nodes_reset(struct fs_server *s);
/* The node's inode opened for real through /proc/self/fd (never by name): regular files and dirs only. */
int fs_node_reopen(struct fs_server *s, const struct fs_node *n, int flags);

/* handles.c */
int fs_handles_init(struct fs_server *s);
void fs_handles_free(struct fs_server *s);
int fs_handle_add(struct fs_server *s, int fd, int flags, bool dir, struct fs_node *n, uint64_t *fh);
struct fs_handle *fs_handle_get(struct fs_server *s, uint64_t fh);
void fs_handle_put(struct fs_server *s, struct fs_handle *h);
int fs_handle_release(struct fs_server *s, uint64_t fh, bool dir);
void fs_handles_reset(struct fs_server *s);

/* ops_entry.c: one component opened under a directory fd, never leaving it (flags as openat's). */
int fs_openat2(struct fs_server *s, int dirfd, const char *name, int flags, mode_t mode);
/* A mode from the guest as the host may get it (no setuid/setgid programs of the host user). */
mode_t fs_safe_mode(mode_t mode);
/* name in dir as an entry with one more guest reference on its node (LOOKUP, READDIRPLUS, creations). */
int fs_lookup_entry(struct fs_server *s, struct fs_node *dir, const char *name, struct fuse_entry_out *e);
/* ops_file.c: the guest's open flags as the host gets them, or -errno (-EROFS on a read-only share). */
int fs_open_flags(const struct fs_server *s, uint32_t guest_flags);
/* The host descriptor a file request works on: the handle the guest's fh names, or for an open-less file
 * (fh 0) the request's node opened for it with acc (O_RDONLY, O_WRONLY, FS_IO_ANY: read, else write, or
 * FS_IO_NONE: the node only, fd -1: FLUSH, RELEASE, locks). Returns 0 or -errno (-EBADF: no such open
 * file); fs_file_put after use (also after a failed get). */
#define FS_IO_ANY  (-1)
#define FS_IO_NONE (-2)
struct fs_file {
    struct fs_handle *h; /* the guest's open file, or NULL */
    struct fs_node *n;   /* without a handle: the node, referenced */
    int fd;
    struct fs_kept *kept; /* fd is the node's kept one, not ours to close */
};
int fs_file_get(struct fs_op *op, uint64_t nodeid, uint64_t fh, int acc, struct fs_file *f);
void fs_file_put(struct fs_server *s, struct fs_file *f);
static inline struct fs_node *fs_file_node(const struct fs_file *f)
{
    return f->h ? f->h->node : f->n;
}
/* Caller holds s->lock: the node's kept descriptors go now, or when their last user is done. */
#define FS_KEPT_READ  0
#define FS_KEPT_WRITE 1
void fs_node_kept_drop_locked(struct fs_server *s, struct fs_node *n);
/* Keeps fd (CREATE's, opened with the host open flags given, already without O_APPEND) on the node until a
 * FLUSH; false when it cannot (caller closes). */
bool fs_node_keep_write(struct fs_server *s, struct fs_node *n, int fd, int flags);

/* dax.c */
void fs_window_reset(struct fs_server *s);
void fs_window_free(struct fs_server *s);
/* After a WRITE (or a copy into it) that may have grown the file behind fd: what a shrink had turned to
 * zeroes in the window is the file again before the guest reads it. Cheap until a shrink happened. */
void fs_window_file_grew(struct fs_server *s, int fd);

/* The operations, by file: each takes the request and returns fs_handle's result. */
int fs_op_lookup(struct fs_op *op);
int fs_op_forget(struct fs_op *op);
int fs_op_batch_forget(struct fs_op *op);
int fs_op_getattr(struct fs_op *op);
int fs_op_setattr(struct fs_op *op);
int fs_op_readlink(struct fs_op *op);
int fs_op_symlink(struct fs_op *op);
int fs_op_mknod(struct fs_op *op);
int fs_op_mkdir(struct fs_op *op);
int fs_op_unlink(struct fs_op *op);
int fs_op_rename(struct fs_op *op);
int fs_op_link(struct fs_op *op);
int fs_op_statfs(struct fs_op *op);
int fs_op_setupmapping(struct fs_op *op);
int fs_op_removemapping(struct fs_op *op);
int fs_op_access(struct fs_op *op);
int fs_op_create(struct fs_op *op);
int fs_op_tmpfile(struct fs_op *op);
int fs_op_open(struct fs_op *op);
int fs_op_read(struct fs_op *op);
int fs_op_write(struct fs_op *op);
int fs_op_release(struct fs_op *op);
int fs_op_flush(struct fs_op *op);
int fs_op_fsync(struct fs_op *op);
int fs_op_fallocate(struct fs_op *op);
int fs_op_lseek(struct fs_op *op);
int fs_op_copy_file_range(struct fs_op *op);
int fs_op_syncfs(struct fs_op *op);
int fs_op_opendir(struct fs_op *op);
int fs_op_readdir(struct fs_op *op);
int fs_op_getxattr(struct fs_op *op);
int fs_op_listxattr(struct fs_op *op);
int fs_op_setxattr(struct fs_op *op);
int fs_op_removexattr(struct fs_op *op);
int fs_op_getlk(struct fs_op *op);
int fs_op_setlk(struct fs_op *op);
int fs_op_ioctl(struct fs_op *op);

/* locks.c: a node's POSIX lock owners go with it; FLUSH and RELEASE let an owner's locks go. */
void fs_locks_release_owner(struct fs_server *s, struct fs_node *n, uint64_t owner);
void fs_locks_drop(struct fs_server *s, struct fs_node *n);

/* watch.c: directories the guest has listed are watched once a guest reads events. */
void fs_watch_dir(struct fs_server *s, struct fs_node *n);
void fs_watch_forget(struct fs_server *s, struct fs_node *n);
/* A device reset starts a new session: a guest that ended the watch (LSL_FS_IOC_EVENTS_END) may ask again. */
void fs_watch_reset(struct fs_server *s);
/* Whether a host watch covers the names in dir (watching it now if it can) or n's attributes (st: n's
 * current ones), so the guest may keep them for watched_ms (the rules in watch.c). */
bool fs_watch_covers_names(struct fs_server *s, struct fs_node *dir);
bool fs_watch_covers_attrs(struct fs_server *s, struct fs_node *n, const struct stat *st);
void fs_watch_free(struct fs_server *s);

#endif
