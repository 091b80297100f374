/* Fuzz target: virtio-blk requests (vmm/devices/blk.c) from a hostile guest, against a small image (a memfd):
 * every request type (IN, OUT, FLUSH, GET_ID, DISCARD, WRITE_ZEROES, unknown ones) with hostile headers,
 * segment counts and lengths (short or missing header and status, readable after writable, segments over
 * the advertised limits or outside RAM), sectors at and past the end, direct or indirect chains, on a
 * drive that is read-only or has no medium. The device must complete each request with a status it may give
 * (data read or written only within the image and the limits, as the header asked), or break on a malformed
 * ring; never write outside guest RAM or past the image's end. With config bit 4 the drive is a VM's:
 * reads, writes and flushes go through its io_uring and complete in any order, each exactly once (what
 * overlapping writes in flight together leave is then not predicted: the image is read back instead).
 *
 * Input: struct config, then requests of struct req_in and nsegs 16-bit segment codes each. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/evloop.h"
#include "devices/blk.h"
#include "devices/virtio.h"
#include "fuzz.h"

#define RAM_SIZE      (512u << 10)
#define QSIZE         256
#define DESC          0x0000
#define AVAIL         0x1000
#define USED          0x2000
#define HDRS          0x3000 /* 16 bytes per request */
#define STATUSES      0x3800 /* 4 bytes per request */
#define TABLES        0x4000 /* indirect tables, up to DATA */
#define DATA          0x20000
#define IMAGE_SECTORS 512u
#define MAX_REQS      32
#define MAX_SEGS      (2 + 255)

#define T_IN           0
#define T_OUT          1
#define T_FLUSH        4
#define T_GET_ID       8
#define T_DISCARD      11
#define T_WRITE_ZEROES 13

struct config {
    uint8_t flags; /* bit 0: read-only drive; bit 1: no medium; bit 2: EVENT_IDX; bit 3: one kick per request;
                      bit 4: through the io_uring */
    uint8_t nreqs;
};

struct req_in {
    uint8_t type;  /* < 0xf0: kinds[type % 7]; else raw_type as is */
    uint8_t flags; /* enum req_flags */
    uint8_t nsegs; /* data segments between header and status */
    uint8_t near;  /* sector: near; IMAGE_SECTORS - near with REQ_END; sector as is with REQ_RAW_SECTOR */
    uint32_t raw_type;
    uint64_t sector;
    uint8_t payload[16]; /* the first out data segment starts with it: a discard range, say */
};

enum req_flags {
    REQ_INDIRECT = 1,
    REQ_NO_HEADER = 2,  /* the data segments only (the header is what the first one holds) */
    REQ_NO_STATUS = 4,  /* no status segment: the status byte is the last byte of the last writable one */
    REQ_HDR_WRITE = 8,  /* the header is device-writable */
    REQ_HDR_SHORT = 16, /* an 8-byte header segment */
    REQ_STATUS_2 = 32,  /* a 2-byte status segment */
    REQ_END = 64,
    REQ_RAW_SECTOR = 128,
};

/* A data segment code: bit 15 device-writable; bit 14 the length is in sectors; bits 0-13 the length. */
#define SEG_WRITE   0x8000
#define SEG_SECTORS 0x4000

static const uint32_t kinds[7] = {T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD, T_WRITE_ZEROES, 5};

struct seg {
    uint64_t gpa;
    uint32_t len;
    bool write;
};

struct offered {
    uint32_t type;
    uint64_t sector;
    struct seg seg[MAX_SEGS];
    unsigned n;
    uint64_t in_len;
    bool clean; /* data segments alone in their bytes, header first and readable: the oracle below applies */
    uint16_t head;
};

static uint8_t *ram;
static struct gmem m;
static struct evloop loop; /* completes the ring's requests (config bit 4) */
static bool ring;
static struct offered reqs[MAX_REQS];
static int image_fd = -1; /* the target's own view of the image */

static void irq(struct virtio_dev *d, uint32_t kind)
{
    (void)d, (void)kind;
}

