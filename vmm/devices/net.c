/* virtio-net (virtio 1.2, section 5.1), one queue pair: frames from the guest's tx queue go to the NAT
 * backend (net_slirp.c) whole and with complete checksums; frames from the backend go into the guest's rx
 * buffers, spread over several when they are large (mergeable rx buffers), or wait in a bounded backlog.
 *
 * Offloads, measured with bench/netbench.py in the emulated KVM host (guest TCP to the host's loopback
 * through slirp, guest MTU set with ip link): guest->host 6.4 MB/s at MTU 1500, 9.2 at 9000, 22.0 at 16000,
 * 25.4 at 32000, 23.7-25.4 at 65520 (QEMU's -netdev user: 3.1). Every per-frame cost (a kick, an interrupt
 * and its two register exits, slirp's mbuf and socket call) is paid once per 64 KiB instead of once per
 * 1.5 KiB, so the MTU is 65520 (VIRTIO_NET_F_MTU), as slirp4netns and passt use. Host->guest stayed at
 * 45-54 MB/s at every MTU: there libslirp's fixed 128 KiB socket buffer per connection is the window, so
 * one round trip per 128 KiB bounds it. Checksums: the guest may leave them partial (VIRTIO_NET_F_CSUM;
 * completed here, as libslirp verifies every checksum it receives) and skips verifying ours (GUEST_CSUM:
 * libslirp checksums all it sends); not measured apart. Mergeable rx buffers keep the guest's rx ring in
 * page-sized buffers that a 64 KiB frame spans, instead of 64 KiB per buffer for every ACK. TSO/GSO are not
 * offered: with this MTU a guest segment is already as large as a GSO one (64 KiB) and 32000 measured the
 * same as 65520, so they would add segmentation code on a path the guest controls and save nothing. */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "macro.h"
#include "boot.h"
#include "net_int.h"
#include "size.h"
#include "virtio_mmio.h"

#define TX_BUDGET_TEST 1024

/* 52:54:00 is the locally administered prefix QEMU and libslirp's examples use; slirp learns it by ARP. */
static const uint8_t guest_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

static bool has_feature(const struct net *n, unsigned bit)
{
    return n->vdev.driver_features & (1ull << bit);
}

/* Ones' complement sum of len bytes, in host byte order: RFC 1071's sum does not care, so the result is
 * stored the same way. Eight bytes at a time with an end-around carry. */
static uint64_t sum_bytes(const uint8_t *p, size_t len)
{
    uint64_t s = 0;
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        s += w;
        s += s < w;
    }
    for (; len >= 2; p += 2, len -= 2) {
        uint16_t w;
        memcpy(&w, p, 2);
        s += w;
        s += s < w;
    }
    if (len) {
        uint16_t w = 0;
        memcpy(&w, p, 1); /* the odd byte is the first of a zero-padded word */
        s += w;
        s += s < w;
    }
    return s;
}

bool net_csum_complete(uint8_t *frame, size_t len, uint16_t start, uint16_t offset)
{
    if ((size_t)start + offset + 2 > len)
        return false;
    uint64_t s = sum_bytes(frame + start, len - start);
    s = (s & 0xffffffff) + (s >> 32);
    s = (s & 0xffffffff) + (s >> 32);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    uint16_t c = (uint16_t)~s;
    if (c == 0)
        c = 0xffff; /* as Linux does (CSUM_MANGLED_0): 0 means "no checksum" to UDP */
    memcpy(frame + start + offset, &c, 2);
    return true;
}

/* One frame from the guest: header checked, gathered from guest memory into our own buffer (the guest may
 * rewrite its buffer meanwhile, ours it cannot), checksum completed, handed to the backend. A frame the
 * guest got wrong is dropped and counted; only a broken ring breaks the device. */
