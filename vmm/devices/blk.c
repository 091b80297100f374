/* virtio-blk (virtio 1.x, section 5.2): read, write, flush (fdatasync), discard and write-zeroes (punch
 * hole, so deleted guest files give host disk space back), get-id. Reads, writes, flushes, discards and
 * write-zeroes of a VM's disk go through an io_uring (blk_aio.h: up to BLK_AIO_DEPTH in flight, completed on
 * the I/O thread as they finish); get-id, a write alone, and everything without io_uring or outside a VM
 * (the unit tests' synchronous round) run synchronously when the driver kicks. Each request is bounded by the
 * limits the config advertises; the guest batches them through event-index suppression. A disk slot is a
 * drive whose medium (image, capacity, serial) changes at run time; it is empty (fd -1, capacity 0) in
 * between, and the medium's ring lives as long as the medium. */
#include "blk.h"

#include <errno.h>
#include <sys/epoll.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "macro.h"
#include "size.h"
#include "../core/evloop.h"
#include "blk_aio.h"
#include "blk_image.h"
#include "blk_slots.h"
#include "virtio.h"
#include "virtio_mmio.h"

#define VIRTIO_ID_BLOCK           2
#define VIRTIO_BLK_F_SIZE_MAX     1
#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_T_IN           0
#define VIRTIO_BLK_T_OUT          1
#define VIRTIO_BLK_T_FLUSH        4
#define VIRTIO_BLK_T_GET_ID       8
#define VIRTIO_BLK_T_DISCARD      11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK           0
#define VIRTIO_BLK_S_IOERR        1
#define VIRTIO_BLK_S_UNSUPP       2
#define VIRTIO_BLK_WZ_UNMAP       1

#define SECTOR     BLK_SECTOR
#define QUEUE_SIZE 256
#define BLK_ID_LEN LSL_DISK_ID_MAX
_Static_assert(BLK_SEG_MAX == QUEUE_SIZE - 2, "a request without indirect descriptors fits the queue");

struct __attribute__((packed)) blk_config {
    uint64_t capacity;
    uint32_t size_max;
    uint32_t seg_max;
    struct {
        uint16_t cylinders;
        uint8_t heads, sectors;
    } geometry;
    uint32_t blk_size;
    struct {
        uint8_t physical_block_exp, alignment_offset;
        uint16_t min_io_size;
        uint32_t opt_io_size;
    } topology;
    uint8_t writeback, unused0;
    uint16_t num_queues;
    uint32_t max_discard_sectors, max_discard_seg, discard_sector_alignment;
    uint32_t max_write_zeroes_sectors, max_write_zeroes_seg;
    uint8_t write_zeroes_may_unmap, unused1[3];
};

struct blk_req_hdr {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};

struct blk_discard {
    uint64_t sector;
    uint32_t num_sectors;
    uint32_t flags;
};

struct blk {
    struct virtio_dev vdev;
    /* The medium: fixed for --disk; for a slot changed under vdev.lock, which every request holds
     * throughout, so no request sees half a change or uses a closed fd. */
    int fd;
    bool readonly;
    uint64_t sectors;
    char id[BLK_ID_LEN];
    struct blk_config config;
    struct iovec data[BLK_SEG_MAX]; /* scratch for the data part of a request */
    /* Requests in flight (all under vdev.lock): the VM's loop that completes them (NULL: synchronous), the
     * medium's ring while aio_on. */
    struct evloop *loop;
    struct blk_aio aio;
    bool aio_on, aio_warned;
    bool stalled;   /* a pass stopped for want of a free op: the next completion runs the queue */
    bool resetting; /* completions of a reset device are dropped */
    bool pushed;
};

static const void *blk_config_space(struct virtio_dev *vdev, uint32_t *len)
{
    struct blk *b = vdev->priv;
    *len = sizeof(b->config);
    return &b->config;
}

