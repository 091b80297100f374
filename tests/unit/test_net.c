/* virtio-net without KVM or libslirp: fake guest memory and rings play the driver, a recorder the NAT. Frames
 * both ways (checksums completed, a 64 KiB frame over mergeable buffers, the backlog and its bound) and a
 * hostile driver (bad lengths, headers, checksum offsets, descriptors outside RAM, readable rx buffers),
 * which costs that frame or that device, never more. Also the host's search domains for the guest. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "devices/net.h"
#include "devices/net_int.h"

#define MEM       (1u << 20)
#define QSIZE     64
#define TX_DESC   0x1000
#define TX_AVAIL  0x2000
#define TX_USED   0x3000
#define RX_DESC   0x4000
#define RX_AVAIL  0x5000
#define RX_USED   0x6000
#define TXBUF     0x10000
#define RXBUF     0x40000 /* QSIZE buffers of RXBUF_LEN */
#define RXBUF_LEN 4096

static struct gmem m;
static struct net *n;
static unsigned irqs;
static uint8_t got[NET_FRAME_MAX];
static size_t got_len;
static unsigned got_count;

static void *gp(uint64_t gpa, uint64_t len)
{
    return gmem_ptr(&m, gpa, len);
}

static void irq(struct virtio_dev *d, uint32_t kind)
{
    (void)d, (void)kind;
    irqs++;
}

static void record(void *opaque, const uint8_t *frame, size_t len)
{
    (void)opaque;
    memcpy(got, frame, len);
    got_len = len;
    got_count++;
}

static void offer(uint64_t avail_gpa, uint16_t head)
{
    uint16_t *a = gp(avail_gpa, 6 + 2 * QSIZE);
    a[2 + a[1] % QSIZE] = head;
    __atomic_store_n(&a[1], (uint16_t)(a[1] + 1), __ATOMIC_RELEASE);
}

static uint16_t used_idx(uint64_t used_gpa)
{
    return ((uint16_t *)gp(used_gpa, 4))[1];
}

static struct virtq_used_elem used_elem(uint64_t used_gpa, uint16_t i)
{
    return ((struct virtq_used_elem *)gp(used_gpa + 4, 8 * QSIZE))[i % QSIZE];
}

static void setup_queue(unsigned q, uint64_t desc, uint64_t avail, uint64_t used)
{
    struct virtq *vq = &n->vdev.vq[q];
    virtq_reset(vq);
    vq->size = QSIZE;
    vq->desc_gpa = desc, vq->avail_gpa = avail, vq->used_gpa = used;
    CHECK_EQ(virtq_enable(vq, &m), 0);
    vq->ready = true;
}

static void setup(uint64_t features, unsigned rx_buffers)
{
    memset(m.base, 0, MEM);
    CHECK_EQ(net_new(&m, &n), 0);
    n->vdev.interrupt = irq;
    n->input = record;
    n->vdev.driver_features = features | (1ull << VIRTIO_F_VERSION_1);
    n->vdev.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
                     VIRTIO_STATUS_DRIVER_OK;
    setup_queue(NET_Q_RX, RX_DESC, RX_AVAIL, RX_USED);
    setup_queue(NET_Q_TX, TX_DESC, TX_AVAIL, TX_USED);
    struct virtq_desc *d = gp(RX_DESC, 16 * QSIZE);
    for (uint16_t i = 0; i < QSIZE; i++)
        d[i] =
            (struct virtq_desc){.addr = RXBUF + i * RXBUF_LEN, .len = RXBUF_LEN, .flags = VIRTQ_DESC_F_WRITE};
    for (uint16_t i = 0; i < rx_buffers; i++)
        offer(RX_AVAIL, i);
    irqs = got_count = 0;
    got_len = 0;
}

static void teardown(void)
{
    net_free(n);
    n = NULL;
}

