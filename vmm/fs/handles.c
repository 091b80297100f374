/* The handle table: files and directories the guest has open (OPEN, CREATE, OPENDIR), each a host fd of its
 * own. The guest names one by fh = slot | generation << 32; a released or invented fh finds nothing (EBADF).
 * Bounded by max_handles (FS_HANDLES_DEFAULT) and the descriptor budget shared with the nodes (inodes.c). */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "fs_int.h"

#define FS_HANDLES_DEFAULT (1u << 16)

static struct fs_handle *slot_handle(struct fs_server *s, uint32_t i)
{
    return &s->handle_chunks[i / FS_CHUNK][i % FS_CHUNK];
}

int fs_handles_init(struct fs_server *s)
{
    s->max_handles = s->share.max_handles ? s->share.max_handles : FS_HANDLES_DEFAULT;
    s->handle_chunks = calloc((s->max_handles + 1 + FS_CHUNK - 1) / FS_CHUNK, sizeof(*s->handle_chunks));
    if (!s->handle_chunks)
        return -ENOMEM;
    s->handle_cap = 1; /* fh 0 is never handed out */
    return 0;
}

/* Closes a handle nobody uses any more. Caller holds s->lock. */
static void maybe_free(struct fs_server *s, struct fs_handle *h)
{
    if (h->used || h->refs || h->fd < 0)
        return;
    close(h->fd);
    fs_fd_release();
    h->fd = -1;
    fs_node_unref_locked(s, h->node);
    h->node = NULL;
    h->refs = s->handle_free; /* the free list reuses refs: it is 0 again when the slot is taken */
    s->handle_free = h->slot;
    s->handles_used--;
}

void fs_handles_free(struct fs_server *s)
{
    if (!s->handle_chunks)
        return;
    for (uint32_t i = 1; i < s->handle_cap; i++) {
        struct fs_handle *h = slot_handle(s, i);
        if (h->fd >= 0) {
            close(h->fd);
            fs_fd_release();
        }
        pthread_mutex_destroy(&h->dir_lock);
    }
    for (unsigned i = 0; i * FS_CHUNK < s->handle_cap; i++)
        free(s->handle_chunks[i]);
    free(s->handle_chunks);
    s->handle_chunks = NULL;
}

static struct fs_handle *alloc_slot(struct fs_server *s)
{
    uint32_t i = s->handle_free;
    if (i) {
        struct fs_handle *h = slot_handle(s, i);
        s->handle_free = h->refs;
        h->refs = 0;
        return h;
    }
    if (s->handle_cap >= s->max_handles + 1)
        return NULL;
    i = s->handle_cap;
    if (!s->handle_chunks[i / FS_CHUNK] &&
        !(s->handle_chunks[i / FS_CHUNK] = calloc(FS_CHUNK, sizeof(struct fs_handle))))
        return NULL;
    s->handle_cap++;
    struct fs_handle *h = slot_handle(s, i);
    h->slot = i;
    h->fd = -1;
    pthread_mutex_init(&h->dir_lock, NULL);
    return h;
}

int fs_handle_add(struct fs_server *s, int fd, int flags, bool dir, struct fs_node *n, uint64_t *fh)
{
    pthread_mutex_lock(&s->lock);
    struct fs_handle *h = NULL;
    if (s->handles_used < s->max_handles && fs_fd_reserve() && !(h = alloc_slot(s)))
        fs_fd_release();
    if (!h) {
        pthread_mutex_unlock(&s->lock);
        close(fd);
        return -ENFILE;
    }
    h->gen++;
    h->fd = fd;
    h->flags = flags;
    h->dir = dir;
    h->used = true;
    h->refs = 0;
    h->node = n;
    n->refs++; /* the node lives as long as the handle, whatever the guest forgets */
    s->handles_used++;
    *fh = (uint64_t)h->gen << 32 | h->slot;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

struct fs_handle *fs_handle_get(struct fs_server *s, uint64_t fh)
{
    uint32_t i = (uint32_t)fh, gen = (uint32_t)(fh >> 32);
    struct fs_handle *h = NULL;
    pthread_mutex_lock(&s->lock);
    if (i >= 1 && i < s->handle_cap) {
        struct fs_handle *c = slot_handle(s, i);
        if (c->used && c->gen == gen) {
            c->refs++;
            h = c;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return h;
}

void fs_handle_put(struct fs_server *s, struct fs_handle *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&s->lock);
    h->refs--;
    maybe_free(s, h);
    pthread_mutex_unlock(&s->lock);
}

int fs_handle_release(struct fs_server *s, uint64_t fh, bool dir)
{
    uint32_t i = (uint32_t)fh, gen = (uint32_t)(fh >> 32);
    int r = -EBADF;
    pthread_mutex_lock(&s->lock);
    if (i >= 1 && i < s->handle_cap) {
        struct fs_handle *h = slot_handle(s, i);
        if (h->used && h->gen == gen && h->dir == dir) {
            h->used = false;
            maybe_free(s, h);
            r = 0;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

void fs_handles_reset(struct fs_server *s)
{
    pthread_mutex_lock(&s->lock);
    for (uint32_t i = 1; i < s->handle_cap; i++) {
        struct fs_handle *h = slot_handle(s, i);
        if (h->used) {
            h->used = false;
            maybe_free(s, h);
        }
    }
    pthread_mutex_unlock(&s->lock);
}
