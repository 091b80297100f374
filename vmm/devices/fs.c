/* virtio-fs (virtio 1.2, section 5.11): device id 26, config {tag[36], num_request_queues}, queue 0 "hiprio"
 * (FORGETs), queue 1 the requests. The FUSE server is vmm/fs/; this file moves requests between the rings
 * and it.
 *
 * Threads. Each share has a dispatcher thread that owns its queues' kick eventfds (own_kicks, the transport
 * feature virtio-net uses): file system calls can block for as long as the host's file system likes (a
 * network home directory, a disk spinning up), and in the VMM's I/O thread that would stall every disk and
 * session with them. The dispatcher pops requests under the device lock and serves them without it, so the
 * vCPUs only ever wait for a pop or a push. With threads=N it hands them to N workers instead (out-of-order
 * completion is what the used ring is for). Linux 6.1's driver puts every request on the first request
 * queue ("TODO multiqueue"), so one request queue is offered: more would only be more rings nobody fills.
 *
 * Workers or not, measured with bench/fsbench.py in the emulated KVM host (one emulated CPU, so the peers
 * share it): the worker handoff costs a futex wake and a context switch per request, which metadata work pays
 * on every one of its many small requests; what a pool buys is host system calls of different requests
 * overlapping, which needs idle host CPUs and blocking host I/O. The default (FS_DEFAULT_THREADS, numbers in
 * vmm/fs/share.h's users: the README's share section) follows that measurement; --share ...,threads=N
 * overrides it for hosts with cores to spare and slow file systems.
 *
 * Waiting requests (SETLKW, the event channel) are parked here and tried again with a growing delay (1 ms
 * up to 50 ms; the event channel at its deadline) or as soon as host events arrive: no thread ever sleeps on
 * the guest's behalf.
 *
 * DAX (--share ...,dax=MIB): the server's window (vmm/fs/dax.c) becomes the device's shared memory region 0
 * (the transport's SHM registers) at a guest-physical address above RAM, one KVM memory slot; the guest's
 * driver maps file ranges into it with SETUPMAPPING and reads them in place. */
#include "fs.h"

#include <errno.h>
#include <linux/fuse.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../fs/fs.h"
#include "io.h"
#include "log.h"
#include "macro.h"
#include "../core/thread.h"
#include "virtio_mmio.h"

#define VIRTIO_ID_FS  26
#define FS_Q_HIPRIO   0
#define FS_Q_REQUEST  1
#define FS_NUM_QUEUES 2
/* Linux caps a request at (queue size - 4) pages: 1024 entries let it reach FUSE's 256 (1 MiB). */
#define FS_QUEUE_SIZE 1024
/* Requests held at once: both rings full, plus what still completes across a reset. */
#define FS_ITEMS        (3 * FS_QUEUE_SIZE)
#define FS_ITEM_SEGS    (1024 + 16) /* a READ/WRITE's 256 pages are far below; more is not a Linux request */
#define FS_RETRY_MIN_NS 1000000ull
#define FS_RETRY_MAX_NS 50000000ull

struct __attribute__((packed)) fs_config {
    uint8_t tag[FS_TAG_MAX];
    uint32_t num_request_queues;
};

struct fs_item {
    struct fs_item *next;
    uint16_t queue, head;
    uint32_t gen; /* the device's reset generation when it was popped */
    struct iovec *iov;
    uint32_t n_out, n_in, cap;
    uint64_t start_ns, retry_ns;
    unsigned tries;
};

struct fs_dev_counters {
    uint64_t parked, retries, dropped_by_reset, items_exhausted;
};

/* Host events are read at most this often (the dispatcher says why). */
#define FS_WATCH_GAP_NS (20ull * 1000000)

struct fs_dev {
    struct virtio_dev vdev;
    struct fs_config config;
    struct fs_share share;
    struct fs_server *srv;
    struct fs_ctx *ctx; /* the dispatcher's (or the caller's, without threads) */
    uint32_t gen;       /* bumped by a reset, under vdev.lock */