/* Puts hdr + frame at TXBUF as one descriptor (or split in two at `split` when nonzero) and kicks. */
static void send_frame(const struct virtio_net_hdr *h, const uint8_t *frame, size_t len, size_t split)
{
    uint8_t *buf = gp(TXBUF, NET_HDR_LEN + len);
    memcpy(buf, h, NET_HDR_LEN);
    memcpy(buf + NET_HDR_LEN, frame, len);
    struct virtq_desc *d = gp(TX_DESC, 16 * QSIZE);
    uint32_t total = (uint32_t)(NET_HDR_LEN + len);
    if (split) {
        d[0] =
            (struct virtq_desc){.addr = TXBUF, .len = (uint32_t)split, .flags = VIRTQ_DESC_F_NEXT, .next = 1};
        d[1] = (struct virtq_desc){.addr = TXBUF + split, .len = total - (uint32_t)split};
    } else {
        d[0] = (struct virtq_desc){.addr = TXBUF, .len = total};
    }
    offer(TX_AVAIL, 0);
    pthread_mutex_lock(&n->vdev.lock);
    n->vdev.ops->queue_notify(&n->vdev, NET_Q_TX);
    pthread_mutex_unlock(&n->vdev.lock);
}

/* RFC 1071, byte by byte: the reference the fast sum is held to. */
static uint16_t ref_csum(const uint8_t *p, size_t len)
{
    uint32_t s = 0;
    for (size_t i = 0; i < len; i++)
        s += i & 1 ? p[i] : (uint32_t)p[i] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/* An Ethernet + IPv4 + UDP frame with `payload` bytes, its UDP checksum field holding the pseudo-header sum
 * (what Linux leaves for VIRTIO_NET_HDR_F_NEEDS_CSUM). Returns its length. */
static size_t udp_frame(uint8_t *f, size_t payload)
{
    size_t len = 14 + 20 + 8 + payload;
    memset(f, 0, len);
    f[12] = 0x08;
    uint8_t *ip = f + 14, *udp = ip + 20;
    ip[0] = 0x45, ip[8] = 64, ip[9] = 17;
    ip[2] = (uint8_t)((len - 14) >> 8), ip[3] = (uint8_t)(len - 14);
    memcpy(ip + 12, (uint8_t[]){10, 0, 2, 15, 10, 0, 2, 2}, 8);
    udp[0] = 0x30, udp[1] = 0x39, udp[2] = 0x1f, udp[3] = 0x90;
    udp[4] = (uint8_t)((8 + payload) >> 8), udp[5] = (uint8_t)(8 + payload);
    for (size_t i = 0; i < payload; i++)
        udp[8 + i] = (uint8_t)(i * 7 + 3);
    uint8_t pseudo[12];
    memcpy(pseudo, ip + 12, 8);
    pseudo[8] = 0, pseudo[9] = 17, pseudo[10] = udp[4], pseudo[11] = udp[5];
    uint16_t partial = (uint16_t)~ref_csum(pseudo, sizeof(pseudo)); /* folded, not inverted */
    udp[6] = (uint8_t)(partial >> 8), udp[7] = (uint8_t)partial;
    return len;
}

static void test_csum(void)
{
    uint8_t f[2048];
    for (size_t payload = 0; payload < 40; payload += 13) {
        size_t len = udp_frame(f, payload);
        CHECK(net_csum_complete(f, len, 34, 6));
        /* A valid UDP checksum sums to zero over pseudo-header and datagram. */
        uint8_t buf[2048 + 12];
        memcpy(buf, f + 26, 8);
        buf[8] = 0, buf[9] = 17, buf[10] = f[38], buf[11] = f[39];
        memcpy(buf + 12, f + 34, len - 34);
        CHECK_EQ(ref_csum(buf, 12 + len - 34), 0);
    }
    size_t len = udp_frame(f, 10);
    CHECK(!net_csum_complete(f, len, (uint16_t)(len - 1), 0)); /* the field itself would leave the frame */
    CHECK(!net_csum_complete(f, len, 34, (uint16_t)(len - 35)));
    CHECK(!net_csum_complete(f, len, 0xffff, 0xffff));
}

static void test_tx(void)
{
    setup(1ull << VIRTIO_NET_F_CSUM, 0);
    static uint8_t f[NET_FRAME_MAX + 1];
    size_t len = udp_frame(f, 100);
    struct virtio_net_hdr h = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 6};
    send_frame(&h, f, len, 7); /* the header split over two descriptors */
    CHECK_EQ(got_count, 1);
    CHECK_EQ(got_len, len);
    net_csum_complete(f, len, 34, 6);
    CHECK(memcmp(got, f, len) == 0);
    CHECK_EQ(n->stats.csum_done, 1);
    CHECK_EQ(used_idx(TX_USED), 1);
    CHECK(irqs > 0);

    /* What the guest gets wrong costs that frame only. */
    struct virtio_net_hdr gso = {.gso_type = 1};
    send_frame(&gso, f, len, 0);
    struct virtio_net_hdr bad_csum = {
        .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 2000, .csum_offset = 6};
    send_frame(&bad_csum, f, len, 0);
    struct virtio_net_hdr plain = {0};
    send_frame(&plain, f, 5, 0);                 /* shorter than an Ethernet header */
    send_frame(&plain, f, NET_FRAME_MAX + 1, 0); /* longer than the MTU allows */
    CHECK_EQ(got_count, 1);
    CHECK_EQ(n->stats.tx_dropped, 4);
    CHECK_EQ(used_idx(TX_USED), 5);
    CHECK(!n->vdev.broken);
    send_frame(&plain, f, NET_FRAME_MAX, 0); /* exactly the largest */
    CHECK_EQ(got_count, 2);

    /* Without CSUM negotiated, a partial checksum is refused. */
    n->vdev.driver_features &= ~(1ull << VIRTIO_NET_F_CSUM);
    send_frame(&h, f, len, 0);
    CHECK_EQ(got_count, 2);

    /* A descriptor outside guest RAM breaks the device, and only it. */
    struct virtq_desc *d = gp(TX_DESC, 16);
    d[0] = (struct virtq_desc){.addr = MEM - 8, .len = 64};
    offer(TX_AVAIL, 0);
    pthread_mutex_lock(&n->vdev.lock);
    net_tx(n, 64);
    pthread_mutex_unlock(&n->vdev.lock);
    CHECK(n->vdev.broken);
    CHECK(n->vdev.status & VIRTIO_STATUS_NEEDS_RESET);
    teardown();
}

