/* Fuzz target: virtio-vsock (vmm/devices/vsock.c, vsock_conn.c) between a hostile guest and host sockets.
 * The guest sends packets of every op (REQUEST, RESPONSE, RW, SHUTDOWN, RST, CREDIT_*, unknown ones) with
 * hostile ports, lengths, flags, credit values and descriptor layouts, and takes (or leaves) what the
 * device puts in its rx buffers; in between, host programs connect to the device's socket ("CONNECT
 * PORT" lines or garbage), accept the guest's connections, write, read, half-close and close. After every
 * step the connection table is bounded and consistent (list, hash chains, rx queue, buffered bytes), every
 * packet the guest receives is well-formed and within the credit the guest gave; at the end no socket of the
 * device's is left open.
 *
 * Input: struct config, then steps of struct step (see enum kind). */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/vsock_int.h"
#include "fuzz.h"

#define RAM_SIZE  (768u << 10)
#define QSIZE     64
#define RX_DESC   0x0000
#define RX_AVAIL  0x1000
#define RX_USED   0x2000
#define TX_DESC   0x3000
#define TX_AVAIL  0x4000
#define TX_USED   0x5000
#define RXBUF     0x10000 /* QSIZE buffers, RXBUF_STRIDE apart */
#define RX_STRIDE 0x2000
#define TXBUF     0x90000 /* one packet at a time: the device takes it at once */
#define TXBUF_MAX (RAM_SIZE - TXBUF)
#define GCID      3
#define NPORTS    4  /* guest ports 1000..1003, listening host ports 2000..2001 (2002, 2003: nobody) */
#define NHOST     16 /* host sockets the steps name */

struct config {
    uint8_t rx_bufs; /* how many rx buffers the guest offers first (up to QSIZE) */
    uint8_t rx_len;  /* their size: VSOCK_HDR_LEN + rx_len * 32 bytes (0: too small for a packet) */
    uint8_t flags;   /* bit 0: EVENT_IDX */
    uint8_t reserved;
};

enum kind {
    STEP_PACKET,   /* the guest sends a packet */
    STEP_RX,       /* the guest hands back the rx buffers it has read */
    STEP_CONNECT,  /* a host program connects and sends a line */
    STEP_WRITE,    /* host socket a writes y bytes */
    STEP_READ,     /* host socket a reads what there is */
    STEP_SHUTDOWN, /* host socket a: shutdown(b % 3) */
    STEP_CLOSE,    /* host socket a closes */
    STEP_ACCEPT,   /* the host listeners accept what the guest connected */
    STEP_POLL,     /* the device's turns on the host side */
    STEP_RESET,    /* the driver resets the device and sets it up again */
    STEP_TIMEOUT,  /* time passes: every deadline a connection has is due, and the timer ticks */
    STEP_KINDS,
};

struct step {
    uint8_t kind;
    uint8_t a, b, c;
    uint32_t x, y, z;
};

static char dir[48], path[64];
static struct sockaddr_un listen_addr[2]; /* PATH_2000, PATH_2001 */
static uint8_t *ram;
static struct gmem m;
static struct vsock *v;
static struct virtio_dev *vd;
static int host[NHOST], listeners[2];
static uint16_t rx_seen, rx_taken[QSIZE * 4], tx_slot;
static unsigned ntaken;
static struct config cfg;

/* The sockets' directory, made for one input and removed with it: nothing may outlive the input, as make
 * check's replay ends without exit handlers. sun_path is short: the device appends "_<port>" to path. */
static void dir_make(void)
{
    snprintf(dir, sizeof(dir), "/tmp/lsl-fuzz-vsock-XXXXXX");
    FUZZ_CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/v", dir);
    for (int i = 0; i < 2; i++) {
        listen_addr[i].sun_family = AF_UNIX;
        snprintf(listen_addr[i].sun_path, sizeof(listen_addr[i].sun_path), "%s_%d", path, 2000 + i);
    }
}

static void irq(struct virtio_dev *d, uint32_t kind)
{
    (void)d, (void)kind;
}

