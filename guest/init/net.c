/* Network setup of the guest by rtnetlink: lo up, and eth0 (virtio-net behind lsl-vmm's libslirp NAT) with
 * libslirp's fixed addresses and default routes. Static, not DHCP: the plan is fixed (net_slirp.c), so a
 * client would only add a process and round trips (DHCP under the emulated host costs ~100 ms) to learn it;
 * IPv6 likewise, with router advertisements turned off so slirp's periodic RA adds no second address.
 * The MTU is the device's (VIRTIO_NET_F_MTU: the driver sets 65520 at probe). musl-gcc has no kernel
 * headers, so the netlink ABI (stable) is spelled out here. */
#include "net.h"

#include "boot.h"
#include "cmdline.h"
#include "fileio.h"
#include "log.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NL_ROUTE         0
#define NL_RTM_NEWLINK   16
#define NL_RTM_NEWADDR   20
#define NL_RTM_NEWROUTE  24
#define NL_MSG_ERROR     2
#define NL_F_REQUEST     0x1
#define NL_F_ACK         0x4
#define NL_F_REPLACE     0x100
#define NL_F_CREATE      0x400
#define NL_IFA_ADDRESS   1
#define NL_IFA_LOCAL     2
#define NL_IFA_FLAGS     8
#define NL_IFA_F_NODAD   0x02
#define NL_RTA_OIF       4
#define NL_RTA_GATEWAY   5
#define NL_RT_TABLE_MAIN 254
#define NL_RTPROT_BOOT   3
#define NL_RTN_UNICAST   1

struct nl_sockaddr {
    sa_family_t family;
    unsigned short pad;
    uint32_t pid, groups;
};
struct nl_hdr {
    uint32_t len;
    uint16_t type, flags;
    uint32_t seq, pid;
};
struct nl_ifinfo {
    uint8_t family, pad;
    uint16_t type;
    int32_t index;
    uint32_t flags, change;
};
struct nl_ifaddr {
    uint8_t family, prefixlen, flags, scope;
    uint32_t index;
};
struct nl_rtmsg {
    uint8_t family, dst_len, src_len, tos, table, protocol, scope, type;
    uint32_t flags;
};
struct nl_attr {
    uint16_t len, type;
};

#define NL_ALIGN(n) (((n) + 3u) & ~3u)

struct nl_req {
    struct nl_hdr h;
    uint8_t body[256];
};

static void nl_begin(struct nl_req *r, uint16_t type, uint16_t flags, const void *msg, size_t len)
{
    memset(r, 0, sizeof(*r));
    r->h.type = type;
    r->h.flags = NL_F_REQUEST | NL_F_ACK | flags;
    memcpy(r->body, msg, len);
    r->h.len = (uint32_t)(sizeof(r->h) + NL_ALIGN(len));
}

/* The requests here are fixed and small: body always has room. */
static void nl_attr(struct nl_req *r, uint16_t type, const void *data, size_t len)
{
    struct nl_attr a = {.len = (uint16_t)(sizeof(a) + len), .type = type};
    uint8_t *p = (uint8_t *)r + r->h.len;
    memcpy(p, &a, sizeof(a));
    memcpy(p + sizeof(a), data, len);
    r->h.len += NL_ALIGN((uint32_t)(sizeof(a) + len));
}

/* Sends one request and waits for its acknowledgement: 0 or the kernel's -errno. */
static int nl_talk(int fd, struct nl_req *r)
{
    static uint32_t seq;
    r->h.seq = ++seq;
    if (send(fd, r, r->h.len, 0) != (ssize_t)r->h.len)
        return -errno;
    for (;;) {
        union {
            struct nl_hdr h;
            uint8_t bytes[1024];
        } ans;
        ssize_t n = recv(fd, &ans, sizeof(ans), 0);
        if (n < 0)
            return errno == EINTR ? 0 : -errno;
        for (size_t off = 0; off + sizeof(struct nl_hdr) <= (size_t)n;) {
            struct nl_hdr h;
            memcpy(&h, ans.bytes + off, sizeof(h));
            if (h.len < sizeof(h) || off + h.len > (size_t)n)
                return -EBADMSG;
            if (h.type == NL_MSG_ERROR && h.seq == seq && h.len >= sizeof(h) + sizeof(int)) {
                int err;
                memcpy(&err, ans.bytes + off + sizeof(h), sizeof(err));
                return err;
            }
            off += NL_ALIGN(h.len);
        }
    }
}

static int link_up(int fd, int index)
{
    struct nl_ifinfo m = {.family = AF_UNSPEC, .index = index, .flags = IFF_UP, .change = IFF_UP};
    struct nl_req r;
    nl_begin(&r, NL_RTM_NEWLINK, 0, &m, sizeof(m));
    return nl_talk(fd, &r);
}

