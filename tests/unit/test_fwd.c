/* Localhost forwarding's contract (proto/fwd.h), its relays (proto/fwd_pump.h) and the guest's view of its
 * listeners (guest/agent/ports_scan.c): codecs against their counterparts and hostile input, port lists,
 * and the pumps over real socketpairs. */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "frame.h"
#include "fwd.h"
#include "fwd_pump.h"
#include "listen_events.h"
#include "ports_scan.h"

static void test_ports_roundtrip(void)
{
    struct lsl_fwd_port in[3] = {
        {.proto = LSL_FWD_TCP, .family = LSL_FWD_V4, .port = 80, .distro = "debian"},
        {.proto = LSL_FWD_TCP, .family = LSL_FWD_V6, .port = 65535, .distro = ""},
        {.proto = LSL_FWD_UDP, .family = LSL_FWD_V4, .port = 1},
    };
    uint8_t buf[512];
    size_t len = lsl_fwd_ports_encode(in, 3, buf, sizeof(buf)), n;
    CHECK_EQ(len, lsl_fwd_ports_size(in, 3));
    CHECK_EQ(len, 4 + 5 + 6 + 5 + 5);
    CHECK_EQ(lsl_fwd_ports_encode(in, 3, buf, len - 1), 0);
    struct lsl_fwd_port *out = calloc(LSL_FWD_PORTS_MAX, sizeof(*out));
    CHECK_EQ(lsl_fwd_ports_decode(buf, len, out, &n), 0);
    CHECK_EQ(n, 3);
    CHECK(out[0].port == 80 && !strcmp(out[0].distro, "debian") && out[1].port == 65535 &&
          out[1].family == LSL_FWD_V6 && out[2].proto == LSL_FWD_UDP && !out[2].distro[0]);
    /* Hostile: every truncation, trailing bytes, bad fields, a NUL in a name, a count over the limit. */
    for (size_t cut = 0; cut < len; cut++)
        CHECK_EQ(lsl_fwd_ports_decode(buf, cut, out, &n), -EPROTO);
    buf[len] = 0;
    CHECK_EQ(lsl_fwd_ports_decode(buf, len + 1, out, &n), -EPROTO);
    uint8_t bad[64];
    memcpy(bad, buf, len);
    bad[4] = 3; /* proto */
    CHECK_EQ(lsl_fwd_ports_decode(bad, len, out, &n), -EPROTO);
    memcpy(bad, buf, len);
    bad[5] = 5; /* family */
    CHECK_EQ(lsl_fwd_ports_decode(bad, len, out, &n), -EPROTO);
    memcpy(bad, buf, len);
    bad[6] = bad[7] = 0; /* port 0 */
    CHECK_EQ(lsl_fwd_ports_decode(bad, len, out, &n), -EPROTO);
    memcpy(bad, buf, len);
    bad[9 + 2] = 0; /* "de\0ian" */
    CHECK_EQ(lsl_fwd_ports_decode(bad, len, out, &n), -EPROTO);
    memcpy(bad, buf, len);
    bad[9] = '-'; /* not a distribution name */
    CHECK_EQ(lsl_fwd_ports_decode(bad, len, out, &n), -EPROTO);
    lsl_put_u32(bad, LSL_FWD_PORTS_MAX + 1);
    CHECK_EQ(lsl_fwd_ports_decode(bad, len, out, &n), -EPROTO);
    /* The encoder refuses what the decoder would. */
    struct lsl_fwd_port wrong = {.proto = LSL_FWD_TCP, .family = LSL_FWD_V4, .port = 0};
    CHECK_EQ(lsl_fwd_ports_size(&wrong, 1), 0);
    CHECK_EQ(lsl_fwd_ports_size(in, LSL_FWD_PORTS_MAX + 1), 0);
    /* The largest set fits the readers' bound. */
    for (size_t i = 0; i < LSL_FWD_PORTS_MAX; i++) {
        out[i] = (struct lsl_fwd_port){.proto = LSL_FWD_UDP, .family = LSL_FWD_V6, .port = (uint16_t)(i + 1)};
        memset(out[i].distro, 'a', LSL_DISTRO_NAME_MAX);
        out[i].distro[LSL_DISTRO_NAME_MAX] = '\0';
    }
    CHECK_EQ(lsl_fwd_ports_size(out, LSL_FWD_PORTS_MAX), LSL_FWD_PORTS_SIZE_MAX);
    free(out);
}