static bool in_range(const struct blk *b, uint64_t sector, uint64_t bytes)
{
    uint64_t n = bytes / SECTOR;
    return sector <= b->sectors && n <= b->sectors - sector;
}

/* preadv/pwritev over the whole iovec, tolerating short transfers. */
static int do_rw(struct blk *b, bool write, struct iovec *iov, int n, off_t off)
{
    while (n > 0) {
        ssize_t r = write ? pwritev(b->fd, iov, n, off) : preadv(b->fd, iov, n, off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0) {
            if (write)
                return -EIO;
            for (int i = 0; i < n; i++) /* reading past a sparse file's end: zeroes */
                memset(iov[i].iov_base, 0, iov[i].iov_len);
            return 0;
        }
        off += r;
        while (n > 0 && (size_t)r >= iov->iov_len) {
            r -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + r;
            iov->iov_len -= (size_t)r;
        }
    }
    return 0;
}

/* The data of a read or write, bytes [off, off+len) of a request's segments at `sector`, into b->data: the
 * number of segments, or -1 past the advertised limits, the disk's end or a read-only disk. */
static int data_segments(struct blk *b, bool write, const struct iovec *iov, unsigned n, size_t off,
                         uint64_t len, uint64_t sector)
{
    if ((write && b->readonly) || len % SECTOR || !in_range(b, sector, len))
        return -1;
    int k = iov_slice(iov, n, off, len, b->data, BLK_SEG_MAX);
    if (k < 0)
        return -1; /* more than BLK_SEG_MAX segments */
    for (int i = 0; i < k; i++)
        if (b->data[i].iov_len > BLK_SIZE_MAX)
            return -1;
    return k;
}

/* Synchronously: reads or writes the request's data (data_segments) at `sector`. */
static uint8_t transfer(struct blk *b, bool write, const struct iovec *iov, unsigned n, size_t off,
                        uint64_t len, uint64_t sector)
{
    int k = data_segments(b, write, iov, n, off, len, sector);
    if (k < 0)
        return VIRTIO_BLK_S_IOERR;
    return do_rw(b, write, b->data, k, (off_t)(sector * SECTOR)) < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
}

/* Through the ring: the request's data as data_segments made it (k segments, or none for a flush). Returns
 * VIRTIO_REQ_ASYNC, or VIRTIO_REQ_BUSY when BLK_AIO_DEPTH are in flight. */
/* A free ring slot for the request, or NULL with the device stalled until one completes (the caller says
 * VIRTIO_REQ_BUSY). */
static struct blk_aio_op *take_op(struct blk *b, enum blk_aio_kind kind, const struct virtq_req *req,
                                  uint8_t *status, uint32_t written)
{
    struct blk_aio_op *op = blk_aio_get(&b->aio);
    if (!op) {
        b->stalled = true;
        return NULL;
    }
    /* Field by field: the op is 4 KiB, and zeroing it whole would make all of it resident (blk_aio.h). */
    op->kind = kind;
    op->queue = 0;
    op->head = req->head;
    op->status = status;
    op->written = written;
    op->bytes = 0;
    return op;
}

static int start_aio(struct blk *b, enum blk_aio_kind kind, const struct virtq_req *req, int k,
                     uint64_t sector, uint8_t *status, uint32_t written, uint64_t bytes)
{
    struct blk_aio_op *op = take_op(b, kind, req, status, written);
    if (!op)
        return VIRTIO_REQ_BUSY;
    op->bytes = bytes;
    op->off = (off_t)(sector * SECTOR);
    memcpy(op->seg, b->data, (size_t)k * sizeof(op->seg[0]));
    op->iov = op->seg;
    op->n = (unsigned)k;
    blk_aio_start(&b->aio, op);
    return VIRTIO_REQ_ASYNC;
}

/* The fallocate modes for one range, the second (0: none) tried only when the file system lacks the first:
 * a discard is advisory, so without hole punching it succeeds doing nothing; a write-zeroes must zero, so it
 * takes whichever of hole punching and zero-range the file system has (the hole first when the guest allows
 * unmapping) and is UNSUPP when it has neither (Linux then writes the zeroes itself). */
