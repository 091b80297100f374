/* Localhost forwarding: the watch stream and the table of forwarded ports (forward.h). */
#include "forward.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../core/evloop.h"
#include "control.h"
#include "frame.h"
#include "forward_int.h"
#include "log.h"
#include "unix_socket.h"

#define FWD_STATUS_MAX 256
#define WATCH_BUF      (LSL_FWD_LINE_MAX + LSL_FRAME_HDR_SIZE + LSL_FWD_PORTS_SIZE_MAX)

/* A stream to the forwarder: the CONNECT line, then (len or type) the first frame. */
static int stream_dial(struct fwd *f, bool frame, uint32_t type, const void *payload, size_t len)
{
    uint8_t msg[HVSOCK_LINE_MAX + LSL_FRAME_HDR_SIZE + LSL_FWD_UNIX_OPEN_MAX];
    int fd = unix_connect(f->vsock_path, true);
    if (fd < 0)
        return fd;
    int n = hvsock_connect_line((char *)msg, LSL_FWD_PORT);
    size_t total =
        (size_t)n + (frame ? lsl_frame_encode(msg + n, sizeof(msg) - (size_t)n, type, payload, len) : 0);
    /* The vsock device reads the line byte by byte and keeps what follows for the guest; a fresh socket's
     * buffer takes both at once. */
    if (send(fd, msg, total, MSG_NOSIGNAL) != (ssize_t)total) {
        close(fd);
        return -EIO;
    }
    return fd;
}

int fwd_vsock_open(struct fwd *f, uint32_t type, const void *payload, size_t len)
{
    return stream_dial(f, true, type, payload, len);
}

static void spares_fill(struct fwd *f)
{
    while (f->watch_ok && f->nspare < FWD_SPARES) {
        int fd = stream_dial(f, false, 0, NULL, 0);
        if (fd < 0)
            return;
        f->spare[f->nspare++] = fd;
    }
}

static void spares_drop(struct fwd *f)
{
    while (f->nspare)
        close(f->spare[--f->nspare]);
}

int fwd_stream_open(struct fwd *f, uint32_t type, const void *payload, size_t len)
{
    uint8_t msg[LSL_FRAME_HDR_SIZE + LSL_FWD_UNIX_OPEN_MAX];
    size_t total = lsl_frame_encode(msg, sizeof(msg), type, payload, len);
    while (f->nspare) {
        int fd = f->spare[--f->nspare];
        /* Its buffer holds at most the OK line: the short frame (a few hundred bytes) fits. A spare the guest
         * closed fails here or at the handshake, as a fresh stream would have. */
        if (total && send(fd, msg, total, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)total) {
            spares_fill(f);
            return fd;
        }
        close(fd);
    }
    return fwd_vsock_open(f, type, payload, len);
}

static void watch_close(struct fwd *f)
{
    spares_drop(f); /* streams to a forwarder that may be gone */
    if (f->watch_fd < 0)
        return;
    evloop_del(f->loop, f->watch_fd);
    close(f->watch_fd);
    f->watch_fd = -1;
}

static const char *family_addr(uint8_t family)
{
    return family == LSL_FWD_V4 ? "127.0.0.1" : "::1";
}

static void entry_ready(void *opaque, uint32_t events)
{
    struct fwd_entry *e = opaque;
    (void)events;
    if (e->port.proto == LSL_FWD_TCP)
        fwd_tcp_accept(e);
    else
        fwd_udp_readable(e);
}

/* The host socket for e at the guest's port: 127.0.0.1 or ::1 (IPv6 only, so that the IPv4 forward of the
 * same port stays a socket of its own). */