static void test_open_and_handshake(void)
{
    struct lsl_fwd_open o = {.proto = LSL_FWD_UDP, .family = LSL_FWD_V6, .port = 5353}, d;
    uint8_t b[4];
    lsl_fwd_open_encode(&o, b);
    CHECK_EQ(lsl_fwd_open_decode(b, 4, &d), 0);
    CHECK(d.proto == LSL_FWD_UDP && d.family == LSL_FWD_V6 && d.port == 5353);
    CHECK_EQ(lsl_fwd_open_decode(b, 3, &d), -EPROTO);
    b[0] = 0;
    CHECK_EQ(lsl_fwd_open_decode(b, 4, &d), -EPROTO);

    uint8_t hs[64];
    uint32_t err = 99;
    uint8_t v[4];
    lsl_put_u32(v, 111);
    memcpy(hs, "OK 999\n", 7);
    size_t len = 7 + lsl_frame_encode(hs + 7, sizeof(hs) - 7, LSL_FWD_OPENED, v, 4);
    memcpy(hs + len, "data", 4);
    CHECK_EQ(lsl_fwd_handshake_parse(hs, len + 4, true, &err), (long)len);
    CHECK_EQ(err, 111);
    for (size_t cut = 0; cut < len; cut++)
        CHECK_EQ(lsl_fwd_handshake_parse(hs, cut, true, &err), 0);
    CHECK_EQ(lsl_fwd_handshake_parse(hs, len, false, &err), 7);
    CHECK_EQ(err, 0);
    CHECK_EQ(lsl_fwd_handshake_parse((const uint8_t *)"NO 1\n", 5, false, &err), -EPROTO);
    CHECK_EQ(lsl_fwd_handshake_parse((const uint8_t *)"OK x\n", 5, false, &err), -EPROTO);
    uint8_t longline[LSL_FWD_LINE_MAX + 1];
    memset(longline, '1', sizeof(longline));
    memcpy(longline, "OK ", 3);
    CHECK_EQ(lsl_fwd_handshake_parse(longline, sizeof(longline), false, &err), -EPROTO);
    /* Another frame than OPENED, or OPENED of another size. */
    len = 7 + lsl_frame_encode(hs + 7, sizeof(hs) - 7, LSL_FWD_DGRAM, "abcd", 4);
    CHECK_EQ(lsl_fwd_handshake_parse(hs, len, true, &err), -EPROTO);
    len = 7 + lsl_frame_encode(hs + 7, sizeof(hs) - 7, LSL_FWD_OPENED, NULL, 0);
    CHECK_EQ(lsl_fwd_handshake_parse(hs, len, true, &err), -EPROTO);
    lsl_put_u32(hs + 7 + 4, 1000); /* a length over OPENED's */
    CHECK_EQ(lsl_fwd_handshake_parse(hs, len, true, &err), -EPROTO);
}

