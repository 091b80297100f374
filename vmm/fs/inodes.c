/* The node table: every host inode the guest holds, by nodeid (slot | generation << 32, looked up, never
 * trusted as a pointer) and by (dev, ino) so the same file always has the same nodeid.
 *
 * Bounds. Each node holds an O_PATH fd, which pins the host inode, so the table is bounded twice: by
 * max_nodes (FS_NODES_DEFAULT, about 90 bytes each: 24 MiB of RSS at most, measured by the 1-million-lookup
 * unit test) and by the descriptors the process may open (RLIMIT_NOFILE, shared by every share and handle,
 * with room kept for the rest of the VMM). A LOOKUP past either gets ENFILE: nodes the guest still references
 * cannot be evicted (the guest would find its nodeid dead), and the guest lets go of what it does not use
 * (FORGET when its inode cache shrinks). Evicting only the fds (re-resolving a node by parent and name) would
 * lift the descriptor bound; it is not done yet (README of the share, "what is left"). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <unistd.h>

#include "fs_int.h"
#include "log.h"

#define FS_NODES_DEFAULT (1u << 18) /* 262144: the kernel's tree (80,000 entries) three times over */
#define FS_FD_RESERVE    2048       /* for the rest of the VMM: the NAT's 1024 sockets, disks, vsock */

static pthread_once_t budget_once = PTHREAD_ONCE_INIT;
static unsigned long fd_budget, fd_used;

/* The soft limit is raised to the hard one (and the hard one as far as the kernel lets a privileged VMM). */
static void budget_init(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        fd_budget = 256;
        return;
    }
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (1u << 20)) {
        struct rlimit up = {.rlim_cur = rl.rlim_max, .rlim_max = 1u << 20};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0) /* only with CAP_SYS_RESOURCE */
            rl = up;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    unsigned long lim = rl.rlim_cur == RLIM_INFINITY ? (1ul << 20) : (unsigned long)rl.rlim_cur;
    fd_budget = lim > FS_FD_RESERVE + 256 ? lim - FS_FD_RESERVE : 256;
}

/* One more descriptor for a node or handle, if the budget has it. */
bool fs_fd_reserve(void)
{
    pthread_once(&budget_once, budget_init);
    if (__atomic_add_fetch(&fd_used, 1, __ATOMIC_RELAXED) > fd_budget) {
        __atomic_sub_fetch(&fd_used, 1, __ATOMIC_RELAXED);
        return false;
    }
    return true;
}

void fs_fd_release(void)
{
    __atomic_sub_fetch(&fd_used, 1, __ATOMIC_RELAXED);
}

static struct fs_node *slot_node(struct fs_server *s, uint32_t i)
{
    return &s->node_chunks[i / FS_CHUNK][i % FS_CHUNK];
}

static uint32_t hash_of(const struct fs_server *s, dev_t dev, ino_t ino)
{
    uint64_t k = (uint64_t)ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)dev * 0xc2b2ae3d27d4eb4full;
    return (uint32_t)(k >> 32) & s->hash_mask;
}

int fs_nodes_init(struct fs_server *s)
{
    s->max_nodes = s->share.max_nodes ? s->share.max_nodes : FS_NODES_DEFAULT;
    unsigned chunks = (s->max_nodes + 2 + FS_CHUNK - 1) / FS_CHUNK;
    unsigned buckets = 1024;
    while (buckets < s->max_nodes && buckets < (1u << 24))
        buckets <<= 1;
    /* calloc'd: pages the guest never makes us touch cost nothing. */
    s->node_chunks = calloc(chunks, sizeof(*s->node_chunks));
    s->node_hash = calloc(buckets, sizeof(*s->node_hash));
    s->node_chunks[0] = s->node_chunks ? calloc(FS_CHUNK, sizeof(struct fs_node)) : NULL;
    if (!s->node_chunks || !s->node_hash || !s->node_chunks[0])
        return -ENOMEM;
    s->hash_mask = buckets - 1;
    s->node_cap = 2; /* slot 0 is never used: nodeid 0 means "no node" to FUSE */
    struct fs_node *root = slot_node(s, 1);
    *root = (struct fs_node){.fd = s->root_fd,
                             .slot = 1,
                             .gen = 0,
                             .nlookup = 1,
                             .dev = s->root_dev,
                             .ino = s->root_ino,
                             .type = S_IFDIR,
                             .wd = -1,
                             .kept = {{.fd = -1}, {.fd = -1}}};
    uint32_t b = hash_of(s, s->root_dev, s->root_ino);
    root->hnext = s->node_hash[b];
    s->node_hash[b] = 1;
    s->nodes_used = 1;
    return 0;
}