    pthread_mutex_t qlock; /* items, the work queue, the parked list */
    pthread_cond_t qcond;
    struct fs_item items[FS_ITEMS];
    struct fs_item *free_items, *work_head, *work_tail, *parked;
    bool starved; /* the dispatcher stopped popping for want of items */

    bool running, stopping;
    struct vmm_thread thread;
    unsigned nworkers;
    struct vmm_thread workers[FS_THREADS_MAX];
    struct fs_ctx *worker_ctx[FS_THREADS_MAX];
    int stop_fd, wake_fd;
    struct fs_dev_counters stats;
};

static const void *fs_config_space(struct virtio_dev *vdev, uint32_t *len)
{
    struct fs_dev *d = vdev->priv;
    *len = sizeof(d->config);
    return &d->config;
}

static struct fs_item *item_alloc(struct fs_dev *d)
{
    pthread_mutex_lock(&d->qlock);
    struct fs_item *it = d->free_items;
    if (it)
        d->free_items = it->next;
    else {
        d->starved = true;
        d->stats.items_exhausted++;
    }
    pthread_mutex_unlock(&d->qlock);
    return it;
}

static void item_free(struct fs_dev *d, struct fs_item *it)
{
    pthread_mutex_lock(&d->qlock);
    it->next = d->free_items;
    d->free_items = it;
    bool wake = d->starved;
    d->starved = false;
    pthread_mutex_unlock(&d->qlock);
    if (wake && d->wake_fd >= 0) {
        uint64_t one = 1;
        if (write(d->wake_fd, &one, sizeof(one)) < 0)
            d->vdev.stats.errors++;
    }
}

/* Copies a popped request's segments into the item (the device's scratch request is reused by the next pop).
 * false: more segments than any Linux request has. */
static bool item_take(struct fs_item *it, const struct virtq_req *req)
{
    uint32_t n = req->n_out + req->n_in;
    if (n > FS_ITEM_SEGS)
        return false;
    if (n > it->cap) {
        uint32_t cap = n < 64 ? 64 : n;
        struct iovec *iov = realloc(it->iov, cap * sizeof(*iov));
        if (!iov)
            return false;
        it->iov = iov;
        it->cap = cap;
    }
    memcpy(it->iov, req->iov, n * sizeof(*it->iov));
    it->n_out = req->n_out;
    it->n_in = req->n_in;
    it->head = req->head;
    return true;
}

/* Returns a served request to the driver, unless a reset came in between. */
static void complete(struct fs_dev *d, struct fs_item *it, uint32_t len, bool signal)
{
    struct virtio_dev *v = &d->vdev;
    pthread_mutex_lock(&v->lock);
    if (it->gen == d->gen && virtio_queue_live(v, it->queue)) {
        virtq_push(&v->vq[it->queue], it->head, len);
        v->stats.requests++;
        v->stats.bytes_in += len;
        if (signal)
            virtio_dev_signal(v, &v->vq[it->queue]);
    } else {
        d->stats.dropped_by_reset++;
    }
    pthread_mutex_unlock(&v->lock);
    item_free(d, it);
}

static void signal_queue(struct fs_dev *d, unsigned q)
{
    struct virtio_dev *v = &d->vdev;
    pthread_mutex_lock(&v->lock);
    if (virtio_queue_live(v, q))
        virtio_dev_signal(v, &v->vq[q]);
    pthread_mutex_unlock(&v->lock);
}

static void park(struct fs_dev *d, struct fs_item *it, uint64_t retry_at_ns)
{
    uint64_t delay = FS_RETRY_MIN_NS << (it->tries < 6 ? it->tries : 6);
    it->retry_ns = retry_at_ns ? retry_at_ns : now_ns() + (delay < FS_RETRY_MAX_NS ? delay : FS_RETRY_MAX_NS);
    it->tries++;
    pthread_mutex_lock(&d->qlock);
    it->next = d->parked;
    d->parked = it;
    d->stats.parked++;
    pthread_mutex_unlock(&d->qlock);
}