/* Socket forwarding: OPEN_UNIX's payload both ways, and ~/.lslconfig's socketForwarding entries. */
static void test_unix_open_and_socks(void)
{
    struct lsl_fwd_unix u = {.distro = "deb", .path = "/run/docker.sock"}, d;
    uint8_t b[LSL_FWD_UNIX_OPEN_MAX];
    size_t len = lsl_fwd_unix_encode(&u, b, sizeof(b));
    CHECK_EQ(len, 1 + 3 + 16);
    CHECK_EQ(lsl_fwd_unix_decode(b, len, &d), 0);
    CHECK(!strcmp(d.distro, "deb") && !strcmp(d.path, "/run/docker.sock"));
    CHECK_EQ(lsl_fwd_unix_encode(&u, b, len - 1), 0); /* does not fit */
    for (size_t cut = 0; cut < 5; cut++)
        CHECK_EQ(lsl_fwd_unix_decode(b, cut, &d), -EPROTO); /* no path, or a name cut short */
    b[0] = 0; /* no name: "deb/run..." is then a relative path */
    CHECK_EQ(lsl_fwd_unix_decode(b, len, &d), -EPROTO);
    CHECK_EQ(lsl_fwd_unix_decode((const uint8_t *)"\0/x", 3, &d), 0);
    CHECK(!d.distro[0] && !strcmp(d.path, "/x"));
    CHECK_EQ(lsl_fwd_unix_decode((const uint8_t *)"\0/x\0y", 5, &d), -EPROTO);   /* a NUL in the path */
    CHECK_EQ(lsl_fwd_unix_decode((const uint8_t *)"\x01./x", 4, &d), -EPROTO);   /* a bad name */
    CHECK_EQ(lsl_fwd_unix_decode((const uint8_t *)"\x01a\0/x", 4, &d), -EPROTO); /* a NUL in it */
    CHECK_EQ(lsl_fwd_unix_decode((const uint8_t *)"\0/", 2, &d), -EPROTO);       /* "/" is no socket */
    memset(b, 'a', sizeof(b));
    b[0] = 0;
    b[1] = '/';
    CHECK_EQ(lsl_fwd_unix_decode(b, 1 + LSL_FWD_UNIX_PATH_MAX, &d), 0);
    CHECK_EQ(lsl_fwd_unix_decode(b, 2 + LSL_FWD_UNIX_PATH_MAX, &d), -EPROTO);
    u.distro[0] = '\0';
    u.path[0] = 'r'; /* relative */
    CHECK_EQ(lsl_fwd_unix_encode(&u, b, sizeof(b)), 0);

    struct lsl_fwd_socks l;
    CHECK_EQ(lsl_fwd_socks_parse(LSL_FWD_SOCKS_DEFAULT, &l), 0);
    CHECK(l.n == 1 && !l.s[0].guest.distro[0] && !strcmp(l.s[0].guest.path, "/run/docker.sock") &&
          !strcmp(l.s[0].host, "docker.sock"));
    CHECK_EQ(lsl_fwd_socks_parse(" deb : /run/a.sock = /tmp/a.sock ;; /b=~/b.sock ; ", &l), 0);
    CHECK(l.n == 2 && !strcmp(l.s[0].guest.distro, "deb") && !strcmp(l.s[0].guest.path, "/run/a.sock") &&
          !strcmp(l.s[0].host, "/tmp/a.sock") && !l.s[1].guest.distro[0] && !strcmp(l.s[1].host, "~/b.sock"));
    CHECK_EQ(lsl_fwd_socks_parse("", &l), 0);
    CHECK_EQ(l.n, 0);
    CHECK_EQ(lsl_fwd_socks_parse("  ", &l), 0);
    const char *bad[] = {"/a",      "/a=",   "a=b",       "=/b", "/a=/b=c",
                         "-x:/a=b", ":/a=b", "/a=x;/b=x", "/a=" /* long */};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]) - 1; i++)
        CHECK_EQ(lsl_fwd_socks_parse(bad[i], &l), -EINVAL);
    char longhost[LSL_FWD_HOST_PATH_MAX + 8];
    snprintf(longhost, sizeof(longhost), "/a=/%0*d", LSL_FWD_HOST_PATH_MAX, 0);
    CHECK_EQ(lsl_fwd_socks_parse(longhost, &l), -EINVAL);
    longhost[strlen(longhost) - 4] = '\0'; /* 107 bytes of host path */
    CHECK_EQ(lsl_fwd_socks_parse(longhost, &l), 0);
    /* At most LSL_FWD_SOCKS_MAX. */
    char many[LSL_FWD_SOCKS_MAX * 16 + 16] = "";
    for (int i = 0; i <= LSL_FWD_SOCKS_MAX; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "/a=h%d;", i);
    CHECK_EQ(lsl_fwd_socks_parse(many, &l), -EINVAL);
    *strrchr(many, 'h') = '\0';
    *strrchr(many, '=') = '\0';
    *strrchr(many, ';') = '\0';
    CHECK_EQ(lsl_fwd_socks_parse(many, &l), 0);
    CHECK_EQ(l.n, LSL_FWD_SOCKS_MAX);
}

