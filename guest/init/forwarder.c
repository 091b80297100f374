/* The guest forwarder (forwarder.h). How it notices a listener: cgroup BPF programs at the cgroup root report
 * every TCP listen() and close of a listener, every UDP bind() and release, in any network namespace
 * (listen_events.h); each batch of reports is one scan (sock_diag dumps, a few syscalls, tens of
 * microseconds) of the VM's namespace and of every container namespace known (fwd_netns.h; a report from an
 * unknown one looks for new ones first; a close is looked at twice more, settle_arm). Nothing runs while
 * nothing binds: an idle guest costs nothing. A kernel that refuses the programs gets the old way: a timer
 * whose pace the service sets, every LSL_FWD_SCAN_BUSY_MS while sessions are open or were recently, every
 * LSL_FWD_SCAN_IDLE_MS otherwise, none without a watching service. A changed set goes to the service at once;
 * whose it is (a /proc walk) follows in a second PORTS, so that walk never delays a forward. One epoll loop,
 * edge-triggered, serves the watch and every relay; signals are default again, so a shutdown's SIGTERM ends
 * it. Socket forwarding's OPEN_UNIX streams (Docker's socket on the host) are relayed the same way, to a
 * distribution's unix socket.
 */
#include "forwarder.h"

#include "agent_listen.h"
#include "distro_enter.h"
#include "distro_layout.h"
#include "frame.h"
#include "fwd.h"
#include "fwd_netns.h"
#include "fwd_pump.h"
#include "listen_events.h"
#include "log.h"
#include "openat2.h"
#include "ports_scan.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define FWD_BACKLOG 1024

enum kind { K_PENDING, K_WATCH, K_CONNECTING, K_TCP, K_UDP };

struct conn;
struct side {
    struct conn *c;
    int which; /* 0: the vsock stream, 1: the local socket */
};

struct conn {
    enum kind kind;
    int fd[2];
    struct side side[2];
    uint8_t hdr[LSL_FRAME_HDR_SIZE + LSL_FWD_UNIX_OPEN_MAX]; /* the first frame; then the watch's */
    size_t hlen;
    struct lsl_fwd_open open;
    struct lsl_pump pump;
    struct lsl_dgram_stream ds;
    bool readable[2], writable[2];
    bool dead; /* closed: freed once the epoll batch that may still name it is over */
    struct conn *next;
};

struct fwd {
    int ep, listener, timer, nl, kick;
    struct side listener_side, timer_side, kick_side, events_side;
    struct listen_events events;
    bool evented; /* the BPF reports work: no timer */
    struct fwd_netns_set ns;
    uint64_t walked_ms;  /* the last look for new namespaces (polling: at most one a second) */
    uint64_t busy_until; /* a session's kick keeps the fast pace until then (ms, CLOCK_MONOTONIC) */
    unsigned timer_ms;
    unsigned settle; /* evented: rescans still due after a listener's close (settle_arm) */
    struct conn *conns, *dead, *watch;
    unsigned pace;
    /* The set the service has, and what is still to send. */
    struct lsl_fwd_port sent[LSL_FWD_PORTS_MAX];
    struct ports_origin sent_origin[LSL_FWD_PORTS_MAX];
    size_t nsent;
    uint8_t out[LSL_FRAME_HDR_SIZE + LSL_FWD_PORTS_SIZE_MAX];
    size_t out_start, out_end;
    bool dirty; /* the set changed while out was still going */
};

static struct fwd g;