/* Serves one request with ctx; true when it completed (pushed, without an interrupt yet). */
static bool serve(struct fs_dev *d, struct fs_ctx *ctx, struct fs_item *it, bool signal)
{
    if (it->gen != __atomic_load_n(&d->gen, __ATOMIC_ACQUIRE)) {
        complete(d, it, 0, false); /* dropped: the driver reset the device since */
        return false;
    }
    struct fs_req req = {.out = it->iov,
                         .n_out = it->n_out,
                         .in = it->iov + it->n_out,
                         .n_in = it->n_in,
                         .start_ns = it->start_ns};
    int len = fs_handle(d->srv, ctx, &req);
    if (len == FS_RETRY) {
        park(d, it, req.retry_at_ns);
        return false;
    }
    complete(d, it, (uint32_t)len, signal);
    return true;
}

/* Pops what the driver queued on q and serves it (inline) or hands it to the workers. */
static void drain_queue(struct fs_dev *d, unsigned q)
{
    struct virtio_dev *v = &d->vdev;
    struct fs_item *batch = NULL, *last = NULL;
    pthread_mutex_lock(&v->lock);
    while (virtio_queue_live(v, q)) {
        struct fs_item *it = item_alloc(d);
        if (!it)
            break; /* the requests stay in the ring: a completing one wakes us */
        int r = virtq_pop(&v->vq[q], v->mem, &v->req);
        if (r == 0 && virtq_arm_notify(&v->vq[q]))
            r = virtq_pop(&v->vq[q], v->mem, &v->req);
        if (r <= 0) {
            if (r < 0)
                virtio_dev_break(v, "malformed request ring");
            pthread_mutex_unlock(&v->lock);
            item_free(d, it);
            pthread_mutex_lock(&v->lock);
            break;
        }
        it->queue = (uint16_t)q;
        it->gen = d->gen;
        it->start_ns = now_ns();
        it->tries = 0;
        if (!item_take(it, &v->req)) {
            /* No Linux driver sends this: counted, returned empty, the device keeps working. */
            v->stats.malformed++;
            virtq_push(&v->vq[q], v->req.head, 0);
            pthread_mutex_unlock(&v->lock);
            item_free(d, it);
            pthread_mutex_lock(&v->lock);
            continue;
        }
        it->next = NULL;
        if (last)
            last->next = it;
        else
            batch = it;
        last = it;
    }
    pthread_mutex_unlock(&v->lock);
    if (!batch)
        return;
    if (q == FS_Q_HIPRIO || d->nworkers == 0) {
        /* One interrupt for the batch, after its last push. */
        bool pushed = false;
        for (struct fs_item *it = batch, *next; it; it = next) {
            next = it->next;
            pushed |= serve(d, d->ctx, it, false);
        }
        if (pushed)
            signal_queue(d, q);
        return;
    }
    pthread_mutex_lock(&d->qlock);
    if (d->work_tail)
        d->work_tail->next = batch;
    else
        d->work_head = batch;
    d->work_tail = last;
    pthread_cond_broadcast(&d->qcond);
    pthread_mutex_unlock(&d->qlock);
}

unsigned fs_dev_retry(struct fs_dev *d, bool force)
{
    uint64_t now = now_ns();
    pthread_mutex_lock(&d->qlock);
    struct fs_item *due = NULL, **keep = &d->parked;
    unsigned left = 0;
    while (*keep) {
        struct fs_item *it = *keep;
        if (force || it->retry_ns <= now) {
            *keep = it->next;
            it->next = due;
            due = it;
        } else {
            keep = &it->next;
            left++;
        }
    }
    pthread_mutex_unlock(&d->qlock);
    for (struct fs_item *it = due, *next; it; it = next) {
        next = it->next;
        d->stats.retries++;
        serve(d, d->ctx, it, true);
    }
    pthread_mutex_lock(&d->qlock);
    left = 0;
    for (struct fs_item *it = d->parked; it; it = it->next)
        left++;
    pthread_mutex_unlock(&d->qlock);
    return left;
}

