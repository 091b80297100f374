/* Split virtqueue core shared by every virtio device: walks descriptor chains (direct and indirect) with
 * strict bounds checks, resolves buffers to host iovecs through guest_mem, and decides when to interrupt
 * (event-index suppression). A malformed ring yields -EINVAL; the device then marks itself broken. */
#ifndef LSL_VIRTQ_H
#define LSL_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../core/guest_mem.h"

#define VIRTQ_MAX_SIZE             1024
#define VIRTQ_DESC_F_NEXT          1
#define VIRTQ_DESC_F_WRITE         2
#define VIRTQ_DESC_F_INDIRECT      4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY     1

struct virtq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

struct virtq_used_elem {
    uint32_t id;
    uint32_t len;
};

struct virtq {
    /* Set by the driver through the transport. */
    uint16_t size;
    bool ready;
    uint64_t desc_gpa, avail_gpa, used_gpa;
    bool event_idx;

    /* Resolved and validated by virtq_enable(). */
    struct virtq_desc *desc;
    uint16_t *avail; /* flags, idx, ring[size], used_event */
    uint16_t *used;  /* flags, idx, then elems; avail_event after ring */
    uint16_t last_avail;
    uint16_t used_idx;
    uint16_t signalled_used;
    bool signalled_valid;
};

/* One popped request: device-readable segments first (out), then device-writable (in). */
struct virtq_req {
    uint16_t head;
    struct iovec *iov; /* out segments [0, n_out), in segments [n_out, n_out + n_in) */
    uint32_t n_out, n_in;
    uint64_t out_len, in_len;
    uint32_t cap;
};

/* Validates ring placement/alignment for the configured size and resolves host pointers. */
int virtq_enable(struct virtq *vq, const struct gmem *m);
void virtq_reset(struct virtq *vq);

/* 1: a request was popped into req; 0: ring empty; -EINVAL: malformed ring or chain. */
int virtq_pop(struct virtq *vq, const struct gmem *m, struct virtq_req *req);
/* Puts the request popped last back at the head of the ring, unused (the device had nothing to put in it
 * after all): the next pop returns it again. Only right after a successful pop; called k times, it puts back
 * the last k pops (a frame that did not fit the rx buffers there were). */
void virtq_unpop(struct virtq *vq);
/* Returns the request to the driver with `len` bytes written into its in-segments. */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t len);
/* Returns n requests at once: all used elements first, then one index update, so the driver never sees part
 * of what belongs together (virtio-net's mergeable rx buffers: one frame over several buffers). */
void virtq_push_batch(struct virtq *vq, const struct virtq_used_elem *elems, unsigned n);
/* Whether the driver has offered requests not popped yet (a hint: more may come at any time). */
bool virtq_more(const struct virtq *vq);
/* After a batch of pushes: whether the driver asked to be interrupted (event index or flags). */
bool virtq_should_signal(struct virtq *vq);
/* Publishes how far the device has read so the driver kicks only past it; returns true if more requests
 * arrived meanwhile (so the caller must pop again instead of sleeping). */
bool virtq_arm_notify(struct virtq *vq);

void virtq_req_free(struct virtq_req *req);

static inline struct iovec *virtq_req_in(struct virtq_req *r)
{
    return r->iov + r->n_out;
}

/* iovec helpers: copy between a flat buffer and an iovec array starting at byte `off`; return bytes copied.
 */
size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len);
size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t off, const void *buf, size_t len);
/* Describes bytes [off, off+len) of src in dst (at most dst_cap entries); returns entries used or -1. */
int iov_slice(const struct iovec *src, unsigned n, size_t off, size_t len, struct iovec *dst,
              unsigned dst_cap);

#endif
