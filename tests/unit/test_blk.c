/* virtio-blk without KVM: a fake guest driver builds requests in fake guest memory against an image in a
 * temporary directory. Reads and writes, the per-request limits the config advertises, discard and
 * write-zeroes (with fallocate failing on demand: this file stands in for the file system), hostile request
 * headers, and the one rule for disk images. Each runs twice: served synchronously, and through the io_uring
 * with an event loop completing requests (a VM's disk); then many requests in flight at once. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "core/evloop.h"
#include "devices/blk.h"
#include "devices/blk_image.h"
#include "devices/virtio.h"

#define MEM        (8u << 20)
#define QSIZE      256
#define DESC       0x1000
#define AVAIL      0x2000
#define USED       0x3000
#define TABLE      0x10000 /* indirect table: up to 4096 entries */
#define HDR        0x20000
#define STATUS     0x20100
#define DISCARDS   0x20200
#define DATA       0x100000 /* 1 MiB of data buffers */
#define DISK_BYTES (64u << 20)

#define T_IN           0
#define T_OUT          1
#define T_GET_ID       8
#define T_DISCARD      11
#define T_WRITE_ZEROES 13
#define S_OK           0
#define S_IOERR        1
#define S_UNSUPP       2
#define WZ_UNMAP       1

static struct gmem m;
static struct blk *b;
static struct virtio_dev *vd;
static char dir[] = "/tmp/lsl-blk-test.XXXXXX";
static char image[256];
static int disk_fd = -1; /* the test's own view of the image */
static uint16_t used_seen;
static bool aio; /* this round: through the ring, completed by loop */
static struct evloop loop;

/* fallocate as the file system answers it: the first ARRAY_SIZE(falloc_fail) calls fail with the errno
 * given there (0: the real call); every call's mode is recorded. */
static int falloc_fail[4];
static int falloc_modes[8];
static unsigned falloc_calls;

int fallocate(int fd, int mode, off_t offset, off_t len)
{
    unsigned n = falloc_calls++;
    if (n < 8)
        falloc_modes[n] = mode;
    if (n < 4 && falloc_fail[n]) {
        errno = falloc_fail[n];
        return -1;
    }
    return (int)syscall(SYS_fallocate, fd, mode, offset, len);
}

static void falloc_reset(int e0, int e1)
{
    memset(falloc_fail, 0, sizeof(falloc_fail));
    falloc_fail[0] = e0;
    falloc_fail[1] = e1;
    falloc_calls = 0;
}

static void *gp(uint64_t gpa, uint64_t len)
{
    return gmem_ptr(&m, gpa, len);
}

static void irq(struct virtio_dev *d, uint32_t kind)
{
    (void)d, (void)kind;
}

