/* The virtio-net backend: libslirp's user-mode NAT (no root, no TAP), on a thread of its own that polls
 * the device's kick eventfds and libslirp's sockets together.
 *
 * Why a thread and not the VMM's I/O loop (which serves blk, vsock and the control socket): libslirp's API
 * is poll(2)-shaped - before every wait slirp_pollfds_fill lists the sockets and the events it wants now
 * (they change with every TCP state and buffer level) and shortens the timeout for its TCP timers, and
 * after it slirp_pollfds_poll wants every revents back. In the epoll loop that is an epoll_ctl per socket
 * per round or a second poll round per wakeup; here it is one poll() per round. And a busy NAT would stall
 * the disk and the sessions: measured in the emulated KVM host (bench/netbench.py, lsl-vmm --stats), TCP at
 * full speed both ways keeps this thread busy 2.3-2.4 s of a ~10 s run, 0.26 ms a round on average and up
 * to 13-43 ms for the longest round (64 frames of 64 KiB through slirp into host sockets); in the I/O loop
 * every blk and vsock request would wait behind each of those. The thread costs nothing while idle (it
 * sleeps in poll until a kick, a socket or slirp's next timer): lsl-vmm's RSS without guest RAM stays at
 * ~3.0 MiB with the network used and idle (tests/vm/run.sh net_rss_idle), libslirp and glib included.
 *
 * libslirp is loaded when a VM gets a network (slirp_load), not linked: with it come glib, pcre2 and libm,
 * whose mapped pages were 1.2 MiB of the 3.0 MiB every lsl-vmm had at boot, network or not
 * (bench/bootbench.py). Its header still gives every function's type.
 *
 * The device lock is held for a whole round except while poll() sleeps: the vCPUs take it only for the
 * device's registers (interrupt acknowledge), so they wait at most one bounded round (TX_BUDGET frames). */
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <slirp/libslirp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../core/thread.h"
#include "io.h"
#include "log.h"
#include "macro.h"
#include "net.h"
#include "net_int.h"

#define SLIRP_LIB "libslirp.so.0" /* Debian's libslirp0, which the package depends on (scripts/mkdeb.sh) */

/* The six functions used, typed by the header. */
static struct {
    __typeof__(&slirp_new) new_;
    __typeof__(&slirp_input) input;
    __typeof__(&slirp_handle_timer) handle_timer;
    __typeof__(&slirp_pollfds_fill) pollfds_fill;
    __typeof__(&slirp_pollfds_poll) pollfds_poll;
    __typeof__(&slirp_cleanup) cleanup;
} lib;
static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static char lib_error[256];

static void lib_open(void)
{
    void *h = dlopen(SLIRP_LIB, RTLD_NOW | RTLD_LOCAL);
    if (h) {
        *(void **)&lib.new_ = dlsym(h, "slirp_new");
        *(void **)&lib.input = dlsym(h, "slirp_input");
        *(void **)&lib.handle_timer = dlsym(h, "slirp_handle_timer");
        *(void **)&lib.pollfds_fill = dlsym(h, "slirp_pollfds_fill");
        *(void **)&lib.pollfds_poll = dlsym(h, "slirp_pollfds_poll");
        *(void **)&lib.cleanup = dlsym(h, "slirp_cleanup");
    }
    if (!h || !lib.new_ || !lib.input || !lib.handle_timer || !lib.pollfds_fill || !lib.pollfds_poll ||
        !lib.cleanup) {
        snprintf(lib_error, sizeof(lib_error), "%s", dlerror());
        lib.new_ = NULL; /* not half a library */
    }
}

/* libslirp's functions, loaded once; -ENOENT after one line saying why. */
static int slirp_load(void)
{
    pthread_once(&lib_once, lib_open);
    if (lib.new_)
        return 0;
    log_error("virtio-net: cannot load %s (%s); Debian's libslirp0 has it", SLIRP_LIB, lib_error);
    return -ENOENT;
}

/* Frames taken from the tx ring per round before slirp's sockets and timers get their turn: enough to
 * amortise the poll() (64 x 64 KiB), few enough that the rx side and the vCPUs never wait long. */
#define TX_BUDGET 64
/* Host sockets libslirp may hold for the guest. It opens one per TCP connection, UDP flow and ping, and
 * keeps UDP ones for minutes: a guest spraying packets would otherwise take every descriptor the VMM has,
 * and a disk attach or a session would fail. At the limit new flows are refused (dropped), live ones go on.
 */