static void tx_one(struct net *n, const struct virtq_req *req)
{
    if (req->n_in || req->out_len < NET_HDR_LEN + NET_ETH_HLEN ||
        req->out_len > NET_HDR_LEN + NET_FRAME_MAX) {
        n->stats.tx_dropped++;
        return;
    }
    size_t len = iov_to_buf(req->iov, req->n_out, 0, n->tx_buf, (size_t)req->out_len);
    struct virtio_net_hdr h;
    memcpy(&h, n->tx_buf, sizeof(h));
    uint8_t *frame = n->tx_buf + NET_HDR_LEN;
    len -= NET_HDR_LEN;
    if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE) { /* we offer no GSO: a driver that sends it is wrong */
        n->stats.tx_dropped++;
        return;
    }
    if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
        if (!has_feature(n, VIRTIO_NET_F_CSUM) ||
            !net_csum_complete(frame, len, h.csum_start, h.csum_offset)) {
            n->stats.tx_dropped++;
            return;
        }
        n->stats.csum_done++;
    }
    n->stats.tx_frames++;
    n->vdev.stats.bytes_out += len;
    if (n->input)
        n->input(n->input_opaque, frame, len);
}

static void signal_guest(struct net *n, unsigned q)
{
    virtio_dev_signal(&n->vdev, &n->vdev.vq[q]);
}

void net_tx(struct net *n, unsigned budget)
{
    struct virtio_dev *d = &n->vdev;
    struct virtq *vq = &d->vq[NET_Q_TX];
    n->tx_more = false;
    if (!virtio_queue_live(&n->vdev, NET_Q_TX))
        return;
    bool pushed = false;
    for (;;) {
        if (!budget) {
            n->tx_more = true; /* the rest next round, after the backend had its turn */
            break;
        }
        int r = virtq_pop(vq, d->mem, &d->req);
        if (r < 0) {
            virtio_dev_break(d, "malformed tx ring");
            return;
        }
        if (r == 0) {
            if (virtq_arm_notify(vq))
                continue;
            break;
        }
        budget--;
        tx_one(n, &d->req);
        d->stats.requests++;
        virtq_push(vq, d->req.head, 0);
        pushed = true;
        if (d->broken) /* the backend's answer found a broken rx ring */
            return;
    }
    if (pushed)
        signal_guest(n, NET_Q_TX);
}

enum { RX_BROKEN = -1, RX_WAIT = 0, RX_DONE = 1, RX_NEVER_FITS = 2 };

/* Puts one frame into rx buffers: RX_DONE; RX_WAIT, not enough buffers yet (every buffer taken is put back);
 * RX_NEVER_FITS, the guest's buffers could not hold it however many it adds (a whole ring of them, or one
 * without mergeable buffers, is too small: drop the frame, not the device); RX_BROKEN, the ring is bad.
 * Nothing is visible to the guest before the last buffer is filled (virtq_push_batch). */