static uint32_t seg_len(uint16_t code)
{
    uint32_t n = code & 0x3fff;
    return code & SEG_SECTORS ? n * 512 : n;
}

/* Lays out request i's chain in RAM (segments from *data_off up) and describes it in reqs[i]. */
static void build(unsigned i, const struct req_in *r, const uint8_t *codes, uint64_t *data_off)
{
    struct offered *o = &reqs[i];
    *o = (struct offered){.clean = !(r->flags & (REQ_NO_HEADER | REQ_HDR_WRITE | REQ_HDR_SHORT))};
    o->type = r->type < 0xf0 ? kinds[r->type % 7] : r->raw_type;
    o->sector = r->flags & REQ_RAW_SECTOR ? r->sector
                : r->flags & REQ_END      ? IMAGE_SECTORS - r->near
                                          : r->near;
    uint64_t hdr = HDRS + 16ull * i;
    memcpy(ram + hdr, &o->type, 4);
    memset(ram + hdr + 4, 0, 4);
    memcpy(ram + hdr + 8, &o->sector, 8);
    if (!(r->flags & REQ_NO_HEADER))
        o->seg[o->n++] = (struct seg){hdr, r->flags & REQ_HDR_SHORT ? 8 : 16, r->flags & REQ_HDR_WRITE};
    bool payload_done = false;
    for (unsigned k = 0; k < r->nsegs; k++) {
        uint16_t code;
        memcpy(&code, codes + 2 * k, 2);
        struct seg s = {DATA + *data_off, seg_len(code), code & SEG_WRITE};
        *data_off += s.len;
        /* Past the end of RAM stays so: the walker must refuse it. */
        if (s.gpa + s.len <= RAM_SIZE && !s.write && !payload_done) {
            memcpy(ram + s.gpa, r->payload, s.len < 16 ? s.len : 16);
            payload_done = true;
        }
        o->seg[o->n++] = s;
    }
    if (!(r->flags & REQ_NO_STATUS))
        o->seg[o->n++] = (struct seg){STATUSES + 4ull * i, r->flags & REQ_STATUS_2 ? 2 : 1, true};
    for (unsigned k = 0; k < o->n; k++)
        if (o->seg[k].write)
            o->in_len += o->seg[k].len;
    if (r->flags & REQ_NO_STATUS)
        o->clean = false;
}

/* Whether request i's chain goes in an indirect table: asked for, and there is room left for it. */
static bool use_table(unsigned i, bool indirect, uint64_t table_off)
{
    return indirect && reqs[i].n && TABLES + table_off + 16ull * reqs[i].n <= DATA;
}

/* Puts request i's chain in the descriptor table (from *next) or an indirect table (from *table_off). */
static void offer(unsigned i, bool indirect, uint16_t *next, uint64_t *table_off)
{
    struct offered *o = &reqs[i];
    struct virtq_desc *desc = (struct virtq_desc *)(ram + DESC);
    if (use_table(i, indirect, *table_off)) {
        struct virtq_desc *t = (struct virtq_desc *)(ram + TABLES + *table_off);
        for (unsigned k = 0; k < o->n; k++)
            t[k] = (struct virtq_desc){.addr = o->seg[k].gpa,
                                       .len = o->seg[k].len,
                                       .flags = (uint16_t)((o->seg[k].write ? VIRTQ_DESC_F_WRITE : 0) |
                                                           (k + 1 < o->n ? VIRTQ_DESC_F_NEXT : 0)),
                                       .next = (uint16_t)(k + 1)};
        o->head = *next;
        desc[*next % QSIZE] = (struct virtq_desc){
            .addr = TABLES + *table_off, .len = 16 * o->n, .flags = VIRTQ_DESC_F_INDIRECT};
        *next = (uint16_t)(*next + 1);
        *table_off += 16ull * o->n;
    } else {
        /* A chain longer than the ring wraps onto itself: a loop the walker must refuse. */
        o->head = *next % QSIZE;
        desc[o->head] = (struct virtq_desc){0}; /* no segments: one empty one, not a stale chain */
        for (unsigned k = 0; k < o->n; k++) {
            uint16_t at = (uint16_t)((*next + k) % QSIZE);
            desc[at] = (struct virtq_desc){.addr = o->seg[k].gpa,
                                           .len = o->seg[k].len,
                                           .flags = (uint16_t)((o->seg[k].write ? VIRTQ_DESC_F_WRITE : 0) |
                                                               (k + 1 < o->n ? VIRTQ_DESC_F_NEXT : 0)),
                                           .next = (uint16_t)((at + 1) % QSIZE)};
        }
        *next = (uint16_t)(*next + (o->n ? o->n : 1));
    }
    o->head %= QSIZE;
    uint16_t *avail = (uint16_t *)(ram + AVAIL);
    avail[2 + avail[1] % QSIZE] = o->head;
    avail[1]++;
}

