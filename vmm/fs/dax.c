/* The DAX window: host memory the guest sees as the device's shared memory region (virtio 1.2, 5.11.5), into
 * which SETUPMAPPING maps ranges of shared files, so the guest reads and writes the host's page cache in
 * place (no FUSE READ, no copy into a guest page cache of its own). The device registers the window as a KVM
 * memory slot once; mapping a file over part of it with mmap(MAP_FIXED) is all a SETUPMAPPING does (KVM
 * follows the host's page tables through its MMU notifier), and REMOVEMAPPING puts anonymous memory back.
 *
 * What the guest can do with its window, and what it costs:
 * - Everything is in FS_DAX_RANGE (2 MiB, Linux's FUSE_DAX_SZ) units, aligned: INIT says so (map_alignment).
 * - A read mapping is MAP_PRIVATE: a guest that writes to it changes a private copy, never the file.
 * - Unmapped parts are private anonymous memory: the guest reads zeroes there, and what it writes costs the
 *   host at most the window's size, as memory given to the guest would.
 * - A page of a file mapping past the file's end (the host truncated it under the guest) has nothing behind
 *   it. A guest touching it with interrupts on is not told: KVM retries the fault as an asynchronous one
 *   for as long as the page stays missing (Linux 6.1's kvm_faultin_pfn), so that vCPU stands still; with
 *   interrupts off KVM_RUN fails with EFAULT. Both end the same way: an inotify watch on each mapped file
 *   (fs_server_window_read, the device's dispatcher polls it) and the vCPU's EFAULT
 *   (fs_server_window_repair) find the pages a file lost and put anonymous memory there, so the guest
 *   reads zeroes where the file ended, as after a truncate it raced with, and runs on. The mending undoes
 *   itself: when the file grows again (the host rewrites it, or the guest writes through us:
 *   fs_window_file_grew), the file is mapped back over those zeroes. Only a shrink makes holes: a file that
 *   only grows keeps its mapping past the end, which the guest reaches after its own extending WRITE.
 * Which files the guest maps this way is ours to say (FUSE_ATTR_DAX, per inode): regular files of at least
 * FS_DAX_MIN_SIZE, since a 2 MiB range and a request per file would only slow small ones down. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fs_int.h"
#include "log.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

enum { RANGE_HOLE, RANGE_READ, RANGE_WRITE, RANGE_LOST };

/* Linux's FUSE_REMOVEMAPPING_MAX_ENTRY: one page of entries. */
#define FS_REMOVE_MAX (4096 / sizeof(struct fuse_removemapping_one))

