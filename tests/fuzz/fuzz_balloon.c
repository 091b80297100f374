/* Fuzz target: virtio-balloon (vmm/devices/balloon.c) behind the real virtio-mmio window, as a hostile guest
 * drives it: features from the input (which renumbers the queues), PFN arrays on the inflate and deflate
 * queues (valid, past RAM, torn, repeated past the per-request limit, writable), reported ranges (aligned or
 * not, readable, past RAM, many per request), statistics buffers (any tags, partial entries, two at once),
 * direct or indirect chains, buffers offered before DRIVER_OK, config accesses of every width, the host's
 * target and stats requests, resets, disabled queues, kicks of queues that do not exist, and pokes into the
 * rings. Checked after every step: each used element has length 0 (in a used ring the guest did not poke);
 * madvise never fails (every release is page-aligned inside guest RAM); the config shows the host's target
 * and the actual the driver last wrote in full, nothing else; a data page reads as its pattern or as zeroes
 * (released whole, never written), and one that no request named (a PFN offered for inflation, a whole page
 * inside a reported range) keeps its pattern. That last one holds while the rings say what the driver meant:
 * no poke, no queue re-enabled, no buffer or descriptor reused while a request waits (its chain would then
 * mix old and new).
 *
 * Input: struct header, then steps of 12 bytes (struct step). */
#include "devices/balloon.h"
#include "devices/virtio.h"
#include "devices/virtio_mmio.h"
#include "devices/virtio_mmio_regs.h"
#include "fuzz.h"

#define RAM_SIZE   (256u << 10)
#define PAGE       4096u
#define QSIZE      64
#define NQ         4
#define DESC(q)    ((q)*0x2000u)
#define AVAIL(q)   (DESC(q) + 0x800u)
#define USED(q)    (DESC(q) + 0x1000u)
#define BUFS       0x8000u /* 8 buffer slots of one page: PFN arrays, stats, indirect tables */
#define NBUFS      8
#define DATA       0x10000u /* from here on: pages the requests name, filled with a pattern */
#define DATA_PAGES ((RAM_SIZE - DATA) / PAGE)

struct header {
    uint8_t features_off; /* bits taken away from the offered features: 0 STATS_VQ, 1 REPORTING, 2 EVENT_IDX,
                             3 DEFLATE_ON_OOM, 4 VERSION_1 (negotiation fails), 5 INDIRECT_DESC */
    uint8_t flags;        /* bit 0: DRIVER_OK only when a step sets it (Linux offers stats buffers first) */
};

struct __attribute__((packed)) step {
    uint8_t kind; /* enum kind, modulo KIND_COUNT */
    uint8_t arg;
    uint16_t a;
    uint32_t b, c;
};
_Static_assert(sizeof(struct step) == 12, "steps are 12 bytes");

enum kind {
    KIND_PFNS,      /* inflate (arg bit 0 clear) or deflate: a PFNs from b, stride c & 15 */
    KIND_REPORT,    /* 1 + arg % 40 ranges from b, c & 0x3ffff bytes each, a * 16 apart */
    KIND_STATS,     /* arg % 24 entries, tags and values from b and c, a % 10 bytes of a partial one */
    KIND_REQ_STATS, /* the host asks for statistics */
    KIND_TARGET,    /* the host sets the target to b */
    KIND_CONFIG,    /* a config access at a % 32, width 1 << (arg & 3) (or arg % 8 + 1 with bit 6) */
    KIND_NEGOTIATE, /* reset, then features without b's bits, arg % 5 queues, DRIVER_OK unless arg bit 4 */
    KIND_DRIVER_OK,
    KIND_KICK, /* QueueNotify arg % 8, whatever is there */
    KIND_RESET,
    KIND_POKE,  /* c into the rings or buffers at b */
    KIND_READY, /* QueueReady of queue arg % 4 set to a & 1 */
    KIND_TICK,  /* the device's periodic work: asks for statistics, may start or end a sweep */
    KIND_COUNT,
};

/* How a chain is built (the arg of PFNS, REPORT and STATS, bits 5-7). */
#define CHAIN_RAW_QUEUE 0x20 /* on queue (a >> 12) % 4, not the role's */
#define CHAIN_INDIRECT  0x40
#define CHAIN_WILD      0x80 /* PFNs and ranges anywhere in a 32-bit space, not in RAM's data pages */