static void unhash(struct fs_server *s, struct fs_node *n)
{
    uint32_t *p = &s->node_hash[hash_of(s, n->dev, n->ino)];
    while (*p && *p != n->slot)
        p = &slot_node(s, *p)->hnext;
    if (*p)
        *p = n->hnext;
}

/* Frees a node nobody references any more. Caller holds s->lock. */
static void maybe_free(struct fs_server *s, struct fs_node *n)
{
    if (n->refs || n->nlookup || n->slot == 1 || n->fd < 0)
        return;
    unhash(s, n);
    fs_locks_drop(s, n);
    fs_watch_forget(s, n);
    fs_node_kept_drop_locked(s, n);
    close(n->fd);
    fs_fd_release();
    n->fd = -1;
    n->hnext = s->node_free;
    s->node_free = n->slot;
    s->nodes_used--;
}

void fs_nodes_free(struct fs_server *s)
{
    if (!s->node_chunks)
        return;
    for (uint32_t i = 2; i < s->node_cap; i++) {
        struct fs_node *n = slot_node(s, i);
        if (n->fd >= 0) {
            fs_locks_drop(s, n);
            fs_node_kept_drop_locked(s, n);
            close(n->fd);
            fs_fd_release();
        }
    }
    for (unsigned i = 0; i * FS_CHUNK < s->node_cap; i++)
        free(s->node_chunks[i]);
    free(s->node_chunks);
    free(s->node_hash);
    s->node_chunks = NULL;
}

uint64_t fs_node_id(struct fs_server *s, const struct fs_node *n)
{
    (void)s;
    return (uint64_t)n->gen << 32 | n->slot;
}