static void conn_close(struct conn *c)
{
    for (struct conn **p = &g.conns; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    for (int i = 0; i < 2; i++)
        if (c->fd[i] >= 0)
            close(c->fd[i]); /* leaves the epoll set with it */
    if (c->kind == K_TCP)
        lsl_pump_free(&c->pump);
    if (c->kind == K_UDP)
        lsl_dgram_stream_free(&c->ds);
    if (g.watch == c)
        g.watch = NULL;
    c->dead = true;
    c->next = g.dead;
    g.dead = c;
}

static int watch_fd(int fd, struct side *s)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = s};
    return epoll_ctl(g.ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void set_timer(unsigned ms)
{
    struct itimerspec its = {0};
    if (ms == g.timer_ms)
        return;
    g.timer_ms = ms;
    if (ms) {
        its.it_interval.tv_sec = ms / 1000;
        its.it_interval.tv_nsec = (long)(ms % 1000) * 1000000L;
        its.it_value = its.it_interval;
    }
    (void)timerfd_settime(g.timer, 0, &its, NULL);
}

/* A listener's close is reported before the kernel unhashes it (tcp_set_state and inet_release run the
 * hook first), so the scan it wakes can still see it, on another vCPU or when the closing task is preempted:
 * look again once the close is surely done, 20 ms and then 250 ms later. A one-shot on the polling timer,
 * which evented mode leaves unarmed (set_timer(0) keeps it). */
static void settle_arm(void)
{
    struct itimerspec its = {.it_value.tv_nsec = g.settle > 1 ? 20000000L : 250000000L};
    g.timer_ms = 0;
    (void)timerfd_settime(g.timer, 0, &its, NULL);
}

/* The fast pace while the service says sessions are open or a session's kick is recent; none without a
 * watch. */
static void set_pace(void)
{
    bool busy = g.pace == LSL_FWD_PACE_BUSY || now_ms() < g.busy_until;
    set_timer(!g.watch || g.evented ? 0 : busy ? LSL_FWD_SCAN_BUSY_MS : LSL_FWD_SCAN_IDLE_MS);
}

static void watch_flush(void)
{
    while (g.watch && g.out_start < g.out_end) {
        ssize_t n = send(g.watch->fd[0], g.out + g.out_start, g.out_end - g.out_start, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0) {
            conn_close(g.watch);
            return;
        }
        g.out_start += (size_t)n;
    }
    g.out_start = g.out_end = 0;
}

static void send_ports(void)
{
    if (!g.watch)
        return;
    if (g.out_start < g.out_end) {
        g.dirty = true;
        return;
    }
    size_t len =
        lsl_fwd_ports_encode(g.sent, g.nsent, g.out + LSL_FRAME_HDR_SIZE, sizeof(g.out) - LSL_FRAME_HDR_SIZE);
    if (!len)
        return; /* cannot happen: the entries were checked as they were made */
    lsl_put_u32(g.out, LSL_FWD_PORTS);
    lsl_put_u32(g.out + 4, (uint32_t)len);
    g.out_start = 0;
    g.out_end = LSL_FRAME_HDR_SIZE + len;
    g.dirty = false;
    watch_flush();
}

static bool same_ports(const struct lsl_fwd_port *a, size_t na, const struct lsl_fwd_port *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (a[i].proto != b[i].proto || a[i].family != b[i].family || a[i].port != b[i].port ||
            strcmp(a[i].distro, b[i].distro) != 0)
            return false;
    return true;
}

/* The listeners of every namespace known, the VM's first (a port taken in two is the VM's); walk: look for
 * new namespaces first. */
static size_t scan_all(struct lsl_fwd_port *now, struct ports_origin *origin, bool walk)
{
    size_t n = 0;
    bool lost = false;

    if (ports_scan(g.nl, g.ns.own_ino, now, origin, &n, LSL_FWD_PORTS_MAX) < 0)
        return SIZE_MAX;
    if (walk) {
        fwd_netns_walk(&g.ns);
        g.walked_ms = now_ms();
    }
    for (size_t i = 0; i < g.ns.n;) {
        uint64_t ino = g.ns.ns[i].ino;
        if (fwd_netns_enter(&g.ns, ino) < 0) {
            g.ns.ns[i] = g.ns.ns[--g.ns.n]; /* its process is gone: the namespace may live on in others */
            lost = true;
            continue;
        }
        int nl = ports_diag_open();
        if (nl >= 0) {
            (void)ports_scan(nl, ino, now, origin, &n, LSL_FWD_PORTS_MAX);
            close(nl);
        }
        fwd_netns_leave(&g.ns);
        i++;
    }
    return lost && !walk ? scan_all(now, origin, true) : n;
}

static void scan(bool walk)
{
    static struct lsl_fwd_port now[LSL_FWD_PORTS_MAX];
    static struct ports_origin origin[LSL_FWD_PORTS_MAX];
    size_t n = scan_all(now, origin, walk);
    bool unnamed = false;

    if (n == SIZE_MAX)
        return;
    /* Names known from before stay with their socket. */
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < g.nsent; j++)
            if (g.sent_origin[j].inode == origin[i].inode) {
                memcpy(now[i].distro, g.sent[j].distro, sizeof(now[i].distro));
                break;
            }
    }
    if (!same_ports(now, n, g.sent, g.nsent)) {
        for (size_t i = 0; i < n; i++) {
            bool known = false;
            for (size_t j = 0; j < g.nsent && !known; j++)
                known = g.sent_origin[j].inode == origin[i].inode;
            unnamed |= !known;
        }
        memcpy(g.sent, now, n * sizeof(now[0]));
        memcpy(g.sent_origin, origin, n * sizeof(origin[0]));
        g.nsent = n;
        send_ports();
    } else {
        memcpy(g.sent_origin, origin, n * sizeof(origin[0])); /* the same ports, maybe new sockets */
    }
    if (!unnamed)
        return;
    bool named = false;
    for (size_t i = 0; i < g.nsent; i++) {
        if (g.sent[i].distro[0])
            continue;
        ports_owner(g.sent_origin[i].inode, g.sent[i].distro, sizeof(g.sent[i].distro));
        named |= g.sent[i].distro[0] != '\0';
    }
    if (named)
        send_ports();
}

