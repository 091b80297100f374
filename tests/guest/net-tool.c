/* Guest-side helper for the network VM tests and benchmark (static musl binary on the test disk).
 * ADDR is numeric, IPv4 or IPv6. Everything goes to the emulated host's own loopback through slirp's
 * 10.0.2.2 / fec0::2: nothing leaves the machine.
 *   send ADDR PORT SECONDS   TCP to ADDR: write for SECONDS, half-close, wait for the peer's count line;
 *                            prints "send BYTES bytes SECONDS s MBPS MB/s"
 *   recv ADDR PORT           TCP to ADDR: read until EOF; prints "recv BYTES bytes SECONDS s MBPS MB/s"
 *   connect ADDR PORT N      N connections one after another, each waits for the peer's first byte;
 *                            prints "connect N p50 MS p95 MS"
 *   udp ADDR PORT N          N datagrams of 1..1400 bytes, each must come back (a host echo server);
 *                            prints "udp N/N echoed"
 *   flood N                  N malformed and oversized frames on eth0 (AF_PACKET), then N/10 UDP datagrams
 *                            from as many source ports to 10.0.2.2 (each a host socket for slirp);
 *                            prints "flood SENT frames"
 *   echo tcp|udp ADDR PORT   an echo server on ADDR (localhost forwarding's tests)
 *   netns ARGS...            ARGS in a new network namespace with its loopback up, as a container's */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TOOL_NAME "net-tool"
#include "tool.h"

/* musl has no <linux/if_packet.h>: the ABI, spelled out. */
#define AF_PACKET_ 17
struct sockaddr_ll_ {
    unsigned short family;
    unsigned short protocol;
    int ifindex;
    unsigned short hatype;
    unsigned char pkttype, halen, addr[8];
};

static char buf[256 << 10];

static int resolve(const char *addr, unsigned port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *len = sizeof(*a4);
        return 0;
    }
    if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*a6);
        return 0;
    }
    errno = EINVAL;
    return -1;
}

static int tcp_connect(const char *addr, unsigned port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (resolve(addr, port, &ss, &len) < 0)
        return -1;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int cmd_send(const char *addr, unsigned port, double seconds)
{
    int fd = tcp_connect(addr, port);
    if (fd < 0)
        return die("connect");
    memset(buf, 'x', sizeof(buf));
    double t0 = now(), t;
    unsigned long long sent = 0;
    while ((t = now()) - t0 < seconds) {
        ssize_t w = write(fd, buf, sizeof(buf));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return die("write");
        sent += (unsigned long long)w;
    }
    shutdown(fd, SHUT_WR);
    /* The peer's count line says everything arrived: the time is the arrival's, not our buffer's. */
    ssize_t r = read(fd, buf, 64);
    double dt = now() - t0;
    if (r <= 0)
        return die("no count from the peer");
    printf("send %llu bytes %.3f s %.1f MB/s\n", sent, dt, (double)sent / dt / 1e6);
    close(fd);
    return 0;
}

static int cmd_recv(const char *addr, unsigned port)
{
    int fd = tcp_connect(addr, port);
    if (fd < 0)
        return die("connect");
    double t0 = now();
    unsigned long long got = 0;
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return die("read");
        if (r == 0)
            break;
        got += (unsigned long long)r;
    }
    double dt = now() - t0;
    printf("recv %llu bytes %.3f s %.1f MB/s\n", got, dt, (double)got / dt / 1e6);
    close(fd);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmd_connect(const char *addr, unsigned port, unsigned n)
{
    double *ms = calloc(n, sizeof(*ms));
    if (!ms || !n)
        return die("count");
    for (unsigned i = 0; i < n; i++) {
        double t0 = now();
        int fd = tcp_connect(addr, port);
        if (fd < 0)
            return die("connect");
        char c;
        if (read(fd, &c, 1) != 1) /* the server's greeting: the connection is up end to end */
            return die("greeting");
        ms[i] = (now() - t0) * 1e3;
        close(fd);
    }
    qsort(ms, n, sizeof(*ms), cmp_double);
    printf("connect %u p50 %.2f ms p95 %.2f ms\n", n, ms[n / 2],
           ms[(n * 95) / 100 < n ? (n * 95) / 100 : n - 1]);
    free(ms);
    return 0;
}

static int cmd_udp(const char *addr, unsigned port, unsigned n)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (resolve(addr, port, &ss, &len) < 0)
        return die("address");
    int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) < 0)
        return die("udp socket");
    unsigned ok = 0;
    for (unsigned i = 0; i < n; i++) {
        size_t size = 1 + (i * 397u) % 1400;
        for (size_t j = 0; j < size; j++)
            buf[j] = (char)(i + j);
        /* A datagram may be lost (the first waits for slirp's ARP): try each up to 5 times. */
        for (int attempt = 0; attempt < 5; attempt++) {
            if (send(fd, buf, size, 0) != (ssize_t)size)
                return die("send");
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, 2000) != 1)
                continue;
            char back[2048];
            ssize_t r = recv(fd, back, sizeof(back), 0);
            if (r == (ssize_t)size && memcmp(back, buf, size) == 0) {
                ok++;
                break;
            }
        }
    }
    printf("udp %u/%u echoed\n", ok, n);
    return ok == n ? 0 : 1;
}