#define MAX_SOCKETS 1024
/* Descriptors the VMM keeps for itself beyond the NAT's (disks, vsock connections, the control socket). */
#define FD_RESERVE              512
#define MAX_TIMERS              4 /* libslirp 4.7 has one (router advertisements) */
#define MAX_GUEST_ERRORS_LOGGED 10

struct net_timer {
    bool used, armed;
    int64_t expire_ms;
    SlirpTimerId id;
    SlirpTimerCb cb; /* the old-style timer_new callback, or NULL */
    void *cb_opaque;
};

struct net_slirp {
    struct net *net;
    Slirp *slirp;
    struct vmm_thread thread;
    bool running;
    int stop_fd;
    struct pollfd *pfd;
    unsigned npfd, cap;
    struct net_timer timers[MAX_TIMERS];
    unsigned sockets, max_sockets, guest_errors;
    uint64_t refused_flows;
};

static int64_t clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t cb_clock_ns(void *opaque)
{
    (void)opaque;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Runs inside slirp_input or slirp_pollfds_poll, on our thread with the device lock held. */
static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
    struct net_slirp *s = opaque;
    net_rx_frame(s->net, buf, len);
    return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
    struct net_slirp *s = opaque;
    s->net->vdev.stats.malformed++;
    if (s->guest_errors++ < MAX_GUEST_ERRORS_LOGGED) /* the guest decides how often: log a few only */
        log_info("virtio-net: the guest sent a bad frame: %s", msg);
}

static struct net_timer *timer_alloc(struct net_slirp *s)
{
    for (unsigned i = 0; i < MAX_TIMERS; i++)
        if (!s->timers[i].used) {
            s->timers[i] = (struct net_timer){.used = true};
            return &s->timers[i];
        }
    log_error("virtio-net: libslirp wants more than %d timers", MAX_TIMERS);
    abort(); /* a library change, not the guest: libslirp cannot take a NULL timer */
}

static void *cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
    struct net_timer *t = timer_alloc(opaque);
    t->cb = cb;
    t->cb_opaque = cb_opaque;
    return t;
}

static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
    struct net_timer *t = timer_alloc(opaque);
    t->id = id;
    t->cb_opaque = cb_opaque;
    return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
    (void)opaque;
    ((struct net_timer *)timer)->used = false;
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
    (void)opaque;
    struct net_timer *t = timer;
    t->armed = true;
    t->expire_ms = expire_ms;
}

/* libslirp tells us of every host socket it opens and closes: that is what MAX_SOCKETS counts. */
static void cb_register_fd(int fd, void *opaque)
{
    (void)fd;
    ((struct net_slirp *)opaque)->sockets++;
}

static void cb_unregister_fd(int fd, void *opaque)
{
    (void)fd;
    struct net_slirp *s = opaque;
    if (s->sockets)
        s->sockets--;
}

static void cb_notify(void *opaque)
{
    (void)opaque; /* only for guestfwd sockets, which we do not use; the loop polls every round anyway */
}

static const SlirpCb callbacks = {
    .send_packet = cb_send_packet,
    .guest_error = cb_guest_error,
    .clock_get_ns = cb_clock_ns,
    .timer_new = cb_timer_new,
    .timer_free = cb_timer_free,
    .timer_mod = cb_timer_mod,
    .register_poll_fd = cb_register_fd,
    .unregister_poll_fd = cb_unregister_fd,
    .notify = cb_notify,
    .timer_new_opaque = cb_timer_new_opaque,
};

/* Whether a guest frame would make libslirp open a host socket: a TCP SYN, any UDP datagram (a new flow
 * is indistinguishable from an old one here), an ICMP echo request. */
static bool opens_flow(const uint8_t *f, size_t len)
{
    if (len < NET_ETH_HLEN + 20)
        return false;
    uint16_t type = (uint16_t)(f[12] << 8 | f[13]);
    const uint8_t *ip = f + NET_ETH_HLEN;
    size_t iplen = len - NET_ETH_HLEN, l4off;
    uint8_t proto;
    if (type == 0x0800) {
        l4off = (size_t)(ip[0] & 15) * 4;
        proto = ip[9];
    } else if (type == 0x86dd && iplen >= 40) {
        l4off = 40;
        proto = ip[6];
    } else {
        return false;
    }
    if (l4off + 14 > iplen)
        return proto == 17; /* too short to tell: slirp drops a short TCP/ICMP header itself */
    const uint8_t *l4 = ip + l4off;
    switch (proto) {
    case 6:
        return (l4[13] & 0x12) == 0x02; /* SYN without ACK */
    case 17:
        return true;
    case 1:
        return l4[0] == 8;
    case 58:
        return l4[0] == 128;
    default:
        return false;
    }
}

