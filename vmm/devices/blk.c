/* virtio-blk (virtio 1.x, section 5.2): read, write, flush (fdatasync), discard and write-zeroes (punch
 * hole, so deleted guest files give host disk space back), get-id. Requests run synchronously in the I/O
 * thread; the guest batches them through event-index suppression. A disk slot is a drive whose medium
 * (image, capacity, serial) changes at run time; it is empty (fd -1, capacity 0) in between. */
#include "blk.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "macro.h"
#include "size.h"
#include "blk_slots.h"
#include "virtio.h"
#include "virtio_mmio.h"

#define VIRTIO_ID_BLOCK           2
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

#define SECTOR              512u
#define QUEUE_SIZE          256
#define BLK_ID_LEN          LSL_DISK_ID_MAX
#define MAX_DISCARD_SEGS    32
#define MAX_DISCARD_SECTORS (1u << 22) /* 2 GiB per segment */

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
    struct virtio_dev_ops ops;
    /* The medium: fixed for --disk; for a slot changed under vdev.lock, which every request holds
     * throughout, so no request sees half a change or uses a closed fd. */
    int fd;
    bool readonly;
    uint64_t sectors;
    char id[BLK_ID_LEN];
    struct blk_config config;
    struct iovec *data; /* scratch for the data part of a request */
    unsigned data_cap;
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

static int ensure_data_cap(struct blk *b, unsigned n)
{
    if (n <= b->data_cap)
        return 0;
    struct iovec *d = realloc(b->data, n * sizeof(*d));
    if (!d)
        return -ENOMEM;
    b->data = d;
    b->data_cap = n;
    return 0;
}

static uint8_t punch(struct blk *b, uint64_t sector, uint32_t n, bool zero_only)
{
    if (b->readonly || !in_range(b, sector, (uint64_t)n * SECTOR))
        return VIRTIO_BLK_S_IOERR;
    int mode = zero_only ? FALLOC_FL_ZERO_RANGE : (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
    if (fallocate(b->fd, mode, (off_t)(sector * SECTOR), (off_t)n * SECTOR) < 0) {
        /* Punch-hole support is filesystem-dependent; zeroing must still happen for write-zeroes. */
        if (!zero_only && errno == EOPNOTSUPP)
            return VIRTIO_BLK_S_OK; /* discard is advisory */
        if (fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(sector * SECTOR),
                      (off_t)n * SECTOR) < 0)
            return VIRTIO_BLK_S_IOERR;
    }
    return VIRTIO_BLK_S_OK;
}

static uint8_t do_discard(struct blk *b, struct virtq_req *req, bool write_zeroes)
{
    uint64_t len = req->out_len - sizeof(struct blk_req_hdr);
    if (len == 0 || len % sizeof(struct blk_discard) || len / sizeof(struct blk_discard) > MAX_DISCARD_SEGS)
        return VIRTIO_BLK_S_IOERR;
    for (uint64_t off = sizeof(struct blk_req_hdr); off < req->out_len; off += sizeof(struct blk_discard)) {
        struct blk_discard d;
        iov_to_buf(req->iov, req->n_out, off, &d, sizeof(d));
        if (d.num_sectors > MAX_DISCARD_SECTORS || (d.flags & ~(uint32_t)VIRTIO_BLK_WZ_UNMAP) ||
            (!write_zeroes && d.flags))
            return VIRTIO_BLK_S_UNSUPP;
        uint8_t s = punch(b, d.sector, d.num_sectors, write_zeroes && !(d.flags & VIRTIO_BLK_WZ_UNMAP));
        if (s != VIRTIO_BLK_S_OK)
            return s;
    }
    return VIRTIO_BLK_S_OK;
}

