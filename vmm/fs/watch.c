/* Host change notification, the host half (fs_notify.h has the contract and why it takes a guest helper).
 *
 * Nothing is watched until a guest reads events (LSL_FS_IOC_EVENTS on the share's root): a guest without the
 * helper costs the host no inotify watch. From then on every directory the guest opens for listing is
 * watched with host inotify while the guest holds its node (a watched directory reports changes to the
 * files in it too), up to a bound that leaves most of the host user's inotify watches to the host's own
 * programs. Events become records (path under the share, mask) in a bounded queue; when it overflows the
 * guest gets one IN_Q_OVERFLOW record and should rescan what it watches. An event the guest caused itself
 * through the share comes back too: the helper's touch changes nothing on the host, so there is no loop,
 * but the guest's watchers see their own change twice. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "fs_int.h"
#include "io.h"

#define FS_WATCH_MAX    8192        /* watches per share, at most a quarter of the user's limit */
#define FS_EVENTS_QUEUE (64u << 10) /* bytes of records waiting for the guest */
#define WATCH_MASK                                                                                           \
    (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE |          \
     IN_DELETE_SELF | IN_ONLYDIR)

struct watch_slot {
    int wd;          /* 0: free */
    uint64_t nodeid; /* the directory's node: looked up again at each event, never kept as a pointer */
};

struct fs_watch {
    int ifd;
    unsigned n, max;
    struct watch_slot *slots; /* open addressing by wd, 2 * max */
    unsigned nslots;
    uint8_t queue[FS_EVENTS_QUEUE];
    size_t qlen;
    bool overflow;
    size_t last_off; /* the last record, to fold a burst of the same event into one */
};

/* Open addressing by wd; a removed watch leaves a tombstone (wd -1) so later entries stay reachable. */
static struct watch_slot *slot_find(struct fs_watch *w, int wd)
{
    for (unsigned i = 0, h = (unsigned)wd * 2654435761u; i < w->nslots; i++) {
        struct watch_slot *sl = &w->slots[(h + i) % w->nslots];
        if (sl->wd == wd)
            return sl;
        if (sl->wd == 0)
            return NULL;
    }
    return NULL;
}

static struct watch_slot *slot_insert(struct fs_watch *w, int wd)
{
    struct watch_slot *sl = slot_find(w, wd);
    for (unsigned i = 0, h = (unsigned)wd * 2654435761u; !sl && i < w->nslots; i++)
        if (w->slots[(h + i) % w->nslots].wd <= 0)
            sl = &w->slots[(h + i) % w->nslots];
    return sl;
}

static unsigned watch_limit(void)
{
    unsigned long user = 8192;
    int fd = open("/proc/sys/fs/inotify/max_user_watches", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char buf[32];
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n > 0) {
            buf[n] = '\0';
            user = strtoul(buf, NULL, 10);
        }
        close(fd);
    }
    return user / 4 < FS_WATCH_MAX ? (unsigned)(user / 4) : FS_WATCH_MAX;
}

/* Turns watching on (the first event request); false if inotify is not to be had. */
static bool watch_enable(struct fs_server *s)
{
    pthread_mutex_lock(&s->watch_lock);
    if (!s->watch) {
        struct fs_watch *w = calloc(1, sizeof(*w));
        if (w) {
            w->max = watch_limit();
            w->nslots = 2 * w->max + 1;
            w->slots = calloc(w->nslots, sizeof(*w->slots));
            w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
            if (!w->slots || w->ifd < 0) {
                if (w->ifd >= 0)
                    close(w->ifd);
                free(w->slots);
                free(w);
                w = NULL;
            }
        }
        __atomic_store_n(&s->watch, w, __ATOMIC_RELEASE);
    }
    bool on = s->watch != NULL;
    pthread_mutex_unlock(&s->watch_lock);
    return on;
}

void fs_watch_dir(struct fs_server *s, struct fs_node *n)
{
    struct fs_watch *w = __atomic_load_n(&s->watch, __ATOMIC_ACQUIRE);
    if (!w || n->wd >= 0 || w->n >= w->max)
        return;
    char path[32];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", n->fd);
    int wd = inotify_add_watch(w->ifd, path, WATCH_MASK);
    if (wd < 0)
        return;
    uint64_t id = fs_node_id(s, n);
    pthread_mutex_lock(&s->watch_lock);
    struct watch_slot *sl = slot_insert(w, wd);
    if (sl) {
        if (sl->wd != wd)
            w->n++;
        *sl = (struct watch_slot){.wd = wd, .nodeid = id};
    }
    pthread_mutex_unlock(&s->watch_lock);
    pthread_mutex_lock(&s->lock);
    n->wd = wd;
    pthread_mutex_unlock(&s->lock);
}