static void entry_bind(struct fwd_entry *e)
{
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(e->port.port)};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(e->port.port)};
    bool v4 = e->port.family == LSL_FWD_V4, tcp = e->port.proto == LSL_FWD_TCP;
    int one = 1, prev = e->err;

    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    in6.sin6_addr = in6addr_loopback;
    e->lfd =
        socket(v4 ? AF_INET : AF_INET6, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    e->err = e->lfd < 0 ? errno : 0;
    /* SO_REUSEADDR for TCP only: a port in TIME_WAIT from an earlier forward is free; for UDP it would let
     * two sockets share a port. */
    if (!e->err && ((tcp && setsockopt(e->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) ||
                    (!v4 && setsockopt(e->lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
                    (v4 ? bind(e->lfd, (struct sockaddr *)&in, sizeof(in))
                        : bind(e->lfd, (struct sockaddr *)&in6, sizeof(in6))) < 0 ||
                    (tcp && listen(e->lfd, 1024) < 0)))
        e->err = errno;
    if (!e->err && evloop_add(e->f->loop, e->lfd, EPOLLIN, entry_ready, e) < 0)
        e->err = ENOMEM;
    if (e->err) {
        if (e->lfd >= 0)
            close(e->lfd);
        e->lfd = -1;
        /* Once per cause, not on every retry. The distribution is not known yet: --status names it. */
        if (e->err != prev)
            log_warn("forwarding %s %s:%u: %s", lsl_fwd_proto_name(e->port.proto),
                     family_addr(e->port.family), e->port.port,
                     e->err == EADDRINUSE ? "the host port is in use" : strerror(e->err));
        return;
    }
    log_info("forwarding %s %s:%u to the guest", lsl_fwd_proto_name(e->port.proto),
             family_addr(e->port.family), e->port.port);
}

static void entry_free(struct fwd_entry *e)
{
    if (e->lfd >= 0) {
        evloop_del(e->f->loop, e->lfd);
        close(e->lfd);
        log_info("forward of %s port %u ended", lsl_fwd_proto_name(e->port.proto), e->port.port);
    }
    fwd_udp_close_all(e);
    free(e);
}

static int cmp_key(const struct lsl_fwd_port *a, const struct lsl_fwd_port *b)
{
    if (a->proto != b->proto)
        return a->proto - b->proto;
    if (a->family != b->family)
        return a->family - b->family;
    return (int)a->port - (int)b->port;
}

/* The guest's new set: forwards it no longer lists end, new ones begin, names follow. The guest sends it
 * sorted and without duplicates; a hostile one's duplicates are skipped. O(n^2) over at most
 * LSL_FWD_PORTS_MAX entries, and only when the set changed. */
static void apply_ports(struct fwd *f, const struct lsl_fwd_port *p, size_t n)
{
    struct fwd_entry **next = calloc(n ? n : 1, sizeof(*next));
    size_t nn = 0;
    if (!next)
        return;
    for (size_t i = 0; i < n; i++) {
        bool dup = false;
        for (size_t j = 0; j < nn && !dup; j++)
            dup = cmp_key(&next[j]->port, &p[i]) == 0;
        if (dup || !lsl_fwd_policy_allows(&f->policy, p[i].port))
            continue;
        struct fwd_entry *e = NULL;
        for (size_t j = 0; j < f->n && !e; j++)
            if (f->entries[j] && cmp_key(&f->entries[j]->port, &p[i]) == 0) {
                e = f->entries[j];
                f->entries[j] = NULL;
                memcpy(e->port.distro, p[i].distro, sizeof(e->port.distro)); /* known only later */
            }
        if (!e) {
            e = calloc(1, sizeof(*e));
            if (!e)
                continue;
            e->f = f;
            e->port = p[i];
            e->lfd = -1;
            entry_bind(e);
        }
        next[nn++] = e;
    }
    for (size_t j = 0; j < f->n; j++)
        if (f->entries[j])
            entry_free(f->entries[j]);
    free(f->entries);
    f->entries = next;
    f->n = nn;
}

static void clear_entries(struct fwd *f)
{
    apply_ports(f, NULL, 0);
}

/* The watch: "OK" then PORTS frames; anything else breaks it (the forwards stay until it is back). */
static void watch_ready(void *opaque, uint32_t events)
{
    struct fwd *f = opaque;
    (void)events;
    for (;;) {
        ssize_t r = read(f->watch_fd, f->wbuf + f->wlen, WATCH_BUF - f->wlen);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN)
            return;
        if (r <= 0) {
            log_debug("forwarding: the guest's watch ended");
            watch_close(f);
            return;
        }
        f->wlen += (size_t)r;
        size_t pos = 0;
        if (!f->watch_ok) {
            uint32_t unused;
            long n = lsl_fwd_handshake_parse(f->wbuf, f->wlen, false, &unused);
            if (n < 0)
                goto broken;
            if (n == 0)
                continue;
            f->watch_ok = true;
            pos = (size_t)n;
            spares_fill(f);
        }
        for (;;) {
            uint32_t type, plen;
            const uint8_t *payload;
            size_t n;
            long got = lsl_fwd_frame_peek(f->wbuf + pos, f->wlen - pos, LSL_FWD_PORTS_SIZE_MAX, &type,
                                          &payload, &plen);
            if (got < 0 || (got > 0 && type != LSL_FWD_PORTS))
                goto broken;
            if (got == 0)
                break;
            if (lsl_fwd_ports_decode(payload, plen, f->decoded, &n) < 0)
                goto broken;
            apply_ports(f, f->decoded, n);
            pos += (size_t)got;
        }
        memmove(f->wbuf, f->wbuf + pos, f->wlen - pos);
        f->wlen -= pos;
    }
broken:
    log_warn("forwarding: the guest's port list is malformed; watching again");
    watch_close(f);
}

static void watch_open(struct fwd *f)
{
    uint8_t v[4];
    lsl_put_u32(v, LSL_FWD_VERSION);
    int fd = fwd_vsock_open(f, LSL_FWD_WATCH, v, sizeof(v));
    if (fd < 0)
        return;
    if (evloop_add(f->loop, fd, EPOLLIN, watch_ready, f) < 0) {
        close(fd);
        return;
    }
    f->watch_fd = fd;
    f->watch_ok = false;
    f->wlen = 0;
    f->pace_sent = -1;
}

void fwd_tick(struct fwd *f, uint64_t now_ns, bool guest_up, bool busy)
{
    f->now = now_ns;
    if (!guest_up)
        f->up_since = 0;
    else if (!f->up_since)
        f->up_since = now_ns;
    fwd_socks_tick(f, guest_up);
    fwd_relays_tick(f);
    if (!f->policy.enabled)
        return;
    if (!guest_up) {
        watch_close(f);
        clear_entries(f);
        return;
    }
    if (f->watch_fd < 0)
        watch_open(f);
    if (f->watch_fd >= 0 && f->watch_ok && f->pace_sent != (int)busy) {
        uint8_t msg[LSL_FRAME_HDR_SIZE + 4], v[4];
        lsl_put_u32(v, busy ? LSL_FWD_PACE_BUSY : LSL_FWD_PACE_IDLE);
        size_t len = lsl_frame_encode(msg, sizeof(msg), LSL_FWD_PACE, v, 4);
        /* The watch carries 12 bytes now and then: the socket's buffer always has room. */
        if (send(f->watch_fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)len)
            f->pace_sent = busy;
    }
    spares_fill(f); /* after a failed dial */
    /* A host port that was taken may be free now. */
    for (size_t i = 0; i < f->n; i++)
        if (f->entries[i]->lfd < 0)
            entry_bind(f->entries[i]);
}

static const char *state_name(int err)
{
    switch (err) {
    case 0:
        return "listening";
    case EADDRINUSE:
        return "in-use";
    case EACCES:
        return "denied";
    default:
        return "error";
    }
}

void fwd_status(const struct fwd *f, FILE *out)
{
    fputs(LSL_CTL_KEY_FORWARDS " ", out);
    /* The reply stays short enough for the CLI's buffer; the service log names every port. */
    for (size_t i = 0; i < f->n && i < FWD_STATUS_MAX; i++) {
        const struct fwd_entry *e = f->entries[i];
        fprintf(out, "%s%s/%u/%u/%s/%s", i ? " " : "", lsl_fwd_proto_name(e->port.proto), e->port.family,
                e->port.port, e->port.distro[0] ? e->port.distro : "-", state_name(e->err));
    }
    fputc('\n', out);
}

int fwd_create(struct evloop *loop, const char *vsock_path, const struct lsl_fwd_policy *policy,
               const struct lsl_fwd_socks *socks, const int *fds, size_t nfds, struct fwd **out)
{
    struct fwd *f = calloc(1, sizeof(*f));
    *out = NULL;
    if (!f) {
        for (size_t i = 0; i < nfds; i++)
            close(fds[i]);
        return log_errno(ENOMEM, "forwarding");
    }
    f->loop = loop;
    f->watch_fd = -1;
    f->policy = *policy;
    f->vsock_path = strdup(vsock_path);
    f->wbuf = malloc(WATCH_BUF);
    f->decoded = calloc(LSL_FWD_PORTS_MAX, sizeof(*f->decoded));
    if (!f->vsock_path || !f->wbuf || !f->decoded || fwd_socks_create(f, socks, fds, nfds) < 0) {
        fwd_free(f);
        return log_errno(ENOMEM, "forwarding");
    }
    /* Two fds per forwarded TCP connection, one per UDP flow. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    *out = f;
    return 0;
}

void fwd_free(struct fwd *f)
{
    if (!f)
        return;
    watch_close(f);
    clear_entries(f);
    fwd_socks_free(f);
    fwd_relays_free(f);
    free(f->entries);
    free(f->vsock_path);
    free(f->wbuf);
    free(f->decoded);
    free(f);
}