/* Bytes [off, off+len) of the request's data segments (neither header nor status) gathered into buf. */
static void gather(const struct offered *o, bool write, uint8_t *buf, uint64_t len)
{
    uint64_t done = 0;
    for (unsigned k = 1; k + 1 < o->n && done < len; k++) {
        if (o->seg[k].write != write)
            continue;
        uint64_t c = o->seg[k].len < len - done ? o->seg[k].len : len - done;
        memcpy(buf + done, ram + o->seg[k].gpa, c);
        done += c;
    }
}

/* The image as the completed requests left it, in their order (the image starts as zeroes); false from
 * a request whose effect the target does not work out (one that is not clean, a discard, which may or may
 * not leave zeroes) until the end of the batch, when it is read back from the file. */
static uint8_t shadow[IMAGE_SECTORS * 512];
static bool shadow_valid;

/* The status byte: the last byte of the last device-writable segment that has any. */
static const uint8_t *status_of(const struct offered *o)
{
    for (unsigned k = o->n; k-- > 0;)
        if (o->seg[k].write && o->seg[k].len && o->seg[k].gpa + o->seg[k].len <= RAM_SIZE)
            return ram + o->seg[k].gpa + o->seg[k].len - 1;
    return NULL;
}

/* What a completed request may have done. */
static void check_done(const struct offered *o, uint32_t used_len, bool readonly, bool empty)
{
    static uint8_t data[256u << 10];
    FUZZ_CHECK(used_len <= o->in_len);
    const uint8_t *sp = status_of(o);
    FUZZ_CHECK(sp != NULL); /* a request without one breaks the device */
    uint8_t status = *sp;
    FUZZ_CHECK(status <= 2);
    if (!o->clean || o->n < 2) {
        if (status == 0 && !empty)
            shadow_valid = false;
        return;
    }
    uint64_t out = 0, in = 0;
    for (unsigned k = 1; k + 1 < o->n; k++)
        *(o->seg[k].write ? &in : &out) += o->seg[k].len;
    if (o->seg[o->n - 1].len != 1)
        in += o->seg[o->n - 1].len - 1; /* the rest of a longer status segment is data too */
    if (empty && o->type != T_GET_ID) {
        FUZZ_CHECK(status == 1);
        return;
    }
    if (status != 0)
        return;
    if (o->type == T_OUT || o->type == T_IN) {
        uint64_t len = o->type == T_OUT ? out : in;
        FUZZ_CHECK(len % 512 == 0 && o->sector <= IMAGE_SECTORS && len / 512 <= IMAGE_SECTORS - o->sector);
        FUZZ_CHECK(o->type == T_IN || !readonly);
        FUZZ_CHECK(used_len == 1 + (o->type == T_IN ? len : 0));
        if (o->seg[o->n - 1].len != 1) {
            shadow_valid &= o->type == T_IN;
            return;
        }
        /* The data is where the header said, byte for byte. */
        gather(o, o->type == T_IN, data, len);
        if (o->type == T_OUT)
            memcpy(shadow + o->sector * 512, data, len);
        else if (shadow_valid)
            FUZZ_CHECK(memcmp(data, shadow + o->sector * 512, len) == 0);
    } else if (o->type == T_DISCARD || o->type == T_WRITE_ZEROES) {
        FUZZ_CHECK(!readonly && out > 0 && out % 16 == 0 && out / 16 <= BLK_DWZ_SEG_MAX);
        gather(o, false, data, out);
        for (uint64_t i = 0; i < out; i += 16) {
            uint64_t sector;
            uint32_t num, flags;
            memcpy(&sector, data + i, 8);
            memcpy(&num, data + i + 8, 4);
            memcpy(&flags, data + i + 12, 4);
            FUZZ_CHECK(num <= BLK_DWZ_SECTORS_MAX && sector <= IMAGE_SECTORS &&
                       num <= IMAGE_SECTORS - sector);
            FUZZ_CHECK(o->type == T_WRITE_ZEROES ? flags <= 1 : flags == 0);
            if (o->type == T_WRITE_ZEROES)
                memset(shadow + sector * 512, 0, (size_t)num * 512);
            else
                shadow_valid = false;
        }
    } else if (o->type == T_GET_ID) {
        FUZZ_CHECK(used_len == 1 + (in < 20 ? in : 20));
    } else {
        FUZZ_CHECK(o->type == T_FLUSH); /* anything else is UNSUPP */
    }
}