void fs_watch_forget(struct fs_server *s, struct fs_node *n)
{
    /* Called with s->lock held: only the syscall here; the slot goes when IN_IGNORED arrives. */
    struct fs_watch *w = __atomic_load_n(&s->watch, __ATOMIC_ACQUIRE);
    if (w && n->wd >= 0)
        inotify_rm_watch(w->ifd, n->wd);
    n->wd = -1;
}

void fs_watch_free(struct fs_server *s)
{
    struct fs_watch *w = s->watch;
    if (!w)
        return;
    close(w->ifd);
    free(w->slots);
    free(w);
    s->watch = NULL;
}

int fs_server_watch_fd(struct fs_server *s)
{
    struct fs_watch *w = __atomic_load_n(&s->watch, __ATOMIC_ACQUIRE);
    return w ? w->ifd : -1;
}

/* The directory's path under the share, from the inode's current place on the host. */
static int dir_path(struct fs_server *s, uint64_t nodeid, char *out, size_t len)
{
    struct fs_node *n = fs_node_get(s, nodeid);
    if (!n)
        return -ESTALE;
    char proc[32], full[4096];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", n->fd);
    ssize_t k = readlink(proc, full, sizeof(full) - 1);
    fs_node_put(s, n);
    if (k < 0 || !s->root_path)
        return -ENOENT;
    full[k] = '\0';
    size_t rl = strlen(s->root_path);
    if (strcmp(s->root_path, "/") == 0)
        rl = 0;
    if (strncmp(full, s->root_path, rl) != 0 || (full[rl] != '/' && full[rl] != '\0'))
        return -ENOENT; /* moved out of the share, or deleted ("... (deleted)" is still under the root) */
    snprintf(out, len, "%s", full[rl] == '/' ? full + rl + 1 : "");
    return 0;
}

/* Caller holds watch_lock. */
static void queue_event(struct fs_watch *w, uint32_t mask, const char *dir, const char *name)
{
    char path[4096 + 256];
    int plen = snprintf(path, sizeof(path), "%s%s%s", dir, *dir && *name ? "/" : "", name);
    if (plen < 0 || (size_t)plen >= sizeof(path))
        return;
    size_t len = (sizeof(struct lsl_fs_event) + (size_t)plen + 1 + 7) & ~(size_t)7;
    if (w->qlen) {
        struct lsl_fs_event *last = (struct lsl_fs_event *)(w->queue + w->last_off);
        if (last->mask == mask && strcmp(last->path, path) == 0)
            return; /* the same again (a host program writing a large file): one is enough */
    }
    if (w->qlen + len > sizeof(w->queue) || len > LSL_FS_EVENTS_BUF) {
        w->overflow = true;
        return;
    }
    struct lsl_fs_event *e = (struct lsl_fs_event *)(w->queue + w->qlen);
    memset(e, 0, len);
    e->len = (uint32_t)len;
    e->mask = mask;
    memcpy(e->path, path, (size_t)plen + 1);
    w->last_off = w->qlen;
    w->qlen += len;
}

void fs_server_watch_read(struct fs_server *s)
{
    struct fs_watch *w = __atomic_load_n(&s->watch, __ATOMIC_ACQUIRE);
    if (!w)
        return;
    _Alignas(struct inotify_event) char buf[16384];
    for (;;) {
        ssize_t n = read(w->ifd, buf, sizeof(buf));
        if (n <= 0)
            return;
        for (ssize_t off = 0; off + (ssize_t)sizeof(struct inotify_event) <= n;) {
            const struct inotify_event *ev = (const struct inotify_event *)(buf + off);
            off += (ssize_t)(sizeof(*ev) + ev->len);
            pthread_mutex_lock(&s->watch_lock);
            if (ev->mask & IN_Q_OVERFLOW)
                w->overflow = true;
            struct watch_slot *sl = ev->wd > 0 ? slot_find(w, ev->wd) : NULL;
            uint64_t id = sl ? sl->nodeid : 0;
            if (sl && (ev->mask & IN_IGNORED)) {
                sl->wd = -1; /* a tombstone: probing goes past it */
                w->n--;
                id = 0;
            }
            pthread_mutex_unlock(&s->watch_lock);
            char dir[4096];
            if (!id || dir_path(s, id, dir, sizeof(dir)) < 0)
                continue;
            uint32_t mask = ev->mask & (WATCH_MASK | IN_ISDIR) & ~(uint32_t)IN_ONLYDIR;
            pthread_mutex_lock(&s->watch_lock);
            queue_event(w, mask, dir, ev->len ? ev->name : "");
            pthread_mutex_unlock(&s->watch_lock);
        }
    }
}

