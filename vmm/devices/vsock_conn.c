/* virtio-vsock connections: the table keyed by (host port, guest port), the per-connection state machine
 * driven by guest packets and host socket readiness, credit accounting, and the packets we owe the guest. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "macro.h"
#include "size.h"
#include "vsock_int.h"

static unsigned bucket(uint32_t local, uint32_t peer)
{
    return ((local * 2654435761u) ^ peer) % VSOCK_BUCKETS;
}

static struct vsock_conn *lookup(struct vsock *v, uint32_t local, uint32_t peer)
{
    for (struct vsock_conn *c = v->buckets[bucket(local, peer)]; c; c = c->hnext)
        if (c->local_port == local && c->peer_port == peer)
            return c;
    return NULL;
}

static void hash_add(struct vsock *v, struct vsock_conn *c)
{
    unsigned b = bucket(c->local_port, c->peer_port);
    c->hnext = v->buckets[b];
    v->buckets[b] = c;
}

static void hash_del(struct vsock *v, struct vsock_conn *c)
{
    for (struct vsock_conn **p = &v->buckets[bucket(c->local_port, c->peer_port)]; *p; p = &(*p)->hnext) {
        if (*p == c) {
            *p = c->hnext;
            return;
        }
    }
}

static uint32_t credit(const struct vsock_conn *c)
{
    uint32_t inflight = c->tx_cnt - c->peer_fwd_cnt;
    return inflight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - inflight;
}

static bool may_read_host(const struct vsock_conn *c)
{
    return c->state == CONN_ESTABLISHED && !c->host_eof && !(c->peer_shut & VSOCK_SHUT_RCV);
}

bool conn_has_rx_work(const struct vsock_conn *c)
{
    return !c->dead && (c->pending || (c->readable && may_read_host(c) && credit(c) > 0));
}

void vsock_rxq_add(struct vsock *v, struct vsock_conn *c)
{
    if (c->in_rxq || !conn_has_rx_work(c))
        return;
    c->in_rxq = true;
    c->rxnext = NULL;
    c->rxprev = v->rxq_tail;
    if (v->rxq_tail)
        v->rxq_tail->rxnext = c;
    else
        v->rxq_head = c;
    v->rxq_tail = c;
}

void vsock_rxq_del(struct vsock *v, struct vsock_conn *c)
{
    if (!c->in_rxq)
        return;
    if (c->rxprev)
        c->rxprev->rxnext = c->rxnext;
    else
        v->rxq_head = c->rxnext;
    if (c->rxnext)
        c->rxnext->rxprev = c->rxprev;
    else
        v->rxq_tail = c->rxprev;
    c->in_rxq = false;
    c->rxprev = c->rxnext = NULL;
}

static void pend(struct vsock_conn *c, uint32_t what)
{
    c->pending |= what;
    vsock_rxq_add(c->v, c);
}

/* The timer runs only while some connection has a deadline. */
static void set_deadline(struct vsock_conn *c, uint64_t ns)
{
    struct vsock *v = c->v;
    c->deadline = now_ns() + ns;
    if (v->timer_armed)
        return;
    struct itimerspec its = {.it_interval = {0, (long)VSOCK_TICK_NS}, .it_value = {0, (long)VSOCK_TICK_NS}};
    if (timerfd_settime(v->timer_fd, 0, &its, NULL) == 0)
        v->timer_armed = true;
}

/* Keeps the epoll interest in step with what the connection can use: reading only while the guest has
 * credit and the data is not already known to be waiting, writing only while guest data is buffered.
 * Interest 0 deregisters: a hung-up socket would otherwise report EPOLLHUP forever. */
