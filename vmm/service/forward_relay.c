/* Localhost forwarding's connections: each TCP connection the host accepts, and each UDP peer of a forward,
 * gets a vsock stream to the guest forwarder (OPEN, then OPENED), and the bytes or datagrams move through
 * proto/fwd_pump.h's bounded buffers on the I/O loop. Sockets are registered edge-triggered once, so
 * readiness is tracked here and no epoll interest is ever changed. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../core/evloop.h"
#include "frame.h"
#include "forward_int.h"
#include "io.h"
#include "log.h"

/* The OK line and OPENED, and whatever the guest's server sent right behind them. */
#define HANDSHAKE_BUF (LSL_FWD_LINE_MAX + LSL_FRAME_HDR_SIZE + 4 + 4096)

struct relay;
struct relay_side {
    struct relay *r;
    int which; /* 0: the host's connection (TCP), 1: the vsock stream */
};

struct relay {
    struct fwd *f;
    struct fwd_entry *udp; /* UDP: the forward whose socket reaches the peer; NULL for TCP */
    int fd[2];
    struct relay_side side[2];
    bool opened;
    uint8_t *hs;
    size_t hslen;
    bool readable[2], writable[2];
    struct lsl_pump pump;       /* TCP, once opened */
    struct lsl_dgram_stream ds; /* UDP */
    struct sockaddr_storage peer;
    socklen_t peerlen;
    struct fwd_sock_entry *sock; /* a forwarded socket's connection, NULL for a port's */
    uint64_t retry_at;           /* waiting for the guest's socket (FWD_UNIX_WAIT_NS): when to ask again */
    uint64_t started, last;
    struct relay *next, *flow_next;
};

static void relay_close(struct relay *r)
{
    struct fwd *f = r->f;
    for (int i = 0; i < 2; i++)
        if (r->fd[i] >= 0) {
            evloop_del(f->loop, r->fd[i]);
            close(r->fd[i]);
        }
    for (struct relay **p = &f->relays; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            break;
        }
    f->nrelays--;
    if (r->udp) {
        for (struct relay **p = &r->udp->flows; *p; p = &(*p)->flow_next)
            if (*p == r) {
                *p = r->flow_next;
                break;
            }
        r->udp->nflows--;
        lsl_dgram_stream_free(&r->ds);
    } else if (r->opened) {
        lsl_pump_free(&r->pump);
    }
    free(r->hs);
    free(r);
}

static void udp_deliver(void *opaque, const uint8_t *data, size_t len)
{
    struct relay *r = opaque;
    /* A peer that does not read loses datagrams, as with any UDP server. */
    (void)sendto(r->udp->lfd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&r->peer,
                 r->peerlen);
}

/* Moves what can move; false when the relay is over (closed). */
static bool relay_run(struct relay *r)
{
    if (r->udp) {
        int rd = lsl_dgram_stream_read(&r->ds, r->fd[1], udp_deliver, r);
        int wr = rd > 0 ? lsl_dgram_stream_flush(&r->ds, r->fd[1]) : 0;
        if (rd <= 0 || (wr < 0 && wr != -EAGAIN)) {
            if (rd == -EPROTO)
                log_warn("forwarding: malformed datagram frame from the guest; flow closed");
            relay_close(r);
            return false;
        }
        return true;
    }
    for (int i = 0; i < 2; i++) {
        r->pump.readable[i] |= r->readable[i];
        r->pump.writable[i] |= r->writable[i];
        r->readable[i] = r->writable[i] = false;
    }
    if (lsl_pump_run(&r->pump) <= 0) {
        relay_close(r);
        return false;
    }
    return true;
}

/* Whether a refused forwarded socket's connection waits for the guest's socket: nothing listens there yet
 * (no running distribution has it, or its listener is not up) early in the guest's life. */
static bool relay_waits(const struct relay *r, uint32_t err)
{
    const struct fwd *f = r->f;
    return r->sock && (err == ENOENT || err == ECONNREFUSED || err == ESRCH) && f->up_since &&
           now_ns() - f->up_since < FWD_UNIX_WAIT_NS;
}

/* A waiting connection's stream is given up; fwd_relays_tick asks again on a fresh one, and the host's side
 * waits as it is. */
static void relay_put_off(struct relay *r, uint32_t err)
{
    log_debug("forwarding %s: no listener in the guest yet (%s); asking again", r->sock->sock.host,
              strerror((int)err));
    evloop_del(r->f->loop, r->fd[1]);
    close(r->fd[1]);
    r->fd[1] = -1;
    r->hslen = 0;
    r->retry_at = now_ns() + FWD_UNIX_RETRY_NS;
}