bool fs_server_events_waiting(struct fs_server *s)
{
    struct fs_watch *w = __atomic_load_n(&s->watch, __ATOMIC_ACQUIRE);
    if (!w)
        return false;
    pthread_mutex_lock(&s->watch_lock);
    bool any = w->qlen || w->overflow;
    pthread_mutex_unlock(&s->watch_lock);
    return any;
}

/* Takes whole records, up to room bytes, into out. */
static size_t take_events(struct fs_server *s, uint8_t *out, size_t room)
{
    struct fs_watch *w = s->watch;
    size_t used = 0;
    pthread_mutex_lock(&s->watch_lock);
    if (w->overflow && room >= sizeof(struct lsl_fs_event) + 8) {
        struct lsl_fs_event *e = (struct lsl_fs_event *)out;
        memset(e, 0, sizeof(*e) + 8);
        e->len = sizeof(*e) + 8;
        e->mask = IN_Q_OVERFLOW;
        used = e->len;
        w->overflow = false;
    }
    size_t take = 0;
    while (take < w->qlen) {
        const struct lsl_fs_event *e = (const struct lsl_fs_event *)(w->queue + take);
        if (used + e->len > room)
            break;
        memcpy(out + used, e, e->len);
        used += e->len;
        take += e->len;
    }
    memmove(w->queue, w->queue + take, w->qlen - take);
    w->qlen -= take;
    w->last_off = 0;
    if (w->qlen) { /* find the last record again */
        for (size_t o = 0; o < w->qlen; o += ((struct lsl_fs_event *)(w->queue + o))->len)
            w->last_off = o;
    }
    pthread_mutex_unlock(&s->watch_lock);
    return used;
}

int fs_op_ioctl(struct fs_op *op)
{
    const struct fuse_ioctl_in *in = fs_arg(op, sizeof(*in));
    if (!in)
        return fs_reply_err(op, EINVAL);
    if (in->cmd != (uint32_t)LSL_FS_IOC_EVENTS || (in->flags & ~(uint32_t)FUSE_IOCTL_DIR) ||
        op->h.nodeid != FUSE_ROOT_ID)
        return fs_reply_err(op, ENOTTY);
    struct fs_handle *h = fs_handle_get(op->s, in->fh);
    bool ok = h && h->dir && h->node->slot == 1;
    fs_handle_put(op->s, h);
    if (!ok)
        return fs_reply_err(op, ENOTTY);
    if (!watch_enable(op->s))
        return fs_reply_err(op, ENOSPC);
    /* The root is watched from the first call on. */
    struct fs_node *root = fs_node_get(op->s, FUSE_ROOT_ID);
    if (root) {
        fs_watch_dir(op->s, root);
        fs_node_put(op->s, root);
    }
    size_t room = op->in_len > sizeof(struct fuse_out_header) + sizeof(struct fuse_ioctl_out)
                      ? op->in_len - sizeof(struct fuse_out_header) - sizeof(struct fuse_ioctl_out)
                      : 0;
    if (room > in->out_size)
        room = in->out_size;
    if (room > LSL_FS_EVENTS_BUF)
        room = LSL_FS_EVENTS_BUF;
    size_t used = take_events(op->s, op->c->reply, room);
    if (!used && now_ns() - op->req->start_ns < (uint64_t)LSL_FS_EVENTS_WAIT_MS * 1000000) {
        /* Nothing yet: the device holds the request until host events wake it or time is up, and only then:
         * an idle guest's waiting helper costs no polling. */
        op->req->retry_at_ns = op->req->start_ns + (uint64_t)LSL_FS_EVENTS_WAIT_MS * 1000000;
        return FS_RETRY;
    }
    struct fuse_ioctl_out out = {.result = (int32_t)used};
    return fs_reply2(op, &out, sizeof(out), op->c->reply, used);
}