static void slirp_in(void *opaque, const uint8_t *frame, size_t len)
{
    struct net_slirp *s = opaque;
    if (s->sockets >= s->max_sockets && opens_flow(frame, len)) {
        s->refused_flows++;
        s->net->stats.tx_dropped++;
        return;
    }
    lib.input(s->slirp, frame, (int)len);
}

static int add_poll(int fd, int events, void *opaque)
{
    struct net_slirp *s = opaque;
    if (s->npfd == s->cap) {
        unsigned cap = s->cap ? s->cap * 2 : 16;
        struct pollfd *p = realloc(s->pfd, cap * sizeof(*p));
        if (!p)
            return -1; /* libslirp then skips this socket for one round */
        s->pfd = p;
        s->cap = cap;
    }
    short ev = 0;
    /* Backpressure: while frames wait for the guest's rx buffers, read nothing more from the host. */
    if ((events & SLIRP_POLL_IN) && !net_rx_backlogged(s->net))
        ev |= POLLIN;
    if (events & SLIRP_POLL_OUT)
        ev |= POLLOUT;
    if (events & SLIRP_POLL_PRI)
        ev |= POLLPRI;
    s->pfd[s->npfd] = (struct pollfd){.fd = fd, .events = ev};
    return (int)s->npfd++;
}

static int get_revents(int idx, void *opaque)
{
    struct net_slirp *s = opaque;
    if (idx < 0 || (unsigned)idx >= s->npfd)
        return 0;
    short r = s->pfd[idx].revents;
    return (r & POLLIN ? SLIRP_POLL_IN : 0) | (r & POLLOUT ? SLIRP_POLL_OUT : 0) |
           (r & POLLPRI ? SLIRP_POLL_PRI : 0) | (r & (POLLERR | POLLNVAL) ? SLIRP_POLL_ERR : 0) |
           (r & POLLHUP ? SLIRP_POLL_HUP : 0);
}

static uint32_t timers_timeout(struct net_slirp *s, uint32_t timeout)
{
    int64_t now = clock_ms();
    for (unsigned i = 0; i < MAX_TIMERS; i++) {
        const struct net_timer *t = &s->timers[i];
        if (t->used && t->armed)
            timeout = (uint32_t)MIN((int64_t)timeout, MAX(t->expire_ms - now, 0));
    }
    return timeout;
}

static void timers_run(struct net_slirp *s)
{
    int64_t now = clock_ms();
    for (unsigned i = 0; i < MAX_TIMERS; i++) {
        struct net_timer *t = &s->timers[i];
        if (!t->used || !t->armed || t->expire_ms > now)
            continue;
        t->armed = false;
        if (t->cb)
            t->cb(t->cb_opaque);
        else
            lib.handle_timer(s->slirp, t->id, t->cb_opaque);
    }
}

/* Reads a kick eventfd polled as readable: 1 if the driver kicked. */
static bool kicked(struct net_slirp *s, unsigned idx)
{
    uint64_t v;
    return (s->pfd[idx].revents & POLLIN) && read(s->pfd[idx].fd, &v, sizeof(v)) == sizeof(v);
}

enum { PFD_STOP, PFD_TX, PFD_RX, PFD_FIRST_SLIRP };

static void *net_thread(void *opaque)
{
    struct net_slirp *s = opaque;
    struct net *n = s->net;
    struct virtio_dev *d = &n->vdev;
    pthread_mutex_lock(&d->lock);
    uint64_t round_start = now_ns();
    for (;;) {
        net_tx(n, TX_BUDGET);
        s->npfd = 0;
        add_poll(s->stop_fd, SLIRP_POLL_IN, s);
        s->pfd[PFD_STOP].events = POLLIN; /* never masked by the backpressure */
        add_poll(d->kick_fd[NET_Q_TX], SLIRP_POLL_IN, s);
        s->pfd[PFD_TX].events = POLLIN;
        add_poll(d->kick_fd[NET_Q_RX], SLIRP_POLL_IN, s);
        s->pfd[PFD_RX].events = POLLIN;
        if (s->npfd != PFD_FIRST_SLIRP) {
            log_error("virtio-net: out of memory");
            break;
        }
        uint32_t timeout = n->tx_more ? 0 : UINT32_MAX;
        lib.pollfds_fill(s->slirp, &timeout, add_poll, s);
        timeout = timers_timeout(s, timeout);
        uint64_t busy = now_ns() - round_start;
        n->stats.rounds++;
        n->stats.busy_ns += busy;
        n->stats.round_max_ns = MAX(n->stats.round_max_ns, busy);
        pthread_mutex_unlock(&d->lock);
        int r = poll(s->pfd, s->npfd, timeout == UINT32_MAX ? -1 : (int)MIN(timeout, (uint32_t)INT32_MAX));
        int err = r < 0 ? errno : 0;
        pthread_mutex_lock(&d->lock);
        round_start = now_ns();
        if (r > 0 && (s->pfd[PFD_STOP].revents & POLLIN))
            break;
        if (r > 0 && kicked(s, PFD_TX))
            d->stats.kicks++;
        if (r > 0 && kicked(s, PFD_RX)) {
            d->stats.kicks++;
            net_rx_flush(n);
        }
        lib.pollfds_poll(s->slirp, r < 0 && err != EINTR, get_revents, s);
        timers_run(s);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

/* The most sockets the NAT may hold: MAX_SOCKETS, or fewer when the descriptor limit leaves less room after
 * FD_RESERVE. The soft limit is raised to the hard one first (1024 is a select() era default). */
static unsigned socket_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 64;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= MAX_SOCKETS + FD_RESERVE)
        return MAX_SOCKETS;
    return rl.rlim_cur > FD_RESERVE + 64 ? (unsigned)(rl.rlim_cur - FD_RESERVE) : 64;
}