static int add_addr(int fd, int index, int family, const char *text, uint8_t prefix)
{
    uint8_t addr[16];
    size_t alen = family == AF_INET ? 4 : 16;
    if (inet_pton(family, text, addr) != 1)
        return -EINVAL;
    struct nl_ifaddr m = {.family = (uint8_t)family, .prefixlen = prefix, .index = (uint32_t)index};
    struct nl_req r;
    nl_begin(&r, NL_RTM_NEWADDR, NL_F_CREATE | NL_F_REPLACE, &m, sizeof(m));
    nl_attr(&r, NL_IFA_LOCAL, addr, alen);
    nl_attr(&r, NL_IFA_ADDRESS, addr, alen);
    if (family == AF_INET6) {
        uint32_t flags = NL_IFA_F_NODAD; /* usable at once: slirp is the only other node on the link */
        nl_attr(&r, NL_IFA_FLAGS, &flags, sizeof(flags));
    }
    return nl_talk(fd, &r);
}

static int add_default_route(int fd, int index, int family, const char *gateway)
{
    uint8_t gw[16];
    if (inet_pton(family, gateway, gw) != 1)
        return -EINVAL;
    struct nl_rtmsg m = {.family = (uint8_t)family,
                         .table = NL_RT_TABLE_MAIN,
                         .protocol = NL_RTPROT_BOOT,
                         .type = NL_RTN_UNICAST};
    uint32_t oif = (uint32_t)index;
    struct nl_req r;
    nl_begin(&r, NL_RTM_NEWROUTE, NL_F_CREATE | NL_F_REPLACE, &m, sizeof(m));
    nl_attr(&r, NL_RTA_GATEWAY, gw, family == AF_INET ? 4 : 16);
    nl_attr(&r, NL_RTA_OIF, &oif, sizeof(oif));
    return nl_talk(fd, &r);
}

int lsl_net_setup(void)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NL_ROUTE);
    if (fd < 0)
        return lsl_log_errno(errno, "network: netlink socket: %m");
    struct nl_sockaddr sa = {.family = AF_NETLINK};
    int r = 0;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        r = lsl_log_errno(errno, "network: netlink bind: %m");
        goto out;
    }
    int lo = (int)if_nametoindex("lo");
    if (lo > 0 && (r = link_up(fd, lo)) < 0) {
        lsl_log_errno(-r, "network: lo up: %m");
        goto out;
    }
    int eth = (int)if_nametoindex("eth0");
    if (eth <= 0) {
        r = 1; /* no virtio-net: lsl-vmm without --net */
        goto out;
    }
    (void)lsl_write_file("/proc/sys/net/ipv6/conf/eth0/accept_ra", "0");
    (void)lsl_write_file("/proc/sys/net/ipv6/conf/eth0/autoconf", "0");
    const char *what = "eth0 up";
    if ((r = link_up(fd, eth)) < 0)
        goto fail;
    what = "IPv4 address";
    if ((r = add_addr(fd, eth, AF_INET, LSL_NET_GUEST4, LSL_NET_PREFIX4)) < 0)
        goto fail;
    what = "IPv4 default route";
    if ((r = add_default_route(fd, eth, AF_INET, LSL_NET_GATEWAY4)) < 0)
        goto fail;
    /* IPv6 may be off (ipv6.disable=1 on the command line): IPv4 still works then. */
    if (add_addr(fd, eth, AF_INET6, LSL_NET_GUEST6, LSL_NET_PREFIX6) == 0)
        (void)add_default_route(fd, eth, AF_INET6, LSL_NET_GATEWAY6);
    r = 0;
    goto out;
fail:
    lsl_log_errno(-r, "network: %s: %m", what);
out:
    close(fd);
    return r;
}

void lsl_net_resolv_conf(char *buf, size_t len)
{
    char *cmdline = NULL, *search = NULL;
    int n = snprintf(buf, len, "nameserver %s\n", LSL_NET_DNS4);
    if (n < 0 || (size_t)n >= len)
        return;
    /* lsl-vmm checked each name ([A-Za-z0-9._-]); the commas become resolv.conf's spaces. */
    if (lsl_read_file("/proc/cmdline", &cmdline) > 0 &&
        lsl_cmdline_get(cmdline, LSL_CMDLINE_DNS_SEARCH, &search) > 0 && search[0]) {
        for (char *p = search; *p; p++)
            if (*p == ',' || !(isalnum((unsigned char)*p) || *p == '.' || *p == '-' || *p == '_'))
                *p = ' ';
        snprintf(buf + n, len - (size_t)n, "search %s\n", search);
    }
    free(cmdline);
    free(search);
}