static void update_events(struct vsock_conn *c)
{
    if (c->dead)
        return;
    uint32_t ev = 0;
    if (c->state == CONN_HANDSHAKE)
        ev = EPOLLIN;
    else if (c->state >= CONN_ESTABLISHED) {
        if (may_read_host(c) && !c->readable && credit(c) > 0)
            ev |= EPOLLIN;
        if (c->buf_len)
            ev |= EPOLLOUT;
    }
    if (ev == c->events)
        return;
    struct epoll_event e = {.events = ev, .data.ptr = c};
    int r;
    if (!ev)
        r = epoll_ctl(c->v->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    else
        r = epoll_ctl(c->v->epfd, c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &e);
    if (r < 0)
        log_errno(errno, "vsock: epoll_ctl");
    c->events = ev;
}

static struct vsock_conn *conn_new(struct vsock *v, int fd, enum conn_state state)
{
    struct vsock_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->v = v;
    c->fd = fd;
    c->state = state;
    c->next = v->all;
    if (v->all)
        v->all->prev = c;
    v->all = c;
    v->nconns++;
    v->conns_total++;
    return c;
}

static void free_buf(struct vsock_conn *c)
{
    if (!c->buf)
        return;
    free(c->buf);
    c->buf = NULL;
    c->v->buffered -= VSOCK_BUF_ALLOC;
}

/* Closes the host end and unlinks c; the memory goes at the end of the callback (vsock_reap). */
static void conn_free(struct vsock_conn *c)
{
    struct vsock *v = c->v;
    if (c->dead)
        return;
    if (c->state != CONN_HANDSHAKE)
        hash_del(v, c);
    vsock_rxq_del(v, c);
    if (c->prev)
        c->prev->next = c->next;
    else
        v->all = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->events)
        epoll_ctl(v->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free_buf(c);
    c->dead = true;
    c->pending = 0;
    v->nconns--;
    c->next = v->zombies;
    v->zombies = c;
}

void vsock_reap(struct vsock *v)
{
    while (v->zombies) {
        struct vsock_conn *c = v->zombies;
        v->zombies = c->next;
        free(c);
    }
}

static void rst_queue(struct vsock *v, uint32_t local, uint32_t peer)
{
    if (v->rst_len == VSOCK_RST_RING)
        return; /* the guest flooded us with bad packets: it will time out instead */
    v->rst[(v->rst_head + v->rst_len) % VSOCK_RST_RING] = (struct vsock_rst){local, peer};
    v->rst_len++;
}

/* Forcible close: the guest hears RST (unless it sent one), the host end is closed. */
static void conn_reset(struct vsock_conn *c, bool tell_guest)
{
    if (c->dead)
        return;
    if (tell_guest && c->state != CONN_HANDSHAKE)
        rst_queue(c->v, c->local_port, c->peer_port);
    c->v->resets++;
    conn_free(c);
}

static void hdr_init(const struct vsock *v, struct vsock_hdr *h, uint32_t local, uint32_t peer, uint16_t op)
{
    *h = (struct vsock_hdr){.src_cid = VSOCK_HOST_CID,
                            .dst_cid = v->cid,
                            .src_port = local,
                            .dst_port = peer,
                            .type = VSOCK_TYPE_STREAM,
                            .op = op,
                            .buf_alloc = VSOCK_BUF_ALLOC};
}

uint32_t vsock_rst_packet(struct vsock *v, const struct iovec *in, unsigned n)
{
    struct vsock_rst r = v->rst[v->rst_head];
    v->rst_head = (v->rst_head + 1) % VSOCK_RST_RING;
    v->rst_len--;
    struct vsock_hdr h;
    hdr_init(v, &h, r.local_port, r.peer_port, VSOCK_OP_RST);
    iov_from_buf(in, n, 0, &h, sizeof(h));
    return VSOCK_HDR_LEN;
}

/* Reaps a connection whose directions are both finished (spec 5.10.6.6: SHUTDOWN, then the peer's RST). */
static void check_done(struct vsock_conn *c)
{
    if (c->dead || c->state < CONN_ESTABLISHED)
        return;
    if (c->peer_shut == VSOCK_SHUT_BOTH) {
        if (!c->buf_len) {
            conn_reset(c, true); /* the guest closed: our RST completes its close */
            return;
        }
        if (!c->deadline)
            set_deadline(c, VSOCK_TIMEOUT_NS); /* the rest must reach the host socket in time */
        return;
    }
    bool to_host_done = (c->peer_shut & VSOCK_SHUT_SEND) && !c->buf_len;
    bool to_guest_done = c->host_eof || (c->peer_shut & VSOCK_SHUT_RCV);
    if (c->state == CONN_ESTABLISHED && to_host_done && to_guest_done) {
        c->state = CONN_CLOSING;
        pend(c, PEND_SHUT_ALL);
        set_deadline(c, VSOCK_TIMEOUT_NS);
    }
}

/* MSG_NOSIGNAL: a host end that went away is an EPIPE for this connection, never a SIGPIPE for the VMM. */
static ssize_t send_iov(int fd, struct iovec *iov, unsigned n)
{
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = n};
    return sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void fwd_advanced(struct vsock_conn *c, uint32_t n)
{
    c->fwd_cnt += n;
    c->v->vdev.stats.bytes_out += n;
    /* A quarter of the window freed is worth a packet; less, and the guest still has 3/4 of its credit. */
    if (c->fwd_cnt - c->fwd_cnt_sent >= VSOCK_BUF_ALLOC / 4)
        pend(c, PEND_CREDIT);
}

/* Writes buffered guest data to the host socket. */
static void flush_buf(struct vsock_conn *c)
{
    while (c->buf_len) {
        uint32_t first = MIN(c->buf_len, VSOCK_BUF_ALLOC - c->buf_head);
        struct iovec iov[2] = {{c->buf + c->buf_head, first}, {c->buf, c->buf_len - first}};
        ssize_t w = send_iov(c->fd, iov, iov[1].iov_len ? 2 : 1);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            c->v->vdev.stats.errors++;
            conn_reset(c, true);
            return;
        }
        c->buf_head = (uint32_t)((c->buf_head + (uint32_t)w) % VSOCK_BUF_ALLOC);
        c->buf_len -= (uint32_t)w;
        fwd_advanced(c, (uint32_t)w);
    }
    if (!c->buf_len) {
        c->buf_head = 0;
        free_buf(c);
        if (c->peer_shut & VSOCK_SHUT_SEND)
            shutdown(c->fd, SHUT_WR);
        check_done(c);
    }
    update_events(c);
}