static void test_portset_policy(void)
{
    struct lsl_fwd_portset s;
    CHECK_EQ(lsl_fwd_portset_parse(" 22, 8000 - 8002 ,65535", &s), 0);
    CHECK(lsl_fwd_portset_has(&s, 22) && lsl_fwd_portset_has(&s, 8001) && lsl_fwd_portset_has(&s, 65535));
    CHECK(!lsl_fwd_portset_has(&s, 23) && !lsl_fwd_portset_has(&s, 8003) && !lsl_fwd_portset_has(&s, 0));
    CHECK_EQ(lsl_fwd_portset_parse("", &s), 0);
    CHECK(!lsl_fwd_portset_has(&s, 22));
    const char *bad[] = {"0", "65536", "1-", "5-4", "a", "1,,2", "1,", ",1", "1 2", "-3", "99999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_EQ(lsl_fwd_portset_parse(bad[i], &s), -EINVAL);

    struct lsl_fwd_policy p;
    lsl_fwd_policy_init(&p);
    CHECK(lsl_fwd_policy_allows(&p, 1) && lsl_fwd_policy_allows(&p, 65535));
    CHECK_EQ(lsl_fwd_portset_parse("5432", &p.deny), 0);
    CHECK(!lsl_fwd_policy_allows(&p, 5432) && lsl_fwd_policy_allows(&p, 5433));
    CHECK_EQ(lsl_fwd_portset_parse("3000-9000", &p.allow), 0);
    p.allow_all = false;
    CHECK(lsl_fwd_policy_allows(&p, 3000) && !lsl_fwd_policy_allows(&p, 2999) &&
          !lsl_fwd_policy_allows(&p, 5432));
    p.enabled = false;
    CHECK(!lsl_fwd_policy_allows(&p, 3000));
}

static void nonblock(int fd)
{
    CHECK(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0);
}

/* a <-> pump <-> b: bytes both ways, exact, and each end's half-close reaches the other side. */
static void test_pump(void)
{
    int ab[2], cd[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, ab) == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, cd) == 0);
    nonblock(ab[1]);
    nonblock(cd[0]);
    struct lsl_pump p;
    CHECK_EQ(lsl_pump_init(&p, ab[1], cd[0]), 0);
    CHECK_EQ(lsl_pump_preload(&p, 1, (const uint8_t *)"hi", 2), 0);
    size_t total = 3 * LSL_PUMP_BUF + 123, sent = 0, got = 0;
    uint8_t *src = malloc(total), *dst = malloc(total + 2);
    for (size_t i = 0; i < total; i++)
        src[i] = (uint8_t)(i * 7 + i / 251);
    nonblock(ab[0]);
    nonblock(cd[1]);
    bool closed = false;
    int guard = 0;
    while (got < total + 2 && guard++ < 100000) {
        if (sent < total) {
            ssize_t n = send(ab[0], src + sent, total - sent, MSG_DONTWAIT);
            if (n > 0)
                sent += (size_t)n;
        } else if (!closed) {
            shutdown(ab[0], SHUT_WR);
            closed = true;
        }
        for (int i = 0; i < 2; i++)
            p.readable[i] = p.writable[i] = true;
        CHECK(lsl_pump_run(&p) == 1);
        ssize_t n = recv(cd[1], dst + got, total + 2 - got, MSG_DONTWAIT);
        if (n > 0)
            got += (size_t)n;
    }
    CHECK_EQ(got, total);
    CHECK(memcmp(dst, src, total) == 0);
    CHECK_EQ(recv(cd[1], dst, 1, MSG_DONTWAIT), 0); /* a's end arrived as the end */
    /* The preloaded bytes went the other way first. */
    char hi[3] = {0};
    CHECK_EQ(recv(ab[0], hi, 2, MSG_DONTWAIT), 2);
    CHECK(!strcmp(hi, "hi"));
    shutdown(cd[1], SHUT_WR);
    p.readable[1] = true;
    CHECK_EQ(lsl_pump_run(&p), 0); /* both ends done */
    CHECK_EQ(recv(ab[0], hi, 1, MSG_DONTWAIT), 0);
    lsl_pump_free(&p);
    /* A preload larger than a buffer is refused. */
    CHECK_EQ(lsl_pump_init(&p, ab[1], cd[0]), 0);
    CHECK_EQ(lsl_pump_preload(&p, 0, src, LSL_PUMP_BUF + 1), -ENOBUFS);
    lsl_pump_free(&p);
    free(src);
    free(dst);
    close(ab[0]);
    close(ab[1]);
    close(cd[0]);
    close(cd[1]);
}

