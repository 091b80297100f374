/* Localhost forwarding: the contract between the service (vmm/service/fwd*.c) and the guest's forwarder
 * (guest/init/fwd.c), and the port lists of ~/.lslconfig that lsl hands lsl-vmm. Both sides speak
 * proto/frame.h's frames (u32 type, u32 len, payload, little-endian) on streams to vsock port LSL_FWD_PORT;
 * the first frame the host sends says what the stream is for:
 *
 *   WATCH(u32 version): the guest answers PORTS at once and again whenever the set changes; the host may send
 *   PACE at any time. The guest closes a watch it cannot serve (another version).
 *
 *   OPEN(u8 proto, u8 family, u16 port): the guest connects to its loopback address of that family at that
 *   port and answers OPENED(u32 0 or the errno of its connect). After OPENED 0 a TCP stream carries the
 *   connection's bytes as they are, both ways; a UDP one carries DGRAM frames, one datagram each, both ways.
 *
 *   OPEN_UNIX(u8 name_len, name_len bytes of a distribution's name, then the rest: an absolute path): the
 *   guest connects to the unix stream socket at that path as that distribution's processes see it (resolved
 *   inside its root; an empty name: each running distribution in turn until one has a listener there) and
 *   answers OPENED as for OPEN; after OPENED 0 the stream carries the connection's bytes. Socket forwarding
 *   (~/.lslconfig's socketForwarding, below): Docker's socket on a host path.
 *
 *   STAT_UNIX(the payload of OPEN_UNIX): whether a unix socket is at that path (in that distribution, or in
 *   any running one), never connecting (a socket-activated daemon is not started by asking): OPENED(0 or the
 *   errno: ENOENT none, ESRCH no such running distribution), and the guest closes. lsl --status asks it.
 *
 * PORTS payload: u32 count (<= LSL_FWD_PORTS_MAX), then count entries of
 *   u8 proto (LSL_FWD_TCP, LSL_FWD_UDP), u8 family (LSL_FWD_V4, LSL_FWD_V6), u16 port (1..65535),
 *   u8 name_len (0..LSL_DISTRO_NAME_MAX), name_len bytes: the distribution whose process listens (empty: the
 *   system root, or not known)
 * and nothing after the last entry. An entry means "a connection to the guest's loopback of that family at
 * that port reaches a listener": a guest socket on 0.0.0.0 or 127.0.0.1 is a V4 entry, one on ::1 a V6 one,
 * one on :: both (V6 only, when it is IPV6_V6ONLY). */
#ifndef LSL_PROTO_FWD_H
#define LSL_PROTO_FWD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "distro.h"

/* Below 1024, so only root in the guest can bind it; below the distributions' agent ports. */
#define LSL_FWD_PORT    999
#define LSL_FWD_VERSION 1
/* The most entries one PORTS frame carries; a guest that listens on more is forwarded the first ones. */
#define LSL_FWD_PORTS_MAX 1024
#define LSL_FWD_DGRAM_MAX 65535
/* PORTS is the longest frame either side sends: the readers hold no more than this. */
#define LSL_FWD_PORTS_SIZE_MAX (4 + LSL_FWD_PORTS_MAX * (5 + LSL_DISTRO_NAME_MAX))

enum lsl_fwd_frame_type {
    LSL_FWD_WATCH = 64, /* host -> guest, first frame: u32 LSL_FWD_VERSION */
    LSL_FWD_PACE = 65,  /* host -> guest on a watch: u32 LSL_FWD_PACE_IDLE or LSL_FWD_PACE_BUSY */
    LSL_FWD_PORTS = 66, /* guest -> host on a watch: the whole set of listeners (above) */
    LSL_FWD_OPEN = 67,  /* host -> guest, first frame: u8 proto, u8 family, u16 port */
    LSL_FWD_OPENED =
        68, /* guest -> host: u32 0, or the errno of the guest's connect (then the guest closes) */
    LSL_FWD_DGRAM = 69,     /* both ways on a UDP stream: one datagram of 0..LSL_FWD_DGRAM_MAX bytes */
    LSL_FWD_OPEN_UNIX = 70, /* host -> guest, first frame: u8 name_len, name, path (above) */
    LSL_FWD_STAT_UNIX = 71, /* host -> guest, first frame: as OPEN_UNIX; OPENED answers, then the end */
};

/* How fast the guest should notice a new listener: sessions are open (BUSY, every LSL_FWD_SCAN_BUSY_MS),
 * or none is (IDLE, every LSL_FWD_SCAN_IDLE_MS). */
enum lsl_fwd_pace { LSL_FWD_PACE_IDLE = 0, LSL_FWD_PACE_BUSY = 1 };
#define LSL_FWD_SCAN_BUSY_MS 25
#define LSL_FWD_SCAN_IDLE_MS 1000

enum lsl_fwd_proto { LSL_FWD_TCP = 1, LSL_FWD_UDP = 2 };
enum lsl_fwd_family { LSL_FWD_V4 = 4, LSL_FWD_V6 = 6 };

struct lsl_fwd_port {
    uint8_t proto;  /* enum lsl_fwd_proto */
    uint8_t family; /* enum lsl_fwd_family */
    uint16_t port;
    char distro[LSL_DISTRO_NAME_MAX + 1]; /* "" when none */
};

struct lsl_fwd_open {
    uint8_t proto, family;
    uint16_t port;
};

const char *lsl_fwd_proto_name(uint8_t proto); /* "tcp", "udp", "?" */

