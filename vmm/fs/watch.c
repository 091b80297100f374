/* Host change notification, the host half (fs_notify.h has the contract and why it takes a guest helper).
 *
 * Nothing is watched until a guest reads events (LSL_FS_IOC_EVENTS on the share's root): a guest without the
 * helper costs the host no inotify watch. From then on every directory the guest lists or looks a name up in
 * is watched with host inotify while the guest holds its node (a watched directory reports changes to the
 * files in it too), up to a bound that leaves most of the host user's inotify watches to the host's own
 * programs. Events become records (path under the share, mask) in a bounded queue; when it overflows the
 * guest gets one IN_Q_OVERFLOW record and should forget what it cached. What a watch covers may be trusted
 * long (fs_watch_covers_*). An event the guest caused itself through the share comes back too: the helper's
 * touch and revalidation change nothing on the host, so there is no loop, but it costs the helper a lookup
 * and the guest's watchers see their own change twice (inotify names no sender). */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "fs_int.h"
#include "io.h"

#define FS_WATCH_MAX 65536 /* watches per share, at most a quarter of the user's limit */
/* The helper calls again within the wait it asked for plus its batch's work: silence this much longer
 * means it is gone, and nothing is trusted long from then on. */
#define FS_HELPER_GRACE_NS (2000ull * 1000000)
#define FS_EVENTS_QUEUE    (64u << 10) /* bytes of records waiting for the guest */
#define WATCH_MASK                                                                                           \
    (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE |          \
     IN_DELETE_SELF | IN_ONLYDIR)
/* The same events from fanotify (its bits are inotify's: FAN_ONDIR is IN_ISDIR), for a directory's entries
 * and for itself. */
#define FAN_MASK                                                                                             \
    (FAN_MODIFY | FAN_ATTRIB | FAN_CLOSE_WRITE | FAN_MOVED_FROM | FAN_MOVED_TO | FAN_CREATE | FAN_DELETE |   \
     FAN_DELETE_SELF | FAN_ONDIR | FAN_EVENT_ON_CHILD)
#define FS_WD_FANOTIFY 0x7fffffff /* a node's wd when fanotify marks it */

struct watch_slot {
    int wd;          /* 0: free */
    uint64_t nodeid; /* the directory's node: looked up again at each event, never kept as a pointer */
};

/* A directory marked with fanotify, known by the file handle its events carry (fsid, type, bytes). */
#define FS_FH_MAX 64
struct mark_slot {
    uint32_t hash; /* 0: free; FS_MARK_GONE: a tombstone */
    uint8_t len;   /* bytes of key */
    uint8_t key[FS_FH_MAX];
    uint64_t nodeid;
};
#define FS_MARK_GONE 1u