struct seen {
    size_t n, bytes;
    uint8_t last;
};
static void deliver(void *opaque, const uint8_t *data, size_t len)
{
    struct seen *s = opaque;
    s->n++;
    s->bytes += len;
    if (len)
        s->last = data[len - 1];
}

static void test_dgram_stream(void)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    nonblock(sv[0]);
    nonblock(sv[1]);
    struct lsl_dgram_stream a, b;
    CHECK_EQ(lsl_dgram_stream_init(&a), 0);
    CHECK_EQ(lsl_dgram_stream_init(&b), 0);
    static uint8_t big[LSL_FWD_DGRAM_MAX + 1];
    memset(big, 7, sizeof(big));
    CHECK(lsl_dgram_stream_put(&a, "", 0));
    CHECK(lsl_dgram_stream_put(&a, big, LSL_FWD_DGRAM_MAX));
    CHECK(!lsl_dgram_stream_put(&a, big, LSL_FWD_DGRAM_MAX + 1));
    CHECK_EQ(a.dropped, 1);
    /* The queue is bounded: it drops instead of growing. */
    size_t queued = 2;
    while (lsl_dgram_stream_put(&a, big, 1000))
        queued++;
    CHECK(queued < 2 + LSL_DGRAM_QUEUE / 1000 && a.dropped == 2);
    struct seen s = {0};
    int guard = 0;
    while (s.n < queued && guard++ < 10000) {
        int r = lsl_dgram_stream_flush(&a, sv[0]);
        CHECK(r == 0 || r == -EAGAIN);
        CHECK_EQ(lsl_dgram_stream_read(&b, sv[1], deliver, &s), 1);
    }
    CHECK_EQ(s.n, queued);
    CHECK_EQ(s.bytes, LSL_FWD_DGRAM_MAX + (queued - 2) * 1000);
    /* A frame of another type, or longer than a datagram, breaks the stream. */
    uint8_t f[16];
    size_t n = lsl_frame_encode(f, sizeof(f), LSL_FWD_PORTS, "x", 1);
    CHECK_EQ(lsl_dgram_stream_feed(&b, f, n, deliver, &s), -EPROTO);
    b.in_len = 0;
    lsl_put_u32(f, LSL_FWD_DGRAM);
    lsl_put_u32(f + 4, LSL_FWD_DGRAM_MAX + 1);
    CHECK_EQ(lsl_dgram_stream_feed(&b, f, 8, deliver, &s), -EPROTO);
    /* The end of the stream. */
    b.in_len = 0;
    close(sv[0]);
    CHECK_EQ(lsl_dgram_stream_read(&b, sv[1], deliver, &s), 0);
    close(sv[1]);
    lsl_dgram_stream_free(&a);
    lsl_dgram_stream_free(&b);
}