static int next_retry_ms(struct fs_dev *d)
{
    uint64_t now = now_ns(), first = UINT64_MAX;
    pthread_mutex_lock(&d->qlock);
    for (struct fs_item *it = d->parked; it; it = it->next)
        first = it->retry_ns < first ? it->retry_ns : first;
    pthread_mutex_unlock(&d->qlock);
    if (first == UINT64_MAX)
        return -1;
    return first <= now ? 0 : (int)((first - now + 999999) / 1000000);
}

static void drain_fd(int fd)
{
    uint64_t v;
    if (fd >= 0 && read(fd, &v, sizeof(v)) < 0)
        return;
}

static void *dispatcher(void *opaque)
{
    struct fs_dev *d = opaque;
    struct virtio_dev *v = &d->vdev;
    uint64_t watch_read_ns = 0;
    for (;;) {
        /* Host events are read at most every FS_WATCH_GAP_NS: a guest writing a tree makes three events a
         * file (ours, dropped at once), and waking for each one cost creating a file half again under
         * emulation; a host change waits that much longer, the kernel's queue (16,384) is far. */
        int watch = fs_server_watch_fd(d->srv), timeout = next_retry_ms(d);
        uint64_t now = now_ns();
        bool watch_due = watch >= 0 && now - watch_read_ns >= FS_WATCH_GAP_NS;
        if (watch >= 0 && !watch_due) {
            int gap = (int)((watch_read_ns + FS_WATCH_GAP_NS - now + 999999) / 1000000);
            timeout = timeout < 0 || gap < timeout ? gap : timeout;
        }
        struct pollfd p[6] = {
            {.fd = d->stop_fd, .events = POLLIN},
            {.fd = v->kick_fd[FS_Q_HIPRIO], .events = POLLIN},
            {.fd = v->kick_fd[FS_Q_REQUEST], .events = POLLIN},
            {.fd = d->wake_fd, .events = POLLIN},
            {.fd = fs_server_window_fd(d->srv), .events = POLLIN}, /* -1 without a DAX window: ignored */
            {.fd = watch, .events = POLLIN},
        };
        int r = poll(p, watch_due ? 6 : 5, timeout);
        if (r < 0 && errno != EINTR)
            break;
        if (p[0].revents)
            break;
        if (p[4].revents)
            fs_server_window_read(d->srv);
        bool events = false;
        if (watch_due && p[5].revents) {
            fs_server_watch_read(d->srv);
            watch_read_ns = now_ns();
            events = fs_server_events_waiting(d->srv);
        }
        for (unsigned q = 0; q < FS_NUM_QUEUES; q++)
            if (p[1 + q].revents) {
                drain_fd(p[1 + q].fd);
                v->stats.kicks++;
            }
        drain_fd(p[3].revents ? d->wake_fd : -1);
        /* Every pass looks at both rings: a wake after a starved pop has no kick of its own. */
        drain_queue(d, FS_Q_HIPRIO);
        drain_queue(d, FS_Q_REQUEST);
        fs_dev_retry(d, events);
    }
    return NULL;
}

static void *worker(void *opaque)
{
    struct fs_dev *d = opaque;
    pthread_mutex_lock(&d->qlock);
    unsigned me = 0;
    while (me < d->nworkers && !pthread_equal(d->workers[me].id, pthread_self()))
        me++;
    struct fs_ctx *ctx = d->worker_ctx[me < d->nworkers ? me : 0];
    for (;;) {
        while (!d->work_head && !d->stopping)
            pthread_cond_wait(&d->qcond, &d->qlock);
        if (d->stopping)
            break;
        struct fs_item *it = d->work_head;
        d->work_head = it->next;
        if (!d->work_head)
            d->work_tail = NULL;
        pthread_mutex_unlock(&d->qlock);
        serve(d, ctx, it, true);
        pthread_mutex_lock(&d->qlock);
    }
    pthread_mutex_unlock(&d->qlock);
    return NULL;
}

/* A kick the ioeventfd missed (on a vCPU thread, lock held): wake the dispatcher; without one (tests), serve
 * the queue here. */