static void punch_modes(const struct blk_discard *d, bool write_zeroes, int modes[2])
{
    const int hole = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
    const int zero = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
    bool unmap = d->flags & VIRTIO_BLK_WZ_UNMAP;
    modes[0] = !write_zeroes || unmap ? hole : zero;
    modes[1] = !write_zeroes ? 0 : unmap ? zero : hole;
}

/* Synchronously: deallocates (discard) or zeroes (write-zeroes) one range. */
static uint8_t punch(struct blk *b, const struct blk_discard *d, bool write_zeroes)
{
    int modes[2];
    punch_modes(d, write_zeroes, modes);
    if (d->num_sectors == 0)
        return VIRTIO_BLK_S_OK;
    for (unsigned i = 0; i < ARRAY_SIZE(modes) && modes[i]; i++) {
        if (fallocate(b->fd, modes[i], (off_t)(d->sector * SECTOR), (off_t)d->num_sectors * SECTOR) == 0)
            return VIRTIO_BLK_S_OK;
        if (errno != EOPNOTSUPP)
            return VIRTIO_BLK_S_IOERR;
    }
    return write_zeroes ? VIRTIO_BLK_S_UNSUPP : VIRTIO_BLK_S_OK;
}

/* The request's ranges into d, every one checked before any is acted on (a request is done whole or not at
 * all): their number, or 0 with the status in *s. */
static unsigned discard_ranges(struct blk *b, struct virtq_req *req, bool write_zeroes,
                               struct blk_discard d[BLK_DWZ_SEG_MAX], uint8_t *s)
{
    uint64_t len = req->out_len - sizeof(struct blk_req_hdr);
    *s = VIRTIO_BLK_S_IOERR;
    if (b->readonly || len == 0 || len % sizeof(d[0]) || len / sizeof(d[0]) > BLK_DWZ_SEG_MAX)
        return 0;
    unsigned n = (unsigned)(len / sizeof(d[0]));
    iov_to_buf(req->iov, req->n_out, sizeof(struct blk_req_hdr), d, len);
    for (unsigned i = 0; i < n; i++) {
        /* Spec 5.2.6.2: unknown flags, and unmap on a discard, are UNSUPP. */
        if ((d[i].flags & ~(uint32_t)VIRTIO_BLK_WZ_UNMAP) || (!write_zeroes && d[i].flags)) {
            *s = VIRTIO_BLK_S_UNSUPP;
            return 0;
        }
        if (d[i].num_sectors > BLK_DWZ_SECTORS_MAX ||
            !in_range(b, d[i].sector, (uint64_t)d[i].num_sectors * SECTOR))
            return 0;
    }
    return n;
}

/* A discard or write-zeroes: through the ring when there is one (a fallocate can keep the host's file system
 * busy for long), else here and now. Returns VIRTIO_REQ_ASYNC or VIRTIO_REQ_BUSY, or the status. */
static int do_discard(struct blk *b, struct virtq_req *req, bool write_zeroes, uint8_t *status)
{
    struct blk_discard d[BLK_DWZ_SEG_MAX];
    uint8_t s;
    unsigned n = discard_ranges(b, req, write_zeroes, d, &s);
    if (!n)
        return s;
    if (b->aio_on) {
        struct blk_aio_op *op = take_op(b, BLK_AIO_FALLOCATE, req, status, 1);
        if (!op)
            return VIRTIO_REQ_BUSY;
        op->fa.nranges = op->fa.at = op->fa.mode = 0;
        op->fa.advisory = !write_zeroes;
        for (unsigned i = 0; i < n; i++) {
            if (!d[i].num_sectors)
                continue;
            struct blk_aio_range *r = &op->fa.range[op->fa.nranges++];
            r->off = (off_t)(d[i].sector * SECTOR);
            r->len = (off_t)d[i].num_sectors * SECTOR;
            punch_modes(&d[i], write_zeroes, r->modes);
        }
        if (op->fa.nranges) {
            blk_aio_start(&b->aio, op);
            return VIRTIO_REQ_ASYNC;
        }
        blk_aio_put(&b->aio, op); /* all empty: nothing to do */
        return VIRTIO_BLK_S_OK;
    }
    for (unsigned i = 0; i < n; i++)
        if ((s = punch(b, &d[i], write_zeroes)) != VIRTIO_BLK_S_OK)
            return s;
    return VIRTIO_BLK_S_OK;
}