static int rx_put(struct net *n, const uint8_t *frame, size_t len)
{
    struct virtio_dev *d = &n->vdev;
    struct virtq *vq = &d->vq[NET_Q_RX];
    bool mergeable = has_feature(n, VIRTIO_NET_F_MRG_RXBUF);
    struct virtio_net_hdr h = {.gso_type = VIRTIO_NET_HDR_GSO_NONE, .num_buffers = 1};
    if (has_feature(n, VIRTIO_NET_F_GUEST_CSUM))
        h.flags = VIRTIO_NET_HDR_F_DATA_VALID; /* libslirp checksums everything it sends */
    struct iovec num_buffers_at[2];
    int num_buffers_segs = 0;
    size_t total = NET_HDR_LEN + len, done = 0;
    unsigned nbufs = 0;
    while (done < total) {
        int r = nbufs < ARRAY_SIZE(n->rx_used) ? virtq_pop(vq, d->mem, &n->rx_req) : 0;
        if (r < 0) {
            virtio_dev_break(d, "malformed rx ring");
            return RX_BROKEN;
        }
        if (r == 0 || (!mergeable && nbufs)) {
            for (unsigned i = 0; i < nbufs + (unsigned)(r > 0); i++)
                virtq_unpop(vq);
            return (!mergeable && nbufs) || nbufs >= vq->size ? RX_NEVER_FITS : RX_WAIT;
        }
        struct virtq_req *q = &n->rx_req;
        if (q->n_out || (nbufs == 0 && q->in_len < NET_HDR_LEN)) {
            virtio_dev_break(d, "rx buffer readable or smaller than the header");
            return RX_BROKEN;
        }
        struct iovec *in = virtq_req_in(q);
        size_t room = (size_t)MIN(q->in_len, (uint64_t)(total - done)), put;
        if (nbufs == 0) {
            iov_from_buf(in, q->n_in, 0, &h, NET_HDR_LEN);
            num_buffers_segs = iov_slice(in, q->n_in, offsetof(struct virtio_net_hdr, num_buffers), 2,
                                         num_buffers_at, ARRAY_SIZE(num_buffers_at));
            put = NET_HDR_LEN + iov_from_buf(in, q->n_in, NET_HDR_LEN, frame, room - NET_HDR_LEN);
        } else {
            put = iov_from_buf(in, q->n_in, 0, frame + (done - NET_HDR_LEN), room);
        }
        n->rx_used[nbufs++] = (struct virtq_used_elem){.id = q->head, .len = (uint32_t)put};
        done += put;
    }
    if (nbufs > 1 && num_buffers_segs > 0) {
        uint16_t nb = (uint16_t)nbufs;
        iov_from_buf(num_buffers_at, (unsigned)num_buffers_segs, 0, &nb, sizeof(nb));
    }
    virtq_push_batch(vq, n->rx_used, nbufs);
    d->stats.requests += nbufs;
    d->stats.bytes_in += len;
    n->stats.rx_frames++;
    return RX_DONE;
}

static uint16_t avail_idx(const struct virtq *vq)
{
    return __atomic_load_n(&vq->avail[1], __ATOMIC_ACQUIRE);
}

static void backlog_drop_all(struct net *n)
{
    while (n->backlog_head) {
        struct net_frame *f = n->backlog_head;
        n->backlog_head = f->next;
        free(f);
    }
    n->backlog_tail = NULL;
    n->backlog_bytes = 0;
}

/* Delivers what waits; stops when the guest has no buffer left, asking it to kick when it adds some. */
static bool backlog_flush(struct net *n)
{
    struct virtq *vq = &n->vdev.vq[NET_Q_RX];
    bool pushed = false;
    while (n->backlog_head) {
        struct net_frame *f = n->backlog_head;
        uint16_t offered = avail_idx(vq);
        int r = rx_put(n, f->data, f->len);
        if (r == RX_BROKEN) {
            backlog_drop_all(n);
            return false;
        }
        if (r == RX_WAIT) {
            /* Again only if the driver added buffers since we looked: what we saw was not enough. */
            (void)virtq_arm_notify(vq);
            if (avail_idx(vq) != offered)
                continue;
            break;
        }
        if (r == RX_NEVER_FITS)
            n->stats.rx_dropped++;
        else
            pushed = true;
        n->backlog_head = f->next;
        if (!n->backlog_head)
            n->backlog_tail = NULL;
        n->backlog_bytes -= f->len;
        free(f);
    }
    return pushed;
}

void net_rx_flush(struct net *n)
{
    if (!virtio_queue_live(&n->vdev, NET_Q_RX)) {
        backlog_drop_all(n);
        return;
    }
    if (backlog_flush(n))
        signal_guest(n, NET_Q_RX);
}