/* A batch of listen events: whether it can have changed the set. A UDP socket released matters only while a
 * UDP port is forwarded (every DNS lookup releases one). */
static void events_read(void)
{
    unsigned what = listen_events_drain(&g.events);
    bool udp = false;

    if (!g.watch || !what)
        return;
    for (size_t i = 0; i < g.nsent && !udp; i++)
        udp = g.sent[i].proto == LSL_FWD_UDP;
    if (what == LISTEN_EV_UDP_GONE && !udp)
        return;
    if (what == (LISTEN_EV_UDP_GONE | LISTEN_EV_FOREIGN) && !udp)
        return;
    scan(what & (LISTEN_EV_FOREIGN | LISTEN_EV_LOST));
    if ((what & LISTEN_EV_TCP_CLOSED) || (udp && (what & LISTEN_EV_UDP_GONE))) {
        g.settle = 2;
        settle_arm();
    }
}

/* The next whole frame in c->hdr, read from the vsock stream as needed: > 0 its length (to consume once
 * handled), 0 when more must come first, < 0 when the stream ended, broke or sent a malformed frame. exact:
 * read no byte past that frame (what follows a connection's OPEN belongs to its relay). */
static long next_frame(struct conn *c, bool exact, uint32_t *type, const uint8_t **payload, uint32_t *plen)
{
    for (;;) {
        long n =
            lsl_fwd_frame_peek(c->hdr, c->hlen, sizeof(c->hdr) - LSL_FRAME_HDR_SIZE, type, payload, plen);
        if (n != 0)
            return n;
        size_t want = !exact                         ? sizeof(c->hdr) - c->hlen
                      : c->hlen < LSL_FRAME_HDR_SIZE ? LSL_FRAME_HDR_SIZE - c->hlen
                                                     : LSL_FRAME_HDR_SIZE + lsl_get_u32(c->hdr + 4) - c->hlen;
        ssize_t r = recv(c->fd[0], c->hdr + c->hlen, want, MSG_DONTWAIT);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN)
            return 0;
        if (r <= 0)
            return -1;
        c->hlen += (size_t)r;
    }
}

static void watch_read(struct conn *c)
{
    uint32_t type, plen;
    const uint8_t *payload;
    long n;

    while ((n = next_frame(c, false, &type, &payload, &plen)) > 0) {
        if (type == LSL_FWD_PACE && plen == 4) {
            g.pace = lsl_get_u32(payload);
            set_pace();
        }
        memmove(c->hdr, c->hdr + n, c->hlen - (size_t)n);
        c->hlen -= (size_t)n;
    }
    if (n < 0)
        conn_close(c);
}

static void udp_run(struct conn *c);

/* OPENED(err) on c's stream; false if it could not be sent. */
static bool send_opened(struct conn *c, int err)
{
    uint8_t msg[LSL_FRAME_HDR_SIZE + 4], v[4];
    lsl_put_u32(v, (uint32_t)err);
    size_t len = lsl_frame_encode(msg, sizeof(msg), LSL_FWD_OPENED, v, 4);
    /* A fresh stream's buffer takes the one short frame. */
    return send(c->fd[0], msg, len, MSG_NOSIGNAL) == (ssize_t)len;
}

static void opened(struct conn *c, int err)
{
    if (!send_opened(c, err) || err) {
        conn_close(c);
        return;
    }
    if (c->open.proto == LSL_FWD_TCP) {
        if (lsl_pump_init(&c->pump, c->fd[0], c->fd[1]) < 0) {
            conn_close(c);
            return;
        }
        c->kind = K_TCP;
        for (int i = 0; i < 2; i++) {
            c->pump.readable[i] = c->readable[i];
            c->pump.writable[i] = c->writable[i];
        }
        if (lsl_pump_run(&c->pump) <= 0)
            conn_close(c);
    } else {
        if (lsl_dgram_stream_init(&c->ds) < 0) {
            conn_close(c);
            return;
        }
        c->kind = K_UDP;
        c->readable[0] = c->readable[1] = true; /* datagrams may have come with OPEN */
        udp_run(c);
    }
}