/* The status byte is the last byte of the device-writable part (spec 5.2.6); NULL when there is none. */
static uint8_t *status_byte(struct virtq_req *req)
{
    struct iovec *in = virtq_req_in(req);
    for (uint32_t i = req->n_in; i-- > 0;)
        if (in[i].iov_len)
            return (uint8_t *)in[i].iov_base + in[i].iov_len - 1;
    return NULL;
}

/* Returns bytes written to the guest (data + status), or -EINVAL for a request without header or status. */
static int blk_handle(struct virtio_dev *vdev, struct virtq_req *req)
{
    struct blk *b = vdev->priv;
    struct blk_req_hdr h;
    uint8_t *status = status_byte(req);
    if (!status || iov_to_buf(req->iov, req->n_out, 0, &h, sizeof(h)) != sizeof(h))
        return -EINVAL;
    struct iovec *in = virtq_req_in(req);
    uint64_t data_in = req->in_len - 1;
    uint32_t written = 1;
    uint8_t s = VIRTIO_BLK_S_OK;

    if (b->fd < 0 && h.type != VIRTIO_BLK_T_GET_ID) {
        vdev->stats.errors++; /* an empty slot has no medium to read, write or flush */
        *status = VIRTIO_BLK_S_IOERR;
        return 1;
    }
    /* A write alone (nothing in flight, nothing more offered: a QD1 writer) is done here and now: a
     * buffered write rarely blocks, and through the ring it goes to a kernel worker (6.1's ext4 cannot write
     * through the page cache without blocking), a context switch and a wakeup more per request
     * (bench/blkbench.py under emulation, every write through the ring: QD1 and sequential writes 0.7-0.8x
     * of synchronous service). */
    bool at_once =
        !b->aio_on || (h.type == VIRTIO_BLK_T_OUT && !b->aio.inflight && !virtq_more(&vdev->vq[0]));
    if (!at_once && (h.type == VIRTIO_BLK_T_IN || h.type == VIRTIO_BLK_T_OUT)) {
        bool write = h.type == VIRTIO_BLK_T_OUT;
        uint64_t len = write ? req->out_len - sizeof(h) : data_in;
        int k = write ? data_segments(b, true, req->iov, req->n_out, sizeof(h), len, h.sector)
                      : data_segments(b, false, in, req->n_in, 0, len, h.sector);
        if (k >= 0)
            return start_aio(b, write ? BLK_AIO_WRITE : BLK_AIO_READ, req, k, h.sector, status,
                             write ? 1 : 1 + (uint32_t)len, len);
        vdev->stats.errors++;
        *status = VIRTIO_BLK_S_IOERR;
        return 1;
    }
    if (b->aio_on && h.type == VIRTIO_BLK_T_FLUSH && !b->readonly)
        return start_aio(b, BLK_AIO_FLUSH, req, 0, 0, status, 1, 0);
    switch (h.type) {
    case VIRTIO_BLK_T_IN:
        s = transfer(b, false, in, req->n_in, 0, data_in, h.sector);
        if (s == VIRTIO_BLK_S_OK) {
            written += (uint32_t)data_in; /* at most BLK_SEG_MAX * BLK_SIZE_MAX */
            vdev->stats.bytes_in += data_in;
        }
        break;
    case VIRTIO_BLK_T_OUT: {
        uint64_t len = req->out_len - sizeof(h);
        s = transfer(b, true, req->iov, req->n_out, sizeof(h), len, h.sector);
        if (s == VIRTIO_BLK_S_OK)
            vdev->stats.bytes_out += len;
        break;
    }
    case VIRTIO_BLK_T_FLUSH:
        if (!b->readonly && fdatasync(b->fd) < 0)
            s = VIRTIO_BLK_S_IOERR;
        break;
    case VIRTIO_BLK_T_GET_ID: {
        size_t c = MIN((uint64_t)BLK_ID_LEN, data_in);
        iov_from_buf(in, req->n_in, 0, b->id, c);
        written += (uint32_t)c;
        break;
    }
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES: {
        int r = do_discard(b, req, h.type == VIRTIO_BLK_T_WRITE_ZEROES, status);
        if (r == VIRTIO_REQ_ASYNC || r == VIRTIO_REQ_BUSY)
            return r;
        s = (uint8_t)r;
        break;
    }
    default:
        s = VIRTIO_BLK_S_UNSUPP;
        break;
    }
    if (s == VIRTIO_BLK_S_IOERR)
        vdev->stats.errors++;
    *status = s;
    return (int)written;
}