static void offer(uint64_t avail_gpa, uint16_t head)
{
    uint16_t *a = (uint16_t *)(ram + avail_gpa);
    a[2 + a[1] % QSIZE] = head;
    __atomic_store_n(&a[1], (uint16_t)(a[1] + 1), __ATOMIC_RELEASE);
}

static void notify(uint16_t q)
{
    pthread_mutex_lock(&vd->lock);
    vd->ops->queue_notify(vd, q);
    pthread_mutex_unlock(&vd->lock);
}

static void setup_queue(unsigned q, uint64_t desc, uint64_t avail, uint64_t used)
{
    struct virtq *vq = &vd->vq[q];
    virtq_reset(vq);
    vq->size = QSIZE;
    vq->desc_gpa = desc, vq->avail_gpa = avail, vq->used_gpa = used;
    vq->event_idx = cfg.flags & 1;
    FUZZ_CHECK(virtq_enable(vq, &m) == 0);
    vq->ready = true;
}

/* The driver's side of a (re)start: rings zeroed, rx buffers offered, DRIVER_OK. */
static void driver_start(void)
{
    memset(ram, 0, RXBUF);
    pthread_mutex_lock(&vd->lock);
    vd->interrupt = irq;
    vd->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
                 VIRTIO_STATUS_DRIVER_OK;
    setup_queue(VSOCK_Q_RX, RX_DESC, RX_AVAIL, RX_USED);
    setup_queue(VSOCK_Q_TX, TX_DESC, TX_AVAIL, TX_USED);
    pthread_mutex_unlock(&vd->lock);
    rx_seen = tx_slot = 0;
    ntaken = 0;
    struct virtq_desc *d = (struct virtq_desc *)(ram + RX_DESC);
    unsigned n = cfg.rx_bufs % (QSIZE + 1);
    for (uint16_t i = 0; i < n; i++) {
        d[i] = (struct virtq_desc){.addr = RXBUF + i * RX_STRIDE,
                                   .len = VSOCK_HDR_LEN + cfg.rx_len * 32u,
                                   .flags = VIRTQ_DESC_F_WRITE};
        offer(RX_AVAIL, i);
    }
}

static uint32_t guest_port(uint8_t code, uint32_t raw)
{
    return code < 0xf0 ? 1000u + code % NPORTS : raw;
}

/* Host ports the guest may name: the listening ones, nobody's, or those the device gives host clients. */
static uint32_t host_port(uint8_t code, uint32_t raw)
{
    if (code >= 0xf0)
        return raw;
    code %= 8;
    return code < NPORTS ? 2000u + code : VSOCK_LOCAL_PORT_BASE + (code - NPORTS);
}

static int free_slot(void)
{
    for (int i = 0; i < NHOST; i++)
        if (host[i] < 0)
            return i;
    return -1;
}

/* The guest sends one packet. x: bits 0-16 the payload length, 17-19 the descriptor layout, 20-22 the
 * header's faults, 23-24 shutdown flags, 25-31 a shortfall of the descriptors against the length. */