/* OPEN: a socket to the guest's own loopback at that port. */
static void start_open(struct conn *c)
{
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(c->open.port)};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(c->open.port)};
    bool v4 = c->open.family == LSL_FWD_V4;
    int type = c->open.proto == LSL_FWD_TCP ? SOCK_STREAM : SOCK_DGRAM;

    uint64_t netns = g.ns.own_ino; /* a port no longer listed: the VM's, which refuses it */

    for (size_t i = 0; i < g.nsent; i++)
        if (g.sent[i].proto == c->open.proto && g.sent[i].family == c->open.family &&
            g.sent[i].port == c->open.port)
            netns = g.sent_origin[i].netns;
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    in6.sin6_addr = in6addr_loopback;
    c->fd[1] = fwd_netns_socket(&g.ns, netns, v4 ? AF_INET : AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c->fd[1] < 0) {
        opened(c, -c->fd[1]);
        return;
    }
    c->readable[1] = c->writable[1] = false;
    if (watch_fd(c->fd[1], &c->side[1]) < 0) {
        opened(c, ENOMEM);
        return;
    }
    int r = v4 ? connect(c->fd[1], (struct sockaddr *)&in, sizeof(in))
               : connect(c->fd[1], (struct sockaddr *)&in6, sizeof(in6));
    if (r < 0 && errno == EINPROGRESS) {
        c->kind = K_CONNECTING;
        return;
    }
    c->writable[1] = true;
    opened(c, r < 0 ? errno : 0);
}

/* The O_PATH fd of the unix socket at path as distribution pid's processes see it: resolved inside its root
 * (its own mounts, /run included) and through no magic link, so a symlink in the distribution cannot aim it
 * outside. -ECONNREFUSED when what is there is no socket, else -errno. */
static int socket_path_in(pid_t pid, const char *path)
{
    char root[48];
    struct stat st;

    snprintf(root, sizeof(root), "/proc/%d/root", (int)pid);
    int fd = lsl_open_path_in_root(root, path);
    if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))) {
        close(fd);
        return -ECONNREFUSED;
    }
    return fd;
}

/* A unix stream socket at path in distribution pid (socket_path_in), connected through the O_PATH fd
 * (/proc/self/fd/N), so the path's length does not matter. Returns the connected non-blocking socket or
 * -errno. */
static int unix_connect_in(pid_t pid, const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int fd = socket_path_in(pid, path);
    if (fd < 0)
        return fd;
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    snprintf(a.sun_path, sizeof(a.sun_path), "/proc/self/fd/%d", fd);
    /* A unix connect completes at once, or fails (EAGAIN: the server's backlog is full). */
    int r = s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0 ? -errno : 0;
    close(fd);
    if (r < 0) {
        if (s >= 0)
            close(s);
        return r;
    }
    return s;
}

/* STAT_UNIX's question in distribution pid: 0 when a socket is at path there, or -errno. */
static int unix_stat_in(pid_t pid, const char *path)
{
    int fd = socket_path_in(pid, path);
    if (fd < 0)
        return fd;
    close(fd);
    return 0;
}

/* OPEN_UNIX: that distribution's socket, or the first running one's that answers. STAT_UNIX (stat_only):
 * whether one is there, answered and closed. */
static void start_unix(struct conn *c, const struct lsl_fwd_unix *u, bool stat_only)
{
    int fd = -ENOENT;

    if (u->distro[0]) {
        pid_t pid = lsl_distro_init_pid(u->distro);
        fd = pid <= 0 ? -ESRCH : stat_only ? unix_stat_in(pid, u->path) : unix_connect_in(pid, u->path);
    } else {
        DIR *d = opendir(LSL_DISTROS_DIR);
        struct dirent *de;
        while (d && fd < 0 && (de = readdir(d))) {
            pid_t pid = de->d_name[0] == '.' ? -1 : lsl_distro_init_pid(de->d_name);
            int r = pid <= 0 ? fd : stat_only ? unix_stat_in(pid, u->path) : unix_connect_in(pid, u->path);
            /* A listener's refusal says more than a distribution without the path. */
            fd = r >= 0 || fd == -ENOENT ? r : fd;
        }
        if (d)
            closedir(d);
    }
    if (stat_only) {
        (void)send_opened(c, fd < 0 ? -fd : 0);
        conn_close(c);
        return;
    }
    c->open.proto = LSL_FWD_TCP; /* a byte stream, relayed as TCP's */
    if (fd < 0) {
        opened(c, -fd);
        return;
    }
    c->fd[1] = fd;
    c->readable[1] = false;
    c->writable[1] = true;
    if (watch_fd(fd, &c->side[1]) < 0) {
        opened(c, ENOMEM);
        return;
    }
    opened(c, 0);
}