void net_rx_frame(struct net *n, const uint8_t *frame, size_t len)
{
    if (!virtio_queue_live(&n->vdev, NET_Q_RX) || len > NET_FRAME_MAX) {
        n->stats.rx_dropped++;
        return;
    }
    if (!n->backlog_head) {
        int r = rx_put(n, frame, len);
        if (r == RX_BROKEN || r == RX_NEVER_FITS) {
            n->stats.rx_dropped++;
            return;
        }
        if (r == RX_DONE) {
            signal_guest(n, NET_Q_RX);
            return;
        }
    }
    /* In order behind what waits already; the guest kicks when it adds buffers. */
    if (n->backlog_bytes + len > NET_RX_BACKLOG_MAX) {
        n->stats.rx_dropped++;
        return;
    }
    struct net_frame *f = malloc(sizeof(*f) + len);
    if (!f) {
        n->stats.rx_dropped++;
        return;
    }
    f->next = NULL;
    f->len = (uint32_t)len;
    memcpy(f->data, frame, len);
    if (n->backlog_tail)
        n->backlog_tail->next = f;
    else
        n->backlog_head = f;
    n->backlog_tail = f;
    n->backlog_bytes += len;
    n->stats.backlog_peak = MAX(n->stats.backlog_peak, (uint64_t)n->backlog_bytes);
    if (virtq_arm_notify(&n->vdev.vq[NET_Q_RX]))
        net_rx_flush(n);
}

static const void *net_config(struct virtio_dev *vdev, uint32_t *len)
{
    struct net *n = vdev->priv;
    *len = sizeof(n->config);
    return &n->config;
}

/* Kicks arrive on the backend's thread through the ioeventfds; this runs only for a kick that reached the
 * register (a vCPU thread): wake the thread, which owns the backend. Without a backend (tests), do the
 * work here. */
static void net_notify(struct virtio_dev *vdev, uint16_t q)
{
    struct net *n = vdev->priv;
    if (vdev->kick_fd[q] >= 0) {
        uint64_t one = 1;
        if (write(vdev->kick_fd[q], &one, sizeof(one)) < 0)
            vdev->stats.errors++;
        return;
    }
    if (q == NET_Q_TX)
        net_tx(n, TX_BUDGET_TEST);
    else
        net_rx_flush(n);
}

static void net_reset(struct virtio_dev *vdev)
{
    struct net *n = vdev->priv;
    backlog_drop_all(n);
    n->tx_more = false;
}

static void net_stop(struct virtio_dev *vdev)
{
    struct net *n = vdev->priv;
    if (n->backend)
        net_slirp_stop(n->backend);
    n->backend = NULL;
}

static void net_print_stats(struct virtio_dev *vdev, FILE *f)
{
    struct net *n = vdev->priv;
    const struct net_counters *s = &n->stats;
    fprintf(
        f,
        "lsl-vmm: virtio-net tx %llu frames (%llu dropped, %llu checksums completed), rx %llu frames (%llu "
        "dropped, backlog peak %llu B); NAT thread %llu rounds, busy %.1f ms, longest round %.2f ms\n",
        (unsigned long long)s->tx_frames, (unsigned long long)s->tx_dropped, (unsigned long long)s->csum_done,
        (unsigned long long)s->rx_frames, (unsigned long long)s->rx_dropped,
        (unsigned long long)s->backlog_peak, (unsigned long long)s->rounds, (double)s->busy_ns / 1e6,
        (double)s->round_max_ns / 1e6);
}

static const struct virtio_dev_ops net_ops = {
    .name = "virtio-net",
    .device_id = VIRTIO_ID_NET,
    .num_queues = 2,
    .queue_max = NET_QUEUE_SIZE,
    .features = (1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_GUEST_CSUM) | (1ull << VIRTIO_NET_F_MTU) |
                (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_MRG_RXBUF),
    .config = net_config,
    .queue_notify = net_notify,
    .reset = net_reset,
    .own_kicks = true,
    .stop = net_stop,
    .print_stats = net_print_stats,
};

static void drop_input(void *opaque, const uint8_t *frame, size_t len)
{
    (void)opaque, (void)frame, (void)len;
}