static void fs_notify(struct virtio_dev *vdev, uint16_t q)
{
    struct fs_dev *d = vdev->priv;
    if (vdev->kick_fd[q] >= 0) {
        uint64_t one = 1;
        if (write(vdev->kick_fd[q], &one, sizeof(one)) < 0)
            vdev->stats.errors++;
        return;
    }
    pthread_mutex_unlock(&vdev->lock);
    drain_queue(d, q);
    pthread_mutex_lock(&vdev->lock);
}

static void fs_reset(struct virtio_dev *vdev)
{
    struct fs_dev *d = vdev->priv;
    /* Requests still being served are dropped when they complete; the FUSE session ends (the driver will
     * send INIT again). */
    __atomic_add_fetch(&d->gen, 1, __ATOMIC_RELEASE);
    fs_server_reset(d->srv);
}

static void fs_stop(struct virtio_dev *vdev)
{
    struct fs_dev *d = vdev->priv;
    if (!d->running)
        return;
    pthread_mutex_lock(&d->qlock);
    d->stopping = true;
    pthread_cond_broadcast(&d->qcond);
    pthread_mutex_unlock(&d->qlock);
    uint64_t one = 1;
    if (write(d->stop_fd, &one, sizeof(one)) < 0)
        log_errno(errno, "virtio-fs: stop");
    vmm_thread_join(&d->thread);
    for (unsigned i = 0; i < d->nworkers; i++)
        vmm_thread_join(&d->workers[i]);
    d->running = false;
}

static void fs_print_stats(struct virtio_dev *vdev, FILE *f)
{
    struct fs_dev *d = vdev->priv;
    const struct fs_counters *c = fs_server_counters(d->srv);
    unsigned nodes, nodes_max, handles, handles_max;
    fs_server_usage(d->srv, &nodes, &nodes_max, &handles, &handles_max);
    fprintf(f,
            "lsl-vmm: virtio-fs %s: lookup %llu getattr %llu read %llu write %llu readdir %llu+%llu; nodes "
            "%u/%u handles %u/%u; malformed %llu unknown %llu enfile %llu escapes %llu; parked %llu retries "
            "%llu; dax %llu mapped %llu unmapped %llu mended\n",
            d->share.tag, (unsigned long long)c->ops[FUSE_LOOKUP], (unsigned long long)c->ops[FUSE_GETATTR],
            (unsigned long long)c->ops[FUSE_READ], (unsigned long long)c->ops[FUSE_WRITE],
            (unsigned long long)c->ops[FUSE_READDIR], (unsigned long long)c->ops[FUSE_READDIRPLUS], nodes,
            nodes_max, handles, handles_max, (unsigned long long)c->malformed, (unsigned long long)c->unknown,
            (unsigned long long)c->enfile, (unsigned long long)c->escapes,
            (unsigned long long)d->stats.parked, (unsigned long long)d->stats.retries,
            (unsigned long long)c->dax_setups, (unsigned long long)c->dax_removes,
            (unsigned long long)c->dax_repairs);
}

static const struct virtio_dev_ops fs_ops = {
    .name = "virtio-fs",
    .device_id = VIRTIO_ID_FS,
    .num_queues = FS_NUM_QUEUES,
    .queue_max = FS_QUEUE_SIZE,
    .config = fs_config_space,
    .queue_notify = fs_notify,
    .reset = fs_reset,
    .own_kicks = true,
    .stop = fs_stop,
    .print_stats = fs_print_stats,
};

int fs_dev_new(const struct gmem *mem, const struct fs_share *share, struct fs_dev **out)
{
    struct fs_dev *d = calloc(1, sizeof(*d));
    if (!d)
        return log_errno(ENOMEM, "virtio-fs");
    virtio_dev_init(&d->vdev, &fs_ops, d, mem);
    d->share = *share;
    d->stop_fd = d->wake_fd = -1;
    pthread_mutex_init(&d->qlock, NULL);
    pthread_cond_init(&d->qcond, NULL);
    memcpy(d->config.tag, share->tag, strnlen(share->tag, FS_TAG_MAX));
    d->config.num_request_queues = 1;
    for (unsigned i = FS_ITEMS; i-- > 0;) {
        d->items[i].next = d->free_items;
        d->free_items = &d->items[i];
    }
    int r = fs_server_new(share, &d->srv);
    if (r < 0 || !(d->ctx = fs_ctx_new())) {
        fs_dev_free(d);
        return r < 0 ? r : log_errno(ENOMEM, "virtio-fs");
    }
    *out = d;
    return 0;
}