/* RW payload from the guest: straight to the host socket, the rest into the ring. The guest may send at
 * most the credit we advertised; more is a protocol violation and resets the connection. */
static void guest_data(struct vsock_conn *c, const struct iovec *iov, unsigned n, uint32_t len)
{
    struct vsock *v = c->v;
    if (c->state != CONN_ESTABLISHED || (c->peer_shut & VSOCK_SHUT_SEND) ||
        (uint64_t)(c->rx_cnt - c->fwd_cnt) + len > VSOCK_BUF_ALLOC) {
        v->vdev.stats.malformed++;
        conn_reset(c, true);
        return;
    }
    if (!len)
        return;
    struct iovec seg[VSOCK_MAX_DATA_SEGS];
    int k = iov_slice(iov, n, VSOCK_HDR_LEN, len, seg, VSOCK_MAX_DATA_SEGS);
    if (k < 0) {
        v->vdev.stats.malformed++;
        conn_reset(c, true);
        return;
    }
    c->rx_cnt += len;
    uint32_t done = 0;
    if (!c->buf_len) {
        ssize_t w = send_iov(c->fd, seg, (unsigned)k);
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            v->vdev.stats.errors++;
            conn_reset(c, true);
            return;
        }
        if (w > 0) {
            done = (uint32_t)w;
            fwd_advanced(c, done);
        }
    }
    if (done < len) {
        if (!c->buf) {
            if (v->buffered + VSOCK_BUF_ALLOC > VSOCK_MAX_BUFFERED || !(c->buf = malloc(VSOCK_BUF_ALLOC))) {
                v->vdev.stats.errors++;
                conn_reset(c, true);
                return;
            }
            v->buffered += VSOCK_BUF_ALLOC;
        }
        /* Fits: buf_len + (len - done) == rx_cnt - fwd_cnt <= VSOCK_BUF_ALLOC, checked above. */
        uint32_t tail = (c->buf_head + c->buf_len) % VSOCK_BUF_ALLOC, rest = len - done;
        uint32_t first = MIN(rest, VSOCK_BUF_ALLOC - tail);
        iov_to_buf(seg, (unsigned)k, done, c->buf + tail, first);
        iov_to_buf(seg, (unsigned)k, done + first, c->buf, rest - first);
        c->buf_len += rest;
    }
    update_events(c);
}

