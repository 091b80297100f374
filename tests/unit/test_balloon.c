/* virtio-balloon without KVM: a fake driver negotiates through the real virtio-mmio register window, puts
 * requests on the four queues in fake guest memory (a lazily mapped 128 MiB, like a VM's) and reads the used
 * rings. Inflated pages and reported ranges read back as zeroes and leave their neighbours alone; bad PFNs,
 * ranges outside RAM and requests past the limits are refused without harm; the statistics buffer is held
 * and returned on request (also the one Linux offers before DRIVER_OK); the target and actual go through
 * the config space; and the host's RSS really falls when the guest reports 64 MiB free. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "devices/balloon.h"
#include "devices/virtio.h"
#include "devices/virtio_mmio.h"
#include "devices/virtio_mmio_regs.h"

#define MEM        (128u << 20)
#define HUGE_PAGES 512u /* a 2 MiB range: what a sweep releases whole */
#define QSIZE      128
#define DESC(q)    (0x10000u + (q)*0x4000u)
#define AVAIL(q)   (DESC(q) + 0x1000u)
#define USED(q)    (DESC(q) + 0x2000u)
#define BUF        0x100000u /* PFN arrays and statistics */
#define PAGE       4096u

#define F_STATS_VQ       1
#define F_DEFLATE_ON_OOM 2
#define F_REPORTING      5
#define F_VERSION_1      32
#define ALL_FEATURES                                                                                         \
    ((1ull << F_STATS_VQ) | (1ull << F_DEFLATE_ON_OOM) | (1ull << F_REPORTING) | (1ull << F_VERSION_1))

#define Q_INFLATE   0
#define Q_DEFLATE   1
#define Q_STATS     2
#define Q_REPORTING 3

static struct gmem m;
static struct balloon *b;
static struct virtio_dev *vd;
static struct virtio_mmio *t;
static uint16_t avail_idx[4], used_seen[4], next_desc[4];

struct seg {
    uint64_t gpa;
    uint32_t len;
    bool write; /* device-writable */
};

static void *gp(uint64_t gpa, uint64_t len)
{
    return gmem_ptr(&m, gpa, len);
}

static void w32(uint64_t off, uint32_t v, uint32_t len)
{
    uint8_t data[8] = {0};
    memcpy(data, &v, sizeof(v));
    virtio_mmio_access(t, off, data, len, true);
}

static uint32_t r32(uint64_t off)
{
    uint32_t v = 0;
    virtio_mmio_access(t, off, (uint8_t *)&v, 4, false);
    return v;
}

static void set_driver_ok(void)
{
    w32(REG_STATUS, r32(REG_STATUS) | VIRTIO_STATUS_DRIVER_OK, 4);
}

/* The driver's side of probing: features, nqueues queues, and DRIVER_OK if asked. */
static void setup(uint64_t features, unsigned nqueues, bool driver_ok)
{
    b = balloon_new(&m);
    CHECK(b != NULL);
    vd = balloon_vdev(b);
    t = virtio_mmio_new(vd);
    CHECK(t != NULL);
    memset(avail_idx, 0, sizeof(avail_idx));
    memset(used_seen, 0, sizeof(used_seen));
    memset(next_desc, 0, sizeof(next_desc));
    w32(REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE, 4);
    w32(REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 4);
    for (uint32_t sel = 0; sel < 2; sel++) {
        w32(REG_DRIVER_FEATURES_SEL, sel, 4);
        w32(REG_DRIVER_FEATURES, (uint32_t)(features >> (32 * sel)), 4);
    }
    w32(REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK, 4);
    CHECK(r32(REG_STATUS) & VIRTIO_STATUS_FEATURES_OK);
    for (uint32_t q = 0; q < nqueues; q++) {
        memset(gp(DESC(q), 0x3000), 0, 0x3000);
        w32(REG_QUEUE_SEL, q, 4);
        w32(REG_QUEUE_NUM, QSIZE, 4);
        w32(REG_QUEUE_DESC_LOW, DESC(q), 4);
        w32(REG_QUEUE_DRIVER_LOW, AVAIL(q), 4);
        w32(REG_QUEUE_DEVICE_LOW, USED(q), 4);
        w32(REG_QUEUE_READY, 1, 4);
        CHECK_EQ(r32(REG_QUEUE_READY), 1);
    }
    if (driver_ok)
        set_driver_ok();
    CHECK(!vd->broken);
}

static void teardown(void)
{
    virtio_mmio_free(t);
    balloon_free(b);
    t = NULL;
    b = NULL;
}