void fs_dev_free(void *p)
{
    struct fs_dev *d = p;
    if (!d)
        return;
    fs_stop(&d->vdev);
    for (unsigned i = 0; i < FS_ITEMS; i++)
        free(d->items[i].iov);
    for (unsigned i = 0; i < FS_THREADS_MAX; i++)
        fs_ctx_free(d->worker_ctx[i]);
    fs_ctx_free(d->ctx);
    fs_server_free(d->srv);
    if (d->stop_fd >= 0)
        close(d->stop_fd);
    if (d->wake_fd >= 0)
        close(d->wake_fd);
    virtio_dev_uninit(&d->vdev);
    pthread_cond_destroy(&d->qcond);
    pthread_mutex_destroy(&d->qlock);
    free(d);
}

struct virtio_dev *fs_dev_vdev(struct fs_dev *d)
{
    return &d->vdev;
}

struct fs_server *fs_dev_server(struct fs_dev *d)
{
    return d->srv;
}

static int start_threads(struct fs_dev *d)
{
    d->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    d->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (d->stop_fd < 0 || d->wake_fd < 0)
        return log_errno(errno, "virtio-fs: eventfd");
    d->nworkers = d->share.threads;
    for (unsigned i = 0; i < d->nworkers; i++)
        if (!(d->worker_ctx[i] = fs_ctx_new()))
            return log_errno(ENOMEM, "virtio-fs");
    /* The threads start before vm_run blocks the termination signals: they block every signal themselves,
     * so SIGTERM always reaches the VMM's signalfd and never kills the process from one of them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int r = vmm_thread_start(&d->thread, "lsl-fs", dispatcher, d);
    if (r == 0) {
        d->running = true;
        pthread_mutex_lock(&d->qlock); /* workers find their index once this is filled in */
        for (unsigned i = 0; i < d->nworkers && r == 0; i++)
            if ((r = vmm_thread_start(&d->workers[i], "lsl-fs-worker", worker, d)))
                d->nworkers = i;
        pthread_mutex_unlock(&d->qlock);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r ? log_errno(-r, "virtio-fs: thread") : 0;
}

static unsigned window_repair(void *opaque)
{
    return fs_server_window_repair(opaque);
}

/* The DAX window: the server's memory, given to the guest above its RAM as the device's shared memory. */
static int add_window(struct vm *vm, struct fs_dev *d)
{
    uint64_t size = (uint64_t)d->share.dax_mib << 20, gpa;
    void *base;
    int r = fs_server_window(d->srv, size, &base);
    if (r < 0)
        return log_errno(-r, "--share %s: DAX window of %u MiB", d->share.tag, d->share.dax_mib);
    if ((r = vm_add_window(vm, base, size, &gpa)) < 0 || (r = vm_on_efault(vm, window_repair, d->srv)) < 0)
        return log_errno(-r, "--share %s: DAX window", d->share.tag);
    d->vdev.shm_gpa = gpa;
    d->vdev.shm_len = size;
    return 0;
}

int fs_create(struct vm *vm, const struct fs_share *share)
{
    struct fs_dev *d;
    int r = fs_dev_new(&vm->mem, share, &d);
    if (r < 0)
        return r;
    if ((r = vm_own_device(vm, d, fs_dev_free)) < 0) {
        fs_dev_free(d);
        return r;
    }
    if (share->dax_mib && (r = add_window(vm, d)) < 0)
        return r;
    if ((r = virtio_mmio_attach(vm, &d->vdev)) < 0)
        return r;
    return start_threads(d);
}