static void guest_shutdown(struct vsock_conn *c, uint32_t flags)
{
    flags &= VSOCK_SHUT_BOTH;
    uint32_t added = flags & ~c->peer_shut;
    c->peer_shut |= flags;
    if (added & VSOCK_SHUT_RCV) {
        /* The guest reads no more: the host's writes now fail (EPIPE) instead of piling up. */
        shutdown(c->fd, SHUT_RD);
        c->readable = false;
    }
    if ((added & VSOCK_SHUT_SEND) && !c->buf_len)
        shutdown(c->fd, SHUT_WR);
    update_events(c);
    check_done(c);
}

static void host_established(struct vsock_conn *c)
{
    char ok[32];
    int n = snprintf(ok, sizeof(ok), "OK %u\n", c->local_port);
    /* A fresh socket's buffer is empty, so this short write cannot block or split. */
    if (send(c->fd, ok, (size_t)n, MSG_NOSIGNAL) != n) {
        conn_reset(c, true);
        return;
    }
    c->state = CONN_ESTABLISHED;
    c->deadline = 0;
    update_events(c);
}

static void guest_connect(struct vsock *v, const struct vsock_hdr *h)
{
    if (v->nconns >= VSOCK_MAX_CONNS) {
        rst_queue(v, h->dst_port, h->src_port);
        return;
    }
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s_%u", v->path, h->dst_port); /* length checked at create */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    /* Non-blocking unix connect completes at once or fails (EAGAIN when the backlog is full). */
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        if (fd >= 0)
            close(fd);
        rst_queue(v, h->dst_port, h->src_port);
        return;
    }
    struct vsock_conn *c = conn_new(v, fd, CONN_ESTABLISHED);
    if (!c) {
        close(fd);
        rst_queue(v, h->dst_port, h->src_port);
        return;
    }
    c->local_port = h->dst_port;
    c->peer_port = h->src_port;
    c->peer_buf_alloc = h->buf_alloc;
    c->peer_fwd_cnt = h->fwd_cnt;
    hash_add(v, c);
    pend(c, PEND_RESPONSE);
    update_events(c);
}

static bool known_op(uint16_t op)
{
    return op >= VSOCK_OP_REQUEST && op <= VSOCK_OP_CREDIT_REQUEST;
}

void vsock_packet(struct vsock *v, const struct vsock_hdr *h, const struct iovec *iov, unsigned n,
                  uint64_t total)
{
    uint32_t len = h->len;
    bool ok = h->src_cid == v->cid && h->dst_cid == VSOCK_HOST_CID && h->type == VSOCK_TYPE_STREAM &&
              known_op(h->op) && len <= total - VSOCK_HDR_LEN && len <= VSOCK_MAX_PKT &&
              (h->op == VSOCK_OP_RW || len == 0);
    struct vsock_conn *c = lookup(v, h->dst_port, h->src_port);
    if (!ok) {
        v->vdev.stats.malformed++;
        if (c)
            conn_reset(c, h->op != VSOCK_OP_RST);
        else if (h->op != VSOCK_OP_RST)
            rst_queue(v, h->dst_port, h->src_port);
        return;
    }
    if (!c) {
        if (h->op == VSOCK_OP_REQUEST)
            guest_connect(v, h);
        else if (h->op != VSOCK_OP_RST)
            rst_queue(v, h->dst_port, h->src_port);
        return;
    }
    /* Every packet carries the guest's current receive window. */
    c->peer_buf_alloc = h->buf_alloc;
    c->peer_fwd_cnt = h->fwd_cnt;
    if (c->state == CONN_REQUEST_SENT && h->op != VSOCK_OP_RESPONSE && h->op != VSOCK_OP_RST) {
        v->vdev.stats.malformed++;
        conn_reset(c, true);
        return;
    }
    switch (h->op) {
    case VSOCK_OP_REQUEST: /* a second REQUEST on a live connection */
        v->vdev.stats.malformed++;
        conn_reset(c, true);
        return;
    case VSOCK_OP_RESPONSE:
        if (c->state != CONN_REQUEST_SENT) {
            v->vdev.stats.malformed++;
            conn_reset(c, true);
            return;
        }
        host_established(c);
        break;
    case VSOCK_OP_RST:
        conn_reset(c, false);
        return;
    case VSOCK_OP_SHUTDOWN:
        guest_shutdown(c, h->flags);
        break;
    case VSOCK_OP_RW:
        guest_data(c, iov, n, len);
        break;
    case VSOCK_OP_CREDIT_REQUEST:
        pend(c, PEND_CREDIT);
        break;
    default: /* CREDIT_UPDATE: the window was taken above */
        break;
    }
    if (c->dead)
        return;
    update_events(c); /* more credit may re-enable reading the host socket */
    vsock_rxq_add(v, c);
}

