/* virtio-vsock internals shared by vsock.c (queues, packet validation, device glue), vsock_conn.c (the
 * connection table, host sockets and the per-connection state machine) and the unit test. */
#ifndef LSL_VSOCK_INT_H
#define LSL_VSOCK_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtio.h"
#include "vsock.h"

#define VIRTIO_ID_VSOCK       19
#define VIRTIO_VSOCK_F_STREAM 0
#define VSOCK_Q_RX            0
#define VSOCK_Q_TX            1
#define VSOCK_Q_EVENT         2

#define VSOCK_HOST_CID    2
#define VSOCK_TYPE_STREAM 1
enum {
    VSOCK_OP_REQUEST = 1,
    VSOCK_OP_RESPONSE = 2,
    VSOCK_OP_RST = 3,
    VSOCK_OP_SHUTDOWN = 4,
    VSOCK_OP_RW = 5,
    VSOCK_OP_CREDIT_UPDATE = 6,
    VSOCK_OP_CREDIT_REQUEST = 7,
};
#define VSOCK_SHUT_RCV  1u
#define VSOCK_SHUT_SEND 2u
#define VSOCK_SHUT_BOTH 3u

/* Limits that keep a hostile guest's cost bounded. */
#define VSOCK_BUF_ALLOC       (256u << 10) /* receive buffer we advertise per connection */
#define VSOCK_MAX_PKT         (64u << 10)  /* largest payload in one packet, either way (Linux's limit too) */
#define VSOCK_MAX_CONNS       1024u
#define VSOCK_MAX_BUFFERED    (64u << 20) /* guest data held for slow host sockets, all connections together */
#define VSOCK_MAX_DATA_SEGS   64          /* payload descriptors per guest packet */
#define VSOCK_TIMEOUT_NS      2000000000ull  /* guest silent after our REQUEST or SHUTDOWN: RST */
#define VSOCK_HANDSHAKE_NS    10000000000ull /* host client silent before its CONNECT line */
#define VSOCK_TICK_NS         250000000ull
#define VSOCK_LOCAL_PORT_BASE (1u << 30) /* host-initiated ports: above anything a guest binds by habit */
#define VSOCK_RST_RING        2048
#define VSOCK_BUCKETS         256
#define VSOCK_LINE_MAX        32

struct __attribute__((packed)) vsock_hdr {
    uint64_t src_cid, dst_cid;
    uint32_t src_port, dst_port;
    uint32_t len;
    uint16_t type, op;
    uint32_t flags;
    uint32_t buf_alloc, fwd_cnt;
};
#define VSOCK_HDR_LEN ((uint32_t)sizeof(struct vsock_hdr))
_Static_assert(sizeof(struct vsock_hdr) == 44, "virtio_vsock_hdr is 44 bytes");

enum conn_state {
    CONN_HANDSHAKE,    /* host client connected to the listener; reading its CONNECT line */
    CONN_REQUEST_SENT, /* we asked the guest to accept; waiting for RESPONSE or RST */
    CONN_ESTABLISHED,
    CONN_CLOSING, /* both directions done, SHUTDOWN sent; waiting for the guest's RST */
};

/* Control packets owed to the guest, sent as rx buffers allow. */
#define PEND_REQUEST  1u
#define PEND_RESPONSE 2u
#define PEND_SHUT_ALL 4u
#define PEND_CREDIT   8u

struct vsock;

struct vsock_conn {
    struct vsock *v;
    enum conn_state state;
    int fd;
    uint32_t local_port, peer_port; /* local: the host end's vsock port; peer: the guest's */
    uint32_t events;                /* epoll interest; 0 = not registered */
    bool readable;                  /* the host socket has data or EOF for the guest */
    bool host_eof;                  /* the host closed its sending side; SHUTDOWN(SEND) went to the guest */
    bool dead, in_rxq;
    uint32_t peer_shut; /* VSOCK_SHUT_* the guest announced */
    uint32_t pending;   /* PEND_* */
    uint64_t deadline;  /* now_ns() limit for the current state; 0 = none */

    /* Credit (spec 5.10.6.3): the guest's buffer and how much of what we sent it has consumed ... */
    uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;
    /* ... and ours: bytes received from the guest, forwarded to the host socket, last fwd_cnt we told it. */
    uint32_t rx_cnt, fwd_cnt, fwd_cnt_sent;
    /* Guest data the host socket could not take yet: a ring of VSOCK_BUF_ALLOC bytes, only while needed. */
    uint8_t *buf;
    uint32_t buf_head, buf_len;

    char line[VSOCK_LINE_MAX];
    uint32_t line_len;

    struct vsock_conn *hnext;           /* hash chain */
    struct vsock_conn *prev, *next;     /* every live connection */
    struct vsock_conn *rxprev, *rxnext; /* waiting for an rx buffer, round robin */
};

struct vsock_rst {
    uint32_t local_port, peer_port;
};

struct vsock {
    struct virtio_dev vdev;
    struct {
        uint64_t guest_cid;
    } __attribute__((packed)) config;
    uint64_t cid;
    char *path;
    int listen_fd, epfd, timer_fd;
    bool timer_armed;

    struct vsock_conn *buckets[VSOCK_BUCKETS];
    struct vsock_conn *all;
    struct vsock_conn *rxq_head, *rxq_tail;
    struct vsock_conn *zombies; /* freed at the end of the current callback: epoll batches may name them */
    unsigned nconns;
    uint64_t buffered;
    uint32_t next_port;

    struct vsock_rst rst[VSOCK_RST_RING];
    unsigned rst_head, rst_len;
    struct virtq_req rx_req; /* rx has its own scratch: tx processing may be using vdev.req */
    uint64_t conns_total, resets;
};

/* vsock_conn.c */
void vsock_packet(struct vsock *v, const struct vsock_hdr *h, const struct iovec *iov, unsigned n,
                  uint64_t total);
void vsock_accept(struct vsock *v);
void vsock_tick(struct vsock *v);
void conn_event(struct vsock_conn *c, uint32_t events);
/* Fills one rx buffer for c; returns the bytes used, 0 if c had nothing to send after all. */
uint32_t conn_rx_packet(struct vsock_conn *c, const struct iovec *in, unsigned n, uint32_t cap);
bool conn_has_rx_work(const struct vsock_conn *c);
void vsock_rxq_del(struct vsock *v, struct vsock_conn *c);
void vsock_rxq_add(struct vsock *v, struct vsock_conn *c);
uint32_t vsock_rst_packet(struct vsock *v, const struct iovec *in, unsigned n);
void vsock_close_all(struct vsock *v);
void vsock_reap(struct vsock *v);

#endif