/* A request of the ring finished: its status, and the driver gets it back. */
static void aio_done(void *opaque, struct blk_aio_op *op, int result)
{
    struct blk *b = opaque;
    struct virtio_dev *v = &b->vdev;
    if (b->resetting || !virtio_queue_live(v, 0))
        return; /* the driver reset the device: it no longer waits for this one */
    /* EOPNOTSUPP: a write-zeroes the file system has no mode for (blk_aio.h). */
    *op->status = result == -EOPNOTSUPP ? VIRTIO_BLK_S_UNSUPP
                  : result < 0          ? VIRTIO_BLK_S_IOERR
                                        : VIRTIO_BLK_S_OK;
    if (result < 0 && result != -EOPNOTSUPP)
        v->stats.errors++;
    else if (op->kind == BLK_AIO_READ)
        v->stats.bytes_in += op->bytes;
    else
        v->stats.bytes_out += op->bytes;
    v->stats.requests++;
    virtq_push(&v->vq[op->queue], op->head, result < 0 ? 1 : op->written);
    b->pushed = true;
}

/* Completes what finished (wait: at least one, when any is out) and interrupts the driver once for them;
 * a queue that stalled for want of room runs again. Lock held. */
static void aio_complete(struct blk *b, bool wait)
{
    struct virtio_dev *v = &b->vdev;
    b->pushed = false;
    blk_aio_reap(&b->aio, wait, aio_done, b);
    while (b->stalled && b->aio.nfree && !b->resetting) {
        b->stalled = false;
        virtio_process_queue(v, 0, blk_handle);
        blk_aio_reap(&b->aio, false, aio_done, b); /* sends what that started; what finished at once */
    }
    if (b->pushed && virtio_queue_live(v, 0))
        virtio_dev_signal(v, &v->vq[0]);
}

static void aio_ready(void *opaque, uint32_t events)
{
    struct blk *b = opaque;
    (void)events;
    pthread_mutex_lock(&b->vdev.lock);
    if (b->aio_on)
        aio_complete(b, false);
    pthread_mutex_unlock(&b->vdev.lock);
}

/* Everything in flight completed (results pushed, or dropped while resetting). Lock held. */
static void aio_drain(struct blk *b)
{
    while (b->aio.inflight) {
        unsigned before = b->aio.inflight;
        aio_complete(b, true); /* returns once one has finished, unless the ring failed */
        if (b->aio.inflight == before)
            break; /* it failed: blk_aio_exit waits for the kernel */
    }
}