/* Returns bytes written to the guest (data + status), or -EINVAL for a request without header/status. */
static int blk_handle(struct virtio_dev *vdev, struct virtq_req *req)
{
    struct blk *b = vdev->priv;
    struct blk_req_hdr h;
    if (req->n_in == 0 || req->in_len == 0 || iov_to_buf(req->iov, req->n_out, 0, &h, sizeof(h)) != sizeof(h))
        return -EINVAL;
    struct iovec *in = virtq_req_in(req);
    /* The status byte is the last byte of the device-writable part. */
    struct iovec *last = &in[req->n_in - 1];
    if (last->iov_len == 0)
        return -EINVAL;
    uint8_t *status = (uint8_t *)last->iov_base + last->iov_len - 1;
    uint64_t data_in = req->in_len - 1;
    uint32_t written = 1;
    uint8_t s = VIRTIO_BLK_S_OK;
    int n, r;

    if (b->fd < 0 && h.type != VIRTIO_BLK_T_GET_ID) {
        vdev->stats.errors++; /* an empty slot has no medium to read, write or flush */
        *status = VIRTIO_BLK_S_IOERR;
        return 1;
    }
    switch (h.type) {
    case VIRTIO_BLK_T_IN:
        if (data_in % SECTOR || !in_range(b, h.sector, data_in)) {
            s = VIRTIO_BLK_S_IOERR;
            break;
        }
        if (ensure_data_cap(b, req->n_in) < 0 ||
            (n = iov_slice(in, req->n_in, 0, data_in, b->data, b->data_cap)) < 0) {
            s = VIRTIO_BLK_S_IOERR;
            break;
        }
        r = do_rw(b, false, b->data, n, (off_t)(h.sector * SECTOR));
        if (r < 0) {
            s = VIRTIO_BLK_S_IOERR;
            break;
        }
        written += (uint32_t)data_in;
        vdev->stats.bytes_in += data_in;
        break;
    case VIRTIO_BLK_T_OUT: {
        uint64_t len = req->out_len - sizeof(h);
        if (b->readonly || len % SECTOR || !in_range(b, h.sector, len)) {
            s = VIRTIO_BLK_S_IOERR;
            break;
        }
        if (ensure_data_cap(b, req->n_out) < 0 ||
            (n = iov_slice(req->iov, req->n_out, sizeof(h), len, b->data, b->data_cap)) < 0) {
            s = VIRTIO_BLK_S_IOERR;
            break;
        }
        if (do_rw(b, true, b->data, n, (off_t)(h.sector * SECTOR)) < 0)
            s = VIRTIO_BLK_S_IOERR;
        else
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
        s = do_discard(b, req, false);
        break;
    case VIRTIO_BLK_T_WRITE_ZEROES:
        s = do_discard(b, req, true);
        break;
    default:
        s = VIRTIO_BLK_S_UNSUPP;
        break;
    }
    if (s == VIRTIO_BLK_S_IOERR)
        vdev->stats.errors++;
    *status = s;
    return (int)written;
}

static void blk_notify(struct virtio_dev *vdev, uint16_t q)
{
    virtio_process_queue(vdev, q, blk_handle);
}

static void blk_free(void *p)
{
    struct blk *b = p;
    if (b->fd >= 0)
        close(b->fd);
    virtq_req_free(&b->vdev.req);
    free(b->data);
    pthread_mutex_destroy(&b->vdev.lock);
    free(b);
}

/* A drive with its features fixed for life; the medium (fd, sectors, id) is the caller's. */
static int blk_new(struct vm *vm, bool readonly, struct blk **out)
{
    struct blk *b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    b->fd = -1;
    b->readonly = readonly;
    b->ops = (struct virtio_dev_ops){
        .name = "virtio-blk",
        .device_id = VIRTIO_ID_BLOCK,
        .num_queues = 1,
        .queue_max = QUEUE_SIZE,
        .features = (1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |
                    (1ull << VIRTIO_BLK_F_FLUSH) | (readonly ? (1ull << VIRTIO_BLK_F_RO) : 0) |
                    (readonly ? 0 : (1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES)),
        .config = blk_config_space,
        .queue_notify = blk_notify,
    };
    b->config = (struct blk_config){
        .seg_max = QUEUE_SIZE - 2,
        .blk_size = SECTOR,
        .num_queues = 1,
        .max_discard_sectors = MAX_DISCARD_SECTORS,
        .max_discard_seg = MAX_DISCARD_SEGS,
        .discard_sector_alignment = 4096 / SECTOR,
        .max_write_zeroes_sectors = MAX_DISCARD_SECTORS,
        .max_write_zeroes_seg = MAX_DISCARD_SEGS,
        .write_zeroes_may_unmap = 1,
    };
    virtio_dev_init(&b->vdev, &b->ops, b, &vm->mem);
    int r = vm_own_device(vm, b, blk_free);
    if (r < 0) {
        blk_free(b);
        return r;
    }
    *out = b;
    return 0;
}

int blk_create(struct vm *vm, const char *path, bool readonly, unsigned index)
{
    int fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0)
        return log_errno(errno, "cannot open disk %s%s", path, readonly ? "" : " for writing");
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        log_error("disk %s is not a regular file", path);
        return -EINVAL;
    }
    if (st.st_size < (off_t)SECTOR) {
        close(fd);
        log_error("disk %s is empty (smaller than one sector)", path);
        return -EINVAL;
    }
    struct blk *b;
    int r = blk_new(vm, readonly, &b);
    if (r < 0) {
        close(fd);
        return r;
    }
    b->fd = fd;
    b->sectors = (uint64_t)st.st_size / SECTOR;
    b->config.capacity = b->sectors;
    snprintf(b->id, sizeof(b->id), "lsl-disk%u", index); /* NUL-padded, need not be terminated */
    return virtio_mmio_attach(vm, &b->vdev);
}

/* Medium changes come from the control socket (the I/O thread, between requests), but vCPU threads read the
 * config space and may run a request themselves (a notify that missed the ioeventfd): hence the lock. */
static void slot_insert(void *drive, const char *id, int fd, uint64_t sectors)
{
    struct blk *b = drive;
    pthread_mutex_lock(&b->vdev.lock);
    b->fd = fd;
    b->sectors = sectors;
    memset(b->id, 0, sizeof(b->id));
    memcpy(b->id, id, strnlen(id, sizeof(b->id)));
    b->config.capacity = sectors;
    virtio_dev_config_changed(&b->vdev);
    pthread_mutex_unlock(&b->vdev.lock);
}

static void slot_eject(void *drive)
{
    struct blk *b = drive;
    pthread_mutex_lock(&b->vdev.lock);
    int fd = b->fd;
    b->fd = -1;
    b->sectors = 0;
    memset(b->id, 0, sizeof(b->id));
    b->config.capacity = 0;
    virtio_dev_config_changed(&b->vdev);
    pthread_mutex_unlock(&b->vdev.lock);
    /* No request can hold the old fd any more: they run under the lock from start to finish. */
    if (fd >= 0)
        close(fd);
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
    if (n > LSL_DISK_SLOTS_MAX)
        return -EINVAL;
    struct blk_slots *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    int r = vm_own_device(vm, t, slots_free);
    if (r < 0) {
        free(t);
        return r;
    }
    t->ops = &slot_ops;
    for (unsigned i = 0; i < n; i++) {
        struct blk *b;
        if ((r = blk_new(vm, false, &b)) < 0 || (r = virtio_mmio_attach(vm, &b->vdev)) < 0)
            return r;
        t->slot[t->n++].drive = b;
    }
    vm->disk_slots = t;
    return 0;
}
