/* Fuzz target: virtio-net's guest-facing side (vmm/devices/net.c) - tx frames with their virtio-net header,
 * partial checksums and descriptor chains, and rx delivery into the guest's (mergeable) buffers, the
 * backlog included - with a recorder instead of libslirp (which would open host sockets).
 *
 * Input: struct config, then guest memory from GPA 0 (both queues' descriptor tables and avail rings live
 * there, so the fuzzer writes every descriptor: addresses, lengths, flags, chains, indirect tables); the
 * same bytes, from offset 0x800, are also what the steps inject as frames for the guest. */
#include <errno.h>

#include "devices/net_int.h"
#include "fuzz.h"

#define RAM_SIZE (64u << 10)
#define QSIZE    16
#define TX_DESC  0x000
#define TX_AVAIL 0x100
#define TX_USED  0x200
#define RX_DESC  0x400
#define RX_AVAIL 0x500
#define RX_USED  0x600

struct config {
    uint8_t features; /* bit 0 CSUM, 1 GUEST_CSUM, 2 MRG_RXBUF, 3 EVENT_IDX */
    uint8_t tx_avail; /* what the driver says it offered on each queue */
    uint8_t rx_avail;
    uint8_t steps; /* each step: bits 0-1 the kind, bits 2-7 a size for injected frames (x 1 KiB) */
    uint8_t step[8];
};

static struct gmem m;
static struct net *net;
static size_t echoed;

/* libslirp's stand-in: checks what the device hands on, and answers every frame with itself (the rx path
 * under the same lock, as slirp's replies are). */
static void record(void *opaque, const uint8_t *frame, size_t len)
{
    (void)opaque;
    FUZZ_CHECK(len >= NET_ETH_HLEN && len <= NET_FRAME_MAX);
    volatile uint8_t first = frame[0], last = frame[len - 1];
    (void)first, (void)last;
    if (echoed++ < 4)
        net_rx_frame(net, frame, len);
}

static void setup_queue(unsigned q, uint64_t desc, uint64_t avail, uint64_t used, uint8_t count, bool ev)
{
    struct virtq *vq = &net->vdev.vq[q];
    virtq_reset(vq);
    vq->size = QSIZE;
    vq->desc_gpa = desc, vq->avail_gpa = avail, vq->used_gpa = used;
    vq->event_idx = ev;
    FUZZ_CHECK(virtq_enable(vq, &m) == 0);
    vq->ready = true;
    uint16_t *a = gmem_ptr(&m, avail, 4);
    a[1] = count; /* may claim more than the ring holds: the walker must refuse it */
}

static void irq(struct virtio_dev *d, uint32_t kind)
{
    (void)d, (void)kind;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config c;
    if (size < sizeof(c))
        return 0;
    memcpy(&c, data, sizeof(c));
    data += sizeof(c), size -= sizeof(c);

    uint8_t *ram = calloc(1, RAM_SIZE);
    FUZZ_CHECK(ram);
    memcpy(ram, data, size < RAM_SIZE ? size : RAM_SIZE);
    m = (struct gmem){.regions = {{.gpa = 0, .size = RAM_SIZE, .host = ram}},
                      .nregions = 1,
                      .base = ram,
                      .total = RAM_SIZE};
    FUZZ_CHECK(net_new(&m, &net) == 0);
    net->input = record;
    net->vdev.interrupt = irq;
    echoed = 0;
    uint64_t f = 1ull << VIRTIO_F_VERSION_1;
    if (c.features & 1)
        f |= 1ull << VIRTIO_NET_F_CSUM;
    if (c.features & 2)
        f |= 1ull << VIRTIO_NET_F_GUEST_CSUM;
    if (c.features & 4)
        f |= 1ull << VIRTIO_NET_F_MRG_RXBUF;
    net->vdev.driver_features = f;
    net->vdev.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
                       VIRTIO_STATUS_DRIVER_OK;
    setup_queue(NET_Q_TX, TX_DESC, TX_AVAIL, TX_USED, c.tx_avail, c.features & 8);
    setup_queue(NET_Q_RX, RX_DESC, RX_AVAIL, RX_USED, c.rx_avail, c.features & 8);

    const uint8_t *frames = data + (size > 0x800 ? 0x800 : size);
    size_t frames_len = size > 0x800 ? size - 0x800 : 0;
    for (unsigned i = 0; i < c.steps % 9; i++) {
        uint8_t s = c.step[i % sizeof(c.step)];
        switch (s & 3) {
        case 0:
            net_tx(net, 8);
            break;
        case 1:
            net_rx_flush(net);
            break;
        case 2: { /* a frame from "slirp", up to 63 KiB (the fuzzer's bytes, repeated) */
            size_t len = (size_t)(s >> 2) << 10 | (s & 0xff);
            uint8_t *frame = malloc(len ? len : 1);
            FUZZ_CHECK(frame);
            for (size_t j = 0; j < len; j++)
                frame[j] = frames_len ? frames[j % frames_len] : (uint8_t)j;
            net_rx_frame(net, frame, len);
            free(frame);
            break;
        }
        default: /* the driver offers more */
            ((uint16_t *)gmem_ptr(&m, RX_AVAIL, 4))[1] += s >> 2;
            ((uint16_t *)gmem_ptr(&m, TX_AVAIL, 4))[1] += 1;
            break;
        }
        FUZZ_CHECK(net->backlog_bytes <= NET_RX_BACKLOG_MAX);
        FUZZ_CHECK(!net->backlog_head == !net->backlog_tail);
    }
    /* A used ring never runs ahead of what was offered. */
    for (unsigned q = 0; q < 2; q++) {
        struct virtq *vq = &net->vdev.vq[q];
        if (!net->vdev.broken)
            FUZZ_CHECK((uint16_t)(vq->used_idx) == (uint16_t)(vq->last_avail) || q == NET_Q_RX);
    }
    net_free(net);
    net = NULL;
    free(ram);
    return 0;
}