static void send_packet(const struct step *s)
{
    uint32_t len = s->x & 0x1ffff, layout = (s->x >> 17) & 7, faults = (s->x >> 20) & 7;
    struct vsock_hdr h = {.src_cid = faults & 1 ? 7 : GCID,
                          .dst_cid = faults & 2 ? GCID : VSOCK_HOST_CID,
                          .src_port = guest_port(s->b, s->z),
                          .dst_port = host_port(s->c, s->z),
                          .len = len,
                          .type = faults & 4 ? 2 : VSOCK_TYPE_STREAM,
                          .op = s->a,
                          .flags = (s->x >> 23) & 3,
                          .buf_alloc = s->y,
                          .fwd_cnt = s->z};
    uint8_t *b = ram + TXBUF;
    memcpy(b, &h, sizeof(h));
    uint32_t body = len < TXBUF_MAX - VSOCK_HDR_LEN ? len : TXBUF_MAX - VSOCK_HDR_LEN;
    for (uint32_t i = 0; i < body; i++)
        b[VSOCK_HDR_LEN + i] = (uint8_t)(i * 13 + s->b);
    uint32_t total = VSOCK_HDR_LEN + body, short_by = (s->x >> 25) * 8;
    total = short_by < total ? total - short_by : 0;

    /* 1-4 descriptors over the same bytes: whole, header | payload, header split, payload in pieces. */
    uint32_t cut[4], n = 0, at = 0;
    switch (layout) {
    case 1:
        cut[n++] = VSOCK_HDR_LEN < total ? VSOCK_HDR_LEN : total;
        break;
    case 2:
        cut[n++] = 20 < total ? 20 : total;
        break;
    case 3:
        cut[n++] = VSOCK_HDR_LEN < total ? VSOCK_HDR_LEN : total;
        cut[n++] = total < VSOCK_HDR_LEN + 100 ? total : VSOCK_HDR_LEN + 100;
        cut[n++] = total < VSOCK_HDR_LEN + 1000 ? total : VSOCK_HDR_LEN + 1000;
        break;
    default:
        break;
    }
    cut[n++] = total;
    uint16_t base = (uint16_t)(tx_slot++ % (QSIZE / 4) * 4);
    struct virtq_desc *d = (struct virtq_desc *)(ram + TX_DESC);
    for (uint32_t i = 0; i < n; i++) {
        d[base + i] = (struct virtq_desc){.addr = TXBUF + at,
                                          .len = cut[i] - at,
                                          .flags = i + 1 < n ? VIRTQ_DESC_F_NEXT : 0,
                                          .next = (uint16_t)(base + i + 1)};
        at = cut[i];
    }
    offer(TX_AVAIL, base);
    notify(VSOCK_Q_TX);
}

static struct vsock_conn *find(uint32_t local, uint32_t peer)
{
    for (struct vsock_conn *c = v->all; c; c = c->next)
        if (c->state != CONN_HANDSHAKE && c->local_port == local && c->peer_port == peer)
            return c;
    return NULL;
}

/* What the guest found in its rx buffers since the last look: well-formed packets within its credit. */
static void check_rx(void)
{
    const uint16_t *u = (const uint16_t *)(ram + RX_USED);
    while (rx_seen != __atomic_load_n(&u[1], __ATOMIC_ACQUIRE)) {
        const struct virtq_used_elem *e = (const struct virtq_used_elem *)&u[2] + rx_seen % QSIZE;
        rx_seen++;
        FUZZ_CHECK(e->id < cfg.rx_bufs % (QSIZE + 1));
        FUZZ_CHECK(e->len >= VSOCK_HDR_LEN && e->len <= VSOCK_HDR_LEN + cfg.rx_len * 32u);
        struct vsock_hdr h;
        memcpy(&h, ram + RXBUF + e->id * RX_STRIDE, sizeof(h));
        FUZZ_CHECK(h.src_cid == VSOCK_HOST_CID && h.dst_cid == GCID && h.type == VSOCK_TYPE_STREAM);
        FUZZ_CHECK(h.op >= VSOCK_OP_REQUEST && h.op <= VSOCK_OP_CREDIT_UPDATE &&
                   h.op != VSOCK_OP_CREDIT_REQUEST);
        FUZZ_CHECK(h.len == e->len - VSOCK_HDR_LEN && h.len <= VSOCK_MAX_PKT);
        FUZZ_CHECK(h.op == VSOCK_OP_RW ? h.len > 0 : h.len == 0);
        FUZZ_CHECK(h.buf_alloc == VSOCK_BUF_ALLOC);
        if (h.op == VSOCK_OP_RW) {
            /* Sent after the guest's last packet on it: within the window that packet gave. */
            struct vsock_conn *c = find(h.src_port, h.dst_port);
            if (c)
                FUZZ_CHECK(c->tx_cnt - c->peer_fwd_cnt <= c->peer_buf_alloc);
        }
        if (ntaken < sizeof(rx_taken) / sizeof(rx_taken[0]))
            rx_taken[ntaken++] = (uint16_t)e->id;
    }
}