static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return rnd_state >> 8;
}

/* One malformed frame of kind k into f (at most cap bytes): returns its length. Ethernet to slirp's MAC
 * (any unicast reaches it: slirp takes every frame). */
static size_t bad_frame(uint8_t *f, size_t cap, unsigned k)
{
    size_t len = 14 + rnd() % 1500;
    for (size_t i = 0; i < len; i++)
        f[i] = (uint8_t)rnd();
    static const uint8_t dst[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02},
                         src[6] = {0x52, 0x54, 0, 0x12, 0x34, 0x56};
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    uint8_t *ip = f + 14;
    switch (k % 8) {
    case 0: /* IPv4, header length and total length lying */
        f[12] = 0x08, f[13] = 0x00;
        ip[0] = (uint8_t)(0x40 | (rnd() & 15));
        ip[2] = (uint8_t)rnd(), ip[3] = (uint8_t)rnd();
        break;
    case 1: /* IPv4 TCP to the host with a wild data offset and random flags */
        f[12] = 0x08, f[13] = 0x00;
        ip[0] = 0x45, ip[9] = 6;
        ip[12] = 10, ip[13] = 0, ip[14] = 2, ip[15] = 15;
        ip[16] = 10, ip[17] = 0, ip[18] = 2, ip[19] = 2;
        break;
    case 2: /* IPv4 UDP to the DNS forwarder with garbage and a lying UDP length */
        f[12] = 0x08, f[13] = 0x00;
        ip[0] = 0x45, ip[9] = 17, ip[6] = 0, ip[7] = 0;
        ip[12] = 10, ip[13] = 0, ip[14] = 2, ip[15] = 15;
        ip[16] = 10, ip[17] = 0, ip[18] = 2, ip[19] = 3;
        ip[22] = 0, ip[23] = 53;
        break;
    case 3: /* IPv6 with a lying payload length and random next header */
        f[12] = 0x86, f[13] = 0xdd;
        ip[0] = 0x60;
        break;
    case 4: /* ARP, truncated or not */
        f[12] = 0x08, f[13] = 0x06;
        len = 14 + rnd() % 40;
        break;
    case 5: /* shorter than an Ethernet header */
        len = rnd() % 14;
        break;
    case 6: /* IPv4 fragments at random offsets (slirp reassembles) */
        f[12] = 0x08, f[13] = 0x00;
        ip[0] = 0x45, ip[6] = (uint8_t)(0x20 | (rnd() & 0x1f));
        ip[12] = 10, ip[13] = 0, ip[14] = 2, ip[15] = 15;
        ip[16] = 10, ip[17] = 0, ip[18] = 2, ip[19] = 2;
        break;
    default: /* a full-size frame at the MTU */
        f[12] = 0x08, f[13] = 0x00;
        len = cap;
        break;
    }
    /* Whatever else is random, the addresses are slirp's own (the host's loopback, the forwarder): nothing
     * the NAT could send on to another machine. */
    if (f[12] == 0x08 && f[13] == 0x00) {
        static const uint8_t a4[8] = {10, 0, 2, 15, 10, 0, 2, 2};
        memcpy(ip + 12, a4, 8);
        ip[19] = (uint8_t)(2 + (k & 1));
    } else if (f[12] == 0x86 && f[13] == 0xdd) {
        static const uint8_t a6[32] = {0xfe, 0xc0, [15] = 0x15, [16] = 0xfe, [17] = 0xc0, [31] = 0x02};
        memcpy(ip + 8, a6, 32);
    }
    return len < cap ? len : cap;
}