static void test_ports_scan_parsing(void)
{
    struct ports_socket s;
    /* 127.0.0.1:53, unconnected; the same connected; 0.0.0.0:5353 in v6 form; the header. */
    CHECK_EQ(ports_parse_proc_udp("  123: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 "
                                  "00000000     0        0 4242 2 0000000000000000 0\n",
                                  AF_INET, &s),
             1);
    CHECK(s.port == 53 && s.inode == 4242 && s.addr[0] == 127 && s.addr[3] == 1 && s.proto == LSL_FWD_UDP);
    CHECK_EQ(ports_parse_proc_udp("  123: 0100007F:0035 0100007F:1234 01 00000000:00000000 00:00000000 "
                                  "00000000     0        0 4243 2 0000000000000000 0\n",
                                  AF_INET, &s),
             0);
    CHECK_EQ(ports_parse_proc_udp("   sl  local_address rem_address   st tx_queue rx_queue tr tm->when",
                                  AF_INET, &s),
             0);
    CHECK_EQ(ports_parse_proc_udp("  7: 00000000000000000000000000000000:14E9 "
                                  "00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 "
                                  "00000000     0        0 99 2 0000000000000000 0\n",
                                  AF_INET6, &s),
             1);
    CHECK(s.port == 5353 && s.af == AF_INET6);
    CHECK_EQ(ports_parse_proc_udp("  7: 0100007Z:0035 00000000:0000 07 0:0 0:0 0 0 0 1", AF_INET, &s),
             -EINVAL);
    CHECK_EQ(ports_parse_proc_udp("garbage", AF_INET, &s), -EINVAL);

    /* Which host addresses each kind of guest socket gives. */
    struct lsl_fwd_port out[8];
    struct ports_origin origin[8];
    size_t n = 0;
    struct ports_socket any6 = {.proto = LSL_FWD_TCP, .af = AF_INET6, .port = 80, .inode = 1};
    ports_add(&any6, 7, out, origin, &n, 8);
    CHECK(n == 2 && out[0].family == LSL_FWD_V4 && out[1].family == LSL_FWD_V6);
    struct ports_socket lo4 = {.proto = LSL_FWD_TCP, .af = AF_INET, .addr = {127, 0, 0, 1}, .port = 80};
    ports_add(&lo4, 7, out, origin, &n, 8); /* a duplicate of the first */
    CHECK_EQ(n, 2);
    struct ports_socket only6 = {.proto = LSL_FWD_TCP, .af = AF_INET6, .port = 81, .v6only = 1};
    ports_add(&only6, 7, out, origin, &n, 8);
    CHECK(n == 3 && out[2].port == 81 && out[2].family == LSL_FWD_V6);
    struct ports_socket lo6 = {.proto = LSL_FWD_UDP, .af = AF_INET6, .addr = {[15] = 1}, .port = 82};
    ports_add(&lo6, 7, out, origin, &n, 8);
    CHECK(n == 4 && out[3].proto == LSL_FWD_UDP && out[3].family == LSL_FWD_V6);
    struct ports_socket eth = {.proto = LSL_FWD_TCP, .af = AF_INET, .addr = {10, 0, 2, 15}, .port = 83};
    ports_add(&eth, 7, out, origin, &n, 8); /* neither wildcard nor loopback: not this feature's */
    struct ports_socket lo2 = {.proto = LSL_FWD_TCP, .af = AF_INET, .addr = {127, 0, 0, 2}, .port = 84};
    ports_add(&lo2, 7, out, origin, &n, 8); /* the forwarder connects to 127.0.0.1, which cannot reach it */
    CHECK_EQ(n, 4);
    /* Sorted by protocol, family, port; full is full. */
    struct ports_socket p1 = {.proto = LSL_FWD_TCP, .af = AF_INET, .port = 1};
    ports_add(&p1, 7, out, origin, &n, 4);
    CHECK_EQ(n, 4);
    ports_add(&p1, 7, out, origin, &n, 8);
    CHECK(n == 5 && out[0].port == 1 && out[4].proto == LSL_FWD_UDP);
    CHECK(lsl_fwd_ports_size(out, n) > 0);
    /* A port in two network namespaces: the first scanned (the VM's) keeps it, and each entry says where. */
    struct ports_socket other = {.proto = LSL_FWD_TCP, .af = AF_INET, .port = 1, .inode = 99};
    ports_add(&other, 8, out, origin, &n, 8);
    CHECK(n == 5 && origin[0].netns == 7 && origin[0].inode == 0);
    struct ports_socket other2 = {.proto = LSL_FWD_TCP, .af = AF_INET, .port = 2, .inode = 99};
    ports_add(&other2, 8, out, origin, &n, 8);
    CHECK(n == 6 && out[1].port == 2 && origin[1].netns == 8 && origin[1].inode == 99);
}