/* The connection table: bounded, its lists and hash chains in step, the buffered bytes counted right. */
static void check_table(void)
{
    unsigned n = 0;
    uint64_t buffered = 0;
    FUZZ_CHECK(v->nconns <= VSOCK_MAX_CONNS && v->rst_len <= VSOCK_RST_RING);
    FUZZ_CHECK(v->zombies == NULL);
    for (struct vsock_conn *c = v->all; c; c = c->next) {
        FUZZ_CHECK(++n <= v->nconns);
        FUZZ_CHECK(!c->dead && c->v == v && c->fd >= 0);
        FUZZ_CHECK(c->next == NULL || c->next->prev == c);
        FUZZ_CHECK(c->prev ? c->prev->next == c : v->all == c);
        FUZZ_CHECK(c->buf_len <= VSOCK_BUF_ALLOC && (c->buf_len == 0 || c->buf));
        if (c->state >= CONN_ESTABLISHED)
            FUZZ_CHECK(c->rx_cnt - c->fwd_cnt == c->buf_len);
        buffered += c->buf ? VSOCK_BUF_ALLOC : 0;
        unsigned found = 0;
        for (unsigned b = 0; b < VSOCK_BUCKETS; b++)
            for (struct vsock_conn *h = v->buckets[b]; h; h = h->hnext)
                found += h == c;
        FUZZ_CHECK(found == (c->state == CONN_HANDSHAKE ? 0u : 1u));
        if (c->state != CONN_HANDSHAKE)
            FUZZ_CHECK(find(c->local_port, c->peer_port) == c); /* one connection per port pair */
    }
    FUZZ_CHECK(n == v->nconns && buffered == v->buffered && buffered <= VSOCK_MAX_BUFFERED);
    unsigned hashed = 0;
    for (unsigned b = 0; b < VSOCK_BUCKETS; b++)
        for (struct vsock_conn *h = v->buckets[b]; h; h = h->hnext)
            FUZZ_CHECK(++hashed <= n && !h->dead);
    unsigned queued = 0;
    for (struct vsock_conn *c = v->rxq_head; c; c = c->rxnext) {
        FUZZ_CHECK(++queued <= n && c->in_rxq && !c->dead);
        FUZZ_CHECK(c->rxnext ? c->rxnext->rxprev == c : v->rxq_tail == c);
    }
    FUZZ_CHECK(!v->rxq_head == !v->rxq_tail);
}

static void host_connect(const struct step *s)
{
    int i = free_slot();
    if (i < 0)
        return;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    FUZZ_CHECK(fd >= 0);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return;
    }
    host[i] = fd;
    char line[64];
    int n;
    switch (s->a % 4) {
    case 0: /* a guest port that someone may answer */
        n = snprintf(line, sizeof(line), "CONNECT %u\n", 1000 + s->b % NPORTS);
        break;
    case 1: /* any number, with what may follow it */
        n = snprintf(line, sizeof(line), "CONNECT %u%s", s->x, s->b & 1 ? "\r\n" : s->b & 2 ? " \n" : "\n");
        break;
    case 2: /* half a line, the rest never comes */
        n = snprintf(line, sizeof(line), "CONNECT %u", s->x);
        break;
    default: /* bytes, and maybe a newline among them */
        n = (int)(s->y % sizeof(line));
        for (int k = 0; k < n; k++)
            line[k] = (char)(s->z >> (k % 4 * 8));
        break;
    }
    if (n > 0)
        (void)!send(fd, line, (size_t)n, MSG_NOSIGNAL);
}

static void host_accept(void)
{
    for (int l = 0; l < 2; l++) {
        for (;;) {
            int i = free_slot();
            if (i < 0)
                return;
            int fd = accept4(listeners[l], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0)
                break;
            host[i] = fd;
        }
    }
}