/* Makes a direct chain of n segments available on queue q (no kick); returns its head. */
static uint16_t post(uint16_t q, const struct seg *s, unsigned n)
{
    struct virtq_desc *d = gp(DESC(q), 16ull * QSIZE);
    uint16_t head = next_desc[q] % QSIZE;
    for (unsigned i = 0; i < n; i++) {
        uint16_t idx = (uint16_t)((head + i) % QSIZE);
        d[idx] = (struct virtq_desc){
            .addr = s[i].gpa,
            .len = s[i].len,
            .flags = (uint16_t)((s[i].write ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
            .next = (uint16_t)((idx + 1) % QSIZE)};
    }
    next_desc[q] = (uint16_t)(next_desc[q] + n);
    uint16_t *a = gp(AVAIL(q), 6 + 2 * QSIZE);
    a[2 + avail_idx[q] % QSIZE] = head;
    avail_idx[q]++;
    __atomic_store_n(&a[1], avail_idx[q], __ATOMIC_RELEASE);
    return head;
}

static void kick(uint16_t q)
{
    w32(REG_QUEUE_NOTIFY, q, 4);
}

/* The next used element of queue q: 1 with its id and len, 0 if the device returned nothing new. */
static int used(uint16_t q, uint16_t *id, uint32_t *len)
{
    uint16_t *u = gp(USED(q), 6 + 8 * QSIZE);
    if (__atomic_load_n(&u[1], __ATOMIC_ACQUIRE) == used_seen[q])
        return 0;
    struct virtq_used_elem *e = (struct virtq_used_elem *)&u[2] + used_seen[q] % QSIZE;
    used_seen[q]++;
    *id = (uint16_t)e->id;
    *len = e->len;
    return 1;
}

/* Posts, kicks and expects the request back at once with used length 0. */
static void request(uint16_t q, const struct seg *s, unsigned n)
{
    uint16_t head = post(q, s, n), id = 0xffff;
    uint32_t len = 0xffffffff;
    kick(q);
    CHECK_EQ(used(q, &id, &len), 1);
    CHECK_EQ(id, head);
    CHECK_EQ(len, 0);
}

static void fill(uint64_t gpa, uint64_t len, uint8_t v)
{
    memset(gp(gpa, len), v, len);
}

/* Every byte of [gpa, gpa+len) is v. */
static bool all(uint64_t gpa, uint64_t len, uint8_t v)
{
    const uint8_t *p = gp(gpa, len);
    for (uint64_t i = 0; i < len; i++)
        if (p[i] != v)
            return false;
    return true;
}

static struct balloon_info info(void)
{
    struct balloon_info i;
    balloon_info(b, &i);
    return i;
}

static void test_features_and_config(void)
{
    setup(ALL_FEATURES, 4, true);
    w32(REG_DEVICE_FEATURES_SEL, 0, 4);
    uint32_t f = r32(REG_DEVICE_FEATURES);
    CHECK(f & (1u << F_STATS_VQ));
    CHECK(f & (1u << F_DEFLATE_ON_OOM));
    CHECK(f & (1u << F_REPORTING));
    CHECK(!(f & 1u));                            /* MUST_TELL_HOST */
    CHECK(!(f & (1u << 3)) && !(f & (1u << 4))); /* FREE_PAGE_HINT, PAGE_POISON */
    w32(REG_DEVICE_FEATURES_SEL, 1, 4);
    CHECK(r32(REG_DEVICE_FEATURES) & 1u); /* VERSION_1 */

    /* The target: in num_pages, a new generation, and a config interrupt. */
    w32(REG_INTERRUPT_ACK, 3, 4);
    uint32_t gen = r32(REG_CONFIG_GENERATION);
    CHECK_EQ(r32(REG_CONFIG), 0);
    balloon_set_target(b, 1000);
    CHECK_EQ(r32(REG_CONFIG), 1000);
    CHECK(r32(REG_CONFIG_GENERATION) != gen);
    CHECK(r32(REG_INTERRUPT_STATUS) & VIRTIO_INT_CONFIG);
    CHECK_EQ(info().target_pages, 1000);
    gen = r32(REG_CONFIG_GENERATION);
    balloon_set_target(b, 1000); /* unchanged: nothing to tell */
    CHECK_EQ(r32(REG_CONFIG_GENERATION), gen);
    balloon_set_target(b, 0xffffffffu); /* more than the guest has */
    CHECK_EQ(r32(REG_CONFIG), MEM / PAGE);
    balloon_set_target(b, 1000);

    /* actual: the driver's to write, 32 bits at offset 4; nothing else is writable. */
    uint64_t malformed = vd->stats.malformed;
    w32(REG_CONFIG + 4, 77, 4);
    CHECK_EQ(info().actual_pages, 77);
    CHECK_EQ(r32(REG_CONFIG + 4), 77);
    CHECK_EQ(vd->stats.malformed, malformed);
    w32(REG_CONFIG, 5, 4); /* num_pages */
    CHECK_EQ(r32(REG_CONFIG), 1000);
    w32(REG_CONFIG + 4, 9, 2);    /* half of actual */
    w32(REG_CONFIG + 12, 9, 4);   /* poison_val without PAGE_POISON */
    w32(REG_CONFIG + 0x40, 9, 4); /* past the config */
    CHECK_EQ(info().actual_pages, 77);
    CHECK_EQ(vd->stats.malformed, malformed + 4);
    w32(REG_CONFIG + 5, 9, 4); /* misaligned: the transport drops it */
    CHECK_EQ(info().actual_pages, 77);
    CHECK_EQ(vd->stats.malformed, malformed + 5);
    uint8_t q[8];
    uint64_t v = 0x1122334455667788ull;
    memcpy(q, &v, 8);
    virtio_mmio_access(t, REG_CONFIG, q, 8, true); /* 64 bits over num_pages and actual: refused whole */
    CHECK_EQ(info().actual_pages, 77);
    CHECK_EQ(r32(REG_CONFIG), 1000);

    /* A reset empties the balloon as far as the driver goes; the host's target stays. */
    w32(REG_STATUS, 0, 4);
    CHECK_EQ(info().actual_pages, 0);
    CHECK_EQ(info().target_pages, 1000);
    CHECK_EQ(r32(REG_CONFIG), 1000);
    teardown();
}

static void test_inflate_deflate(void)
{
    setup(ALL_FEATURES, 4, true);
    const uint64_t base = 16u << 20;
    fill(base, 8 * PAGE, 0xa5);
    fill(base + 0x10 * PAGE, PAGE, 0xa5);
    uint32_t pfns[] = {(uint32_t)(base / PAGE) + 0,
                       (uint32_t)(base / PAGE) + 1,
                       (uint32_t)(base / PAGE) + 2,
                       (uint32_t)(base / PAGE) + 3,
                       (uint32_t)(base / PAGE) + 0x10,
                       0xffffffffu,
                       MEM / PAGE /* the first page past RAM */};
    memcpy(gp(BUF, sizeof(pfns)), pfns, sizeof(pfns));
    struct seg s = {BUF, sizeof(pfns), false};
    request(Q_INFLATE, &s, 1);
    CHECK(all(base, 4 * PAGE, 0));
    CHECK(all(base + 4 * PAGE, 4 * PAGE, 0xa5)); /* neighbours left alone */
    CHECK(all(base + 0x10 * PAGE, PAGE, 0));
    CHECK_EQ(info().inflated_pages, 5);
    CHECK_EQ(vd->stats.malformed, 1); /* the two bad PFNs: one bad request */
    CHECK(!vd->broken);

    /* Deflate: counted, nothing to do (the pages refault as zeroes when the guest touches them). */
    fill(base, PAGE, 0x3c);
    request(Q_DEFLATE, &s, 1);
    CHECK_EQ(info().deflated_pages, 5);
    CHECK_EQ(vd->stats.malformed, 2);
    CHECK(all(base, PAGE, 0x3c));

    /* A torn PFN at the end: the whole ones count. */
    fill(base + 4 * PAGE, 2 * PAGE, 0xa5);
    memcpy(gp(BUF, 8), (uint32_t[]){(uint32_t)(base / PAGE) + 4, (uint32_t)(base / PAGE) + 5}, 8);
    s.len = 10;
    request(Q_INFLATE, &s, 1);
    CHECK(all(base + 4 * PAGE, 2 * PAGE, 0));
    CHECK_EQ(info().inflated_pages, 7);
    CHECK_EQ(vd->stats.malformed, 3);

    /* The array split over two segments, a PFN across the boundary. */
    fill(base + 6 * PAGE, 2 * PAGE, 0xa5);
    memcpy(gp(BUF, 8), (uint32_t[]){(uint32_t)(base / PAGE) + 6, (uint32_t)(base / PAGE) + 7}, 8);
    struct seg split[2] = {{BUF, 6, false}, {BUF + 6, 2, false}};
    request(Q_INFLATE, split, 2);
    CHECK(all(base + 6 * PAGE, 2 * PAGE, 0));
    CHECK_EQ(info().inflated_pages, 9);
    CHECK_EQ(vd->stats.malformed, 3);

    /* More PFNs than one request may carry: the first BALLOON_PFNS_MAX are done, the rest left alone. */
    const uint64_t big = 32u << 20;
    uint32_t *arr = gp(BUF, 2048 * 4);
    for (uint32_t i = 0; i < 2048; i++)
        arr[i] = (uint32_t)(big / PAGE) + i;
    fill(big + 10 * PAGE, PAGE, 0x11);
    fill(big + 1500 * PAGE, PAGE, 0x11);
    s = (struct seg){BUF, 2048 * 4, false};
    request(Q_INFLATE, &s, 1);
    CHECK(all(big + 10 * PAGE, PAGE, 0));
    CHECK(all(big + 1500 * PAGE, PAGE, 0x11));
    CHECK_EQ(info().inflated_pages, 9 + BALLOON_PFNS_MAX);
    CHECK_EQ(vd->stats.malformed, 4);

    /* A writable buffer is no PFN array. */
    s = (struct seg){BUF, 64, true};
    request(Q_INFLATE, &s, 1);
    CHECK_EQ(info().inflated_pages, 9 + BALLOON_PFNS_MAX);
    CHECK_EQ(vd->stats.malformed, 5);
    CHECK(!vd->broken);
    teardown();
}

static void test_reporting(void)
{
    setup(ALL_FEATURES, 4, true);
    const uint64_t r = 32u << 20;
    fill(r, (2u << 20) + PAGE, 0x5a);
    struct seg s = {r, 2u << 20, true};
    request(Q_REPORTING, &s, 1);
    CHECK(all(r, 2u << 20, 0));
    CHECK(all(r + (2u << 20), PAGE, 0x5a));
    CHECK_EQ(info().reported_bytes, 2u << 20);
    CHECK_EQ(info().reports, 1);
    CHECK_EQ(vd->stats.malformed, 0);

    /* Not page-aligned: only the whole pages inside are released. */
    const uint64_t u = 40u << 20;
    fill(u, 4 * PAGE, 0x77);
    s = (struct seg){u + 100, 3 * PAGE, true};
    request(Q_REPORTING, &s, 1);
    CHECK(all(u, PAGE, 0x77));
    CHECK(all(u + PAGE, 2 * PAGE, 0));
    CHECK(all(u + 3 * PAGE, PAGE, 0x77));
    CHECK_EQ(info().reported_bytes, (2u << 20) + 2 * PAGE);
    s = (struct seg){u + 1, 100, true}; /* no whole page at all */
    request(Q_REPORTING, &s, 1);
    CHECK(all(u, PAGE, 0x77));
    CHECK_EQ(info().reports, 3);
    CHECK_EQ(vd->stats.malformed, 0);

    /* A device-readable range: not a report, left alone. */
    s = (struct seg){u, PAGE, false};
    request(Q_REPORTING, &s, 1);
    CHECK(all(u, PAGE, 0x77));
    CHECK_EQ(vd->stats.malformed, 1);
    CHECK_EQ(info().reported_bytes, (2u << 20) + 2 * PAGE);

    /* Several ranges in one request, as Linux sends them (up to 32). */
    fill(44u << 20, 4u << 20, 0x66);
    struct seg two[2] = {{44u << 20, 2u << 20, true}, {46u << 20, 2u << 20, true}};
    request(Q_REPORTING, two, 2);
    CHECK(all(44u << 20, 4u << 20, 0));
    CHECK_EQ(info().reported_bytes, (6u << 20) + 2 * PAGE);

    /* Past the per-request budget (three aliases of 96 MiB): released up to it, the rest left alone. */
    uint64_t before = info().reported_bytes;
    struct seg alias[3] = {
        {16u << 20, 96u << 20, true}, {16u << 20, 96u << 20, true}, {16u << 20, 96u << 20, true}};
    request(Q_REPORTING, alias, 3);
    CHECK_EQ(info().reported_bytes - before, BALLOON_REPORT_BYTES_MAX);
    CHECK_EQ(vd->stats.malformed, 2);

    /* A range past the end of RAM: the ring walker refuses the chain, the device breaks (the driver is
     * told to reset it), nothing is released and nothing crashes. */
    fill(MEM - PAGE, PAGE, 0x42);
    s = (struct seg){MEM - PAGE, 2 * PAGE, true};
    post(Q_REPORTING, &s, 1);
    kick(Q_REPORTING);
    uint16_t id;
    uint32_t len;
    CHECK_EQ(used(Q_REPORTING, &id, &len), 0);
    CHECK(vd->broken);
    CHECK(r32(REG_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
    CHECK(all(MEM - PAGE, PAGE, 0x42));
    CHECK_EQ(info().reported_bytes, before + BALLOON_REPORT_BYTES_MAX);
    w32(REG_STATUS, 0, 4);
    CHECK(!vd->broken);
    teardown();

    /* Without STATS_VQ the reporting queue is the third (Linux numbers only the queues that exist), and
     * a fourth one does not exist. */
    setup((1ull << F_REPORTING) | (1ull << F_VERSION_1), 3, true);
    fill(r, 2u << 20, 0x5a);
    s = (struct seg){r, 2u << 20, true};
    request(2, &s, 1);
    CHECK(all(r, 2u << 20, 0));
    CHECK_EQ(info().reported_bytes, 2u << 20);
    kick(3);
    CHECK_EQ(vd->stats.malformed, 1);
    CHECK(!vd->broken);
    teardown();
}

struct __attribute__((packed)) stat_entry {
    uint16_t tag;
    uint64_t val;
};

static uint16_t post_stats(const struct stat_entry *e, unsigned n, uint32_t extra)
{
    memcpy(gp(BUF, sizeof(*e) * n + extra), e, sizeof(*e) * n);
    struct seg s = {BUF, (uint32_t)(sizeof(*e) * n) + extra, false};
    return post(Q_STATS, &s, 1);
}

static void test_stats(void)
{
    /* Linux offers its first buffer during probe, before DRIVER_OK: the device must not take it yet. */
    setup(ALL_FEATURES, 4, false);
    const struct stat_entry first[] = {{4, 123}, {5, 456}, {99, 1}};
    uint16_t head = post_stats(first, 3, 5); /* and 5 bytes of a partial entry */
    kick(Q_STATS);
    CHECK(!info().stats_valid);
    set_driver_ok();
    balloon_request_stats(b); /* takes it now and returns it at once */
    struct balloon_info i = info();
    CHECK(i.stats_valid);
    CHECK_EQ(i.mem_free, 123);
    CHECK_EQ(i.mem_total, 456);
    CHECK_EQ(i.swap_in, 0);
    CHECK(i.stats_age_ns < 10000000000ull);
    uint16_t id;
    uint32_t len;
    CHECK_EQ(used(Q_STATS, &id, &len), 1);
    CHECK_EQ(id, head);
    CHECK_EQ(len, 0);
    CHECK(r32(REG_INTERRUPT_STATUS) & VIRTIO_INT_VRING);
    CHECK_EQ(vd->stats.malformed, 0);

    /* The driver refills it: the device keeps it until asked again. */
    const struct stat_entry second[] = {{0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 1000}, {6, 2000}, {7, 3000}};
    head = post_stats(second, 7, 0);
    kick(Q_STATS);
    i = info();
    CHECK_EQ(i.mem_free, 1000);
    CHECK_EQ(i.mem_available, 2000);
    CHECK_EQ(i.disk_caches, 3000);
    CHECK_EQ(i.swap_in, 1);
    CHECK_EQ(i.swap_out, 2);
    CHECK_EQ(i.major_faults, 3);
    CHECK_EQ(i.minor_faults, 4);
    CHECK_EQ(i.mem_total, 0); /* not sent this time */
    CHECK_EQ(used(Q_STATS, &id, &len), 0);
    w32(REG_INTERRUPT_ACK, 3, 4);
    balloon_request_stats(b);
    CHECK_EQ(used(Q_STATS, &id, &len), 1);
    CHECK_EQ(id, head);
    CHECK(r32(REG_INTERRUPT_STATUS) & VIRTIO_INT_VRING);
    balloon_request_stats(b); /* nothing held: nothing to return */
    CHECK_EQ(used(Q_STATS, &id, &len), 0);

    /* Two buffers at once (the spec allows one): the older goes back, the newer is kept. */
    uint16_t h1 = post_stats(first, 1, 0);
    kick(Q_STATS);
    post_stats(second, 1, 0);
    kick(Q_STATS);
    CHECK_EQ(used(Q_STATS, &id, &len), 1);
    CHECK_EQ(id, h1);
    CHECK_EQ(vd->stats.malformed, 1);
    CHECK_EQ(info().swap_in, 1);
    CHECK(!vd->broken);

    /* A reset drops the held buffer with the driver; the numbers stay, ageing. */
    w32(REG_STATUS, 0, 4);
    balloon_request_stats(b);
    CHECK_EQ(used(Q_STATS, &id, &len), 0);
    CHECK(info().stats_valid);
    teardown();
}

/* The driver's inflation of `pages` pages from gpa on: PFN arrays of BALLOON_PFNS_MAX at most. */
static void inflate_pages(uint64_t gpa, uint32_t pages)
{
    uint32_t *arr = gp(BUF, BALLOON_PFNS_MAX * 4);
    for (uint32_t done = 0; done < pages;) {
        uint32_t n = pages - done < BALLOON_PFNS_MAX ? pages - done : BALLOON_PFNS_MAX;
        for (uint32_t k = 0; k < n; k++)
            arr[k] = (uint32_t)(gpa / PAGE) + done + k;
        struct seg s = {BUF, n * 4, false};
        request(Q_INFLATE, &s, 1);
        done += n;
    }
}

/* Ticks until the device asks for the guest's numbers (while nothing moves it waits up to 16 ticks): the
 * one buffer comes back. Returns the ticks it took. */
static unsigned ask(void)
{
    uint16_t id;
    uint32_t len;
    for (unsigned n = 1; n <= 16; n++) {
        balloon_tick(b);
        if (used(Q_STATS, &id, &len)) {
            CHECK_EQ(used(Q_STATS, &id, &len), 0);
            return n;
        }
    }
    CHECK(!"the device asked");
    return 0;
}

/* Sweeps: ticks ask for the guest's numbers; when the host holds SWEEP_MIN (64 MiB) more than the guest
 * uses, the target grows by about that much (never below what the guest keeps free: a quarter of this small
 * guest's 128 MiB) until the driver got there. */
static void test_sweep(void)
{
    const uint64_t G = 1ull << 30, M = 1ull << 20;
    CHECK_EQ(balloon_sweep_bytes(G, 900 * M, 76 * M), 152 * M); /* twice what is held */
    CHECK_EQ(balloon_sweep_bytes(G, 900 * M, 26 * M), 0);       /* under 32 MiB held: not worth it */
    CHECK_EQ(balloon_sweep_bytes(G, 300 * M, G), 172 * M);      /* all but the 128 MiB it keeps */
    CHECK_EQ(balloon_sweep_bytes(G, 150 * M, G), 0);            /* no more free than it keeps */
    CHECK_EQ(balloon_sweep_bytes(G, G + 1, G), 0);              /* more free than RAM: a lie */

    setup(ALL_FEATURES, 4, true);
    fill(16u << 20, MEM - (16u << 20), 0x33); /* our RSS: 112 MiB of the guest's RAM touched */
    const struct stat_entry stale[] = {{4, 10u << 20}, {5, MEM}};
    post_stats(stale, 2, 0);
    kick(Q_STATS);
    balloon_set_target(b, 100);
    w32(REG_INTERRUPT_ACK, 3, 4);
    CHECK_EQ(ask(), 1); /* the first tick asks */
    uint16_t id;
    uint32_t len;
    CHECK_EQ(r32(REG_CONFIG), 100);
    const struct stat_entry fresh[] = {{4, 100u << 20}, {5, MEM}};
    post_stats(fresh, 2, 0);
    kick(Q_STATS);
    const uint32_t sweep = (100u - 32u) << 20 >> 12;
    CHECK_EQ(r32(REG_CONFIG), 100 + sweep);
    CHECK(r32(REG_INTERRUPT_STATUS) & VIRTIO_INT_CONFIG);
    struct balloon_info i = info();
    CHECK(i.sweep_pages == sweep && i.sweeps == 1);
    /* The host's target moves under it: the sweep stays on top; ticks ask nothing while it runs. */
    balloon_set_target(b, 200);
    CHECK_EQ(r32(REG_CONFIG), 200 + sweep);
    balloon_tick(b);
    CHECK_EQ(used(Q_STATS, &id, &len), 0);
    /* The driver inflates: the host's target (200 pages) goes page by page, the sweep's pages only with
     * their whole 2 MiB range, so no huge host page is split while the sweep runs: a range all in the
     * balloon goes, the others stay (the guest's data around their pages too). */
    const uint64_t part = 8u << 20, whole = 10u << 20, half = 12u << 20;
    fill(part, 2u << 20, 0x5a);
    fill(whole, 2u << 20, 0x5a);
    fill(half, 2u << 20, 0x5a);
    inflate_pages(16u << 20, 200);
    CHECK(all(16u << 20, 200 * PAGE, 0));
    for (uint32_t k = 0; k < HUGE_PAGES; k += 4)
        inflate_pages(part + (uint64_t)k * PAGE, 1);
    CHECK(all(part, 2u << 20, 0x5a));
    inflate_pages(whole, HUGE_PAGES - 1);
    CHECK(all(whole, 2u << 20, 0x5a));
    inflate_pages(whole + (HUGE_PAGES - 1) * PAGE, 1);
    CHECK(all(whole, 2u << 20, 0));
    for (uint32_t k = 0; k < HUGE_PAGES; k += 2)
        inflate_pages(half + (uint64_t)k * PAGE, 1);
    CHECK(all(half, 2u << 20, 0x5a));
    /* The same pages given again count once: the quarter range is not half yet. */
    for (uint32_t k = 0; k < HUGE_PAGES; k += 4)
        inflate_pages(part + (uint64_t)k * PAGE, 1);
    CHECK(all(part, 2u << 20, 0x5a));
    inflate_pages(16u << 20, sweep);
    w32(REG_CONFIG + 4, 50 + sweep, 4); /* not there yet */
    CHECK_EQ(info().sweep_pages, sweep);
    CHECK(all(half, 2u << 20, 0x5a));
    w32(REG_CONFIG + 4, 200 + sweep, 4); /* there: it all goes back but the host's target */
    CHECK_EQ(r32(REG_CONFIG), 200);
    CHECK_EQ(info().sweep_pages, 0);
    /* At its end the sweep splits what it got half of: those pages go, the rest of the range stays. The
     * quarter range stays whole. */
    for (uint32_t k = 0; k < HUGE_PAGES; k++)
        CHECK(all(half + (uint64_t)k * PAGE, PAGE, k % 2 ? 0x5a : 0));
    CHECK(all(part, 2u << 20, 0x5a));
    CHECK_EQ(info().split_ranges, 1);
    w32(REG_CONFIG + 4, 200, 4); /* deflated */
    /* Numbers that do not call for one: nothing changes. */
    ask();
    const struct stat_entry busy[] = {{4, 40u << 20}, {5, MEM}};
    post_stats(busy, 2, 0);
    kick(Q_STATS);
    CHECK_EQ(r32(REG_CONFIG), 200);
    CHECK_EQ(info().sweeps, 1);
    /* The guest used those pages again and freed them: the sweep released what it held, so the next one
     * starts at once. */
    fill(16u << 20, (uint64_t)sweep * PAGE, 0x33);
    CHECK_EQ(ask(), 1); /* our RSS moved */
    post_stats(fresh, 2, 0);
    kick(Q_STATS);
    CHECK_EQ(info().sweeps, 2);
    /* A sweep that returns nothing (the driver got there, our RSS stayed) is followed by a quiet
     * (SWEEP_QUIET_NS, doubling): the same numbers start none. */
    w32(REG_CONFIG + 4, r32(REG_CONFIG), 4);
    CHECK_EQ(r32(REG_CONFIG), 200);
    w32(REG_CONFIG + 4, 200, 4); /* deflated as asked */
    ask();
    post_stats(fresh, 2, 0);
    kick(Q_STATS);
    CHECK_EQ(info().sweeps, 2);
    /* Unless the guest frees SWEEP_MIN more meanwhile: 24 MiB more free there, 14 MiB more touched here. */
    ask();
    fill(2u << 20, 14u << 20, 0x44);
    const struct stat_entry freer[] = {{4, 124u << 20}, {5, MEM}};
    post_stats(freer, 2, 0);
    kick(Q_STATS);
    CHECK_EQ(info().sweeps, 3);
    /* The driver takes pages back on its own (deflate on OOM: the host asked for none, actual was at the
     * target): they are the guest's now, and the host's target drops by as much. A sweep under way ends. */
    CHECK(info().sweep_pages);
    uint32_t pfns[3] = {(2u << 20) / PAGE, (2u << 20) / PAGE + 1, (2u << 20) / PAGE + 2};
    memcpy(gp(BUF, sizeof(pfns)), pfns, sizeof(pfns));
    struct seg s = {BUF, sizeof(pfns), false};
    request(Q_DEFLATE, &s, 1);
    CHECK_EQ(r32(REG_CONFIG), 197);
    i = info();
    CHECK(i.base_pages == 197 && i.oom_pages == 3 && i.sweep_pages == 0);
    w32(REG_CONFIG + 4, 197, 4);
    /* Pages the host asked back (actual above the target) are no such thing. */
    balloon_set_target(b, 100);
    request(Q_DEFLATE, &s, 1);
    i = info();
    CHECK(i.base_pages == 100 && i.oom_pages == 3 && r32(REG_CONFIG) == 100);
    /* A reset: no sweep survives the driver, the host's target does. */
    balloon_set_target(b, 300);
    w32(REG_STATUS, 0, 4);
    CHECK_EQ(r32(REG_CONFIG), 300);
    CHECK_EQ(info().sweep_pages, 0);
    teardown();
}

/* A range a sweep split comes back as a huge page once the guest uses it again (COLLAPSE_MIN_PAGES of it
 * resident), looked at when our RSS grew; its contents stay. */
static void test_sweep_collapse(void)
{
    setup(ALL_FEATURES, 4, true);
    fill(16u << 20, MEM - (16u << 20), 0x33);
    const uint64_t half = 12u << 20;
    fill(half, 2u << 20, 0x5a);
    const struct stat_entry fresh[] = {{4, 100u << 20}, {5, MEM}};
    post_stats(fresh, 2, 0);
    kick(Q_STATS);
    ask();
    post_stats(fresh, 2, 0);
    kick(Q_STATS);
    CHECK_EQ(info().sweeps, 1);
    for (uint32_t k = 0; k < HUGE_PAGES; k += 2)
        inflate_pages(half + (uint64_t)k * PAGE, 1);
    inflate_pages(32u << 20, 8u << 20 >> 12); /* four whole ranges: our RSS falls by 8 MiB */
    w32(REG_CONFIG + 4, r32(REG_CONFIG), 4);  /* there: the sweep ends */
    w32(REG_CONFIG + 4, 0, 4);
    CHECK_EQ(info().split_ranges, 1);
    CHECK(all(half, PAGE, 0) && all(half + PAGE, PAGE, 0x5a));
    /* Deflated, the guest writes to a quarter of what the sweep gave back: not in use enough. */
    for (uint32_t k = 0; k < HUGE_PAGES / 4; k += 2)
        fill(half + (uint64_t)k * PAGE, PAGE, 0x77);
    fill(32u << 20, 8u << 20, 0x44); /* and our RSS grew */
    balloon_tick(b);
    CHECK_EQ(info().collapsed_ranges, 0);
    /* Then to all of it: made whole again at the next look, which waits for our RSS to grow again. */
    for (uint32_t k = HUGE_PAGES / 4; k < HUGE_PAGES; k += 2)
        fill(half + (uint64_t)k * PAGE, PAGE, 0x77);
    balloon_tick(b);
    CHECK_EQ(info().collapsed_ranges, 0);
    madvise(gp(40u << 20, 8u << 20), 8u << 20, MADV_DONTNEED); /* more guest memory away and back */
    balloon_tick(b);
    fill(40u << 20, 8u << 20, 0x45);
    balloon_tick(b);
    CHECK_EQ(info().collapsed_ranges, 1);
    for (uint32_t k = 0; k < HUGE_PAGES; k++)
        CHECK(all(half + (uint64_t)k * PAGE, PAGE, k % 2 ? 0x5a : 0x77));
    /* Collapsed once, looked at no more. */
    madvise(gp(40u << 20, 8u << 20), 8u << 20, MADV_DONTNEED);
    balloon_tick(b);
    fill(40u << 20, 8u << 20, 0x46);
    balloon_tick(b);
    CHECK_EQ(info().collapsed_ranges, 1);
    teardown();
}

/* An idle guest is asked less and less often: every 2, 4, 8, then 16 ticks while our RSS, the reports and
 * its MemFree stay; any of them moving brings asking back to every tick. */
/* The driver's answer: a buffer of MemFree and MemTotal, offered and kicked. */
static void answer(const struct stat_entry e[2])
{
    post_stats(e, 2, 0);
    kick(Q_STATS);
}

static void test_ask_backoff(void)
{
    setup(ALL_FEATURES, 4, true);
    const struct stat_entry quiet[] = {{4, 20u << 20}, {5, MEM}}, freed[] = {{4, 28u << 20}, {5, MEM}};
    struct seg gone = {64u << 20, 8u << 20, true}; /* off the host, to be touched again below */
    request(Q_REPORTING, &gone, 1);
    answer(quiet);
    CHECK_EQ(ask(), 1);
    answer(quiet);
    const unsigned want[] = {2, 4, 8, 16, 16};
    for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        CHECK_EQ(ask(), want[i]);
        answer(quiet);
    }
    /* A report: freed memory the host saw without asking. */
    fill(96u << 20, 2u << 20, 0x21);
    struct seg r = {96u << 20, 2u << 20, true};
    request(Q_REPORTING, &r, 1);
    CHECK_EQ(ask(), 1);
    answer(quiet);
    CHECK_EQ(ask(), 2);
    answer(quiet);
    /* Our RSS moved: the guest touched 8 MiB. */
    fill(64u << 20, 8u << 20, 0x22);
    CHECK_EQ(ask(), 1);
    /* Its MemFree moved by 8 MiB in the answer (freed in single pages: no report). */
    answer(freed);
    CHECK_EQ(ask(), 1);
    answer(freed);
    CHECK_EQ(ask(), 2);
    answer(freed);
    CHECK_EQ(info().sweeps, 0);
    teardown();
}

static uint64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%lu %lu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* The point of it all: 64 MiB the guest wrote and then reported free leave the host's memory. */
static void test_rss_falls(void)
{
    setup(ALL_FEATURES, 4, true);
    const uint64_t base = 64u << 20, size = 64u << 20;
    fill(base, size, 0x11);
    uint64_t touched = rss_bytes();
    struct seg s[32];
    for (unsigned i = 0; i < 32; i++)
        s[i] = (struct seg){base + i * (2ull << 20), 2u << 20, true};
    uint64_t before = info().reported_bytes;
    request(Q_REPORTING, s, 32);
    uint64_t after = rss_bytes();
    CHECK_EQ(info().reported_bytes - before, size);
    if (!(touched > after && touched - after >= (48ull << 20)))
        fprintf(stderr, "  RSS %llu KiB after touching, %llu KiB after the report\n",
                (unsigned long long)(touched >> 10), (unsigned long long)(after >> 10));
    CHECK(touched > after && touched - after >= (48ull << 20));
    CHECK(all(base, size, 0));
    teardown();
}

int main(void)
{
    if (gmem_init(&m, MEM, MEM) < 0)
        return 1;
    RUN(test_features_and_config);
    RUN(test_inflate_deflate);
    RUN(test_reporting);
    RUN(test_stats);
    RUN(test_sweep);
    RUN(test_sweep_collapse);
    RUN(test_ask_backoff);
    RUN(test_rss_falls);
    gmem_free(&m);
    return CHECK_DONE();
}