/* listen_events.c spells out the BPF ABI for musl; it must be the kernel's. */
static void test_listen_events_abi(void)
{
    struct listen_events_abi a;
    listen_events_abi(&a);
    CHECK_EQ(a.map_ringbuf, BPF_MAP_TYPE_RINGBUF);
    CHECK_EQ(a.prog_cgroup_sock, BPF_PROG_TYPE_CGROUP_SOCK);
    CHECK_EQ(a.prog_sock_ops, BPF_PROG_TYPE_SOCK_OPS);
    CHECK_EQ(a.att_sock_ops, BPF_CGROUP_SOCK_OPS);
    CHECK_EQ(a.att_inet4_post_bind, BPF_CGROUP_INET4_POST_BIND);
    CHECK_EQ(a.att_inet6_post_bind, BPF_CGROUP_INET6_POST_BIND);
    CHECK_EQ(a.att_sock_release, BPF_CGROUP_INET_SOCK_RELEASE);
    CHECK_EQ(a.fn_cb_flags_set, BPF_FUNC_sock_ops_cb_flags_set);
    CHECK_EQ(a.fn_netns_cookie, BPF_FUNC_get_netns_cookie);
    CHECK_EQ(a.fn_ringbuf_output, BPF_FUNC_ringbuf_output);
    CHECK_EQ(a.ops_listen_cb, BPF_SOCK_OPS_TCP_LISTEN_CB);
    CHECK_EQ(a.ops_state_cb, BPF_SOCK_OPS_STATE_CB);
    CHECK_EQ(a.ops_state_cb_flag, BPF_SOCK_OPS_STATE_CB_FLAG);
    CHECK_EQ(a.tcp_listen, BPF_TCP_LISTEN);
    CHECK_EQ(a.off_ops_op, offsetof(struct bpf_sock_ops, op));
    CHECK_EQ(a.off_ops_args, offsetof(struct bpf_sock_ops, args));
    CHECK_EQ(a.off_sock_protocol, offsetof(struct bpf_sock, protocol));
    CHECK_EQ(a.off_sock_src_port, offsetof(struct bpf_sock, src_port));
    CHECK_EQ(a.off_attr_expected_attach_type, offsetof(union bpf_attr, expected_attach_type));
    CHECK_EQ(a.off_attr_prog_name, offsetof(union bpf_attr, prog_name));
}

int main(void)
{
    RUN(test_ports_roundtrip);
    RUN(test_listen_events_abi);
    RUN(test_open_and_handshake);
    RUN(test_unix_open_and_socks);
    RUN(test_portset_policy);
    RUN(test_pump);
    RUN(test_dgram_stream);
    RUN(test_ports_scan_parsing);
    return CHECK_DONE();
}
