/* virtio-vsock without KVM: fake guest memory and rings play the guest driver, unix sockets the host side.
 * Connects both ways, moves data under credit limits, half-closes, resets, and feeds it hostile packets. */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "devices/vsock_int.h"

#define MEM       (8u << 20)
#define QSIZE     64
#define RX_DESC   0x1000
#define RX_AVAIL  0x2000
#define RX_USED   0x3000
#define TX_DESC   0x4000
#define TX_AVAIL  0x5000
#define TX_USED   0x6000
#define RXBUF     0x100000
#define RXBUF_LEN (VSOCK_HDR_LEN + 4096)
#define TXBUF     0x200000
#define TXSLOT    0x11000
#define GCID      3

static struct gmem m;
static struct vsock *v;
static struct virtio_dev *vd;
static char dir[] = "/tmp/lsl-vsock-test.XXXXXX";
static char path[64]; /* leaves room in sun_path for "_<port>" */
static uint16_t rx_seen, tx_slot;
static unsigned irqs;
static uint32_t g_buf_alloc = VSOCK_BUF_ALLOC, g_fwd;

static void *gp(uint64_t gpa, uint64_t len)
{
    return gmem_ptr(&m, gpa, len);
}

static void irq(struct virtio_dev *d, uint32_t kind)
{
    (void)d;
    (void)kind;
    irqs++;
}

static void offer(uint64_t avail_gpa, uint16_t head)
{
    uint16_t *a = gp(avail_gpa, 6 + 2 * QSIZE);
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
    CHECK_EQ(virtq_enable(vq, &m), 0);
    vq->ready = true;
}

static void setup(void)
{
    memset(m.base, 0, MEM);
    CHECK_EQ(vsock_new(&m, GCID, path, &v), 0);
    vd = vsock_vdev(v);
    vd->interrupt = irq;
    vd->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
                 VIRTIO_STATUS_DRIVER_OK;
    setup_queue(VSOCK_Q_RX, RX_DESC, RX_AVAIL, RX_USED);
    setup_queue(VSOCK_Q_TX, TX_DESC, TX_AVAIL, TX_USED);
    rx_seen = tx_slot = 0;
    g_buf_alloc = VSOCK_BUF_ALLOC;
    g_fwd = 0;
    struct virtq_desc *d = gp(RX_DESC, 16 * QSIZE);
    for (uint16_t i = 0; i < QSIZE; i++) {
        d[i] =
            (struct virtq_desc){.addr = RXBUF + i * 0x2000u, .len = RXBUF_LEN, .flags = VIRTQ_DESC_F_WRITE};
        offer(RX_AVAIL, i);
    }
}

static void teardown(void)
{
    vsock_free(v);
    v = NULL;
}

/* Runs the device until it has nothing more to do for a moment. */
static void drive(void)
{
    for (int i = 0; i < 20; i++) {
        struct pollfd p = {.fd = vsock_fd(v), .events = POLLIN};
        if (poll(&p, 1, i < 2 ? 5 : 1) <= 0 && i >= 2)
            break;
        vsock_poll(v);
    }
}

/* The guest's side of the rx queue: the next used packet, its buffer handed straight back. */
static bool rx_take(struct vsock_hdr *h, void *data, uint32_t *len)
{
    uint16_t *u = gp(RX_USED, 6 + 8 * QSIZE);
    if (__atomic_load_n(&u[1], __ATOMIC_ACQUIRE) == rx_seen)
        return false;
    struct virtq_used_elem *e = (struct virtq_used_elem *)&u[2] + rx_seen % QSIZE;
    rx_seen++;
    CHECK(e->id < QSIZE && e->len >= VSOCK_HDR_LEN && e->len <= RXBUF_LEN);
    uint8_t *b = gp(RXBUF + e->id * 0x2000u, RXBUF_LEN);
    memcpy(h, b, sizeof(*h));
    CHECK_EQ(h->len, e->len - VSOCK_HDR_LEN);
    if (data)
        memcpy(data, b + VSOCK_HDR_LEN, h->len);
    if (len)
        *len = h->len;
    offer(RX_AVAIL, (uint16_t)e->id);
    notify(VSOCK_Q_RX);
    return true;
}