/* Reads host data into the guest's buffer after the header: at most its credit and one packet. */
static uint32_t rx_data(struct vsock_conn *c, struct vsock_hdr *h, const struct iovec *in, unsigned n,
                        uint32_t cap)
{
    if (!c->readable || !may_read_host(c))
        return 0;
    uint32_t room = MIN(MIN(cap - VSOCK_HDR_LEN, credit(c)), VSOCK_MAX_PKT);
    if (!room)
        return 0;
    struct iovec seg[VSOCK_MAX_DATA_SEGS];
    int k = iov_slice(in, n, VSOCK_HDR_LEN, room, seg, VSOCK_MAX_DATA_SEGS);
    if (k < 0) /* more fragments than we handle: use what the first ones hold */
        k = VSOCK_MAX_DATA_SEGS;
    ssize_t r = readv(c->fd, seg, k);
    if (r < 0) {
        if (errno == EAGAIN || errno == EINTR) {
            c->readable = false;
            update_events(c);
        } else {
            c->v->vdev.stats.errors++;
            conn_reset(c, true);
        }
        return 0;
    }
    if (r == 0) {
        c->host_eof = true;
        c->readable = false;
        h->op = VSOCK_OP_SHUTDOWN;
        h->flags = VSOCK_SHUT_SEND;
        return VSOCK_HDR_LEN;
    }
    h->op = VSOCK_OP_RW;
    h->len = (uint32_t)r;
    c->tx_cnt += (uint32_t)r;
    c->v->vdev.stats.bytes_in += (uint64_t)r;
    return VSOCK_HDR_LEN + (uint32_t)r;
}

uint32_t conn_rx_packet(struct vsock_conn *c, const struct iovec *in, unsigned n, uint32_t cap)
{
    struct vsock_hdr h;
    hdr_init(c->v, &h, c->local_port, c->peer_port, 0);
    uint32_t used = VSOCK_HDR_LEN;
    if (c->pending & PEND_REQUEST) {
        c->pending &= ~PEND_REQUEST;
        h.op = VSOCK_OP_REQUEST;
    } else if (c->pending & PEND_RESPONSE) {
        c->pending &= ~PEND_RESPONSE;
        h.op = VSOCK_OP_RESPONSE;
    } else if ((used = rx_data(c, &h, in, n, cap)) > 0) {
        if (c->host_eof)
            check_done(c);
    } else if (c->dead) {
        return 0;
    } else if (c->pending & PEND_SHUT_ALL) {
        c->pending &= ~PEND_SHUT_ALL;
        h.op = VSOCK_OP_SHUTDOWN;
        h.flags = VSOCK_SHUT_BOTH;
        used = VSOCK_HDR_LEN;
    } else if (c->pending & PEND_CREDIT) {
        h.op = VSOCK_OP_CREDIT_UPDATE;
        used = VSOCK_HDR_LEN;
    } else {
        return 0;
    }
    /* Any packet tells the guest our fwd_cnt, so no separate CREDIT_UPDATE is owed after it. */
    h.fwd_cnt = c->fwd_cnt;
    c->fwd_cnt_sent = c->fwd_cnt;
    c->pending &= ~PEND_CREDIT;
    iov_from_buf(in, n, 0, &h, sizeof(h));
    update_events(c);
    return used;
}