struct fs_watch {
    int pfd;    /* epoll of the three below: what the device polls */
    int ifd;    /* inotify: directories fanotify cannot mark */
    int ffd;    /* fanotify (FAN_REPORT_DFID_NAME, unprivileged since Linux 5.13), -1 without */
    int efd;    /* eventfd: LSL_FS_IOC_EVENTS_END wakes the device, which answers the waiting call */
    pid_t self; /* our own events carry our pid (every other one 0): those are dropped */
    unsigned n, max;
    struct watch_slot *slots; /* open addressing by wd, 2 * max */
    unsigned nslots;
    struct mark_slot *marks; /* open addressing by handle hash, 2 * max */
    uint8_t queue[FS_EVENTS_QUEUE];
    size_t qlen;
    bool overflow;
    size_t recent[16]; /* the last records' offsets: a path's events fold into its record there */
    unsigned nrecent;
    uint64_t due_ns; /* the helper's next event request, at the latest (its last one's wait, and grace) */
    bool ended;      /* LSL_FS_IOC_EVENTS_END: the guest powers off */
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

static void watch_close(struct fs_watch *w)
{
    if (w->ifd >= 0)
        close(w->ifd);
    if (w->ffd >= 0)
        close(w->ffd);
    if (w->pfd >= 0)
        close(w->pfd);
    if (w->efd >= 0)
        close(w->efd);
    free(w->slots);
    free(w->marks);
    free(w);
}

/* A directory's fanotify key: its file system's fsid and its file handle, as fanotify's events carry them. */
static int mark_key(int fd, uint8_t *key, uint8_t *len)
{
    struct statfs sf;
    struct {
        struct file_handle fh;
        uint8_t bytes[FS_FH_MAX];
    } h = {.fh.handle_bytes = FS_FH_MAX};
    int mount_id;
    if (fstatfs(fd, &sf) < 0 || name_to_handle_at(fd, "", &h.fh, &mount_id, AT_EMPTY_PATH) < 0 ||
        sizeof(sf.f_fsid) + sizeof(int) + h.fh.handle_bytes > FS_FH_MAX)
        return -1;
    memcpy(key, &sf.f_fsid, sizeof(sf.f_fsid));
    memcpy(key + sizeof(sf.f_fsid), &h.fh.handle_type, sizeof(int));
    memcpy(key + sizeof(sf.f_fsid) + sizeof(int), h.fh.f_handle, h.fh.handle_bytes);
    *len = (uint8_t)(sizeof(sf.f_fsid) + sizeof(int) + h.fh.handle_bytes);
    return 0;
}

static uint32_t key_hash(const uint8_t *key, uint8_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (uint8_t i = 0; i < len; i++)
        h = (h ^ key[i]) * 16777619u;
    return h > FS_MARK_GONE ? h : h + 2;
}

/* The mark slot of key, or (insert) the free one it goes to; NULL if not there (or full). */
static struct mark_slot *mark_find(struct fs_watch *w, const uint8_t *key, uint8_t len, bool insert)
{
    uint32_t h = key_hash(key, len);
    struct mark_slot *free_slot = NULL;
    for (unsigned i = 0; i < w->nslots; i++) {
        struct mark_slot *m = &w->marks[(h + i) % w->nslots];
        if (m->hash == h && m->len == len && memcmp(m->key, key, len) == 0)
            return m;
        if (m->hash <= FS_MARK_GONE && !free_slot)
            free_slot = m;
        if (m->hash == 0)
            break;
    }
    return insert ? free_slot : NULL;
}

/* Marks n's directory with fanotify; false if its file system cannot be (no fsid or file handles: FUSE). */
static bool mark_dir(struct fs_server *s, struct fs_watch *w, struct fs_node *n)
{
    uint8_t key[FS_FH_MAX], len;
    char path[32];
    if (w->ffd < 0 || mark_key(n->fd, key, &len) < 0)
        return false;
    snprintf(path, sizeof(path), "/proc/self/fd/%d", n->fd);
    if (fanotify_mark(w->ffd, FAN_MARK_ADD | FAN_MARK_ONLYDIR, FAN_MASK, AT_FDCWD, path) < 0)
        return false;
    uint64_t id = fs_node_id(s, n);
    pthread_mutex_lock(&s->watch_lock);
    struct mark_slot *m = mark_find(w, key, len, true);
    if (m) {
        if (m->hash <= FS_MARK_GONE)
            w->n++;
        m->hash = key_hash(key, len);
        m->len = len;
        memcpy(m->key, key, len);
        m->nodeid = id;
    }
    pthread_mutex_unlock(&s->watch_lock);
    if (!m) {
        (void)fanotify_mark(w->ffd, FAN_MARK_REMOVE | FAN_MARK_ONLYDIR, FAN_MASK, AT_FDCWD, path);
        return false;
    }
    pthread_mutex_lock(&s->lock);
    n->wd = FS_WD_FANOTIFY;
    pthread_mutex_unlock(&s->lock);
    return true;
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
            w->marks = calloc(w->nslots, sizeof(*w->marks));
            w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
            w->ffd = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME | FAN_NONBLOCK | FAN_CLOEXEC,
                                   O_RDONLY | O_CLOEXEC);
            w->pfd = epoll_create1(EPOLL_CLOEXEC);
            w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
            w->self = getpid();
            struct epoll_event ev = {.events = EPOLLIN};
            if (!w->slots || !w->marks || w->ifd < 0 || w->pfd < 0 || w->efd < 0 ||
                epoll_ctl(w->pfd, EPOLL_CTL_ADD, w->ifd, &ev) < 0 ||
                epoll_ctl(w->pfd, EPOLL_CTL_ADD, w->efd, &ev) < 0 ||
                (w->ffd >= 0 && epoll_ctl(w->pfd, EPOLL_CTL_ADD, w->ffd, &ev) < 0)) {
                watch_close(w);
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
    if (!w || n->wd >= 0 || w->n >= w->max || mark_dir(s, w, n))
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

/* What a watch covers, and so may be trusted for watched_ms instead of timeout_ms: a name in a watched
 * directory (any change to it is an event the helper turns into a revalidation of that name in the guest),
 * the attributes of a file with one link reached through one (its changes are events of that directory too;
 * a second link elsewhere could change it unseen), and of a watched directory (its own events). Only while
 * the helper keeps asking: events nobody reads revalidate nothing. The share's root is never covered: the
 * guest cannot revalidate it by a name. Nor is what lies below a host mount point: each guest mount of the
 * share automounts it with a superblock (and cache) of its own, and a change one distribution makes through
 * us is no event (fanotify: our own), so another distribution's cache of it must not be trusted long. */
static bool helper_alive(struct fs_server *s)
{
    struct fs_watch *w = __atomic_load_n(&s->watch, __ATOMIC_ACQUIRE);
    return w && s->share.watched_ms && s->share.timeout_ms && !__atomic_load_n(&w->ended, __ATOMIC_RELAXED) &&
           now_ns() < __atomic_load_n(&w->due_ns, __ATOMIC_RELAXED);
}

bool fs_watch_covers_names(struct fs_server *s, struct fs_node *dir)
{
    if (!helper_alive(s) || dir->dev != s->root_dev)
        return false;
    fs_watch_dir(s, dir); /* before the lookup it covers: a change after this is an event */
    return __atomic_load_n(&dir->wd, __ATOMIC_RELAXED) >= 0;
}

bool fs_watch_covers_attrs(struct fs_server *s, struct fs_node *n, const struct stat *st)
{
    if (!helper_alive(s) || n->slot == 1 || n->dev != s->root_dev)
        return false;
    if (S_ISDIR(st->st_mode)) {
        fs_watch_dir(s, n);
        return __atomic_load_n(&n->wd, __ATOMIC_RELAXED) >= 0;
    }
    return __atomic_load_n(&n->covered, __ATOMIC_RELAXED) && st->st_nlink == 1;
}

void fs_watch_forget(struct fs_server *s, struct fs_node *n)
{
    /* Called with s->lock held (watch_lock nests inside it). An inotify watch's slot goes when IN_IGNORED
     * arrives; a mark's at once (fanotify says nothing when a mark goes). */
    struct fs_watch *w = __atomic_load_n(&s->watch, __ATOMIC_ACQUIRE);
    if (w && n->wd == FS_WD_FANOTIFY) {
        uint8_t key[FS_FH_MAX], len;
        char path[32];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", n->fd);
        (void)fanotify_mark(w->ffd, FAN_MARK_REMOVE | FAN_MARK_ONLYDIR, FAN_MASK, AT_FDCWD, path);
        if (mark_key(n->fd, key, &len) == 0) {
            pthread_mutex_lock(&s->watch_lock);
            struct mark_slot *m = mark_find(w, key, len, false);
            if (m) {
                m->hash = FS_MARK_GONE;
                w->n--;
            }
            pthread_mutex_unlock(&s->watch_lock);
        }
    } else if (w && n->wd >= 0) {
        inotify_rm_watch(w->ifd, n->wd);
    }
    n->wd = -1;
}

void fs_watch_free(struct fs_server *s)
{
    struct fs_watch *w = s->watch;
    if (!w)
        return;
    watch_close(w);
    s->watch = NULL;
}

int fs_server_watch_fd(struct fs_server *s)
{
    struct fs_watch *w = __atomic_load_n(&s->watch, __ATOMIC_ACQUIRE);
    return w ? w->pfd : -1;
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
    /* A path's events close together are one record with their masks together (a file written: create,
     * modify, close; a large file: modify after modify): the helper acts once for them. */
    for (unsigned i = 0; i < w->nrecent && i < sizeof(w->recent) / sizeof(w->recent[0]); i++) {
        struct lsl_fs_event *e = (struct lsl_fs_event *)(w->queue + w->recent[i]);
        if (strcmp(e->path, path) == 0) {
            e->mask |= mask;
            return;
        }
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
    w->recent[w->nrecent++ % (sizeof(w->recent) / sizeof(w->recent[0]))] = w->qlen;
    w->qlen += len;
}

/* One event of directory nodeid (0: none known) about name, queued for the guest. */
static void event_of(struct fs_server *s, struct fs_watch *w, uint64_t id, uint32_t mask, const char *name)
{
    char dir[4096];
    if (!id || dir_path(s, id, dir, sizeof(dir)) < 0)
        return;
    pthread_mutex_lock(&s->watch_lock);
    queue_event(w, mask & (WATCH_MASK | IN_ISDIR) & ~(uint32_t)IN_ONLYDIR, dir, name);
    pthread_mutex_unlock(&s->watch_lock);
}

/* fanotify's events: the directory by its handle, the name after it ("." the directory itself). Records are
 * 4-byte aligned at best (a name's length decides): every field is copied out, never read in place. */
#define FID_HANDLE                                                                                           \
    offsetof(struct fanotify_event_info_fid, handle) /* then handle_bytes, handle_type, bytes */
static void read_marks(struct fs_server *s, struct fs_watch *w)
{
    char buf[16384];
    for (;;) {
        ssize_t n = read(w->ffd, buf, sizeof(buf));
        if (n <= 0)
            return;
        for (ssize_t off = 0; off + (ssize_t)sizeof(struct fanotify_event_metadata) <= n;) {
            struct fanotify_event_metadata md;
            memcpy(&md, buf + off, sizeof(md));
            if (md.event_len < sizeof(md) || md.event_len > (size_t)(n - off) ||
                md.metadata_len > md.event_len)
                break;
            const char *ev = buf + off, *end = ev + md.event_len;
            off += md.event_len;
            if (md.mask & FAN_Q_OVERFLOW) {
                pthread_mutex_lock(&s->watch_lock);
                w->overflow = true;
                pthread_mutex_unlock(&s->watch_lock);
                continue;
            }
            if (md.pid == w->self)
                continue; /* the guest's own change through us: its cache knows already */
            for (const char *p = ev + md.metadata_len; p + FID_HANDLE + 8 <= end;) {
                struct fanotify_event_info_header hdr;
                memcpy(&hdr, p, sizeof(hdr));
                if (hdr.len < FID_HANDLE + 8 || hdr.len > (size_t)(end - p))
                    break;
                const char *rec = p;
                p += hdr.len;
                if (hdr.info_type != FAN_EVENT_INFO_TYPE_DFID_NAME &&
                    hdr.info_type != FAN_EVENT_INFO_TYPE_DFID)
                    continue;
                uint32_t hbytes;
                int htype;
                memcpy(&hbytes, rec + FID_HANDLE, sizeof(hbytes));
                memcpy(&htype, rec + FID_HANDLE + 4, sizeof(htype));
                const char *hdata = rec + FID_HANDLE + 8, *name = hdata + hbytes;
                size_t klen = sizeof(__kernel_fsid_t) + sizeof(int) + hbytes;
                if (hbytes > FS_FH_MAX || klen > FS_FH_MAX || name > p)
                    continue;
                uint8_t key[FS_FH_MAX];
                memcpy(key, rec + offsetof(struct fanotify_event_info_fid, fsid), sizeof(__kernel_fsid_t));
                memcpy(key + sizeof(__kernel_fsid_t), &htype, sizeof(int));
                memcpy(key + sizeof(__kernel_fsid_t) + sizeof(int), hdata, hbytes);
                if (hdr.info_type == FAN_EVENT_INFO_TYPE_DFID || name == p ||
                    !memchr(name, 0, (size_t)(p - name)) || strcmp(name, ".") == 0)
                    name = "";
                pthread_mutex_lock(&s->watch_lock);
                const struct mark_slot *m = mark_find(w, key, (uint8_t)klen, false);
                uint64_t id = m ? m->nodeid : 0;
                pthread_mutex_unlock(&s->watch_lock);
                event_of(s, w, id, (uint32_t)md.mask, name);
                break; /* one record names the place */
            }
        }
    }
}

void fs_server_watch_read(struct fs_server *s)
{
    struct fs_watch *w = __atomic_load_n(&s->watch, __ATOMIC_ACQUIRE);
    if (!w)
        return;
    if (w->ffd >= 0)
        read_marks(s, w);
    uint64_t v;
    (void)!read(w->efd, &v, sizeof(v)); /* the end's wake-up: events_waiting says it */
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
            event_of(s, w, id, ev->mask, ev->len ? ev->name : "");
        }
    }
}

bool fs_server_events_waiting(struct fs_server *s)
{
    struct fs_watch *w = __atomic_load_n(&s->watch, __ATOMIC_ACQUIRE);
    if (!w)
        return false;
    pthread_mutex_lock(&s->watch_lock);
    bool any = w->qlen || w->overflow || w->ended;
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
    w->nrecent = 0; /* offsets moved: what is left is not folded into */
    pthread_mutex_unlock(&s->watch_lock);
    return used;
}

/* LSL_FS_IOC_EVENTS_END: the waiting call (parked in the device) is answered when the device next looks
 * at the watch, which the eventfd makes now; without a watch nobody waits. */
static int watch_end(struct fs_op *op)
{
    pthread_mutex_lock(&op->s->watch_lock);
    struct fs_watch *w = op->s->watch;
    __atomic_store_n(&op->s->watch_ended, true, __ATOMIC_RELAXED);
    if (w && !w->ended) {
        __atomic_store_n(&w->ended, true, __ATOMIC_RELAXED);
        uint64_t one = 1;
        (void)!write(w->efd, &one, sizeof(one));
    }
    pthread_mutex_unlock(&op->s->watch_lock);
    struct fuse_ioctl_out out = {.result = 0};
    return fs_reply(op, &out, sizeof(out));
}

void fs_watch_reset(struct fs_server *s)
{
    pthread_mutex_lock(&s->watch_lock);
    __atomic_store_n(&s->watch_ended, false, __ATOMIC_RELAXED);
    if (s->watch)
        __atomic_store_n(&s->watch->ended, false, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&s->watch_lock);
}

int fs_op_ioctl(struct fs_op *op)
{
    const struct fuse_ioctl_in *in = fs_arg(op, sizeof(*in));
    if (!in)
        return fs_reply_err(op, EINVAL);
    uint64_t wait_ms = in->cmd == (uint32_t)LSL_FS_IOC_EVENTS        ? LSL_FS_EVENTS_WAIT_MS
                       : in->cmd == (uint32_t)LSL_FS_IOC_EVENTS_IDLE ? LSL_FS_EVENTS_IDLE_MS
                                                                     : 0;
    if ((!wait_ms && in->cmd != (uint32_t)LSL_FS_IOC_EVENTS_END) || (in->flags & ~(uint32_t)FUSE_IOCTL_DIR) ||
        op->h.nodeid != FUSE_ROOT_ID)
        return fs_reply_err(op, ENOTTY);
    struct fs_handle *h = fs_handle_get(op->s, in->fh);
    bool ok = h && h->dir && h->node->slot == 1;
    fs_handle_put(op->s, h);
    if (!ok)
        return fs_reply_err(op, ENOTTY);
    if (!wait_ms)
        return watch_end(op);
    if (__atomic_load_n(&op->s->watch_ended, __ATOMIC_RELAXED))
        return fs_reply_err(op, ESHUTDOWN);
    if (!watch_enable(op->s))
        return fs_reply_err(op, ENOSPC);
    /* Also each time it waits on: the call is the helper's, alive until its wait is over. */
    __atomic_store_n(&op->s->watch->due_ns, op->req->start_ns + wait_ms * 1000000 + FS_HELPER_GRACE_NS,
                     __ATOMIC_RELAXED);
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
    if (!used && now_ns() - op->req->start_ns < wait_ms * 1000000) {
        /* Nothing yet: the device holds the request until host events wake it or time is up, and only then:
         * an idle guest's waiting helper costs no polling. */
        op->req->retry_at_ns = op->req->start_ns + wait_ms * 1000000;
        return FS_RETRY;
    }
    struct fuse_ioctl_out out = {.result = (int32_t)used};
    return fs_reply2(op, &out, sizeof(out), op->c->reply, used);
}