/* The guest's OK line and OPENED; then the relay starts with what came behind them. */
static void relay_handshake(struct relay *r)
{
    if (r->fd[1] < 0)
        return; /* an event for the stream given up just before: the retry opens another */
    for (;;) {
        uint32_t err;
        long n = lsl_fwd_handshake_parse(r->hs, r->hslen, true, &err);
        if (n > 0 && r->sock)
            r->sock->guest_err = err <= 4095 ? (int)err : -1; /* what --status says of it */
        if (n > 0 && err && relay_waits(r, err)) {
            relay_put_off(r, err);
            return;
        }
        if (n < 0 || (n > 0 && err)) {
            if (n < 0)
                log_warn("forwarding: the guest answered a connection with garbage; closed it");
            relay_close(r);
            return;
        }
        if (n > 0) {
            size_t rest = r->hslen - (size_t)n;
            r->opened = true;
            if (r->udp) {
                if (lsl_dgram_stream_feed(&r->ds, r->hs + n, rest, udp_deliver, r) < 0) {
                    relay_close(r);
                    return;
                }
            } else {
                if (lsl_pump_init(&r->pump, r->fd[0], r->fd[1]) < 0) {
                    relay_close(r);
                    return;
                }
                (void)lsl_pump_preload(&r->pump, 1, r->hs + n, rest); /* fits: a buffer is larger */
                r->readable[0] = r->writable[0] = true;
            }
            free(r->hs);
            r->hs = NULL;
            r->readable[1] = true; /* more may wait behind what was read */
            relay_run(r);
            return;
        }
        ssize_t got = recv(r->fd[1], r->hs + r->hslen, HANDSHAKE_BUF - r->hslen, MSG_DONTWAIT);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (got <= 0 && r->hslen == 0 && relay_waits(r, ECONNREFUSED)) {
            /* Refused before the OK line: the guest's forwarder does not listen yet (the boot marker, which
             * makes the guest "up" here, comes before lsl-init starts it; a woken client is accepted at
             * once). */
            relay_put_off(r, ECONNREFUSED);
            return;
        }
        if (got <= 0) {
            relay_close(r); /* nobody listens there any more, or the guest went away */
            return;
        }
        r->hslen += (size_t)got;
    }
}

static void relay_ready(void *opaque, uint32_t events)
{
    struct relay_side *s = opaque;
    struct relay *r = s->r;
    r->readable[s->which] |= (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
    r->writable[s->which] |= (events & (EPOLLOUT | EPOLLERR)) != 0;
    if (!r->opened) {
        if (s->which == 1)
            relay_handshake(r);
        return;
    }
    relay_run(r);
}

/* A relay for one connection or peer: the stream to the guest, its first frame (OPEN or OPEN_UNIX) sent.
 * host_fd is taken (closed on failure). */
static struct relay *relay_new(struct fwd *f, uint32_t type, const void *payload, size_t len, int host_fd)
{
    struct relay *r = f->nrelays < FWD_RELAYS_MAX ? calloc(1, sizeof(*r)) : NULL;
    if (!r || !(r->hs = malloc(HANDSHAKE_BUF))) {
        free(r);
        if (host_fd >= 0)
            close(host_fd);
        return NULL;
    }
    r->f = f;
    r->fd[0] = host_fd;
    r->fd[1] = fwd_stream_open(f, type, payload, len);
    r->started = r->last = now_ns();
    for (int i = 0; i < 2; i++)
        r->side[i] = (struct relay_side){.r = r, .which = i};
    r->next = f->relays;
    f->relays = r;
    f->nrelays++;
    const uint32_t et = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    /* relay_close takes an fd that never made it into the loop as well. */
    if (r->fd[1] < 0 || (host_fd >= 0 && evloop_add(f->loop, host_fd, et, relay_ready, &r->side[0]) < 0) ||
        evloop_add(f->loop, r->fd[1], et, relay_ready, &r->side[1]) < 0) {
        relay_close(r);
        return NULL;
    }
    return r;
}

/* At most this many connections per turn of the loop: each one's stream waits in the backlog of the VMM's
 * own vsock listener (128), which this same thread drains only between turns; a burst taken whole would
 * overflow it. The host listener is level-triggered, so the rest are taken on the next turns. */
#define ACCEPT_BATCH 32

/* The OPEN frame's payload for forward e's port. */
static void port_open_payload(const struct fwd_entry *e, uint8_t payload[4])
{
    struct lsl_fwd_open o = {.proto = e->port.proto, .family = e->port.family, .port = e->port.port};
    lsl_fwd_open_encode(&o, payload);
}

/* Takes lfd's connections (a batch), each a relay opened with that first frame; what names the forward in
 * the log. */
static void accept_relays(struct fwd *f, int lfd, uint32_t type, const void *payload, size_t len,
                          const char *what, struct fwd_sock_entry *sock)
{
    for (int taken = 0; taken < ACCEPT_BATCH; taken++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_warn("forwarding %s: accept: %s", what, strerror(errno));
            return;
        }
        struct relay *r = relay_new(f, type, payload, len, fd);
        if (!r)
            log_debug("forwarding %s: no relay for a connection (limit or memory)", what);
        else
            r->sock = sock;
    }
}