static uint32_t alloc_port(struct vsock *v)
{
    for (;;) {
        /* Wraps before UINT32_MAX, which is VMADDR_PORT_ANY; at most VSOCK_MAX_CONNS ports are taken. */
        if (v->next_port < VSOCK_LOCAL_PORT_BASE || v->next_port == UINT32_MAX)
            v->next_port = VSOCK_LOCAL_PORT_BASE;
        uint32_t p = v->next_port++;
        bool used = false;
        for (struct vsock_conn *c = v->all; c && !used; c = c->next)
            used = c->state != CONN_HANDSHAKE && c->local_port == p;
        if (!used)
            return p;
    }
}

/* Parses "CONNECT <port>\n" one byte at a time, so that nothing after the line is consumed here. */
static void handshake(struct vsock_conn *c)
{
    for (;;) {
        char ch;
        ssize_t r = read(c->fd, &ch, 1);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (r <= 0 || c->line_len == VSOCK_LINE_MAX - 1) {
            conn_free(c);
            return;
        }
        if (ch != '\n') {
            c->line[c->line_len++] = ch;
            continue;
        }
        c->line[c->line_len] = '\0';
        const char *num = c->line + strlen("CONNECT ");
        char *end;
        errno = 0;
        unsigned long port = strtoul(num, &end, 10);
        if (strncmp(c->line, "CONNECT ", 8) != 0 || *num < '0' || *num > '9' || errno || port > UINT32_MAX ||
            (*end && strcmp(end, "\r") != 0)) {
            conn_free(c);
            return;
        }
        c->local_port = alloc_port(c->v);
        c->peer_port = (uint32_t)port;
        c->state = CONN_REQUEST_SENT;
        c->peer_buf_alloc = 0; /* no credit until the guest's RESPONSE tells us its window */
        hash_add(c->v, c);
        set_deadline(c, VSOCK_TIMEOUT_NS);
        pend(c, PEND_REQUEST);
        update_events(c);
        return;
    }
}

void conn_event(struct vsock_conn *c, uint32_t events)
{
    if (c->dead)
        return;
    if (c->state == CONN_HANDSHAKE) {
        handshake(c);
        return;
    }
    if (c->buf_len && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
        flush_buf(c);
    if (c->dead)
        return;
    if ((c->events & EPOLLIN) && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        c->readable = true;
        vsock_rxq_add(c->v, c);
    }
    update_events(c);
}

void vsock_accept(struct vsock *v)
{
    for (int i = 0; i < 16; i++) {
        int fd = accept4(v->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        struct vsock_conn *c = v->nconns < VSOCK_MAX_CONNS ? conn_new(v, fd, CONN_HANDSHAKE) : NULL;
        if (!c) {
            close(fd);
            continue;
        }
        set_deadline(c, VSOCK_HANDSHAKE_NS);
        update_events(c);
    }
}

void vsock_tick(struct vsock *v)
{
    uint64_t now = now_ns();
    bool any = false;
    for (struct vsock_conn *c = v->all, *next; c; c = next) {
        next = c->next;
        if (!c->deadline)
            continue;
        if (now < c->deadline) {
            any = true;
            continue;
        }
        if (c->state == CONN_HANDSHAKE)
            conn_free(c);
        else
            conn_reset(c, true);
    }
    if (!any && v->timer_armed) {
        struct itimerspec off = {0};
        timerfd_settime(v->timer_fd, 0, &off, NULL);
        v->timer_armed = false;
    }
}

void vsock_close_all(struct vsock *v)
{
    while (v->all)
        conn_free(v->all);
    v->rst_head = v->rst_len = 0;
}

unsigned vsock_nconns(const struct vsock *v)
{
    return v->nconns;
}

unsigned vsock_connections_to(const struct vsock *v, uint32_t first, uint32_t count)
{
    unsigned n = 0;
    for (const struct vsock_conn *c = v->all; c; c = c->next)
        n += (c->state == CONN_REQUEST_SENT || c->state == CONN_ESTABLISHED) && !c->dead && !c->host_eof &&
             c->peer_port - first < count && c->local_port >= VSOCK_LOCAL_PORT_BASE;
    return n;
}