/* PORTS: the encoded size of n entries (0 when they cannot be sent: too many, a bad field or name); the
 * encoder (0 as the size, or when cap is too small); the decoder into out (room for LSL_FWD_PORTS_MAX), *n
 * the count: 0, or -EPROTO for anything malformed (too many entries, bad fields, a bad name, truncation,
 * trailing bytes). */
size_t lsl_fwd_ports_size(const struct lsl_fwd_port *p, size_t n);
size_t lsl_fwd_ports_encode(const struct lsl_fwd_port *p, size_t n, uint8_t *out, size_t cap);
int lsl_fwd_ports_decode(const uint8_t *data, size_t len, struct lsl_fwd_port *out, size_t *n);

/* OPEN's 4 payload bytes, both ways; the decoder returns 0 or -EPROTO (wrong length, bad fields). */
void lsl_fwd_open_encode(const struct lsl_fwd_open *o, uint8_t out[4]);
int lsl_fwd_open_decode(const uint8_t *data, size_t len, struct lsl_fwd_open *o);

/* One frame at the start of buf (len bytes) whose payload may be at most max bytes. Returns the frame's whole
 * size (header and payload) with *type, *payload and *plen set, 0 when more bytes are needed, or -EPROTO
 * when the header announces more than max. */
long lsl_fwd_frame_peek(const uint8_t *buf, size_t len, uint32_t max, uint32_t *type, const uint8_t **payload,
                        uint32_t *plen);

/* The start of a stream to LSL_FWD_PORT as the host reads it: the hybrid vsock's "OK <port>\n" line, then
 * (expect_opened) an OPENED frame. Returns the bytes the two took with *err set to OPENED's value (0 when
 * !expect_opened), 0 when more bytes are needed, or -EPROTO (a line that is not OK or too long, another
 * frame, a bad length). */
long lsl_fwd_handshake_parse(const uint8_t *buf, size_t len, bool expect_opened, uint32_t *err);
#define LSL_FWD_LINE_MAX 32

/* OPEN_UNIX: the guest path's limit (a unix socket address holds 107 bytes; the guest connects through an
 * O_PATH fd, so its paths may be longer) and the payload's. */
#define LSL_FWD_UNIX_PATH_MAX 255
#define LSL_FWD_UNIX_OPEN_MAX (1 + LSL_DISTRO_NAME_MAX + LSL_FWD_UNIX_PATH_MAX)
struct lsl_fwd_unix {
    char distro[LSL_DISTRO_NAME_MAX + 1]; /* "" any running distribution */
    char path[LSL_FWD_UNIX_PATH_MAX + 1]; /* absolute */
};
/* Encodes u into out (cap bytes): the payload's length, or 0 when u is invalid or does not fit. The decoder
 * returns 0 or -EPROTO (a bad name, a path that is empty, relative, too long or holds a NUL). */
size_t lsl_fwd_unix_encode(const struct lsl_fwd_unix *u, uint8_t *out, size_t cap);
int lsl_fwd_unix_decode(const uint8_t *data, size_t len, struct lsl_fwd_unix *u);

/* ~/.lslconfig's socketForwarding: "[NAME:]GUESTPATH=HOSTPATH; ..." - a guest unix socket (in distribution
 * NAME, or whichever running one has it) reachable at a host path while the VM runs. The host path is kept
 * as written here (the CLI makes a relative one absolute under the runtime directory, ~/ under $HOME); it
 * must fit a unix socket address. Default: Docker's socket (LSL_FWD_SOCKS_DEFAULT). */
#define LSL_FWD_SOCKS_MAX     16
#define LSL_FWD_HOST_PATH_MAX 107
#define LSL_FWD_SOCKS_DEFAULT "/run/docker.sock=docker.sock"
struct lsl_fwd_sock {
    struct lsl_fwd_unix guest;
    char host[LSL_FWD_HOST_PATH_MAX + 1];
};
struct lsl_fwd_socks {
    struct lsl_fwd_sock s[LSL_FWD_SOCKS_MAX];
    size_t n;
};
/* One entry (blanks around its parts allowed). Returns 0 or -EINVAL. */
int lsl_fwd_sock_parse(const char *text, struct lsl_fwd_sock *s);
/* Adds entry text to list. Returns 0, or -EINVAL (a bad entry, the list full, a host path in it already). */
int lsl_fwd_socks_add(struct lsl_fwd_socks *list, const char *text);
/* The list: entries separated by ';' ("" and blanks: none). Returns 0, or -EINVAL as _add does. */
int lsl_fwd_socks_parse(const char *text, struct lsl_fwd_socks *list);

/* A set of ports, from ~/.lslconfig's lists ("22, 8000-8100"): ports 1..65535 and ranges A-B (A <= B),
 * separated by commas, blanks around them allowed. */
struct lsl_fwd_portset {
    uint64_t bits[65536 / 64];
};
/* Parses text into set (cleared first; "" is the empty set). Returns 0 or -EINVAL. */
int lsl_fwd_portset_parse(const char *text, struct lsl_fwd_portset *set);
bool lsl_fwd_portset_has(const struct lsl_fwd_portset *set, uint16_t port);

/* Which guest ports are forwarded: none when !enabled; otherwise those in allow (every port when allow is
 * not given) and not in deny. */
struct lsl_fwd_policy {
    bool enabled;
    bool allow_all;
    struct lsl_fwd_portset allow, deny;
};
/* Enabled, every port. */
void lsl_fwd_policy_init(struct lsl_fwd_policy *p);
bool lsl_fwd_policy_allows(const struct lsl_fwd_policy *p, uint16_t port);

#endif