static void pending_read(struct conn *c)
{
    uint32_t type, plen;
    const uint8_t *payload;
    long n = next_frame(c, true, &type, &payload, &plen); /* only the first frame: the rest is the relay's */

    if (n < 0) {
        conn_close(c);
        return;
    }
    if (n == 0)
        return;
    if (type == LSL_FWD_WATCH && plen == 4 && lsl_get_u32(payload) == LSL_FWD_VERSION) {
        if (g.watch)
            conn_close(g.watch); /* a new service, or the old one reconnecting */
        g.watch = c;
        c->kind = K_WATCH;
        c->hlen = 0;
        g.out_start = g.out_end = 0;
        g.nsent = 0;
        set_pace();
        send_ports(); /* the empty set at once; the scan below fills it */
        scan(true);
        if (g.watch == c)
            watch_read(c);
    } else if (type == LSL_FWD_OPEN && lsl_fwd_open_decode(payload, plen, &c->open) == 0) {
        start_open(c);
    } else if (type == LSL_FWD_OPEN_UNIX || type == LSL_FWD_STAT_UNIX) {
        struct lsl_fwd_unix u;
        if (lsl_fwd_unix_decode(payload, plen, &u) == 0)
            start_unix(c, &u, type == LSL_FWD_STAT_UNIX);
        else
            conn_close(c);
    } else {
        conn_close(c);
    }
}

static void udp_deliver(void *opaque, const uint8_t *data, size_t len)
{
    struct conn *c = opaque;
    (void)send(c->fd[1], data, len, MSG_DONTWAIT); /* a full socket buffer drops it, as UDP does */
}

static void udp_run(struct conn *c)
{
    static uint8_t dgram[LSL_FWD_DGRAM_MAX];
    int r = lsl_dgram_stream_read(&c->ds, c->fd[0], udp_deliver, c);
    if (r <= 0) {
        conn_close(c);
        return;
    }
    for (;;) {
        ssize_t n = recv(c->fd[1], dgram, sizeof(dgram), MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break; /* EAGAIN, or an ICMP error of an earlier datagram: the flow goes on */
        (void)lsl_dgram_stream_put(&c->ds, dgram, (size_t)n);
    }
    r = lsl_dgram_stream_flush(&c->ds, c->fd[0]);
    if (r < 0 && r != -EAGAIN)
        conn_close(c);
}

static void conn_event(struct side *s, uint32_t events)
{
    struct conn *c = s->c;
    bool in = events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR), out = events & (EPOLLOUT | EPOLLERR);

    c->readable[s->which] |= in;
    c->writable[s->which] |= out;
    switch (c->kind) {
    case K_PENDING:
        if (s->which == 0 && in)
            pending_read(c);
        break;
    case K_WATCH:
        if (in)
            watch_read(c);
        if (g.watch == c && out) {
            watch_flush();
            if (g.watch && g.out_start == g.out_end && g.dirty)
                send_ports();
        }
        break;
    case K_CONNECTING:
        if (s->which == 1 && out) {
            int err = 0;
            socklen_t len = sizeof(err);
            (void)getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &err, &len);
            opened(c, err);
        } else if (s->which == 0 && (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
            conn_close(c);
        }
        break;
    case K_TCP:
        c->pump.readable[s->which] |= in;
        c->pump.writable[s->which] |= out;
        if (lsl_pump_run(&c->pump) <= 0)
            conn_close(c);
        break;
    case K_UDP:
        udp_run(c);
        break;
    }
}

static void accept_all(void)
{
    for (;;) {
        int fd = accept4(g.listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return; /* EAGAIN; out of fds: the backlog waits for a close */
        }
        struct conn *c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            continue;
        }
        c->kind = K_PENDING;
        c->fd[0] = fd;
        c->fd[1] = -1;
        for (int i = 0; i < 2; i++)
            c->side[i] = (struct side){.c = c, .which = i};
        c->next = g.conns;
        g.conns = c;
        if (watch_fd(fd, &c->side[0]) < 0)
            conn_close(c);
    }
}