struct fs_node *fs_node_get(struct fs_server *s, uint64_t nodeid)
{
    uint32_t i = FS_NODEID_SLOT(nodeid), gen = FS_NODEID_GEN(nodeid);
    struct fs_node *n = NULL;
    pthread_mutex_lock(&s->lock);
    if (i >= 1 && i < s->node_cap) {
        struct fs_node *c = slot_node(s, i);
        if (c->fd >= 0 && c->gen == gen && c->nlookup > 0) {
            c->refs++;
            n = c;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}

void fs_node_put(struct fs_server *s, struct fs_node *n)
{
    if (!n)
        return;
    pthread_mutex_lock(&s->lock);
    n->refs--;
    maybe_free(s, n);
    pthread_mutex_unlock(&s->lock);
}

void fs_node_unref_locked(struct fs_server *s, struct fs_node *n)
{
    n->refs--;
    maybe_free(s, n);
}

void fs_node_ref(struct fs_server *s, struct fs_node *n)
{
    pthread_mutex_lock(&s->lock);
    n->nlookup++;
    pthread_mutex_unlock(&s->lock);
}

static struct fs_node *alloc_slot(struct fs_server *s)
{
    uint32_t i = s->node_free;
    if (i) {
        struct fs_node *n = slot_node(s, i);
        s->node_free = n->hnext;
        return n;
    }
    if (s->node_cap >= s->max_nodes + 2)
        return NULL;
    i = s->node_cap;
    if (!s->node_chunks[i / FS_CHUNK] &&
        !(s->node_chunks[i / FS_CHUNK] = calloc(FS_CHUNK, sizeof(struct fs_node))))
        return NULL;
    s->node_cap++;
    struct fs_node *n = slot_node(s, i);
    n->slot = i;
    return n;
}

int fs_node_add(struct fs_server *s, int fd, const struct stat *st, struct fs_node **out, uint64_t *id)
{
    pthread_mutex_lock(&s->lock);
    for (uint32_t i = s->node_hash[hash_of(s, st->st_dev, st->st_ino)]; i; i = slot_node(s, i)->hnext) {
        struct fs_node *n = slot_node(s, i);
        if (n->dev == st->st_dev && n->ino == st->st_ino) {
            /* The inode lives (our fd pins it), so (dev, ino) still names it: one node per inode. */
            n->nlookup++;
            *id = fs_node_id(s, n);
            if (out) {
                n->refs++;
                *out = n;
            }
            pthread_mutex_unlock(&s->lock);
            close(fd);
            return 0;
        }
    }
    struct fs_node *n = NULL;
    if (s->nodes_used < s->max_nodes && fs_fd_reserve() && !(n = alloc_slot(s)))
        fs_fd_release(); /* reserved, but the slot's memory could not be had */
    if (!n) {
        FS_COUNT(s, enfile);
        pthread_mutex_unlock(&s->lock);
        close(fd);
        return -ENFILE;
    }
    n->gen++;
    if (n->gen == 0) /* only the root has generation 0: nodeid 1 */
        n->gen = 1;
    n->fd = fd;
    n->refs = out ? 1 : 0;
    n->nlookup = 1;
    n->dev = st->st_dev;
    n->ino = st->st_ino;
    n->type = st->st_mode & S_IFMT;
    n->wd = -1;
    n->covered = false;
    n->kept[FS_KEPT_READ] = n->kept[FS_KEPT_WRITE] = (struct fs_kept){.fd = -1};
    n->locks = NULL;
    uint32_t b = hash_of(s, n->dev, n->ino);
    n->hnext = s->node_hash[b];
    s->node_hash[b] = n->slot;
    s->nodes_used++;
    *id = fs_node_id(s, n);
    if (out)
        *out = n;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

bool fs_node_ref_inode(struct fs_server *s, dev_t dev, ino_t ino, uint64_t *id)
{
    bool found = false;
    pthread_mutex_lock(&s->lock);
    for (uint32_t i = s->node_hash[hash_of(s, dev, ino)]; i; i = slot_node(s, i)->hnext) {
        struct fs_node *n = slot_node(s, i);
        if (n->dev == dev && n->ino == ino) {
            n->nlookup++;
            *id = fs_node_id(s, n);
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return found;
}

void fs_node_forget(struct fs_server *s, uint64_t nodeid, uint64_t nlookup)
{
    uint32_t i = FS_NODEID_SLOT(nodeid), gen = FS_NODEID_GEN(nodeid);
    pthread_mutex_lock(&s->lock);
    if (i >= 2 && i < s->node_cap) {
        struct fs_node *n = slot_node(s, i);
        if (n->fd >= 0 && n->gen == gen) {
            n->nlookup -= nlookup < n->nlookup ? nlookup : n->nlookup;
            maybe_free(s, n);
        }
    }
    pthread_mutex_unlock(&s->lock);
}

void fs_nodes_reset(struct fs_server *s)
{
    pthread_mutex_lock(&s->lock);
    for (uint32_t i = 2; i < s->node_cap; i++) {
        struct fs_node *n = slot_node(s, i);
        if (n->fd >= 0) {
            n->nlookup = 0;
            maybe_free(s, n);
        }
    }
    pthread_mutex_unlock(&s->lock);
}

int fs_node_reopen(struct fs_server *s, const struct fs_node *n, int flags)
{
    flags &= ~(O_CREAT | O_EXCL | O_NOFOLLOW | O_DIRECTORY | O_TMPFILE);
    flags |= O_CLOEXEC | O_NOCTTY;
    if (n->type == S_IFDIR) {
        int fd = openat(n->fd, ".", flags | O_DIRECTORY);
        return fd < 0 ? -errno : fd;
    }
    if (n->type != S_IFREG)
        return -EACCES; /* never a FIFO (it would block) or a device */
    char name[16];
    snprintf(name, sizeof(name), "%d", n->fd);
    /* The magic link is the exact inode our O_PATH fd holds, whatever happened to its names since. */
    int fd = openat(s->proc_fd, name, flags);
    return fd < 0 ? -errno : fd;
}