static void run_step(const struct step *s)
{
    int *fd = &host[s->a % NHOST];
    static uint8_t buf[64u << 10];
    switch (s->kind % STEP_KINDS) {
    case STEP_PACKET:
        send_packet(s);
        break;
    case STEP_RX:
        for (unsigned i = 0; i < ntaken; i++)
            offer(RX_AVAIL, rx_taken[i]);
        ntaken = 0;
        notify(VSOCK_Q_RX);
        break;
    case STEP_CONNECT:
        host_connect(s);
        break;
    case STEP_WRITE:
        if (*fd >= 0) {
            size_t n = s->y % sizeof(buf);
            memset(buf, s->b, n);
            (void)!send(*fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        break;
    case STEP_READ:
        if (*fd >= 0)
            (void)!recv(*fd, buf, sizeof(buf), MSG_DONTWAIT);
        break;
    case STEP_SHUTDOWN:
        if (*fd >= 0)
            shutdown(*fd, s->b % 3);
        break;
    case STEP_CLOSE:
        if (*fd >= 0)
            close(*fd);
        *fd = -1;
        break;
    case STEP_ACCEPT:
        host_accept();
        break;
    case STEP_POLL: /* a few rounds: an accept, then the line the client sent with it */
        for (int i = 0; i < 3; i++)
            vsock_poll(v);
        break;
    case STEP_RESET:
        pthread_mutex_lock(&vd->lock);
        virtio_dev_reset(vd);
        pthread_mutex_unlock(&vd->lock);
        FUZZ_CHECK(vsock_nconns(v) == 0);
        driver_start();
        break;
    case STEP_TIMEOUT:
        pthread_mutex_lock(&vd->lock);
        for (struct vsock_conn *c = v->all; c; c = c->next)
            if (c->deadline)
                c->deadline = 1;
        vsock_tick(v);
        vsock_reap(v);
        pthread_mutex_unlock(&vd->lock);
        /* What the ticks owe the guest (RSTs) goes out with the next rx kick or poll. */
        break;
    }
}

/* Which of the fds this process may open next are open: compared before and after an input, any
 * difference is a socket or file the device left behind. */
#define FD_SCAN 128
static void open_fds(bool open[FD_SCAN])
{
    for (int fd = 0; fd < FD_SCAN; fd++)
        open[fd] = fcntl(fd, F_GETFD) >= 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < sizeof(cfg))
        return 0;
    if (!ram)
        FUZZ_CHECK((ram = malloc(RAM_SIZE)) != NULL);
    memcpy(&cfg, data, sizeof(cfg));
    data += sizeof(cfg), size -= sizeof(cfg);
    bool fds_before[FD_SCAN], fds_after[FD_SCAN];
    open_fds(fds_before);

    dir_make();
    m = (struct gmem){.regions = {{.gpa = 0, .size = RAM_SIZE, .host = ram}},
                      .nregions = 1,
                      .base = ram,
                      .total = RAM_SIZE};
    FUZZ_CHECK(vsock_new(&m, GCID, path, &v) == 0);
    vd = vsock_vdev(v);
    for (int i = 0; i < NHOST; i++)
        host[i] = -1;
    for (int l = 0; l < 2; l++) {
        listeners[l] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        FUZZ_CHECK(listeners[l] >= 0);
        FUZZ_CHECK(bind(listeners[l], (struct sockaddr *)&listen_addr[l], sizeof(listen_addr[l])) == 0);
        FUZZ_CHECK(listen(listeners[l], 4) == 0);
    }
    driver_start();

    for (size_t off = 0; off + sizeof(struct step) <= size; off += sizeof(struct step)) {
        struct step s;
        memcpy(&s, data + off, sizeof(s));
        run_step(&s);
        check_rx();
        check_table();
    }

    for (int i = 0; i < NHOST; i++)
        if (host[i] >= 0)
            close(host[i]);
    for (int l = 0; l < 2; l++) {
        close(listeners[l]);
        unlink(listen_addr[l].sun_path);
    }
    vsock_free(v); /* unlinks its socket */
    v = NULL;
    FUZZ_CHECK(rmdir(dir) == 0);
    /* Nothing of the device's left open: every connection's socket, its epoll set, timer and listener. */
    open_fds(fds_after);
    for (int fd = 0; fd < FD_SCAN; fd++)
        FUZZ_CHECK(fds_after[fd] == fds_before[fd]);
    return 0;
}