static void split_search(char *search, const char **list, unsigned max)
{
    unsigned n = 0;
    for (char *p = search; *p && n < max;) {
        list[n++] = p;
        char *comma = strchr(p, ',');
        if (!comma)
            break;
        *comma = '\0';
        p = comma + 1;
    }
    list[n] = NULL;
}

int net_slirp_start(struct net *n, const char *dns_search, struct net_slirp **out)
{
    int r = slirp_load();
    if (r < 0)
        return r;
    struct net_slirp *s = calloc(1, sizeof(*s));
    if (!s)
        return log_errno(ENOMEM, "virtio-net");
    s->net = n;
    s->max_sockets = socket_limit();
    s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->stop_fd < 0) {
        int e = errno;
        free(s);
        return log_errno(e, "virtio-net: eventfd");
    }
    char search[NET_DNS_SEARCH_LEN];
    const char *search_list[NET_DNS_SEARCH_MAX + 1];
    snprintf(search, sizeof(search), "%s", dns_search ? dns_search : "");
    split_search(search, search_list, NET_DNS_SEARCH_MAX);

    SlirpConfig cfg = {
        .version = 4,
        .in_enabled = true,
        .in6_enabled = true,
        .vprefix_len = 64,
        .vhostname = "lsl",
        .vdnssearch = search_list[0] ? search_list : NULL,
        .if_mtu = NET_MTU,
        .if_mru = NET_MTU,
    };
    inet_pton(AF_INET, "10.0.2.0", &cfg.vnetwork);
    inet_pton(AF_INET, "255.255.255.0", &cfg.vnetmask);
    inet_pton(AF_INET, "10.0.2.2", &cfg.vhost);
    inet_pton(AF_INET, "10.0.2.15", &cfg.vdhcp_start);
    inet_pton(AF_INET, "10.0.2.3", &cfg.vnameserver);
    inet_pton(AF_INET6, "fec0::", &cfg.vprefix_addr6);
    inet_pton(AF_INET6, "fec0::2", &cfg.vhost6);
    inet_pton(AF_INET6, "fec0::3", &cfg.vnameserver6);
    s->slirp = lib.new_(&cfg, &callbacks, s);
    if (!s->slirp) {
        close(s->stop_fd);
        free(s);
        log_error("virtio-net: libslirp refused its configuration");
        return -EINVAL;
    }
    n->input = slirp_in;
    n->input_opaque = s;

    /* The thread takes no signals: lsl-vmm's main thread turns them into loop events (vm_run). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    r = vmm_thread_start(&s->thread, "lsl-net", net_thread, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r) {
        lib.cleanup(s->slirp);
        close(s->stop_fd);
        free(s);
        return log_errno(-r, "virtio-net: thread");
    }
    s->running = true;
    *out = s;
    return 0;
}

void net_slirp_stop(struct net_slirp *s)
{
    if (!s)
        return;
    if (s->running) {
        uint64_t one = 1;
        if (write(s->stop_fd, &one, sizeof(one)) < 0)
            log_errno(errno, "virtio-net: stop");
        vmm_thread_join(&s->thread);
    }
    if (s->refused_flows)
        log_info("virtio-net: %llu new flows refused at the limit of %u host sockets",
                 (unsigned long long)s->refused_flows, s->max_sockets);
    s->net->input = NULL;
    lib.cleanup(s->slirp);
    close(s->stop_fd);
    free(s->pfd);
    free(s);
}