int net_new(const struct gmem *mem, struct net **out)
{
    struct net *n = calloc(1, sizeof(*n));
    if (!n)
        return log_errno(ENOMEM, "virtio-net");
    virtio_dev_init(&n->vdev, &net_ops, n, mem);
    memcpy(n->config.mac, guest_mac, sizeof(guest_mac));
    n->config.max_virtqueue_pairs = 1;
    n->config.mtu = NET_MTU;
    n->input = drop_input;
    if (!(n->tx_buf = malloc(NET_HDR_LEN + NET_FRAME_MAX))) {
        net_free(n);
        return log_errno(ENOMEM, "virtio-net");
    }
    *out = n;
    return 0;
}

void net_free(void *p)
{
    struct net *n = p;
    if (!n)
        return;
    net_stop(&n->vdev);
    backlog_drop_all(n);
    free(n->tx_buf);
    virtq_req_free(&n->rx_req);
    virtio_dev_uninit(&n->vdev);
    free(n);
}

/* A search domain as resolv.conf allows one and a kernel parameter can carry: letters, digits, '-', '.',
 * '_', not empty, at most 253 bytes. */
static bool domain_ok(const char *s, size_t len)
{
    if (len == 0 || len > 253)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!(('a' <= (s[i] | 0x20) && (s[i] | 0x20) <= 'z') || ('0' <= s[i] && s[i] <= '9') || s[i] == '-' ||
              s[i] == '.' || s[i] == '_'))
            return false;
    return true;
}

int net_dns_search(const char *resolv_conf, char *out, size_t outlen)
{
    out[0] = '\0';
    if (outlen < 2)
        return 0;
    const char *line = resolv_conf;
    while (line && *line) {
        const char *end = strchr(line, '\n');
        size_t llen = end ? (size_t)(end - line) : strlen(line);
        /* resolv(5): the last "search" or "domain" line wins. */
        size_t kw = strncmp(line, "search", 6) == 0 ? 6 : strncmp(line, "domain", 6) == 0 ? 6 : 0;
        if (kw && llen > kw && (line[kw] == ' ' || line[kw] == '\t')) {
            size_t used = 0;
            unsigned count = 0;
            out[0] = '\0';
            for (size_t i = kw; i < llen && count < NET_DNS_SEARCH_MAX;) {
                while (i < llen && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
                    i++;
                size_t start = i;
                while (i < llen && line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
                    i++;
                size_t dlen = i - start;
                if (!dlen || !domain_ok(line + start, dlen) || used + dlen + 2 > outlen)
                    continue;
                if (used)
                    out[used++] = ',';
                memcpy(out + used, line + start, dlen);
                used += dlen;
                out[used] = '\0';
                count++;
            }
        }
        line = end ? end + 1 : NULL;
    }
    return (int)strlen(out);
}

/* The host's search domains, for the guest's resolv.conf (the name server itself is slirp's forwarder,
 * which follows the host's file by itself). Read once, at start. */
static int add_dns_search(struct vm *vm, char *search, size_t len)
{
    _cleanup_free_ char *text = NULL;
    _cleanup_close_ int fd = open("/etc/resolv.conf", O_RDONLY | O_CLOEXEC);
    size_t tlen;
    search[0] = '\0';
    if (fd < 0 || read_fd_text(fd, 64 << 10, &text, &tlen) < 0 || net_dns_search(text, search, len) <= 0)
        return 0;
    char frag[sizeof(" " LSL_CMDLINE_DNS_SEARCH) + NET_DNS_SEARCH_LEN];
    snprintf(frag, sizeof(frag), " " LSL_CMDLINE_DNS_SEARCH "%s", search);
    return vm_cmdline_append(vm, frag);
}

int net_create(struct vm *vm)
{
    struct net *n;
    int r = net_new(&vm->mem, &n);
    if (r < 0)
        return r;
    if ((r = vm_own_device(vm, n, net_free)) < 0) {
        net_free(n);
        return r;
    }
    if ((r = virtio_mmio_attach(vm, &n->vdev)) < 0)
        return r;
    char search[NET_DNS_SEARCH_LEN];
    if ((r = add_dns_search(vm, search, sizeof(search))) < 0)
        return r;
    return net_slirp_start(n, search, &n->backend);
}