/* The ring for a new medium; without io_uring the disk is served synchronously (said once). Lock held. */
static void aio_open(struct blk *b)
{
    /* LSL_BLK_SYNC=1: every request synchronous, the way it was; bench/blkbench.py's comparison. */
    const char *sync = getenv("LSL_BLK_SYNC");
    if (!b->loop || b->fd < 0 || (sync && strcmp(sync, "1") == 0))
        return;
    int r = blk_aio_init(&b->aio, b->fd);
    if (r == 0 && (r = evloop_add(b->loop, b->aio.efd, EPOLLIN, aio_ready, b)) < 0)
        blk_aio_exit(&b->aio);
    if (r < 0) {
        if (!b->aio_warned)
            log_warn("virtio-blk: no io_uring (%s): requests are served one at a time", strerror(-r));
        b->aio_warned = true;
        return;
    }
    b->aio_on = true;
}

static void aio_close(struct blk *b)
{
    if (!b->aio_on)
        return;
    aio_drain(b);
    evloop_del(b->loop, b->aio.efd);
    blk_aio_exit(&b->aio);
    b->aio_on = false;
    b->stalled = false;
}

static void blk_notify(struct virtio_dev *vdev, uint16_t q)
{
    struct blk *b = vdev->priv;
    virtio_process_queue(vdev, q, blk_handle);
    if (b->aio_on)
        aio_complete(b, false); /* sends what the pass started, and completes what the host had at hand */
}

/* A reset waits for what is in flight (as QEMU drains a disk), so that no request completes into the rings
 * the driver sets up next. */
static void blk_reset(struct virtio_dev *vdev)
{
    struct blk *b = vdev->priv;
    if (!b->aio_on)
        return;
    b->resetting = true;
    aio_drain(b);
    b->resetting = false;
    b->stalled = false;
}

/* Two tables, both fixed: a drive's features never change, only its medium does. */
#define BLK_OPS(extra_features)                                                                              \
    {                                                                                                        \
        .name = "virtio-blk", .device_id = VIRTIO_ID_BLOCK, .num_queues = 1, .queue_max = QUEUE_SIZE,        \
        .features = (1ull << VIRTIO_BLK_F_SIZE_MAX) | (1ull << VIRTIO_BLK_F_SEG_MAX) |                       \
                    (1ull << VIRTIO_BLK_F_BLK_SIZE) | (1ull << VIRTIO_BLK_F_FLUSH) | (extra_features),       \
        .config = blk_config_space, .queue_notify = blk_notify, .reset = blk_reset,                          \
    }
static const struct virtio_dev_ops blk_ops =
    BLK_OPS((1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES));
static const struct virtio_dev_ops blk_ro_ops = BLK_OPS(1ull << VIRTIO_BLK_F_RO);

void blk_free(void *p)
{
    struct blk *b = p;
    if (!b)
        return;
    pthread_mutex_lock(&b->vdev.lock);
    b->resetting = true; /* the VM is going: nobody waits for these */
    aio_close(b);
    pthread_mutex_unlock(&b->vdev.lock);
    if (b->fd >= 0)
        close(b->fd);
    virtio_dev_uninit(&b->vdev);
    free(b);
}

struct blk *blk_new(const struct gmem *mem, bool readonly)
{
    struct blk *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->fd = -1;
    b->readonly = readonly;
    b->config = (struct blk_config){
        .size_max = BLK_SIZE_MAX,
        .seg_max = BLK_SEG_MAX,
        .blk_size = SECTOR,
        .num_queues = 1,
        .max_discard_sectors = BLK_DWZ_SECTORS_MAX,
        .max_discard_seg = BLK_DWZ_SEG_MAX,
        .discard_sector_alignment = 4096 / SECTOR,
        .max_write_zeroes_sectors = BLK_DWZ_SECTORS_MAX,
        .max_write_zeroes_seg = BLK_DWZ_SEG_MAX,
        .write_zeroes_may_unmap = 1,
    };
    virtio_dev_init(&b->vdev, readonly ? &blk_ro_ops : &blk_ops, b, mem);
    return b;
}

struct virtio_dev *blk_vdev(struct blk *b)
{
    return &b->vdev;
}