static struct vsock_hdr ghdr(uint16_t op, uint32_t src_port, uint32_t dst_port, uint32_t len)
{
    return (struct vsock_hdr){.src_cid = GCID,
                              .dst_cid = VSOCK_HOST_CID,
                              .src_port = src_port,
                              .dst_port = dst_port,
                              .len = len,
                              .type = VSOCK_TYPE_STREAM,
                              .op = op,
                              .buf_alloc = g_buf_alloc,
                              .fwd_cnt = g_fwd};
}

/* The guest sends a packet; buf_len can claim less room than the header's len says. */
static void tx_raw(const struct vsock_hdr *h, const void *data, uint32_t data_len, uint32_t desc_len)
{
    uint16_t s = tx_slot++ % QSIZE;
    uint64_t gpa = TXBUF + (uint64_t)s * TXSLOT;
    uint8_t *b = gp(gpa, TXSLOT);
    memcpy(b, h, sizeof(*h));
    if (data_len)
        memcpy(b + VSOCK_HDR_LEN, data, data_len);
    struct virtq_desc *d = gp(TX_DESC, 16 * QSIZE);
    d[s] = (struct virtq_desc){.addr = gpa, .len = desc_len};
    offer(TX_AVAIL, s);
    notify(VSOCK_Q_TX);
}

static void tx(uint16_t op, uint32_t src_port, uint32_t dst_port, const void *data, uint32_t len,
               uint32_t flags)
{
    struct vsock_hdr h = ghdr(op, src_port, dst_port, len);
    h.flags = flags;
    tx_raw(&h, data, len, VSOCK_HDR_LEN + len);
}