static int cmd_flood(unsigned n)
{
    int ifindex = (int)if_nametoindex("eth0");
    int fd = socket(AF_PACKET_, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (!ifindex || fd < 0)
        return die("packet socket on eth0");
    struct sockaddr_ll_ ll = {.family = AF_PACKET_, .ifindex = ifindex, .halen = 6};
    size_t cap = 65534;
    uint8_t *f = malloc(cap);
    unsigned sent = 0;
    for (unsigned i = 0; i < n; i++) {
        size_t len = bad_frame(f, cap, i);
        if (sendto(fd, f, len, 0, (struct sockaddr *)&ll, sizeof(ll)) >= 0)
            sent++;
    }
    close(fd);
    /* Many flows: each new source port is a host socket in slirp, up to its limit. */
    struct sockaddr_storage ss;
    socklen_t len;
    resolve("10.0.2.2", 9, &ss, &len);
    for (unsigned i = 0; i < n / 10; i++) {
        int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (u < 0)
            return die("udp socket");
        if (sendto(u, "x", 1, 0, (struct sockaddr *)&ss, len) == 1)
            sent++;
        close(u);
    }
    free(f);
    printf("flood %u frames\n", sent);
    return 0;
}

/* echo tcp|udp ADDR PORT: a server for localhost forwarding's tests. It prints "listening" once the socket
 * listens (TCP) or is bound (UDP), then echoes every connection (a process each) or datagram until killed. */
static int cmd_echo(const char *proto, const char *addr, unsigned port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int one = 1, udp = strcmp(proto, "udp") == 0;
    if (resolve(addr, port, &ss, &len) < 0)
        return 1;
    int fd = socket(ss.ss_family, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
    if (fd < 0)
        return die("socket");
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || (!udp && listen(fd, 512) < 0))
        return die("bind/listen");
    printf("listening\n");
    signal(SIGCHLD, SIG_IGN);
    for (;;) {
        if (udp) {
            struct sockaddr_storage peer;
            socklen_t plen = sizeof(peer);
            ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &plen);
            if (n >= 0)
                (void)sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&peer, plen);
            continue;
        }
        int c = accept(fd, NULL, NULL);
        if (c < 0)
            continue;
        if (fork() == 0) {
            ssize_t n;
            close(fd);
            while ((n = read(c, buf, sizeof(buf))) > 0)
                if (write(c, buf, (size_t)n) != n)
                    _exit(1);
            _exit(0);
        }
        close(c);
    }
}

static unsigned num(const char *s)
{
    return (unsigned)strtoul(s, NULL, 10);
}

/* A network namespace of its own, loopback up: what a container's runtime makes. */
static int enter_netns(void)
{
    struct ifreq ifr = {0};
    int fd;

    if (unshare(CLONE_NEWNET) < 0)
        return die("unshare(CLONE_NEWNET)");
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
    if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
        return die("lo");
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
        return die("lo up");
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 2 && strcmp(argv[1], "netns") == 0) {
        if (enter_netns() != 0)
            return 1;
        argc--;
        argv++;
    }
    if (argc == 5 && strcmp(argv[1], "send") == 0)
        return cmd_send(argv[2], num(argv[3]), atof(argv[4]));
    if (argc == 4 && strcmp(argv[1], "recv") == 0)
        return cmd_recv(argv[2], num(argv[3]));
    if (argc == 5 && strcmp(argv[1], "connect") == 0)
        return cmd_connect(argv[2], num(argv[3]), num(argv[4]));
    if (argc == 5 && strcmp(argv[1], "udp") == 0)
        return cmd_udp(argv[2], num(argv[3]), num(argv[4]));
    if (argc == 5 && strcmp(argv[1], "echo") == 0)
        return cmd_echo(argv[2], argv[3], num(argv[4]));
    if (argc == 3 && strcmp(argv[1], "flood") == 0)
        return cmd_flood(num(argv[2]));
    fprintf(stderr,
            "usage: net-tool [netns] send|recv|connect|udp|echo|flood ... (see the top of net-tool.c)\n");
    return 2;
}