static void test_rx_mergeable(void)
{
    setup((1ull << VIRTIO_NET_F_MRG_RXBUF) | (1ull << VIRTIO_NET_F_GUEST_CSUM), QSIZE);
    static uint8_t f[NET_FRAME_MAX];
    for (size_t i = 0; i < sizeof(f); i++)
        f[i] = (uint8_t)(i * 131 + 7);
    pthread_mutex_lock(&n->vdev.lock);
    net_rx_frame(n, f, sizeof(f));
    pthread_mutex_unlock(&n->vdev.lock);
    unsigned want = (unsigned)((NET_HDR_LEN + sizeof(f) + RXBUF_LEN - 1) / RXBUF_LEN);
    CHECK_EQ(used_idx(RX_USED), want);
    struct virtio_net_hdr h;
    memcpy(&h, gp(RXBUF, NET_HDR_LEN), sizeof(h));
    CHECK_EQ(h.num_buffers, want);
    CHECK_EQ(h.flags, VIRTIO_NET_HDR_F_DATA_VALID);
    /* The frame, byte for byte, across the buffers in the order they were used. */
    size_t off = 0;
    for (uint16_t i = 0; i < want; i++) {
        struct virtq_used_elem e = used_elem(RX_USED, i);
        size_t skip = i == 0 ? NET_HDR_LEN : 0;
        uint8_t *b = gp(RXBUF + (uint64_t)e.id * RXBUF_LEN, e.len);
        CHECK(b != NULL);
        CHECK(memcmp(b + skip, f + off, e.len - skip) == 0);
        off += e.len - skip;
    }
    CHECK_EQ(off, sizeof(f));
    CHECK_EQ(n->stats.rx_frames, 1);
    teardown();
}

static void test_rx_backlog(void)
{
    /* No buffers: frames wait, in order, up to the bound; then the guest adds buffers and gets them. */
    setup(1ull << VIRTIO_NET_F_MRG_RXBUF, 0);
    uint8_t f[1000];
    pthread_mutex_lock(&n->vdev.lock);
    for (unsigned i = 0; i < 3; i++) {
        memset(f, 'a' + (int)i, sizeof(f));
        net_rx_frame(n, f, sizeof(f));
    }
    CHECK_EQ(n->backlog_bytes, 3000);
    static uint8_t big[60000];
    for (unsigned i = 0; i < 40; i++) /* 2.4 MB against a 1 MiB bound */
        net_rx_frame(n, big, sizeof(big));
    CHECK(n->backlog_bytes <= NET_RX_BACKLOG_MAX);
    CHECK(n->stats.rx_dropped > 0);
    pthread_mutex_unlock(&n->vdev.lock);
    for (uint16_t i = 0; i < 3; i++)
        offer(RX_AVAIL, i);
    pthread_mutex_lock(&n->vdev.lock);
    n->vdev.ops->queue_notify(&n->vdev, NET_Q_RX);
    pthread_mutex_unlock(&n->vdev.lock);
    CHECK_EQ(used_idx(RX_USED), 3);
    for (uint16_t i = 0; i < 3; i++) {
        uint8_t *b = gp(RXBUF + (uint64_t)used_elem(RX_USED, i).id * RXBUF_LEN, RXBUF_LEN);
        CHECK_EQ(b[NET_HDR_LEN], 'a' + i);
    }
    /* The rest still waits: the device asked for a kick (event index or not, nothing is lost). */
    CHECK(n->backlog_head != NULL);
    /* A reset forgets it all. */
    pthread_mutex_lock(&n->vdev.lock);
    virtio_dev_reset(&n->vdev);
    pthread_mutex_unlock(&n->vdev.lock);
    CHECK_EQ(n->backlog_bytes, 0);
    teardown();
}