static struct gmem m;
static uint8_t pattern[RAM_SIZE - DATA];
static const uint8_t zero_page[PAGE];
static bool named[DATA_PAGES];
static bool oracle; /* the rings say only what the driver wrote */
static struct virtio_mmio *t;
static struct virtio_dev *vd;
static struct balloon *bl;
static uint16_t avail_idx[NQ], used_seen[NQ], next_desc[NQ];
static bool
    used_poked[NQ]; /* the guest wrote into the device's used ring: what is there is not the device's */
static unsigned next_buf;
static uint64_t features;
static uint32_t want_target, want_actual;

struct seg {
    uint64_t gpa;
    uint32_t len;
    bool write;
};

static uint8_t *gp(uint64_t gpa)
{
    return m.base + gpa;
}

static void w32(uint64_t off, uint32_t v)
{
    uint8_t *exact = malloc(4);
    FUZZ_CHECK(exact != NULL);
    memcpy(exact, &v, 4);
    virtio_mmio_access(t, off, exact, 4, true);
    free(exact);
}

static uint32_t r32(uint64_t off)
{
    uint32_t v;
    virtio_mmio_access(t, off, (uint8_t *)&v, 4, false);
    return v;
}

/* Whether a request the driver offered waits on a ready queue. */
static bool pending(void)
{
    for (unsigned q = 0; q < NQ; q++)
        if (vd->vq[q].ready && vd->vq[q].last_avail != avail_idx[q])
            return true;
    return false;
}

static uint64_t buf_slot(void)
{
    if (next_buf >= NBUFS && pending())
        oracle = false;
    return BUFS + (uint64_t)(next_buf++ % NBUFS) * PAGE;
}

/* Marks the whole data pages inside [gpa, gpa+len) as named by a request: the ones it may release. */
static void name_range(uint64_t gpa, uint64_t len)
{
    if (gpa >= RAM_SIZE || len > RAM_SIZE - gpa)
        return; /* the ring walker refuses it */
    for (uint64_t p = (gpa + PAGE - 1) / PAGE; (p + 1) * PAGE <= gpa + len; p++)
        if (p * PAGE >= DATA)
            named[p - DATA / PAGE] = true;
}

/* Names every PFN the inflate queue could read from the chain: its readable bytes as one stream of le32
 * (a torn array repeated shifts them), as far as the device reads. */
static void name_stream(const struct seg *s, unsigned n)
{
    static uint8_t stream[BALLOON_PFNS_MAX * 4 + 4];
    size_t len = 0;
    for (unsigned i = 0; i < n && len < BALLOON_PFNS_MAX * 4; i++) {
        if (s[i].write || s[i].gpa >= RAM_SIZE || s[i].len > RAM_SIZE - s[i].gpa)
            continue; /* the walker refuses the chain anyway */
        size_t c = s[i].len < BALLOON_PFNS_MAX * 4 - len ? s[i].len : BALLOON_PFNS_MAX * 4 - len;
        memcpy(stream + len, gp(s[i].gpa), c);
        len += c;
    }
    for (size_t k = 0; k + 4 <= len; k += 4) {
        uint32_t pfn;
        memcpy(&pfn, stream + k, 4);
        if (pfn < RAM_SIZE / PAGE)
            name_range((uint64_t)pfn * PAGE, PAGE);
    }
}

/* Queue of a role under the features the driver took (Linux's numbering); NQ when it has none. */
static uint16_t role_queue(unsigned role)
{
    if (role < 2)
        return (uint16_t)role;
    bool stats = features & (1ull << 1), reporting = features & (1ull << 5);
    if (role == 2)
        return stats ? 2 : NQ;
    return reporting ? (stats ? 3 : 2) : NQ;
}