static void setup_in(const char *where)
{
    memset(m.base, 0, MEM);
    snprintf(image, sizeof(image), "%s/disk.img", where);
    int fd = open(image, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK(fd >= 0 && ftruncate(fd, DISK_BYTES) == 0);
    disk_fd = open(image, O_RDWR | O_CLOEXEC);
    b = blk_new(&m, false);
    CHECK(b != NULL);
    if (aio)
        blk_set_loop(b, &loop);
    blk_insert(b, "test", fd, DISK_BYTES / 512);
    vd = blk_vdev(b);
    vd->interrupt = irq;
    vd->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
                 VIRTIO_STATUS_DRIVER_OK;
    struct virtq *vq = &vd->vq[0];
    virtq_reset(vq);
    vq->size = QSIZE;
    vq->desc_gpa = DESC, vq->avail_gpa = AVAIL, vq->used_gpa = USED;
    CHECK_EQ(virtq_enable(vq, &m), 0);
    vq->ready = true;
    used_seen = 0;
    falloc_reset(0, 0);
}

static void setup(void)
{
    setup_in(dir);
}

static void teardown(void)
{
    blk_free(b);
    b = NULL;
    close(disk_fd);
    unlink(image);
}

struct seg {
    uint64_t gpa;
    uint32_t len;
    bool write; /* device-writable */
};

/* Offers one request (segs in an indirect table, as Linux does for long ones) and runs the device. Returns
 * the status byte, or -1 when the device did not complete it (a broken device); *used_len its used length. */
static int submit(const struct seg *segs, unsigned n, uint32_t *used_len)
{
    struct virtq_desc *t = gp(TABLE, 16ull * n);
    CHECK(t != NULL && n <= 4096);
    for (unsigned i = 0; i < n; i++)
        t[i] = (struct virtq_desc){.addr = segs[i].gpa,
                                   .len = segs[i].len,
                                   .flags = (uint16_t)((segs[i].write ? VIRTQ_DESC_F_WRITE : 0) |
                                                       (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
                                   .next = (uint16_t)(i + 1)};
    struct virtq_desc *d = gp(DESC, 16);
    *d = (struct virtq_desc){.addr = TABLE, .len = 16 * n, .flags = VIRTQ_DESC_F_INDIRECT};
    uint16_t *a = gp(AVAIL, 6 + 2 * QSIZE);
    a[2 + a[1] % QSIZE] = 0;
    __atomic_store_n(&a[1], (uint16_t)(a[1] + 1), __ATOMIC_RELEASE);
    *(uint8_t *)gp(STATUS, 1) = 0xee;
    pthread_mutex_lock(&vd->lock);
    vd->ops->queue_notify(vd, 0);
    pthread_mutex_unlock(&vd->lock);
    uint16_t *u = gp(USED, 6 + 8 * QSIZE);
    for (int i = 0; aio && i < 100 && __atomic_load_n(&u[1], __ATOMIC_ACQUIRE) == used_seen; i++)
        evloop_run_once(&loop, 100);
    if (__atomic_load_n(&u[1], __ATOMIC_ACQUIRE) == used_seen)
        return -1;
    struct virtq_used_elem *e = (struct virtq_used_elem *)&u[2] + used_seen % QSIZE;
    used_seen++;
    if (used_len)
        *used_len = e->len;
    return *(uint8_t *)gp(STATUS, 1);
}

static void set_hdr(uint32_t type, uint64_t sector)
{
    uint32_t *h = gp(HDR, 16);
    h[0] = type;
    h[1] = 0;
    memcpy(h + 2, &sector, 8);
}

/* A read or write of n segments of len bytes each, all at guest address gpa + i * stride. */
static int rw(uint32_t type, uint64_t sector, unsigned n, uint32_t len, uint64_t gpa, uint64_t stride,
              uint32_t *used_len)
{
    static struct seg segs[4096];
    set_hdr(type, sector);
    segs[0] = (struct seg){HDR, 16, false};
    for (unsigned i = 0; i < n; i++)
        segs[1 + i] = (struct seg){gpa + i * stride, len, type == T_IN};
    segs[1 + n] = (struct seg){STATUS, 1, true};
    return submit(segs, n + 2, used_len);
}

static void test_read_write(void)
{
    setup();
    uint8_t *buf = gp(DATA, 8192);
    for (unsigned i = 0; i < 8192; i++)
        buf[i] = (uint8_t)(i * 7 + 1);
    CHECK_EQ(rw(T_OUT, 4, 2, 4096, DATA, 4096, NULL), S_OK);
    uint8_t back[8192];
    CHECK_EQ(pread(disk_fd, back, sizeof(back), 4 * 512), 8192);
    CHECK(memcmp(back, buf, 8192) == 0);
    memset(buf, 0, 8192);
    uint32_t used = 0;
    CHECK_EQ(rw(T_IN, 4, 2, 4096, DATA, 4096, &used), S_OK);
    CHECK_EQ(used, 8192 + 1);
    CHECK(memcmp(back, buf, 8192) == 0);
    /* Out of range and partial sectors. */
    CHECK_EQ(rw(T_IN, DISK_BYTES / 512 - 1, 1, 1024, DATA, 0, NULL), S_IOERR);
    CHECK_EQ(rw(T_OUT, 0, 1, 100, DATA, 0, NULL), S_IOERR);
    /* get-id: the serial, NUL-padded. */
    struct seg id[] = {{HDR, 16, false}, {DATA, 20, true}, {STATUS, 1, true}};
    set_hdr(T_GET_ID, 0);
    CHECK_EQ(submit(id, 3, &used), S_OK);
    CHECK_EQ(used, 21);
    CHECK(memcmp(gp(DATA, 5), "test\0", 5) == 0);
    CHECK_EQ(vd->stats.malformed, 0);
    teardown();
}

/* The config advertises what one request may carry, and a request past it fails without being done. */
static void test_request_limits(void)
{
    setup();
    uint32_t len = 0;
    const uint8_t *cfg = vd->ops->config(vd, &len);
    uint32_t size_max, seg_max;
    memcpy(&size_max, cfg + 8, 4);
    memcpy(&seg_max, cfg + 12, 4);
    CHECK_EQ(size_max, BLK_SIZE_MAX);
    CHECK_EQ(seg_max, BLK_SEG_MAX);
    CHECK(virtio_dev_features(vd) & (1ull << 1)); /* VIRTIO_BLK_F_SIZE_MAX */
    CHECK(virtio_dev_features(vd) & (1ull << 2)); /* VIRTIO_BLK_F_SEG_MAX */

    /* Up to the limits: 254 segments of 64 KiB, every one the same guest buffer (16 MiB moved). */
    CHECK_EQ(rw(T_IN, 0, BLK_SEG_MAX, BLK_SIZE_MAX, DATA, 0, NULL), S_OK);
    CHECK_EQ(rw(T_OUT, 0, BLK_SEG_MAX, BLK_SIZE_MAX, DATA, 0, NULL), S_OK);
    CHECK_EQ(vd->stats.errors, 0);
    /* Past them: one segment too many, one segment too large, and the whole disk in one request (1024
     * aliases of one 64 KiB guest buffer). */
    struct stat before, after;
    CHECK(fstat(disk_fd, &before) == 0);
    CHECK_EQ(rw(T_IN, 0, BLK_SEG_MAX + 1, 512, DATA, 512, NULL), S_IOERR);
    CHECK_EQ(rw(T_OUT, 0, BLK_SEG_MAX + 1, 512, DATA, 512, NULL), S_IOERR);
    CHECK_EQ(rw(T_IN, 0, 1, BLK_SIZE_MAX + 512, DATA, 0, NULL), S_IOERR);
    CHECK_EQ(rw(T_OUT, 0, 1, BLK_SIZE_MAX + 512, DATA, 0, NULL), S_IOERR);
    CHECK_EQ(rw(T_IN, 0, DISK_BYTES / BLK_SIZE_MAX, BLK_SIZE_MAX, DATA, 0, NULL), S_IOERR);
    CHECK_EQ(vd->stats.errors, 5);
    CHECK(fstat(disk_fd, &after) == 0);
    CHECK_EQ(after.st_blocks, before.st_blocks); /* nothing written */
    CHECK(!vd->broken);
    /* Still serving. */
    CHECK_EQ(rw(T_IN, 0, 1, 512, DATA, 0, NULL), S_OK);
    teardown();
}

struct range {
    uint64_t sector;
    uint32_t num_sectors, flags;
};

static int dwz(uint32_t type, const struct range *r, unsigned n)
{
    set_hdr(type, 0);
    memcpy(gp(DISCARDS, 16ull * n), r, 16ull * n);
    struct seg segs[] = {{HDR, 16, false}, {DISCARDS, 16 * n, false}, {STATUS, 1, true}};
    return submit(segs, 3, NULL);
}

static void test_discard_limits(void)
{
    setup();
    struct range r[BLK_DWZ_SEG_MAX + 1];
    for (unsigned i = 0; i <= BLK_DWZ_SEG_MAX; i++)
        r[i] = (struct range){.sector = i * 8u, .num_sectors = 8};
    CHECK_EQ(dwz(T_DISCARD, r, BLK_DWZ_SEG_MAX), S_OK);
    CHECK_EQ(falloc_calls, aio ? 0 : BLK_DWZ_SEG_MAX); /* the ring's are the kernel's own */
    falloc_reset(0, 0);
    CHECK_EQ(dwz(T_DISCARD, r, BLK_DWZ_SEG_MAX + 1), S_IOERR);
    CHECK_EQ(dwz(T_WRITE_ZEROES, r, BLK_DWZ_SEG_MAX + 1), S_IOERR);
    struct range big = {.sector = 0, .num_sectors = BLK_DWZ_SECTORS_MAX + 1};
    CHECK_EQ(dwz(T_DISCARD, &big, 1), S_IOERR);
    CHECK_EQ(dwz(T_WRITE_ZEROES, &big, 1), S_IOERR);
    /* Flags: unknown ones, and unmap on a discard, are unsupported (spec 5.2.6.2). */
    struct range flagged = {.sector = 0, .num_sectors = 8, .flags = 2};
    CHECK_EQ(dwz(T_WRITE_ZEROES, &flagged, 1), S_UNSUPP);
    flagged.flags = WZ_UNMAP;
    CHECK_EQ(dwz(T_DISCARD, &flagged, 1), S_UNSUPP);
    /* A request with one bad range is refused whole: the good range before it is not punched. */
    struct range two[2] = {{.sector = 0, .num_sectors = 8}, {.sector = DISK_BYTES / 512, .num_sectors = 8}};
    CHECK_EQ(dwz(T_DISCARD, two, 2), S_IOERR);
    CHECK_EQ(falloc_calls, 0);
    teardown();
}

/* Each fallocate mode is tried once; the other only when the file system does not have the first (failures
 * made up here for the synchronous round: the ring's fallocate is the kernel's). */
static void test_punch_fallbacks(void)
{
    setup();
    const int hole = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
              zero = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
    struct range r = {.sector = 8, .num_sectors = 8};

    if (aio)
        goto real;
    falloc_reset(EIO, EIO); /* discard on a failing disk: an error, not the same call again */
    CHECK_EQ(dwz(T_DISCARD, &r, 1), S_IOERR);
    CHECK_EQ(falloc_calls, 1);
    falloc_reset(EOPNOTSUPP, 0); /* no hole punching: a discard is advisory */
    CHECK_EQ(dwz(T_DISCARD, &r, 1), S_OK);
    CHECK_EQ(falloc_calls, 1);
    CHECK_EQ(falloc_modes[0], hole);

    falloc_reset(EOPNOTSUPP, 0); /* write-zeroes without zero-range: punches instead */
    CHECK_EQ(dwz(T_WRITE_ZEROES, &r, 1), S_OK);
    CHECK_EQ(falloc_calls, 2);
    CHECK(falloc_modes[0] == zero && falloc_modes[1] == hole);
    falloc_reset(EIO, 0); /* write-zeroes failing for real: an error */
    CHECK_EQ(dwz(T_WRITE_ZEROES, &r, 1), S_IOERR);
    CHECK_EQ(falloc_calls, 1);
    r.flags = WZ_UNMAP;
    falloc_reset(EOPNOTSUPP, EOPNOTSUPP); /* neither mode: unsupported, never "done" without zeroing */
    CHECK_EQ(dwz(T_WRITE_ZEROES, &r, 1), S_UNSUPP);
    CHECK_EQ(falloc_calls, 2);
    CHECK(falloc_modes[0] == hole && falloc_modes[1] == zero);

    /* For real: written data reads back as zeroes after write-zeroes, and discard gives the space back. */
real:
    falloc_reset(0, 0);
    uint8_t *buf = gp(DATA, 65536);
    memset(buf, 0x5a, 65536);
    CHECK_EQ(rw(T_OUT, 0, 1, 65536, DATA, 0, NULL), S_OK);
    CHECK(fdatasync(disk_fd) == 0);
    struct stat st;
    CHECK(fstat(disk_fd, &st) == 0 && st.st_blocks > 0);
    struct range wz = {.sector = 0, .num_sectors = 64};
    CHECK_EQ(dwz(T_WRITE_ZEROES, &wz, 1), S_OK);
    CHECK_EQ(rw(T_IN, 0, 1, 65536, DATA, 0, NULL), S_OK);
    bool zeroes = true;
    for (unsigned i = 0; i < 32768; i++)
        zeroes &= buf[i] == 0;
    CHECK(zeroes && buf[32768] == 0x5a);
    struct range all = {.sector = 0, .num_sectors = 128};
    CHECK_EQ(dwz(T_DISCARD, &all, 1), S_OK);
    CHECK(fstat(disk_fd, &st) == 0);
    CHECK_EQ(st.st_blocks, 0);
    CHECK_EQ(st.st_size, DISK_BYTES);
    teardown();

    /* tmpfs has no zero-range: a write-zeroes that may not unmap punches a hole instead, for real. */
    char shm[] = "/dev/shm/lsl-blk-test.XXXXXX";
    struct statfs sf;
    CHECK(mkdtemp(shm) && statfs(shm, &sf) == 0 && sf.f_type == TMPFS_MAGIC);
    setup_in(shm);
    memset(buf, 0x77, 65536);
    CHECK_EQ(rw(T_OUT, 0, 1, 65536, DATA, 0, NULL), S_OK);
    CHECK_EQ(dwz(T_WRITE_ZEROES, &wz, 1), S_OK);
    CHECK_EQ(rw(T_IN, 0, 1, 65536, DATA, 0, NULL), S_OK);
    zeroes = true;
    for (unsigned i = 0; i < 32768; i++)
        zeroes &= buf[i] == 0;
    CHECK(zeroes && buf[32768] == 0x77);
    CHECK_EQ(falloc_calls, aio ? 0 : 2);
    teardown();
    CHECK(rmdir(shm) == 0); /* teardown took the image */
}

/* Requests without a header or a status byte break the device (the guest is told to reset it); a status
 * byte followed by an empty descriptor is still found. */
static void test_request_headers(void)
{
    setup();
    set_hdr(T_IN, 0);
    struct seg ok_trailing_empty[] = {
        {HDR, 16, false}, {DATA, 512, true}, {STATUS, 1, true}, {DATA, 0, true}};
    CHECK_EQ(submit(ok_trailing_empty, 4, NULL), S_OK);
    struct seg no_status[] = {{HDR, 16, false}, {DATA, 512, false}};
    CHECK_EQ(submit(no_status, 2, NULL), -1);
    CHECK(vd->broken);
    teardown();

    setup();
    struct seg short_hdr[] = {{HDR, 12, false}, {STATUS, 1, true}};
    CHECK_EQ(submit(short_hdr, 2, NULL), -1);
    CHECK(vd->broken);
    CHECK_EQ(vd->stats.malformed, 1);
    teardown();

    setup();
    set_hdr(99, 0); /* unknown type */
    struct seg unknown[] = {{HDR, 16, false}, {STATUS, 1, true}};
    CHECK_EQ(submit(unknown, 2, NULL), S_UNSUPP);
    blk_eject(b); /* an empty drive: every request but get-id fails */
    set_hdr(T_IN, 0);
    CHECK_EQ(rw(T_IN, 0, 1, 512, DATA, 0, NULL), S_IOERR);
    CHECK(!vd->broken);
    teardown();
}

static const char *file(const char *name, off_t size)
{
    static char p[256];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    int fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK(fd >= 0 && ftruncate(fd, size) == 0);
    close(fd);
    return p;
}

static void expect_refused(const char *path, bool readonly, const char *part)
{
    char err[512] = "";
    uint64_t sectors = 0;
    struct stat st;
    int fd = blk_image_open(path, readonly, &sectors, &st, err, sizeof(err));
    if (fd >= 0 || !strstr(err, part) || !strstr(err, path))
        fprintf(stderr, "  %s: got %d '%s', expected a refusal with '%s'\n", path, fd, err, part);
    CHECK(fd < 0 && strstr(err, part) && strstr(err, path));
}

/* --disk and a disk slot take the same images: regular files of whole sectors. */
/* Many requests offered before one kick: request i at descriptors 3i..3i+2 (header, 4 KiB of data, status).
 */
#define MANY_HDRS   0x30000
#define MANY_STATUS 0x31000
#define MANY_DATA   0x200000 /* 4 KiB each, up to 85 */

enum { M_WRITE, M_READ, M_FLUSH, M_PAST_END };
static void offer_many(const int *kind, unsigned n)
{
    struct virtq_desc *d = gp(DESC, 16ull * QSIZE);
    uint16_t *a = gp(AVAIL, 6 + 2 * QSIZE);
    for (unsigned i = 0; i < n; i++) {
        uint32_t *h = gp(MANY_HDRS + 16ull * i, 16);
        uint64_t sector = kind[i] == M_PAST_END ? DISK_BYTES / 512 : 8ull * i;
        h[0] = kind[i] == M_FLUSH ? 4 : kind[i] == M_READ ? T_IN : T_OUT;
        h[1] = 0;
        memcpy(h + 2, &sector, 8);
        uint8_t *data = gp(MANY_DATA + 4096ull * i, 4096);
        if (kind[i] == M_WRITE || kind[i] == M_PAST_END)
            memset(data, (int)(i + 1), 4096);
        uint16_t base = (uint16_t)(3 * i);
        bool flush = kind[i] == M_FLUSH;
        d[base] = (struct virtq_desc){MANY_HDRS + 16ull * i, 16, VIRTQ_DESC_F_NEXT, (uint16_t)(base + 1)};
        d[base + 1] =
            (struct virtq_desc){MANY_DATA + 4096ull * i, 4096,
                                (uint16_t)(VIRTQ_DESC_F_NEXT | (kind[i] == M_READ ? VIRTQ_DESC_F_WRITE : 0)),
                                (uint16_t)(base + 2)};
        if (flush) /* a flush has no data: header, status */
            d[base].next = (uint16_t)(base + 2);
        d[base + 2] = (struct virtq_desc){MANY_STATUS + i, 1, VIRTQ_DESC_F_WRITE, 0};
        *(uint8_t *)gp(MANY_STATUS + i, 1) = 0xee;
        a[2 + (a[1] + i) % QSIZE] = base;
    }
    __atomic_store_n(&a[1], (uint16_t)(a[1] + n), __ATOMIC_RELEASE);
    pthread_mutex_lock(&vd->lock);
    vd->ops->queue_notify(vd, 0);
    pthread_mutex_unlock(&vd->lock);
}

/* Runs the loop until n more requests came back; their heads in completion order. */
static unsigned collect(uint16_t *order, unsigned n)
{
    uint16_t *u = gp(USED, 6 + 8 * QSIZE);
    unsigned got = 0;
    for (int i = 0; i < 500 && got < n; i++) {
        while (got < n && __atomic_load_n(&u[1], __ATOMIC_ACQUIRE) != used_seen) {
            struct virtq_used_elem *e = (struct virtq_used_elem *)&u[2] + used_seen % QSIZE;
            order[got++] = (uint16_t)e->id;
            used_seen++;
        }
        if (got < n)
            evloop_run_once(&loop, 100);
    }
    return got;
}

/* More requests than the ring takes at once (BLK_AIO_DEPTH), writes with flushes between them and one past
 * the disk's end: each completes once, the one past the end alone fails, every flush completes after every
 * request offered before it, and the data is where it was written. */
static void test_in_flight(void)
{
    aio = true;
    setup();
    enum { N = 80 };
    int kind[N];
    for (unsigned i = 0; i < N; i++)
        kind[i] = i % 10 == 9 ? M_FLUSH : M_WRITE;
    kind[42] = M_PAST_END;
    offer_many(kind, N);
    uint16_t order[N];
    CHECK_EQ(collect(order, N), N);
    unsigned pos[N];
    memset(pos, 0xff, sizeof(pos));
    for (unsigned i = 0; i < N; i++)
        pos[order[i] / 3] = i;
    for (unsigned i = 0; i < N; i++) {
        CHECK(pos[i] < N);
        CHECK_EQ(*(uint8_t *)gp(MANY_STATUS + i, 1), i == 42 ? S_IOERR : S_OK);
        if (kind[i] == M_FLUSH)
            for (unsigned j = 0; j < i; j++)
                CHECK(pos[j] < pos[i]);
        if (kind[i] == M_WRITE) {
            uint8_t back[4096], want[4096];
            memset(want, (int)(i + 1), sizeof(want));
            CHECK_EQ(pread(disk_fd, back, sizeof(back), 8 * 512 * (off_t)i), 4096);
            CHECK(memcmp(back, want, 4096) == 0);
        }
    }
    /* And read back through the device, all at once. */
    for (unsigned i = 0; i < N; i++)
        kind[i] = M_READ;
    memset(gp(MANY_DATA, 4096ull * N), 0, 4096ull * N);
    offer_many(kind, N);
    CHECK_EQ(collect(order, N), N);
    for (unsigned i = 0; i < N; i++)
        if (i % 10 != 9 && i != 42)
            CHECK_EQ(*(uint8_t *)gp(MANY_DATA + 4096ull * i + 100, 1), i + 1);
    /* Reads behind a flush: the ring holds them until the flush is done, then issues them from the
     * completion (not from a kernel worker), and a read the page cache holds completes right there. Each
     * must still wake the loop. */
    for (unsigned i = 0; i < N; i++)
        kind[i] = i % 20 == 10 ? M_FLUSH : M_READ;
    offer_many(kind, N);
    CHECK_EQ(collect(order, N), N);
    for (unsigned i = 0; i < N; i++)
        CHECK_EQ(*(uint8_t *)gp(MANY_STATUS + i, 1), S_OK);
    CHECK_EQ(vd->stats.errors, 1);
    CHECK(!vd->broken);
    teardown();
    aio = false;
}

/* An eject while requests are in flight waits for them: they complete (on the medium they were started on)
 * before the image is closed. */
static void test_in_flight_eject(void)
{
    aio = true;
    setup();
    int kind[40];
    for (unsigned i = 0; i < 40; i++)
        kind[i] = M_WRITE;
    offer_many(kind, 40);
    blk_eject(b);
    uint16_t *u = gp(USED, 6 + 8 * QSIZE);
    CHECK_EQ((uint16_t)(__atomic_load_n(&u[1], __ATOMIC_ACQUIRE) - used_seen), 40);
    for (unsigned i = 0; i < 40; i++)
        CHECK_EQ(*(uint8_t *)gp(MANY_STATUS + i, 1), S_OK);
    uint8_t back[4096];
    CHECK_EQ(pread(disk_fd, back, sizeof(back), 8 * 512 * 39), 4096);
    CHECK_EQ(back[0], 40);
    teardown();
    aio = false;
}

static void test_image_rule(void)
{
    char err[512];
    uint64_t sectors = 0;
    struct stat st;
    const char *p = file("ok.img", 3 * 512);
    int fd = blk_image_open(p, false, &sectors, &st, err, sizeof(err));
    CHECK(fd >= 0 && sectors == 3 && S_ISREG(st.st_mode));
    CHECK((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR && (fcntl(fd, F_GETFD) & FD_CLOEXEC));
    close(fd);
    CHECK(chmod(p, 0400) == 0);
    if (geteuid() != 0) /* root opens it for writing anyway */
        expect_refused(p, false, "cannot open disk image");
    fd = blk_image_open(p, true, &sectors, &st, err, sizeof(err));
    CHECK(fd >= 0 && (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY);
    close(fd);
    expect_refused(file("empty.img", 0), false, "empty");
    expect_refused(file("odd.img", 1000), false, "not a multiple of 512");
    expect_refused(file("small.img", 100), true, "not a multiple of 512");
    expect_refused(dir, true, "not a regular file");
    expect_refused("/dev/null", false, "not a regular file");
    char missing[300];
    snprintf(missing, sizeof(missing), "%s/missing.img", dir);
    expect_refused(missing, true, "cannot open disk image");
}

int main(void)
{
    if (!mkdtemp(dir) || gmem_init(&m, MEM, MEM) < 0 || evloop_init(&loop) < 0)
        return 1;
    for (int round = 0; round < 2; round++) {
        aio = round == 1;
        printf("%s:\n", aio ? "through io_uring" : "synchronous");
        RUN(test_read_write);
        RUN(test_request_limits);
        RUN(test_discard_limits);
        RUN(test_punch_fallbacks);
        RUN(test_request_headers);
    }
    RUN(test_in_flight);
    RUN(test_in_flight_eject);
    RUN(test_image_rule);
    evloop_free(&loop);
    gmem_free(&m);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    return CHECK_DONE();
}