static _Noreturn void fwd_main(void)
{
    sigset_t none;
    struct rlimit rl;

    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    (void)prctl(PR_SET_NAME, "lsl-fwd");
    /* Two fds per forwarded connection. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    g.pace = LSL_FWD_PACE_BUSY; /* a new VM is about to run something */
    g.ep = epoll_create1(EPOLL_CLOEXEC);
    g.listener = lsl_agent_listen(LSL_FWD_PORT);
    /* The host opens one stream per connection it accepts, in bursts: a deeper backlog than the agent's
     * (listen again only changes it). */
    if (g.listener >= 0)
        (void)listen(g.listener, FWD_BACKLOG);
    g.timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    g.nl = ports_diag_open();
    g.kick = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un kaddr = {.sun_family = AF_UNIX};
    memcpy(kaddr.sun_path + 1, PORTS_KICK_SOCKET, strlen(PORTS_KICK_SOCKET));
    if (g.kick >= 0 &&
        bind(g.kick, (struct sockaddr *)&kaddr,
             (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(PORTS_KICK_SOCKET))) < 0)
        (void)lsl_log_errno(errno, "forwarder: cannot bind the kick socket: %m");
    if (g.ep < 0 || g.listener < 0 || g.timer < 0 || g.nl < 0 || g.kick < 0 || fwd_netns_init(&g.ns) < 0) {
        (void)lsl_log_errno(errno, "forwarder: cannot set up: %m");
        _exit(1);
    }
    int cg = open("/sys/fs/cgroup", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int r = cg < 0 ? -errno : listen_events_open(&g.events, cg, listen_events_netns_cookie(g.nl));
    if (cg >= 0)
        close(cg);
    if (r == 0) {
        struct epoll_event eev = {.events = EPOLLIN, .data.ptr = &g.events_side};
        g.evented = epoll_ctl(g.ep, EPOLL_CTL_ADD, g.events.ring, &eev) == 0;
    }
    if (!g.evented)
        lsl_log_info("forwarder: no listen events from this kernel (%s): polling",
                     strerror(r < 0 ? -r : errno));
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &g.listener_side};
    struct epoll_event tev = {.events = EPOLLIN, .data.ptr = &g.timer_side};
    struct epoll_event kev = {.events = EPOLLIN, .data.ptr = &g.kick_side};
    if (epoll_ctl(g.ep, EPOLL_CTL_ADD, g.listener, &ev) < 0 ||
        epoll_ctl(g.ep, EPOLL_CTL_ADD, g.timer, &tev) < 0 ||
        epoll_ctl(g.ep, EPOLL_CTL_ADD, g.kick, &kev) < 0) {
        (void)lsl_log_errno(errno, "forwarder: epoll: %m");
        _exit(1);
    }
    for (;;) {
        struct epoll_event evs[64];
        int n = epoll_wait(g.ep, evs, 64, -1);
        for (int i = 0; i < n; i++) {
            struct side *s = evs[i].data.ptr;
            if (s == &g.listener_side) {
                accept_all();
            } else if (s == &g.timer_side) {
                uint64_t ticks;
                if (read(g.timer, &ticks, sizeof(ticks)) > 0 && g.watch)
                    scan(now_ms() - g.walked_ms >= 1000);
                if (g.evented && g.settle && --g.settle)
                    settle_arm();
                set_pace();
            } else if (s == &g.events_side) {
                events_read();
            } else if (s == &g.kick_side) {
                char sink[16];
                while (recv(g.kick, sink, sizeof(sink), MSG_DONTWAIT) >= 0)
                    ;
                if (g.evented)
                    continue; /* the listen itself will say so */
                g.busy_until = now_ms() + PORTS_KICK_MS;
                if (g.watch)
                    scan(now_ms() - g.walked_ms >= 1000);
                set_pace();
            } else if (!s->c->dead) {
                conn_event(s, evs[i].events);
            }
        }
        while (g.dead) {
            struct conn *c = g.dead;
            g.dead = c->next;
            free(c);
        }
    }
}

pid_t lsl_fwd_start(void)
{
    pid_t pid = fork();

    if (pid < 0)
        return lsl_log_errno(errno, "cannot fork the port forwarder: %m");
    if (pid == 0)
        fwd_main();
    return pid;
}