static void test_rx_hostile(void)
{
    /* An rx buffer smaller than the header, or readable by the device: the device breaks, nothing else. */
    setup(0, 0);
    struct virtq_desc *d = gp(RX_DESC, 16);
    d[0].len = 4;
    offer(RX_AVAIL, 0);
    uint8_t f[100] = {0};
    pthread_mutex_lock(&n->vdev.lock);
    net_rx_frame(n, f, sizeof(f));
    pthread_mutex_unlock(&n->vdev.lock);
    CHECK(n->vdev.broken);
    teardown();

    /* Without mergeable buffers a frame larger than one buffer is dropped, the buffer kept for the next. */
    setup(0, 1);
    static uint8_t big[10000];
    pthread_mutex_lock(&n->vdev.lock);
    net_rx_frame(n, big, sizeof(big));
    CHECK_EQ(used_idx(RX_USED), 0);
    CHECK_EQ(n->stats.rx_dropped, 1);
    net_rx_frame(n, big, 100);
    pthread_mutex_unlock(&n->vdev.lock);
    CHECK_EQ(used_idx(RX_USED), 1);
    CHECK(!n->vdev.broken);
    teardown();

    /* Mergeable, but a whole ring of tiny buffers cannot hold a large frame: dropped, not waited for
     * forever (the rx side would stall behind it). */
    setup(1ull << VIRTIO_NET_F_MRG_RXBUF, 0);
    d = gp(RX_DESC, 16 * QSIZE);
    for (uint16_t i = 0; i < QSIZE; i++) {
        d[i].len = 64;
        offer(RX_AVAIL, i);
    }
    pthread_mutex_lock(&n->vdev.lock);
    net_rx_frame(n, big, sizeof(big));
    net_rx_flush(n);
    pthread_mutex_unlock(&n->vdev.lock);
    CHECK(n->backlog_head == NULL);
    CHECK_EQ(n->stats.rx_dropped, 1);
    CHECK(!n->vdev.broken);
    teardown();
}

static void test_dns_search(void)
{
    char out[NET_DNS_SEARCH_LEN];
    CHECK_EQ(net_dns_search("nameserver 127.0.0.53\nsearch corp.example lab.example\n", out, sizeof(out)),
             24);
    CHECK(strcmp(out, "corp.example,lab.example") == 0);
    /* The last search/domain line wins; names a kernel parameter cannot carry are left out. */
    net_dns_search("search a.example\ndomain b.example\nsearch c.example bad\"name x;y d.example\r\n", out,
                   sizeof(out));
    CHECK(strcmp(out, "c.example,d.example") == 0);
    net_dns_search("search 1 2 3 4 5 6 7 8\n", out, sizeof(out));
    CHECK(strcmp(out, "1,2,3,4,5,6") == 0);
    CHECK_EQ(net_dns_search("nameserver 10.0.0.1\nsearchx y\n", out, sizeof(out)), 0);
    CHECK_EQ(net_dns_search("search a.example b.example\n", out, 12), 9); /* the room there is */
    CHECK(strcmp(out, "a.example") == 0);
}

int main(void)
{
    CHECK_EQ(gmem_init(&m, MEM, MEM), 0);
    RUN(test_csum);
    RUN(test_tx);
    RUN(test_rx_mergeable);
    RUN(test_rx_backlog);
    RUN(test_rx_hostile);
    RUN(test_dns_search);
    gmem_free(&m);
    return CHECK_DONE();
}
