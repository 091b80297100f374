/* Between forward.c (the watch and the table of forwards) and forward_relay.c (the connections). */
#ifndef LSL_SERVICE_FWD_INT_H
#define LSL_SERVICE_FWD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "forward.h"
#include "fwd_pump.h"

#define FWD_RELAYS_MAX   2048 /* TCP connections and UDP flows at once, all forwards */
#define FWD_FLOWS_MAX    64   /* UDP peers per forward */
#define FWD_UDP_IDLE_NS  (60ull * 1000000000ull)
#define FWD_HANDSHAKE_NS (10ull * 1000000000ull) /* for the guest's OPENED */
/* A UDP flow the guest has not opened by then is dropped, and the peer's next datagram opens another: a
 * stream lost on the way (a guest that stalled past the vsock timeouts) must not swallow a peer's datagrams
 * for the whole FWD_HANDSHAKE_NS, and a datagram may be lost anyway. */
#define FWD_UDP_OPEN_NS (2ull * 1000000000ull)
/* Streams to the guest's forwarder connected ahead of need, while its watch is up: a host connection then
 * only sends its OPEN, not a vsock connect as well (the connect's round trip through the guest was most of a
 * forwarded connection's setup). */
#define FWD_SPARES 4
/* A connection to a forwarded socket in the first FWD_UNIX_WAIT_NS of the guest's life waits for the guest's
 * socket (retried every FWD_UNIX_RETRY_NS) instead of being closed: the VM was started for it (proto/wake.h),
 * or with it, and the distribution serving it (dockerd's socket unit) is still coming up. */
#define FWD_UNIX_WAIT_NS   (90ull * 1000000000ull)
#define FWD_UNIX_RETRY_NS  (500ull * 1000000ull)
#define FWD_CHECK_FRESH_NS (2000ull * 1000000ull) /* a STAT_UNIX answer this young is --status's as it is */

struct relay;

/* One guest port forwarded: the host socket, or why there is none. */
struct fwd_entry {
    struct fwd *f;
    struct lsl_fwd_port port;
    int lfd;             /* the host's listening (TCP) or bound (UDP) socket, -1 when it could not be had */
    int err;             /* errno of the last bind, 0 when bound */
    struct relay *flows; /* UDP: one relay per host peer */
    unsigned nflows;
};

/* One socket forward: the host path's listener, or why there is none. */
struct fwd_sock_entry {
    struct fwd *f;
    struct lsl_fwd_sock sock;
    int lfd;     /* -1 while the guest is down or the path could not be had */
    int adopted; /* a listener handed over (--socket-fd), served from the guest's start on; -1 if none */
    int err;     /* errno of the last bind, 0 when bound */
    bool handed; /* given to lsl-wake at an idle stop: neither bound nor removed here any more */
    /* Whether the guest has a socket there (STAT_UNIX, asked for lsl --status; a relay's OPENED tells too):
     * 0 yes, an errno no, -1 not known; check_fd the question in flight, -1 if none. */
    int guest_err;
    int check_fd;
    uint64_t checked_at; /* when the last answer came, 0 if none: one fresh enough is not asked again */
    uint64_t check_asked;
    uint8_t check_buf[LSL_FWD_LINE_MAX + 16];
    size_t check_len;
    dev_t dev;
    ino_t ino; /* the socket file bound, so that only it is ever removed */
};

struct fwd {
    struct evloop *loop;
    char *vsock_path;
    struct lsl_fwd_policy policy;
    uint64_t now;
    uint64_t up_since; /* the first tick that saw the guest up, 0 while it is down */
    /* The watch stream. */
    int watch_fd;
    bool watch_ok; /* past the OK line */
    uint8_t *wbuf;
    size_t wlen;
    int pace_sent; /* -1: none yet on this watch */
    /* The forwards, sorted as the guest sends them. */
    struct fwd_entry **entries;
    size_t n;
    struct lsl_fwd_port *decoded;
    /* Every relay (TCP connections and UDP flows). */
    struct relay *relays;
    unsigned nrelays;
    int spare[FWD_SPARES];
    unsigned nspare;
    struct fwd_sock_entry *socks;
    size_t nsocks;
};

/* forward_socket.c; fds: listeners handed over (each taken: adopted by the entry of its path, or closed). */
int fwd_socks_create(struct fwd *f, const struct lsl_fwd_socks *socks, const int *fds, size_t nfds);
/* Binds the host paths while the guest is up (retrying those that could not be had), unbinds them when not.
 */
void fwd_socks_tick(struct fwd *f, bool guest_up);
void fwd_socks_free(struct fwd *f);

/* forward_relay.c */
void fwd_tcp_accept(struct fwd_entry *e);
void fwd_unix_accept(struct fwd_sock_entry *e);
void fwd_udp_readable(struct fwd_entry *e);
/* Ends e's UDP flows (the forward is going); TCP connections go on until they close. */
void fwd_udp_close_all(struct fwd_entry *e);
/* Ends relays whose handshake or (UDP) idle time ran out. */
void fwd_relays_tick(struct fwd *f);
void fwd_relays_free(struct fwd *f);
/* A non-blocking stream to the guest forwarder: the CONNECT line and first frame already sent. Returns the
 * fd or -errno. */
int fwd_vsock_open(struct fwd *f, uint32_t type, const void *payload, size_t len);
/* The same from a spare when there is one (then replaced). */
int fwd_stream_open(struct fwd *f, uint32_t type, const void *payload, size_t len);

#endif
