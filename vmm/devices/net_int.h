/* What the virtio-net device (net.c: rings, headers, checksums, the rx backlog) and its NAT backend
 * (net_slirp.c: libslirp and the thread that polls it) share; also what the unit test and fuzz target drive.
 */
#ifndef LSL_NET_INT_H
#define LSL_NET_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio.h"

#define VIRTIO_ID_NET 1

/* Feature bits (virtio 1.2, 5.1.3). */
#define VIRTIO_NET_F_CSUM       0  /* the driver may hand us frames with a partial checksum */
#define VIRTIO_NET_F_GUEST_CSUM 1  /* we may tell the driver a frame's checksums are already valid */
#define VIRTIO_NET_F_MTU        3  /* config.mtu is the largest the driver may use */
#define VIRTIO_NET_F_MAC        5  /* config.mac is the driver's address */
#define VIRTIO_NET_F_MRG_RXBUF  15 /* a received frame may span several rx buffers */

#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE     0

#define NET_Q_RX       0
#define NET_Q_TX       1
#define NET_QUEUE_SIZE 256

/* The MTU slirp4netns and passt use, and the largest libslirp takes (IF_MTU_MAX): one 64 KiB TCP segment per
 * frame, which is what TSO would give the guest, without segmenting anything here. */
#define NET_MTU       65520
#define NET_ETH_HLEN  14
#define NET_FRAME_MAX (NET_MTU + NET_ETH_HLEN)
#define NET_HDR_LEN   12 /* struct virtio_net_hdr: VERSION_1 always has num_buffers */

/* Frames the backend produced while the guest had no rx buffer wait here, up to this much; more are dropped
 * (TCP sends them again). 1 MiB is eight of libslirp's 128 KiB socket buffers drained in one burst. */
#define NET_RX_BACKLOG_MAX (1u << 20)

struct virtio_net_hdr {
    uint8_t flags;
    uint8_t gso_type;
    uint16_t hdr_len;
    uint16_t gso_size;
    uint16_t csum_start;
    uint16_t csum_offset;
    uint16_t num_buffers;
};

struct virtio_net_config {
    uint8_t mac[6];
    uint16_t status;
    uint16_t max_virtqueue_pairs;
    uint16_t mtu;
} __attribute__((packed));

struct net_counters {
    uint64_t tx_frames, rx_frames;
    uint64_t tx_dropped; /* frames the guest got wrong (length, header, checksum offsets): not passed on */
    uint64_t rx_dropped; /* frames for the guest dropped because its backlog was full */
    uint64_t csum_done;  /* partial checksums completed for the guest */
    uint64_t backlog_peak;
    /* The backend thread's rounds and the time it held the device (what a shared I/O loop would have made
     * every other device wait): in total and the longest round. */
    uint64_t rounds, busy_ns, round_max_ns;
};

struct net_frame {
    struct net_frame *next;
    uint32_t len;
    uint8_t data[];
};

struct net_slirp;

struct net {
    struct virtio_dev vdev;
    struct virtio_net_config config;
    /* Where a frame from the guest goes (libslirp's input, a test's recorder); called with the lock held. */
    void (*input)(void *opaque, const uint8_t *frame, size_t len);
    void *input_opaque;
    struct net_slirp *backend; /* NULL without one (tests) */

    uint8_t *tx_buf; /* NET_HDR_LEN + NET_FRAME_MAX: one frame gathered from guest memory */
    struct virtq_req rx_req;
    struct virtq_used_elem rx_used[NET_QUEUE_SIZE];
    struct net_frame *backlog_head, *backlog_tail;
    size_t backlog_bytes;
    bool tx_more; /* the last tx pass stopped at its budget with requests left */
    struct net_counters stats;
};

/* A device without a backend or VM (what net_create builds on; the unit test and the fuzz target use it). */
int net_new(const struct gmem *mem, struct net **out);
void net_free(void *p);
/* Takes up to budget frames from the tx queue to n->input; sets n->tx_more when it stopped at the budget.
 * Caller holds the lock. */
void net_tx(struct net *n, unsigned budget);
/* A frame for the guest: into its rx buffers now, or into the backlog (bounded). Caller holds the lock. */
void net_rx_frame(struct net *n, const uint8_t *frame, size_t len);
/* Moves the backlog into rx buffers the guest has added. Caller holds the lock. */
void net_rx_flush(struct net *n);
/* Completes a partial checksum as the guest asked (virtio 1.2, 5.1.6.2): the ones' complement sum of
 * frame[start, len) stored at start + offset. Returns false when the offsets do not fit the frame. */
bool net_csum_complete(uint8_t *frame, size_t len, uint16_t start, uint16_t offset);

/* The libslirp backend: a NAT on its own thread, started on the device's kick fds. */
int net_slirp_start(struct net *n, const char *dns_search, struct net_slirp **out);
void net_slirp_stop(struct net_slirp *s);
/* True while frames wait for rx buffers: the backend stops reading host sockets meanwhile. */
static inline bool net_rx_backlogged(const struct net *n)
{
    return n->backlog_head != NULL;
}

#endif