static int map_hole(uint8_t *p, uint64_t len)
{
    void *r =
        mmap(p, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
    return r == MAP_FAILED ? -errno : 0;
}

int fs_server_window(struct fs_server *s, uint64_t size, void **base)
{
    struct fs_window *w = &s->window;
    if (!size || size % FS_DAX_RANGE || w->base)
        return -EINVAL;
    /* Aligned to the range size, so each range can be a huge page on the host where its file allows. */
    uint64_t span = size + FS_DAX_RANGE;
    uint8_t *p = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    uint8_t *a = (uint8_t *)(((uintptr_t)p + FS_DAX_RANGE - 1) & ~(uintptr_t)(FS_DAX_RANGE - 1));
    if (a > p)
        munmap(p, (size_t)(a - p));
    munmap(a + size, (size_t)(p + span - (a + size)));
    uint64_t n = size / FS_DAX_RANGE;
    int r = map_hole(a, size);
    w->state = calloc(n, 1);
    w->wd = malloc(n * sizeof(*w->wd));
    w->foff = calloc(n, sizeof(*w->foff));
    w->mapped = calloc(n, sizeof(*w->mapped));
    w->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (r < 0 || !w->state || !w->wd || !w->foff || !w->mapped || w->ino_fd < 0) {
        r = r < 0 ? r : w->ino_fd < 0 ? -errno : -ENOMEM;
        munmap(a, size);
        fs_window_free(s);
        return r;
    }
    for (uint64_t i = 0; i < n; i++)
        w->wd[i] = -1;
    madvise(a, size, MADV_DONTDUMP);
    w->base = a;
    w->size = size;
    *base = a;
    return 0;
}

void fs_window_free(struct fs_server *s)
{
    struct fs_window *w = &s->window;
    if (w->base)
        munmap(w->base, w->size);
    if (w->ino_fd >= 0)
        close(w->ino_fd);
    for (unsigned i = 0; i < w->nfiles; i++) {
        close(w->files[i].fd);
        fs_fd_release();
    }
    free(w->files);
    free(w->state);
    free(w->wd);
    free(w->foff);
    free(w->mapped);
    *w = (struct fs_window){.ino_fd = -1};
}

static struct fs_dax_file *file_of(struct fs_window *w, int wd)
{
    for (unsigned i = 0; wd >= 0 && i < w->nfiles; i++)
        if (w->files[i].wd == wd)
            return &w->files[i];
    return NULL;
}

static void file_drop(struct fs_window *w, int wd)
{
    struct fs_dax_file *f = file_of(w, wd);
    if (!f)
        return;
    close(f->fd);
    fs_fd_release();
    *f = w->files[--w->nfiles];
}

/* Keeps fd (the mapping's) as the file's for mending, unless it has one already that can do as much: a
 * read-write one maps back both kinds of range. Takes fd either way. Lock held. */
static void file_keep(struct fs_window *w, int wd, int fd, bool write)
{
    struct stat st;
    struct fs_dax_file *f = file_of(w, wd);
    if (wd < 0 || fstat(fd, &st) < 0 || (f && (f->write || !write))) {
        close(fd);
        return;
    }
    if (f) {
        close(f->fd);
        f->fd = fd;
        f->write = write;
        return;
    }
    if (w->nfiles == w->cap) {
        unsigned cap = w->cap * 2 + 8;
        struct fs_dax_file *more = reallocarray(w->files, cap, sizeof(*more));
        if (!more) {
            close(fd);
            return;
        }
        w->files = more;
        w->cap = cap;
    }
    if (!fs_fd_reserve()) {
        close(fd); /* the share's descriptor budget is spent: this file is mended by probing */
        return;
    }
    w->files[w->nfiles++] = (struct fs_dax_file){
        .wd = wd, .fd = fd, .write = write, .dev = st.st_dev, .ino = st.st_ino, .size = (uint64_t)st.st_size};
}

static inline uint64_t nranges(const struct fs_window *w)
{
    return w->size >> FS_DAX_SHIFT;
}

/* Range i stops watching its file: the watch goes when no other range of the file has it. Lock held. */
static void drop_watch(struct fs_window *w, uint64_t i)
{
    int wd = w->wd[i];
    if (wd < 0)
        return;
    w->wd[i] = -1;
    uint64_t n = nranges(w);
    for (uint64_t j = 0; j < n; j++)
        if (w->wd[j] == wd)
            return;
    inotify_rm_watch(w->ino_fd, wd);
    file_drop(w, wd);
}

/* Back to holes: [first, first + n) ranges. Called with w->lock held. */
static int unmap_ranges(struct fs_window *w, uint64_t first, uint64_t n)
{
    int r = map_hole(w->base + first * FS_DAX_RANGE, n * FS_DAX_RANGE);
    /* Should that fail (no memory for the new mapping), the ranges are lost: the next EFAULT repairs them. */
    memset(w->state + first, r < 0 ? RANGE_LOST : RANGE_HOLE, n);
    for (uint64_t i = first; i < first + n; i++)
        drop_watch(w, i);
    return r;
}

void fs_window_reset(struct fs_server *s)
{
    struct fs_window *w = &s->window;
    if (!w->base)
        return;
    /* The whole window at once: range by range, each watch's "does another range still use it" scan made
     * this quadratic in the window's size. */
    pthread_mutex_lock(&s->window_lock);
    uint64_t n = nranges(w);
    int r = map_hole(w->base, w->size);
    for (uint64_t i = 0; i < n; i++) {
        if (w->state[i] != RANGE_HOLE)
            w->state[i] = r < 0 ? RANGE_LOST : RANGE_HOLE;
        if (w->wd[i] >= 0)
            inotify_rm_watch(w->ino_fd, w->wd[i]); /* a file's second range: EINVAL, already gone */
        w->wd[i] = -1;
    }
    while (w->nfiles)
        file_drop(w, w->files[0].wd);
    pthread_mutex_unlock(&s->window_lock);
}

/* A window range [moffset, moffset + len) the guest named: aligned, not empty, inside the window. */
static bool range_ok(const struct fs_window *w, uint64_t moffset, uint64_t len)
{
    return len && !(moffset % FS_DAX_RANGE) && !(len % FS_DAX_RANGE) && moffset <= w->size &&
           len <= w->size - moffset;
}

int fs_op_setupmapping(struct fs_op *op)
{
    struct fs_server *s = op->s;
    struct fs_window *w = &s->window;
    const struct fuse_setupmapping_in *in = fs_arg(op, sizeof(*in));
    if (!w->base)
        return fs_reply_err(op, ENOSYS);
    const uint64_t known = FUSE_SETUPMAPPING_FLAG_READ | FUSE_SETUPMAPPING_FLAG_WRITE;
    if (!in || (in->flags & ~known) || !range_ok(w, in->moffset, in->len) || in->foffset % FS_DAX_RANGE ||
        in->foffset > (uint64_t)INT64_MAX - in->len)
        return fs_reply_err(op, EINVAL);
    bool write = in->flags & FUSE_SETUPMAPPING_FLAG_WRITE;
    if (write && s->share.readonly)
        return fs_reply_err(op, EROFS);
    /* The guest names the inode (fh is -1 from Linux): we open it ourselves, exactly, for as long as mmap. */
    struct fs_node *node = fs_node_get(s, op->h.nodeid);
    if (!node)
        return fs_reply_err(op, ESTALE);
    int fd = node->type == S_IFREG ? fs_node_reopen(s, node, write ? O_RDWR : O_RDONLY) : -EINVAL;
    fs_node_put(s, node);
    if (fd < 0)
        return fs_reply_err(op, fd);
    pthread_mutex_lock(&s->window_lock);
    uint8_t *at = w->base + in->moffset;
    void *p = mmap(at, in->len, PROT_READ | PROT_WRITE, (write ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED, fd,
                   (off_t)in->foffset);
    int r = p == MAP_FAILED ? -errno : 0;
    uint64_t first = in->moffset / FS_DAX_RANGE, n = in->len / FS_DAX_RANGE;
    if (r < 0) {
        unmap_ranges(w, first, n); /* whatever was there is gone */
    } else {
        /* Its watch tells us of a truncate (IN_MODIFY); without one (the host's inotify limit), the vCPU's
         * EFAULT still does where KVM reports it. */
        char path[32];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        /* The ranges' old watches go first: the file's own, when it is mapped there again (the guest's
         * upgrade to a write mapping), would otherwise be removed right after inotify handed it back to us.
         */
        for (uint64_t i = first; i < first + n; i++)
            drop_watch(w, i);
        int wd = inotify_add_watch(w->ino_fd, path, IN_MODIFY);
        for (uint64_t i = first; i < first + n; i++) {
            w->wd[i] = wd;
            w->foff[i] = in->foffset + (i - first) * FS_DAX_RANGE;
            w->mapped[i] = FS_DAX_RANGE;
        }
        memset(w->state + first, write ? RANGE_WRITE : RANGE_READ, n);
        file_keep(w, wd, fd, write);
        fd = -1;
    }
    pthread_mutex_unlock(&s->window_lock);
    if (fd >= 0)
        close(fd);
    if (r < 0)
        return fs_reply_err(op, r == -EACCES || r == -ENODEV ? r : EIO);
    FS_COUNT(s, dax_setups);
    return fs_reply(op, NULL, 0);
}

int fs_op_removemapping(struct fs_op *op)
{
    struct fs_server *s = op->s;
    struct fs_window *w = &s->window;
    const struct fuse_removemapping_in *in = fs_arg(op, sizeof(*in));
    if (!w->base)
        return fs_reply_err(op, ENOSYS);
    if (!in || in->count == 0 || in->count > FS_REMOVE_MAX)
        return fs_reply_err(op, EINVAL);
    size_t size = sizeof(*in) + in->count * sizeof(struct fuse_removemapping_one);
    const uint8_t *all = fs_arg(op, size);
    if (!all)
        return fs_reply_err(op, EINVAL);
    /* The entries follow a 4-byte count: copied out one by one, never read in place (misaligned). */
    struct fuse_removemapping_one one[FS_REMOVE_MAX];
    memcpy(one, all + sizeof(*in), in->count * sizeof(one[0]));
    for (uint32_t i = 0; i < in->count; i++)
        if (!range_ok(w, one[i].moffset, one[i].len))
            return fs_reply_err(op, EINVAL); /* nothing done: the list is checked whole first */
    int r = 0;
    pthread_mutex_lock(&s->window_lock);
    for (uint32_t i = 0; i < in->count; i++) {
        int e = unmap_ranges(w, one[i].moffset / FS_DAX_RANGE, one[i].len / FS_DAX_RANGE);
        r = r ? r : e;
    }
    pthread_mutex_unlock(&s->window_lock);
    __atomic_add_fetch(&s->stats.dax_removes, in->count, __ATOMIC_RELAXED);
    return r < 0 ? fs_reply_err(op, ENOMEM) : fs_reply(op, NULL, 0);
}

/* The first page of [p, p + len) that cannot be read in (past the file's end), or p + len. */
static uint8_t *first_bad_page(uint8_t *p, uint64_t len)
{
    if (madvise(p, len, MADV_POPULATE_READ) == 0)
        return p + len;
    /* Bisect: a truncated file loses a tail, so the pages that fail are the last ones. */
    uint64_t lo = 0, hi = len / 4096; /* the first lo pages read in, the first hi do not */
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (madvise(p, mid * 4096, MADV_POPULATE_READ) == 0)
            lo = mid;
        else
            hi = mid;
    }
    return p + lo * 4096;
}

/* Range i of file f follows the file's size: what it lost since is zeroes, what it has again past such
 * zeroes is the file again. 1 if something changed. Lock held. */
static unsigned follow(struct fs_window *w, uint64_t i, const struct fs_dax_file *f, bool shrank)
{
    uint64_t size = (f->size + 4095) & ~4095ull;
    uint64_t valid = size <= w->foff[i]                 ? 0
                     : size - w->foff[i] < FS_DAX_RANGE ? size - w->foff[i]
                                                        : FS_DAX_RANGE;
    uint8_t *p = w->base + i * FS_DAX_RANGE;
    if (valid > w->mapped[i]) {
        bool write = w->state[i] == RANGE_WRITE;
        void *r =
            mmap(p + w->mapped[i], valid - w->mapped[i], PROT_READ | PROT_WRITE,
                 (write ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED, f->fd, (off_t)(w->foff[i] + w->mapped[i]));
        if (r == MAP_FAILED)
            return 0; /* the zeroes stay */
        w->mapped[i] = valid == FS_DAX_RANGE ? FS_DAX_RANGE : (uint32_t)valid;
        return 1;
    }
    if (shrank && valid < w->mapped[i] && map_hole(p + valid, w->mapped[i] - valid) == 0) {
        w->mapped[i] = (uint32_t)valid;
        __atomic_store_n(&w->shrunk, true, __ATOMIC_RELAXED);
        return 1;
    }
    return 0;
}

/* Every range of file f after its size may have changed. Lock held. */
static unsigned follow_file(struct fs_window *w, struct fs_dax_file *f)
{
    struct stat st;
    if (fstat(f->fd, &st) < 0)
        return 0;
    bool shrank = (uint64_t)st.st_size < f->size;
    f->size = (uint64_t)st.st_size;
    /* Until some file shrank, every range maps its whole 2 MiB and a growing file changes nothing: a host
     * writing to a mapped file costs an fstat per event, not a walk of the window. */
    if (!shrank && !__atomic_load_n(&w->shrunk, __ATOMIC_RELAXED))
        return 0;
    unsigned fixed = 0;
    uint64_t n = nranges(w);
    for (uint64_t i = 0; i < n; i++)
        if (w->wd[i] == f->wd && (w->state[i] == RANGE_READ || w->state[i] == RANGE_WRITE))
            fixed += follow(w, i, f, shrank);
    return fixed;
}

/* Range i, whose file we do not hold (no watch, or no descriptor to spare), mended by probing if the file
 * lost pages under it: 1 if it was. Those zeroes stay. Lock held. */
static unsigned mend(struct fs_window *w, uint64_t i)
{
    if (w->state[i] == RANGE_LOST)
        return unmap_ranges(w, i, 1) == 0;
    if (w->state[i] == RANGE_HOLE)
        return 0;
    uint8_t *p = w->base + i * FS_DAX_RANGE, *bad = first_bad_page(p, FS_DAX_RANGE);
    if (bad == p + FS_DAX_RANGE)
        return 0;
    /* The file's tail is gone: zeroes from there on, the range stays the guest's mapping. */
    w->mapped[i] = (uint32_t)(bad - p);
    return map_hole(bad, (uint64_t)(p + FS_DAX_RANGE - bad)) == 0;
}

unsigned fs_server_window_repair(struct fs_server *s)
{
    struct fs_window *w = &s->window;
    unsigned fixed = 0;
    if (!w->base)
        return 0;
    pthread_mutex_lock(&s->window_lock);
    for (unsigned f = 0; f < w->nfiles; f++)
        fixed += follow_file(w, &w->files[f]);
    uint64_t n = nranges(w);
    for (uint64_t i = 0; i < n; i++)
        if (!file_of(w, w->wd[i]))
            fixed += mend(w, i);
    pthread_mutex_unlock(&s->window_lock);
    __atomic_add_fetch(&s->stats.dax_repairs, fixed, __ATOMIC_RELAXED);
    return fixed;
}

void fs_window_file_grew(struct fs_server *s, int fd)
{
    struct fs_window *w = &s->window;
    struct stat st;
    /* Only after a shrink made zeroes somewhere: until then every mapping still reaches past its file's end.
     */
    if (!w->base || !__atomic_load_n(&w->shrunk, __ATOMIC_RELAXED) || fstat(fd, &st) < 0)
        return;
    pthread_mutex_lock(&s->window_lock);
    for (unsigned f = 0; f < w->nfiles; f++)
        if (w->files[f].dev == st.st_dev && w->files[f].ino == st.st_ino)
            follow_file(w, &w->files[f]);
    pthread_mutex_unlock(&s->window_lock);
}

int fs_server_window_fd(struct fs_server *s)
{
    return s->window.base ? s->window.ino_fd : -1;
}

void fs_server_window_read(struct fs_server *s)
{
    struct fs_window *w = &s->window;
    _Alignas(struct inotify_event) char buf[4096];
    ssize_t len;
    unsigned fixed = 0;
    while ((len = read(w->ino_fd, buf, sizeof(buf))) > 0) {
        pthread_mutex_lock(&s->window_lock);
        uint64_t n = nranges(w);
        for (char *e = buf; e < buf + len;
             e += sizeof(struct inotify_event) + ((struct inotify_event *)e)->len) {
            const struct inotify_event *ev = (const void *)e;
            struct fs_dax_file *f = file_of(w, ev->wd);
            if (f && !(ev->mask & IN_IGNORED)) {
                fixed += follow_file(w, f);
                continue;
            }
            for (uint64_t i = 0; i < n; i++) {
                if (w->wd[i] != ev->wd)
                    continue;
                if (ev->mask & IN_IGNORED)
                    w->wd[i] = -1; /* the kernel dropped the watch (the file is gone): nothing to remove */
                else
                    fixed += mend(w, i);
            }
            if (ev->mask & IN_IGNORED)
                file_drop(w, ev->wd);
        }
        pthread_mutex_unlock(&s->window_lock);
    }
    __atomic_add_fetch(&s->stats.dax_repairs, fixed, __ATOMIC_RELAXED);
}