void fwd_tcp_accept(struct fwd_entry *e)
{
    uint8_t payload[4];
    char what[32];
    port_open_payload(e, payload);
    snprintf(what, sizeof(what), "tcp port %u", e->port.port);
    accept_relays(e->f, e->lfd, LSL_FWD_OPEN, payload, sizeof(payload), what, NULL);
}

void fwd_unix_accept(struct fwd_sock_entry *e)
{
    uint8_t payload[LSL_FWD_UNIX_OPEN_MAX];
    size_t len = lsl_fwd_unix_encode(&e->sock.guest, payload, sizeof(payload)); /* checked when parsed */
    if (len)
        accept_relays(e->f, e->lfd, LSL_FWD_OPEN_UNIX, payload, len, e->sock.host, e);
}

void fwd_udp_readable(struct fwd_entry *e)
{
    static uint8_t dgram[LSL_FWD_DGRAM_MAX];
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        ssize_t n = recvfrom(e->lfd, dgram, sizeof(dgram), MSG_DONTWAIT, (struct sockaddr *)&peer, &plen);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return;
        struct relay *r = e->flows;
        while (r && (r->peerlen != plen || memcmp(&r->peer, &peer, plen) != 0))
            r = r->flow_next;
        if (r && !r->opened && now_ns() - r->started > FWD_UDP_OPEN_NS) {
            log_debug("forwarding udp port %u: the guest did not open a peer's flow; opening another",
                      e->port.port);
            relay_close(r);
            r = NULL;
        }
        if (!r) {
            uint8_t payload[4];
            port_open_payload(e, payload);
            if (e->nflows >= FWD_FLOWS_MAX || !(r = relay_new(e->f, LSL_FWD_OPEN, payload, 4, -1)))
                continue; /* dropped, as a full network would */
            if (lsl_dgram_stream_init(&r->ds) < 0) {
                relay_close(r);
                continue;
            }
            r->udp = e;
            r->peer = peer;
            r->peerlen = plen;
            r->flow_next = e->flows;
            e->flows = r;
            e->nflows++;
        }
        r->last = now_ns();
        (void)lsl_dgram_stream_put(&r->ds, dgram, (size_t)n);
        if (r->opened)
            (void)lsl_dgram_stream_flush(&r->ds, r->fd[1]); /* a failure shows at the stream's next event */
    }
}

void fwd_udp_close_all(struct fwd_entry *e)
{
    while (e->flows)
        relay_close(e->flows);
}

/* A waiting connection's next OPEN_UNIX (relay_handshake put it off); false when the relay is gone. */
static bool relay_retry(struct relay *r, uint64_t now)
{
    uint8_t payload[LSL_FWD_UNIX_OPEN_MAX];
    size_t len = lsl_fwd_unix_encode(&r->sock->sock.guest, payload, sizeof(payload));
    r->retry_at = 0;
    r->started = now; /* the handshake's own bound starts again */
    r->fd[1] = len ? fwd_stream_open(r->f, LSL_FWD_OPEN_UNIX, payload, len) : -1;
    if (r->fd[1] < 0 || evloop_add(r->f->loop, r->fd[1], EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                   relay_ready, &r->side[1]) < 0) {
        relay_close(r);
        return false;
    }
    return true;
}

unsigned fwd_unix_relays(const struct fwd *f)
{
    unsigned n = 0;
    for (const struct relay *r = f->relays; r; r = r->next)
        n += r->sock != NULL;
    return n;
}

void fwd_relays_tick(struct fwd *f)
{
    uint64_t now = now_ns();
    for (struct relay *r = f->relays, *next; r; r = next) {
        next = r->next;
        if (r->retry_at) {
            if (now >= r->retry_at)
                (void)relay_retry(r, now);
            continue;
        }
        if ((!r->opened && now - r->started > (r->udp ? FWD_UDP_OPEN_NS : FWD_HANDSHAKE_NS)) ||
            (r->udp && now - r->last > FWD_UDP_IDLE_NS))
            relay_close(r);
    }
}

void fwd_relays_free(struct fwd *f)
{
    while (f->relays)
        relay_close(f->relays);
}