/* Offers a chain of n segments on queue q (directly or in an indirect table) and kicks it. */
static void offer(uint16_t q, const struct seg *s, unsigned n, bool indirect)
{
    if (q >= NQ || n == 0)
        return;
    struct virtq_desc *ring = (struct virtq_desc *)gp(DESC(q));
    struct virtq_desc *table = ring;
    uint16_t head = next_desc[q] % QSIZE, first = head;
    unsigned size = QSIZE;
    if (indirect && n <= PAGE / 16) {
        uint64_t tgpa = buf_slot();
        table = (struct virtq_desc *)gp(tgpa);
        ring[head] = (struct virtq_desc){.addr = tgpa, .len = 16 * n, .flags = VIRTQ_DESC_F_INDIRECT};
        next_desc[q]++;
        first = 0;
        size = n;
    } else {
        if (n > QSIZE)
            n = QSIZE;
        next_desc[q] = (uint16_t)(next_desc[q] + n);
    }
    if (next_desc[q] > QSIZE && pending())
        oracle = false;
    for (unsigned i = 0; i < n; i++) {
        unsigned idx = (first + i) % size;
        table[idx] = (struct virtq_desc){
            .addr = s[i].gpa,
            .len = s[i].len,
            .flags = (uint16_t)((s[i].write ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
            .next = (uint16_t)((idx + 1) % size)};
    }
    uint16_t *a = (uint16_t *)gp(AVAIL(q));
    a[2 + avail_idx[q] % QSIZE] = head;
    avail_idx[q]++;
    __atomic_store_n(&a[1], avail_idx[q], __ATOMIC_RELEASE);
    /* Named last: the array may lie over the descriptors and the ring just written. */
    if (q == 0)
        name_stream(s, n); /* inflate is queue 0 whatever the features */
    w32(REG_QUEUE_NOTIFY, q);
}

static uint16_t chain_queue(const struct step *s, unsigned role)
{
    return s->arg & CHAIN_RAW_QUEUE ? (uint16_t)((s->a >> 12) % NQ) : role_queue(role);
}

static void do_pfns(const struct step *s)
{
    uint64_t slot = buf_slot();
    uint32_t *pfns = (uint32_t *)gp(slot);
    unsigned n = s->a % (PAGE / 4 + 1), stride = s->c & 15;
    uint32_t start = s->arg & CHAIN_WILD ? s->b : (uint32_t)(DATA / PAGE + s->b % DATA_PAGES);
    for (unsigned i = 0; i < n; i++)
        pfns[i] = start + i * stride; /* named when offered on the inflate queue (name_stream) */
    /* The same array 1-4 times over (past the per-request limit), its last PFN torn or not. */
    unsigned copies = 1 + ((s->c >> 8) & 3);
    uint32_t len = 4 * n - (n ? (s->c >> 12) & 3 : 0);
    struct seg segs[4];
    for (unsigned i = 0; i < copies; i++)
        segs[i] = (struct seg){slot, len, (s->c >> 16) & 1};
    offer(chain_queue(s, s->arg & 1), segs, copies, s->arg & CHAIN_INDIRECT);
}

static void do_report(const struct step *s)
{
    static struct seg segs[64];
    unsigned n = 1 + s->arg % 40;
    uint64_t base = s->arg & CHAIN_WILD ? (uint64_t)s->b << 4 : DATA + s->b % (RAM_SIZE - DATA);
    uint32_t len = s->c & 0x3ffff;
    for (unsigned i = 0; i < n; i++) {
        uint64_t gpa = base + (uint64_t)i * s->a * 16;
        /* A readable one now and then, and an empty one. */
        bool write = !((s->c >> 24) & 1) || i != 0;
        segs[i] = (struct seg){gpa, (s->c >> 25) & 1 && i == 1 ? 0 : len, write};
        if (write)
            name_range(gpa, segs[i].len); /* a readable one is never released (inflate: name_stream) */
    }
    offer(chain_queue(s, 3), segs, n, s->arg & CHAIN_INDIRECT);
}

static void do_stats(const struct step *s)
{
    uint64_t slot = buf_slot();
    unsigned n = s->arg % 24;
    uint8_t *p = gp(slot);
    for (unsigned i = 0; i < n; i++) {
        uint16_t tag = (uint16_t)((s->b >> (i % 4 * 8)) & 0x1f);
        uint64_t val = (uint64_t)s->c * (i + 1);
        memcpy(p + 10 * i, &tag, 2);
        memcpy(p + 10 * i + 2, &val, 8);
    }
    struct seg seg = {slot, 10 * n + s->a % 10, (s->a >> 8) & 1};
    offer(chain_queue(s, 2), &seg, 1, s->arg & CHAIN_INDIRECT);
}

static void do_config(const struct step *s)
{
    uint32_t len = s->arg & 0x40 ? s->arg % 8u + 1 : 1u << (s->arg & 3);
    uint64_t off = REG_CONFIG + s->a % 32, value = s->b | (uint64_t)s->c << 32;
    uint8_t *exact = malloc(len);
    FUZZ_CHECK(exact != NULL);
    memcpy(exact, &value, len);
    bool write = s->arg & 0x10;
    virtio_mmio_access(t, off, exact, len, write);
    free(exact);
    if (write && off == REG_CONFIG + 4 && len == 4)
        want_actual = s->b;
}

static void negotiate(uint32_t off, unsigned nqueues, bool driver_ok)
{
    w32(REG_STATUS, 0);
    want_actual = 0;
    memset(avail_idx, 0, sizeof(avail_idx));
    memset(used_seen, 0, sizeof(used_seen));
    memset(used_poked, 0, sizeof(used_poked));
    memset(next_desc, 0, sizeof(next_desc));
    memset(gp(0), 0, BUFS);
    w32(REG_STATUS, 1);
    w32(REG_STATUS, 1 | 2);
    static const unsigned bits[6] = {1, 5, VIRTIO_F_EVENT_IDX, 2, VIRTIO_F_VERSION_1, VIRTIO_F_INDIRECT_DESC};
    uint64_t take = 0;
    for (unsigned i = 0; i < 6; i++)
        if (off & (1u << i))
            take |= 1ull << bits[i];
    for (uint32_t sel = 0; sel < 2; sel++) {
        w32(REG_DEVICE_FEATURES_SEL, sel);
        uint64_t offered = r32(REG_DEVICE_FEATURES);
        features = (features & ~(0xffffffffull << (32 * sel))) | (offered << (32 * sel));
    }
    features &= ~take;
    for (uint32_t sel = 0; sel < 2; sel++) {
        w32(REG_DRIVER_FEATURES_SEL, sel);
        w32(REG_DRIVER_FEATURES, (uint32_t)(features >> (32 * sel)));
    }
    w32(REG_STATUS, 1 | 2 | 8);
    for (uint32_t q = 0; q < nqueues; q++) {
        w32(REG_QUEUE_SEL, q);
        w32(REG_QUEUE_NUM, QSIZE);
        w32(REG_QUEUE_DESC_LOW, DESC(q));
        w32(REG_QUEUE_DRIVER_LOW, AVAIL(q));
        w32(REG_QUEUE_DEVICE_LOW, USED(q));
        w32(REG_QUEUE_READY, 1);
    }
    if (driver_ok)
        w32(REG_STATUS, r32(REG_STATUS) | 4);
}

static void check(void)
{
    /* What came back: length 0 each (the device writes nothing into a balloon buffer). */
    for (unsigned q = 0; q < NQ; q++) {
        if (used_poked[q])
            continue;
        const uint16_t *u = (const uint16_t *)gp(USED(q));
        uint16_t idx = __atomic_load_n(&u[1], __ATOMIC_ACQUIRE);
        if ((uint16_t)(idx - used_seen[q]) > QSIZE) {
            used_seen[q] = idx; /* the ring was released (a report over it) or poked: start over */
            continue;
        }
        for (; used_seen[q] != idx; used_seen[q]++) {
            const struct virtq_used_elem *e = (const struct virtq_used_elem *)&u[2] + used_seen[q] % QSIZE;
            FUZZ_CHECK(e->len == 0 && e->id < QSIZE);
        }
    }
    w32(REG_INTERRUPT_ACK, r32(REG_INTERRUPT_STATUS));

    struct balloon_info i;
    balloon_info(bl, &i);
    /* The host's target (less what the guest took back on its own), and on top of it a sweep's pages (never
     * past guest RAM). */
    FUZZ_CHECK(i.base_pages <= want_target && (i.base_pages == want_target || i.oom_pages));
    uint64_t target = (uint64_t)i.base_pages + i.sweep_pages;
    if (target > RAM_SIZE / PAGE)
        target = RAM_SIZE / PAGE;
    FUZZ_CHECK(i.target_pages == target && r32(REG_CONFIG) == target);
    FUZZ_CHECK((uint64_t)i.sweep_pages * PAGE <= RAM_SIZE);
    FUZZ_CHECK(i.actual_pages == want_actual);
    FUZZ_CHECK(i.reported_bytes % PAGE == 0);
    FUZZ_CHECK(vd->stats.errors == 0); /* every release page-aligned inside guest RAM: madvise agrees */
    FUZZ_CHECK(i.stats_valid || i.stats_age_ns == 0);

    /* Guest data: released whole pages or untouched, and only pages a request named. */
    for (unsigned p = 0; p < DATA_PAGES; p++) {
        const uint8_t *page = gp(DATA + (uint64_t)p * PAGE), *want = pattern + (uint64_t)p * PAGE;
        if (memcmp(page, want, PAGE) == 0)
            continue;
        FUZZ_CHECK(!oracle || named[p]);
        FUZZ_CHECK(memcmp(page, zero_page, PAGE) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct header h;
    if (size < sizeof(h))
        return 0;
    memcpy(&h, data, sizeof(h));
    data += sizeof(h), size -= sizeof(h);
    if (!m.base) {
        FUZZ_CHECK(gmem_init(&m, RAM_SIZE, RAM_SIZE) == 0);
        for (size_t i = 0; i < sizeof(pattern); i++)
            pattern[i] = (uint8_t)(1 + i % 251); /* never 0 */
    }
    memset(m.base, 0, DATA);
    memcpy(m.base + DATA, pattern, sizeof(pattern));
    memset(named, 0, sizeof(named));
    oracle = true;
    next_buf = 0;
    want_target = 0;
    features = 0;

    bl = balloon_new(&m);
    FUZZ_CHECK(bl != NULL);
    vd = balloon_vdev(bl);
    t = virtio_mmio_new(vd);
    FUZZ_CHECK(t != NULL);
    negotiate(h.features_off, NQ, !(h.flags & 1));
    check();

    for (; size >= sizeof(struct step); data += sizeof(struct step), size -= sizeof(struct step)) {
        struct step s;
        memcpy(&s, data, sizeof(s));
        switch (s.kind % KIND_COUNT) {
        case KIND_PFNS:
            do_pfns(&s);
            break;
        case KIND_REPORT:
            do_report(&s);
            break;
        case KIND_STATS:
            do_stats(&s);
            break;
        case KIND_REQ_STATS:
            balloon_request_stats(bl);
            break;
        case KIND_TICK:
            balloon_tick(bl);
            break;
        case KIND_TARGET:
            balloon_set_target(bl, s.b);
            want_target = s.b < RAM_SIZE / PAGE ? s.b : RAM_SIZE / PAGE;
            break;
        case KIND_CONFIG:
            do_config(&s);
            break;
        case KIND_NEGOTIATE:
            negotiate(s.b, s.arg % 5, !(s.arg & 0x10));
            break;
        case KIND_DRIVER_OK:
            w32(REG_STATUS, r32(REG_STATUS) | 4);
            break;
        case KIND_KICK:
            w32(REG_QUEUE_NOTIFY, s.arg % 8);
            break;
        case KIND_RESET:
            w32(REG_STATUS, 0);
            want_actual = 0;
            break;
        case KIND_POKE: {
            uint32_t at = s.b % (DATA - 4);
            memcpy(gp(at), &s.c, 4);
            oracle = false;
            for (unsigned q = 0; q < NQ; q++)
                used_poked[q] |= at + 4 > USED(q) && at < USED(q) + 6 + 8 * QSIZE;
            break;
        }
        case KIND_READY:
            oracle = false; /* re-enabled, a queue may point anywhere its registers say */
            w32(REG_QUEUE_SEL, s.arg % NQ);
            w32(REG_QUEUE_READY, s.a & 1);
            break;
        }
        check();
    }

    virtio_mmio_free(t);
    balloon_free(bl);
    t = NULL;
    vd = NULL;
    bl = NULL;
    return 0;
}