/* The end of a batch: the image is what the shadow says, or the shadow becomes what the image is. */
static void check_image(void)
{
    static uint8_t disk[IMAGE_SECTORS * 512];
    FUZZ_CHECK(pread(image_fd, disk, sizeof(disk), 0) == (ssize_t)sizeof(disk));
    if (shadow_valid)
        FUZZ_CHECK(memcmp(disk, shadow, sizeof(disk)) == 0);
    memcpy(shadow, disk, sizeof(disk));
    shadow_valid = true;
}

/* Notifies the device and checks what it completed: in order, each once, or it broke and completes nothing
 * more. Returns whether it broke. */
static bool kick(struct virtio_dev *vd, uint16_t *used_seen, unsigned n, unsigned *done, bool readonly,
                 bool empty, unsigned *ring_used)
{
    pthread_mutex_lock(&vd->lock);
    vd->ops->queue_notify(vd, 0);
    pthread_mutex_unlock(&vd->lock);
    const uint16_t *used = (const uint16_t *)(ram + USED);
    if (ring) {
        /* In any order, each once: the loop runs until all are back or the device broke. */
        for (int i = 0; i < 2000 && !vd->broken && (uint16_t)(used[1] - *used_seen) < n - *done; i++)
            evloop_run_once(&loop, 5);
        bool seen[MAX_REQS] = {false};
        unsigned first = *done;
        shadow_valid = false; /* the order of their effects is not the ring's to keep */
        while (*used_seen != used[1]) {
            const struct virtq_used_elem *e = (const struct virtq_used_elem *)&used[2] + *used_seen % QSIZE;
            unsigned k = first;
            while (k < n && (seen[k] || reqs[k].head != e->id))
                k++;
            FUZZ_CHECK(k < n);
            seen[k] = true;
            check_done(&reqs[k], e->len, readonly, empty);
            ++*done, ++*used_seen;
        }
    }
    while (*used_seen != used[1]) {
        const struct virtq_used_elem *e = (const struct virtq_used_elem *)&used[2] + *used_seen % QSIZE;
        FUZZ_CHECK(*done < n && e->id == reqs[*done].head);
        check_done(&reqs[*done], e->len, readonly, empty);
        ++*done, ++*used_seen;
    }
    check_image();
    *ring_used = 0;
    if (vd->broken)
        return true;
    FUZZ_CHECK(*done == n); /* neither broken nor lost */
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config c;
    if (size < sizeof(c))
        return 0;
    if (!ram) {
        FUZZ_CHECK((ram = malloc(RAM_SIZE)) != NULL);
        FUZZ_CHECK(evloop_init(&loop) == 0);
    }
    memcpy(&c, data, sizeof(c));
    data += sizeof(c), size -= sizeof(c);
    bool readonly = c.flags & 1, empty = c.flags & 2;
    ring = c.flags & 16;

    memset(ram, 0, DATA);
    for (size_t i = DATA; i < RAM_SIZE; i++)
        ram[i] = (uint8_t)(i * 7 + (i >> 9));
    m = (struct gmem){.regions = {{.gpa = 0, .size = RAM_SIZE, .host = ram}},
                      .nregions = 1,
                      .base = ram,
                      .total = RAM_SIZE};
    /* A memfd: tmpfs underneath (holes, zeroed ranges), and nothing left behind by a replay that ends
     * without exit handlers. */
    int fd = memfd_create("lsl-fuzz-blk", MFD_CLOEXEC);
    FUZZ_CHECK(fd >= 0 && ftruncate(fd, IMAGE_SECTORS * 512) == 0);
    image_fd = dup(fd);
    FUZZ_CHECK(image_fd >= 0);
    memset(shadow, 0, sizeof(shadow));
    shadow_valid = true;
    struct blk *b = blk_new(&m, readonly);
    FUZZ_CHECK(b != NULL);
    if (ring)
        blk_set_loop(b, &loop);
    if (empty)
        close(fd);
    else
        blk_insert(b, "fuzz", fd, IMAGE_SECTORS);
    struct virtio_dev *vd = blk_vdev(b);
    vd->interrupt = irq;
    vd->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
                 VIRTIO_STATUS_DRIVER_OK;
    struct virtq *vq = &vd->vq[0];
    virtq_reset(vq);
    vq->size = QSIZE;
    vq->desc_gpa = DESC, vq->avail_gpa = AVAIL, vq->used_gpa = USED;
    vq->event_idx = c.flags & 4;
    FUZZ_CHECK(virtq_enable(vq, &m) == 0);
    vq->ready = true;

    uint64_t data_off = 0, table_off = 0;
    uint16_t next = 0, used_seen = 0;
    unsigned n = 0, done = 0, ring_used = 0;
    bool broken = false;
    while (!broken && n < MAX_REQS && n < c.nreqs && size >= sizeof(struct req_in)) {
        struct req_in r;
        memcpy(&r, data, sizeof(r));
        data += sizeof(r), size -= sizeof(r);
        if (r.nsegs > size / 2)
            r.nsegs = (uint8_t)(size / 2);
        build(n, &r, data, &data_off);
        data += 2u * r.nsegs, size -= 2u * r.nsegs;
        /* Chains waiting for a kick never share descriptors (only one longer than the ring meets itself). */
        unsigned need = use_table(n, r.flags & REQ_INDIRECT, table_off) ? 1 : reqs[n].n ? reqs[n].n : 1;
        if (ring_used && ring_used + need > QSIZE)
            broken = kick(vd, &used_seen, n, &done, readonly, empty, &ring_used);
        if (broken)
            break;
        offer(n, r.flags & REQ_INDIRECT, &next, &table_off);
        ring_used += need;
        n++;
        if ((c.flags & 8) || n == c.nreqs || n == MAX_REQS || size < sizeof(struct req_in))
            broken = kick(vd, &used_seen, n, &done, readonly, empty, &ring_used);
    }

    /* The image keeps its size, and a read-only drive its zeroes. */
    struct stat st;
    FUZZ_CHECK(fstat(image_fd, &st) == 0 && st.st_size == IMAGE_SECTORS * 512);
    if (readonly) {
        static uint8_t disk[IMAGE_SECTORS * 512], zero[IMAGE_SECTORS * 512];
        FUZZ_CHECK(pread(image_fd, disk, sizeof(disk), 0) == (ssize_t)sizeof(disk));
        FUZZ_CHECK(memcmp(disk, zero, sizeof(disk)) == 0);
    }
    blk_free(b);
    close(image_fd);
    image_fd = -1;
    return 0;
}