static int client(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    CHECK_EQ(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* Reads up to want bytes from a host socket, driving the device meanwhile; returns the count, -1 on EOF
 * before anything arrived. */
static ssize_t host_read(int fd, void *buf, size_t want)
{
    size_t got = 0;
    for (int i = 0; i < 200 && got < want; i++) {
        ssize_t r = read(fd, (char *)buf + got, want - got);
        if (r == 0)
            return got ? (ssize_t)got : -1;
        if (r > 0)
            got += (size_t)r;
        else
            drive();
    }
    return (ssize_t)got;
}

/* Host connects to guest_port, the guest accepts; returns the host's socket and the local port. */
static int open_host_conn(uint32_t guest_port, uint32_t *local)
{
    int fd = client();
    char line[32];
    int ln = snprintf(line, sizeof(line), "CONNECT %u\n", guest_port);
    CHECK_EQ(write(fd, line, (size_t)ln), ln);
    drive();
    struct vsock_hdr h;
    CHECK(rx_take(&h, NULL, NULL));
    CHECK_EQ(h.op, VSOCK_OP_REQUEST);
    CHECK_EQ(h.src_cid, VSOCK_HOST_CID);
    CHECK_EQ(h.dst_cid, GCID);
    CHECK_EQ(h.dst_port, guest_port);
    CHECK(h.src_port >= VSOCK_LOCAL_PORT_BASE);
    *local = h.src_port;
    tx(VSOCK_OP_RESPONSE, guest_port, h.src_port, NULL, 0, 0);
    drive();
    char ok[32] = {0};
    ssize_t n = host_read(fd, ok, 3 + 10 + 1);
    char want[32];
    int wn = snprintf(want, sizeof(want), "OK %u\n", h.src_port);
    CHECK_EQ(n, wn);
    CHECK(memcmp(ok, want, (size_t)wn) == 0);
    return fd;
}

static void test_host_to_guest(void)
{
    setup();
    g_buf_alloc = 8192; /* a small guest window, so the credit limit shows */
    uint32_t local;
    int fd = open_host_conn(5000, &local);
    static uint8_t out[40000], in[40000];
    for (size_t i = 0; i < sizeof(out); i++)
        out[i] = (uint8_t)(i * 7 + 3);
    CHECK_EQ(write(fd, out, sizeof(out)), (ssize_t)sizeof(out));
    uint32_t got = 0;
    while (got < sizeof(out)) {
        drive();
        struct vsock_hdr h;
        uint32_t len, round = 0;
        while (rx_take(&h, in + got, &len)) {
            CHECK_EQ(h.op, VSOCK_OP_RW);
            CHECK_EQ(h.src_port, local);
            CHECK_EQ(h.dst_port, 5000);
            got += len;
            round += len;
        }
        /* Never more than the window the guest advertised beyond what it has consumed. */
        CHECK(got - g_fwd <= g_buf_alloc);
        if (!round && got - g_fwd < g_buf_alloc)
            break;   /* stalled with credit left: a bug */
        g_fwd = got; /* the guest application read everything */
        tx(VSOCK_OP_CREDIT_UPDATE, 5000, local, NULL, 0, 0);
    }
    CHECK_EQ(got, sizeof(out));
    CHECK(memcmp(in, out, sizeof(out)) == 0);
    /* Host EOF becomes SHUTDOWN(SEND) for the guest. */
    shutdown(fd, SHUT_WR);
    drive();
    struct vsock_hdr h;
    CHECK(rx_take(&h, NULL, NULL));
    CHECK_EQ(h.op, VSOCK_OP_SHUTDOWN);
    CHECK_EQ(h.flags, VSOCK_SHUT_SEND);
    /* The guest still sends; then closes its side: both directions done, the device says SHUTDOWN(both)
     * and the guest's RST completes the close. */
    tx(VSOCK_OP_RW, 5000, local, "tail", 4, 0);
    char buf[8];
    CHECK_EQ(host_read(fd, buf, 4), 4);
    CHECK(memcmp(buf, "tail", 4) == 0);
    tx(VSOCK_OP_SHUTDOWN, 5000, local, NULL, 0, VSOCK_SHUT_SEND);
    drive();
    CHECK_EQ(host_read(fd, buf, 1), -1); /* EOF */
    CHECK(rx_take(&h, NULL, NULL));
    CHECK_EQ(h.op, VSOCK_OP_SHUTDOWN);
    CHECK_EQ(h.flags, VSOCK_SHUT_BOTH);
    CHECK_EQ(vsock_nconns(v), 1);
    tx(VSOCK_OP_RST, 5000, local, NULL, 0, 0);
    CHECK_EQ(vsock_nconns(v), 0);
    CHECK(irqs > 0);
    close(fd);
    teardown();
}

static void test_guest_to_host_credit(void)
{
    setup();
    uint32_t local;
    int fd = open_host_conn(5001, &local);
    /* The host does not read: the guest may fill the socket and our 256 KiB window, but no more. */
    static uint8_t chunk[32768];
    memset(chunk, 0xab, sizeof(chunk));
    unsigned sent = 0;
    bool reset = false;
    for (int i = 0; i < 200 && !reset; i++) {
        tx(VSOCK_OP_RW, 5001, local, chunk, sizeof(chunk), 0);
        sent += sizeof(chunk);
        drive();
        struct vsock_hdr h;
        while (rx_take(&h, NULL, NULL))
            reset |= h.op == VSOCK_OP_RST;
    }
    CHECK(reset);
    CHECK(sent > VSOCK_BUF_ALLOC && sent < (8u << 20));
    CHECK_EQ(vsock_nconns(v), 0);
    close(fd);

    /* Within the window: everything arrives, and the consumed bytes come back to the guest as credit. */
    fd = open_host_conn(5002, &local);
    uint32_t total = 40 * sizeof(chunk);
    static uint8_t sink[sizeof(chunk)];
    for (int i = 0; i < 40; i++) {
        tx(VSOCK_OP_RW, 5002, local, chunk, sizeof(chunk), 0);
        CHECK_EQ(host_read(fd, sink, sizeof(chunk)), sizeof(chunk));
    }
    drive();
    struct vsock_hdr h;
    uint32_t fwd = 0;
    while (rx_take(&h, NULL, NULL)) {
        CHECK(h.op == VSOCK_OP_CREDIT_UPDATE);
        CHECK_EQ(h.buf_alloc, VSOCK_BUF_ALLOC);
        fwd = h.fwd_cnt;
    }
    CHECK(fwd >= total - VSOCK_BUF_ALLOC / 4 && fwd <= total);
    tx(VSOCK_OP_CREDIT_REQUEST, 5002, local, NULL, 0, 0);
    drive();
    CHECK(rx_take(&h, NULL, NULL));
    CHECK_EQ(h.op, VSOCK_OP_CREDIT_UPDATE);
    CHECK_EQ(h.fwd_cnt, total);
    /* RST from the host side: its socket closes, the guest hears RST. */
    close(fd);
    drive();
    CHECK(rx_take(&h, NULL, NULL));
    CHECK_EQ(h.op, VSOCK_OP_SHUTDOWN); /* EOF first */
    tx(VSOCK_OP_SHUTDOWN, 5002, local, NULL, 0, VSOCK_SHUT_BOTH);
    drive();
    CHECK(rx_take(&h, NULL, NULL));
    CHECK_EQ(h.op, VSOCK_OP_RST);
    CHECK_EQ(vsock_nconns(v), 0);
    teardown();
}

static int listen_port(uint32_t port)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s_%u", path, port);
    unlink(a.sun_path);
    CHECK_EQ(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    CHECK_EQ(listen(fd, 8), 0);
    return fd;
}

static void test_guest_connect(void)
{
    setup();
    int l = listen_port(6000);
    tx(VSOCK_OP_REQUEST, 1234, 6000, NULL, 0, 0);
    drive();
    struct vsock_hdr h;
    CHECK(rx_take(&h, NULL, NULL));
    CHECK_EQ(h.op, VSOCK_OP_RESPONSE);
    CHECK_EQ(h.src_port, 6000);
    CHECK_EQ(h.dst_port, 1234);
    int fd = accept(l, NULL, NULL);
    CHECK(fd >= 0);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    tx(VSOCK_OP_RW, 1234, 6000, "ping", 4, 0);
    char buf[16];
    CHECK_EQ(host_read(fd, buf, 4), 4);
    CHECK(memcmp(buf, "ping", 4) == 0);
    CHECK_EQ(write(fd, "pong", 4), 4);
    drive();
    uint32_t len;
    CHECK(rx_take(&h, buf, &len));
    CHECK(h.op == VSOCK_OP_RW && len == 4 && memcmp(buf, "pong", 4) == 0);
    /* Guest half-close: the host reads EOF but can still answer. */
    tx(VSOCK_OP_SHUTDOWN, 1234, 6000, NULL, 0, VSOCK_SHUT_SEND);
    CHECK_EQ(host_read(fd, buf, 1), -1);
    CHECK_EQ(write(fd, "late", 4), 4);
    drive();
    CHECK(rx_take(&h, buf, &len));
    CHECK(h.op == VSOCK_OP_RW && len == 4 && memcmp(buf, "late", 4) == 0);
    /* Guest closes completely: the device answers RST. */
    tx(VSOCK_OP_SHUTDOWN, 1234, 6000, NULL, 0, VSOCK_SHUT_BOTH);
    drive();
    CHECK(rx_take(&h, NULL, NULL));
    CHECK_EQ(h.op, VSOCK_OP_RST);
    CHECK_EQ(vsock_nconns(v), 0);
    close(fd);

    /* RST from the guest closes the host socket. */
    tx(VSOCK_OP_REQUEST, 1235, 6000, NULL, 0, 0);
    drive();
    CHECK(rx_take(&h, NULL, NULL));
    CHECK_EQ(h.op, VSOCK_OP_RESPONSE);
    fd = accept(l, NULL, NULL);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    tx(VSOCK_OP_RST, 1235, 6000, NULL, 0, 0);
    CHECK_EQ(host_read(fd, buf, 1), -1);
    CHECK_EQ(vsock_nconns(v), 0);
    close(fd);

    /* Nobody listens on port 6001: RST, no connection. */
    tx(VSOCK_OP_REQUEST, 1236, 6001, NULL, 0, 0);
    drive();
    CHECK(rx_take(&h, NULL, NULL));
    CHECK_EQ(h.op, VSOCK_OP_RST);
    CHECK_EQ(h.dst_port, 1236);
    CHECK_EQ(vsock_nconns(v), 0);
    close(l);
    teardown();
}

static void expect_rst(const struct vsock_hdr *bad, uint32_t desc_len, const char *what)
{
    uint64_t before = vd->stats.malformed;
    tx_raw(bad, NULL, 0, desc_len);
    drive();
    struct vsock_hdr h;
    bool got = rx_take(&h, NULL, NULL);
    if (!got || h.op != VSOCK_OP_RST)
        fprintf(stderr, "  no RST for %s\n", what);
    CHECK(got && h.op == VSOCK_OP_RST);
    CHECK_EQ(h.dst_cid, GCID);
    CHECK_EQ(h.src_port, bad->dst_port);
    CHECK_EQ(h.dst_port, bad->src_port);
    CHECK_EQ(vd->stats.malformed, before + 1);
    CHECK(!vd->broken);
}

static void test_malformed(void)
{
    setup();
    struct vsock_hdr h = ghdr(VSOCK_OP_RW, 1, 2, 100);
    expect_rst(&h, VSOCK_HDR_LEN + 10, "len beyond the buffer");
    h = ghdr(VSOCK_OP_RW, 1, 2, 1u << 20);
    expect_rst(&h, VSOCK_HDR_LEN + (1u << 16), "len beyond the packet limit");
    h = ghdr(VSOCK_OP_REQUEST, 1, 2, 0);
    h.src_cid = 7;
    expect_rst(&h, VSOCK_HDR_LEN, "wrong source cid");
    h = ghdr(VSOCK_OP_REQUEST, 1, 2, 0);
    h.dst_cid = 5;
    expect_rst(&h, VSOCK_HDR_LEN, "wrong destination cid");
    h = ghdr(99, 1, 2, 0);
    expect_rst(&h, VSOCK_HDR_LEN, "unknown op");
    h = ghdr(VSOCK_OP_REQUEST, 1, 2, 0);
    h.type = 2; /* SEQPACKET: not offered */
    expect_rst(&h, VSOCK_HDR_LEN, "seqpacket");
    h = ghdr(VSOCK_OP_SHUTDOWN, 1, 2, 8);
    expect_rst(&h, VSOCK_HDR_LEN + 8, "payload on a control packet");
    /* Data for no connection: RST too, but not counted as malformed (it can race with a reset). */
    h = ghdr(VSOCK_OP_RW, 1, 2, 0);
    tx_raw(&h, NULL, 0, VSOCK_HDR_LEN);
    drive();
    struct vsock_hdr r;
    CHECK(rx_take(&r, NULL, NULL) && r.op == VSOCK_OP_RST && r.dst_port == 1);

    /* Too short to hold a header: counted, dropped, no reply. */
    uint64_t before = vd->stats.malformed;
    h = ghdr(VSOCK_OP_REQUEST, 1, 2, 0);
    tx_raw(&h, NULL, 0, 20);
    drive();
    CHECK(!rx_take(&r, NULL, NULL));
    CHECK_EQ(vd->stats.malformed, before + 1);
    /* An RST for nothing gets no answer (no RST storms). */
    tx(VSOCK_OP_RST, 1, 2, NULL, 0, 0);
    drive();
    CHECK(!rx_take(&r, NULL, NULL));

    /* A bad packet on a live connection resets it. */
    uint32_t local;
    int fd = open_host_conn(5000, &local);
    h = ghdr(VSOCK_OP_RW, 5000, local, 5000);
    expect_rst(&h, VSOCK_HDR_LEN + 100, "bad len on a live connection");
    char c;
    CHECK_EQ(host_read(fd, &c, 1), -1);
    CHECK_EQ(vsock_nconns(v), 0);
    close(fd);

    /* A host client that sends garbage instead of CONNECT is dropped. */
    fd = client();
    CHECK_EQ(write(fd, "HELLO\n", 6), 6);
    CHECK_EQ(host_read(fd, &c, 1), -1);
    close(fd);
    /* A ring the device cannot parse breaks the device, not the VMM. */
    struct virtq_desc *d = gp(TX_DESC, 16 * QSIZE);
    d[0] = (struct virtq_desc){.addr = TXBUF, .len = 64, .flags = VIRTQ_DESC_F_NEXT, .next = 0};
    offer(TX_AVAIL, 0);
    notify(VSOCK_Q_TX);
    CHECK(vd->broken);
    teardown();
}

static void test_many_and_timeout(void)
{
    setup();
    enum { N = 24 };
    int fds[N];
    uint32_t local[N];
    for (int i = 0; i < N; i++)
        fds[i] = open_host_conn(7000 + (uint32_t)i, &local[i]);
    CHECK_EQ(vsock_nconns(v), N);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < i; j++)
            CHECK(local[i] != local[j]);
    for (int i = 0; i < N; i++) {
        char msg[16];
        int n = snprintf(msg, sizeof(msg), "conn %d", i);
        CHECK_EQ(write(fds[i], msg, (size_t)n), n);
    }
    drive();
    struct vsock_hdr h;
    char buf[64];
    uint32_t len;
    int seen = 0;
    while (rx_take(&h, buf, &len)) {
        CHECK_EQ(h.op, VSOCK_OP_RW);
        int i = (int)(h.dst_port - 7000);
        CHECK(i >= 0 && i < N && h.src_port == local[i]);
        char want[16];
        int n = snprintf(want, sizeof(want), "conn %d", i);
        CHECK(len == (uint32_t)n && memcmp(buf, want, len) == 0);
        seen++;
    }
    CHECK_EQ(seen, N);
    for (int i = 0; i < N; i++)
        close(fds[i]);

    /* A guest that never answers our REQUEST: RST after the timeout, the host client sees EOF. */
    int fd = client();
    CHECK_EQ(write(fd, "CONNECT 9\n", 10), 10);
    drive();
    while (rx_take(&h, NULL, NULL))
        ;
    struct timespec ts = {2, 400000000};
    nanosleep(&ts, NULL);
    drive();
    bool rst = false;
    while (rx_take(&h, NULL, NULL))
        rst |= h.op == VSOCK_OP_RST && h.dst_port == 9;
    CHECK(rst);
    char c;
    CHECK_EQ(host_read(fd, &c, 1), -1);
    close(fd);
    teardown();
}

int main(void)
{
    if (gmem_init(&m, MEM, MEM) < 0 || !mkdtemp(dir))
        return 2;
    snprintf(path, sizeof(path), "%s/v.sock", dir);
    RUN(test_host_to_guest);
    RUN(test_guest_to_host_credit);
    RUN(test_guest_connect);
    RUN(test_malformed);
    RUN(test_many_and_timeout);
    unlink(path);
    char p6000[160];
    snprintf(p6000, sizeof(p6000), "%s_6000", path);
    unlink(p6000);
    rmdir(dir);
    gmem_free(&m);
    return CHECK_DONE();
}