/* Medium changes come from the control socket (the I/O thread, between requests), but vCPU threads read the
 * config space and may run a request themselves (a notify that missed the ioeventfd): hence the lock. */
void blk_set_loop(struct blk *b, struct evloop *loop)
{
    b->loop = loop;
}

void blk_insert(struct blk *b, const char *id, int fd, uint64_t sectors)
{
    pthread_mutex_lock(&b->vdev.lock);
    aio_close(b); /* a medium replaced without an eject: its requests finish first */
    b->fd = fd;
    aio_open(b);
    b->sectors = sectors;
    memset(b->id, 0, sizeof(b->id)); /* NUL-padded, need not be terminated */
    memcpy(b->id, id, strnlen(id, sizeof(b->id)));
    b->config.capacity = sectors;
    virtio_dev_config_changed(&b->vdev);
    pthread_mutex_unlock(&b->vdev.lock);
}

void blk_eject(struct blk *b)
{
    pthread_mutex_lock(&b->vdev.lock);
    aio_close(b); /* what the guest started on this medium finishes on it */
    int fd = b->fd;
    b->fd = -1;
    b->sectors = 0;
    memset(b->id, 0, sizeof(b->id));
    b->config.capacity = 0;
    virtio_dev_config_changed(&b->vdev);
    pthread_mutex_unlock(&b->vdev.lock);
    /* No request can hold the old fd any more: synchronous ones run under the lock from start to finish,
     * and the ring was drained above. */
    if (fd >= 0)
        close(fd);
}

/* A drive owned by the VM, or NULL (logged). */
static struct blk *blk_add(struct vm *vm, bool readonly)
{
    struct blk *b = blk_new(&vm->mem, readonly);
    if (!b) {
        log_errno(ENOMEM, "virtio-blk");
        return NULL;
    }
    blk_set_loop(b, &vm->loop);
    if (vm_own_device(vm, b, blk_free) < 0) {
        blk_free(b);
        return NULL;
    }
    return b;
}

int blk_create(struct vm *vm, const char *path, bool readonly, unsigned index)
{
    char err[PATH_MAX + 128], id[BLK_ID_LEN + 1];
    uint64_t sectors;
    struct stat st;
    int fd = blk_image_open(path, readonly, &sectors, &st, err, sizeof(err));
    if (fd < 0) {
        log_error("%s", err);
        return fd;
    }
    struct blk *b = blk_add(vm, readonly);
    if (!b) {
        close(fd);
        return -ENOMEM;
    }
    snprintf(id, sizeof(id), "lsl-disk%u", index);
    blk_insert(b, id, fd, sectors);
    return virtio_mmio_attach(vm, &b->vdev);
}

static void slot_insert(void *drive, const char *id, int fd, uint64_t sectors)
{
    blk_insert(drive, id, fd, sectors);
}

static void slot_eject(void *drive)
{
    blk_eject(drive);
}

static const struct blk_slot_ops slot_ops = {.insert = slot_insert, .eject = slot_eject};

static void slots_free(void *p)
{
    blk_slots_release(p);
    free(p);
}

int blk_create_slots(struct vm *vm, unsigned n)
{
    if (n == 0)
        return 0;
    if (n > LSL_DISK_SLOTS_MAX) {
        log_error("--disk-slots %u: at most %d", n, LSL_DISK_SLOTS_MAX);
        return -EINVAL;
    }
    struct blk_slots *t = calloc(1, sizeof(*t));
    if (!t)
        return log_errno(ENOMEM, "disk slots");
    int r = vm_own_device(vm, t, slots_free);
    if (r < 0) {
        free(t);
        return r;
    }
    t->ops = &slot_ops;
    for (unsigned i = 0; i < n; i++) {
        struct blk *b = blk_add(vm, false);
        if (!b)
            return -ENOMEM;
        if ((r = virtio_mmio_attach(vm, &b->vdev)) < 0)
            return r;
        t->slot[t->n++].drive = b;
    }
    vm->disk_slots = t;
    return 0;
}
