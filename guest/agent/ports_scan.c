/* See ports_scan.h. musl-gcc has no kernel headers, so the sock_diag ABI (stable) is spelled out here. */
#include "ports_scan.h"

#include "distro_layout.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define NL_SOCK_DIAG          4
#define NL_SOCK_DIAG_BY_FAM   20
#define NL_F_REQUEST          0x1
#define NL_F_DUMP             0x300
#define NL_MSG_ERROR          2
#define NL_MSG_DONE           3
#define DIAG_TCP_LISTEN       10
#define DIAG_ATTR_SKV6ONLY    11
#define PROC_UDP_STATE_UNCONN 7 /* TCP_CLOSE: bound, not connected */

struct diag_sockid {
    uint16_t sport, dport; /* network order */
    uint32_t src[4], dst[4];
    uint32_t ifindex;
    uint32_t cookie[2];
};
struct diag_req {
    uint8_t family, protocol, ext, pad;
    uint32_t states;
    struct diag_sockid id;
};
struct diag_msg {
    uint8_t family, state, timer, retrans;
    struct diag_sockid id;
    uint32_t expires, rqueue, wqueue, uid, inode;
};
struct nl_hdr {
    uint32_t len;
    uint16_t type, flags;
    uint32_t seq, pid;
};
struct nl_attr {
    uint16_t len, type;
};
#define NL_ALIGN(n) (((n) + 3u) & ~3u)

static int cmp_port(const struct lsl_fwd_port *a, const struct lsl_fwd_port *b)
{
    if (a->proto != b->proto)
        return a->proto - b->proto;
    if (a->family != b->family)
        return a->family - b->family;
    return (int)a->port - (int)b->port;
}

static void insert(const struct lsl_fwd_port *e, struct ports_origin o, struct lsl_fwd_port *out,
                   struct ports_origin *origin, size_t *n, size_t max)
{
    size_t i = 0;

    while (i < *n && cmp_port(&out[i], e) < 0)
        i++;
    if ((i < *n && cmp_port(&out[i], e) == 0) || *n == max)
        return;
    memmove(&out[i + 1], &out[i], (*n - i) * sizeof(*out));
    memmove(&origin[i + 1], &origin[i], (*n - i) * sizeof(*origin));
    out[i] = *e;
    origin[i] = o;
    (*n)++;
}

void ports_add(const struct ports_socket *sock, uint64_t netns, struct lsl_fwd_port *out,
               struct ports_origin *origin, size_t *n, size_t max)
{
    struct ports_origin o = {.inode = sock->inode, .netns = netns};
    static const uint8_t any6[16], lo6[16] = {[15] = 1};
    static const uint8_t any4[4], lo4[4] = {127, 0, 0, 1};
    struct lsl_fwd_port e = {.proto = sock->proto, .port = sock->port};
    bool v4 = false, v6 = false;

    if (!sock->port)
        return;
    if (sock->af == AF_INET) {
        v4 = !memcmp(sock->addr, any4, 4) || !memcmp(sock->addr, lo4, 4);
    } else if (sock->af == AF_INET6) {
        bool any = !memcmp(sock->addr, any6, 16);
        v6 = any || !memcmp(sock->addr, lo6, 16);
        v4 = any && !sock->v6only; /* a dual-stack wildcard takes IPv4 connections too */
    }
    if (v4) {
        e.family = LSL_FWD_V4;
        insert(&e, o, out, origin, n, max);
    }
    if (v6) {
        e.family = LSL_FWD_V6;
        insert(&e, o, out, origin, n, max);
    }
}

/* The kernel prints each 32-bit word of the address as the integer it is in memory (%08X), so reading it
 * back as an integer and storing it in memory gives the address's bytes. */
static int parse_hex_addr(const char *s, size_t words, uint8_t *addr)
{
    for (size_t i = 0; i < words; i++) {
        char word[9];
        char *end;
        uint32_t v;

        memcpy(word, s + 8 * i, 8);
        word[8] = '\0';
        if (strspn(word, "0123456789abcdefABCDEF") != 8)
            return -EINVAL;
        v = (uint32_t)strtoul(word, &end, 16);
        memcpy(addr + 4 * i, &v, 4);
    }
    return 0;
}

int ports_parse_proc_udp(const char *line, int af, struct ports_socket *sock)
{
    char local[64], remote[64];
    unsigned state, uid, timeout;
    unsigned long inode;
    size_t words = af == AF_INET ? 1 : 4;
    const char *colon;

    if (strstr(line, "local_address"))
        return 0;
    /* "sl: LOCAL:PORT REMOTE:PORT st tx:rx tr:when retrnsmt uid timeout inode ..." */
    colon = strchr(line, ':');
    if (!colon || sscanf(colon + 1, " %63s %63s %x %*s %*s %*s %u %u %lu", local, remote, &state, &uid,
                         &timeout, &inode) != 6)
        return -EINVAL;
    if (strlen(local) != 8 * words + 5 || local[8 * words] != ':' || strlen(remote) != 8 * words + 5)
        return -EINVAL;
    memset(sock, 0, sizeof(*sock));
    sock->proto = LSL_FWD_UDP;
    sock->af = af;
    sock->inode = (uint32_t)inode;
    if (parse_hex_addr(local, words, sock->addr) < 0 ||
        strspn(local + 8 * words + 1, "0123456789abcdefABCDEF") != 4)
        return -EINVAL;
    sock->port = (uint16_t)strtoul(local + 8 * words + 1, NULL, 16);
    /* A connected socket has a remote port: it talks to one peer, it does not serve. */
    if (state != PROC_UDP_STATE_UNCONN || strcmp(remote + 8 * words, ":0000") != 0)
        return 0;
    return 1;
}

static void scan_udp(const char *path, int af, uint64_t netns, struct lsl_fwd_port *out,
                     struct ports_origin *origin, size_t *n, size_t max)
{
    FILE *f = fopen(path, "re");
    char line[512];

    if (!f)
        return; /* no IPv6, say */
    while (fgets(line, sizeof(line), f)) {
        struct ports_socket sock;

        if (ports_parse_proc_udp(line, af, &sock) == 1)
            ports_add(&sock, netns, out, origin, n, max);
    }
    fclose(f);
}

int ports_diag_open(void)
{
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NL_SOCK_DIAG);

    return fd < 0 ? -errno : fd;
}

/* One dump of TCP listeners of family af. */
static int scan_tcp(int nl, int af, uint64_t netns, struct lsl_fwd_port *out, struct ports_origin *origin,
                    size_t *n, size_t max)
{
    static uint32_t seq;
    static uint8_t buf[32768] __attribute__((aligned(4)));
    struct {
        struct nl_hdr h;
        struct diag_req r;
    } req = {
        .h = {.len = sizeof(req),
              .type = NL_SOCK_DIAG_BY_FAM,
              .flags = NL_F_REQUEST | NL_F_DUMP,
              .seq = ++seq},
        .r = {.family = (uint8_t)af, .protocol = IPPROTO_TCP, .states = 1u << DIAG_TCP_LISTEN},
    };

    if (send(nl, &req, sizeof(req), 0) < 0)
        return -errno;
    for (;;) {
        ssize_t len = recv(nl, buf, sizeof(buf), 0);
        size_t pos = 0;

        if (len < 0 && errno == EINTR)
            continue;
        if (len < 0)
            return -errno;
        while ((size_t)len - pos >= sizeof(struct nl_hdr)) {
            struct nl_hdr *h = (struct nl_hdr *)(buf + pos);

            if (h->len < sizeof(*h) || h->len > (size_t)len - pos)
                return -EPROTO;
            if (h->seq != seq) {
                pos += NL_ALIGN(h->len);
                continue;
            }
            if (h->type == NL_MSG_DONE)
                return 0;
            if (h->type == NL_MSG_ERROR) {
                int32_t err = 0;
                if (h->len >= sizeof(*h) + 4)
                    memcpy(&err, buf + pos + sizeof(*h), 4);
                return err < 0 ? err : -EPROTO;
            }
            if (h->type == NL_SOCK_DIAG_BY_FAM && h->len >= sizeof(*h) + sizeof(struct diag_msg)) {
                const struct diag_msg *m = (const struct diag_msg *)(buf + pos + sizeof(*h));
                struct ports_socket sock = {.proto = LSL_FWD_TCP, .af = m->family, .inode = m->inode};
                size_t apos = sizeof(*h) + sizeof(*m);

                sock.port = ntohs(m->id.sport);
                memcpy(sock.addr, m->id.src, 16);
                while (h->len >= apos + sizeof(struct nl_attr)) {
                    const struct nl_attr *a = (const struct nl_attr *)(buf + pos + apos);
                    if (a->len < sizeof(*a) || a->len > h->len - apos)
                        break;
                    if (a->type == DIAG_ATTR_SKV6ONLY && a->len > sizeof(*a))
                        sock.v6only = buf[pos + apos + sizeof(*a)];
                    apos += NL_ALIGN(a->len);
                }
                ports_add(&sock, netns, out, origin, n, max);
            }
            pos += NL_ALIGN(h->len);
        }
    }
}

int ports_scan(int nl, uint64_t netns, struct lsl_fwd_port *out, struct ports_origin *origin, size_t *n,
               size_t max)
{
    int r = scan_tcp(nl, AF_INET, netns, out, origin, n, max);

    if (r >= 0)
        r = scan_tcp(nl, AF_INET6, netns, out, origin, n, max);
    if (r < 0)
        return r;
    /* /proc/net is /proc/self/net: the namespace the caller is in now. */
    scan_udp("/proc/net/udp", AF_INET, netns, out, origin, n, max);
    scan_udp("/proc/net/udp6", AF_INET6, netns, out, origin, n, max);
    return 0;
}

/* "0::/lsl/NAME[/...]" of PID into name. */
static void cgroup_name(const char *pid, char *name, size_t len)
{
    char path[300], line[512];
    const char *prefix = &LSL_CGROUP_DIR[strlen("/sys/fs/cgroup")];
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%s/cgroup", pid);
    f = fopen(path, "re");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        size_t pl = strlen(prefix);
        if (strncmp(line, "0::", 3) != 0 || strncmp(line + 3, prefix, pl) != 0 || line[3 + pl] != '/')
            continue;
        const char *start = line + 3 + pl + 1;
        size_t n = strcspn(start, "/\n");
        if (n && n < len && n <= LSL_DISTRO_NAME_MAX) {
            memcpy(name, start, n);
            name[n] = '\0';
            if (!lsl_distro_name_valid(name))
                name[0] = '\0';
        }
    }
    fclose(f);
}

void ports_owner(uint32_t inode, char *name, size_t len)
{
    char want[32];
    DIR *proc = opendir("/proc");
    struct dirent *de;

    name[0] = '\0';
    if (!proc)
        return;
    snprintf(want, sizeof(want), "socket:[%u]", inode);
    while ((de = readdir(proc))) {
        char path[300], link[64];
        DIR *fds;
        struct dirent *fe;
        bool found = false;

        if (strspn(de->d_name, "0123456789") != strlen(de->d_name))
            continue;
        snprintf(path, sizeof(path), "/proc/%s/fd", de->d_name);
        fds = opendir(path);
        if (!fds)
            continue;
        while (!found && (fe = readdir(fds))) {
            char fdpath[600];
            ssize_t n;

            if (fe->d_name[0] == '.')
                continue;
            snprintf(fdpath, sizeof(fdpath), "%s/%s", path, fe->d_name);
            n = readlink(fdpath, link, sizeof(link) - 1);
            if (n > 0) {
                link[n] = '\0';
                found = strcmp(link, want) == 0;
            }
        }
        closedir(fds);
        if (found) {
            cgroup_name(de->d_name, name, len);
            break;
        }
    }
    closedir(proc);
}

void ports_kick(void)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    if (fd < 0)
        return;
    memcpy(addr.sun_path + 1, PORTS_KICK_SOCKET, strlen(PORTS_KICK_SOCKET));
    (void)sendto(fd, "", 1, 0, (struct sockaddr *)&addr,
                 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(PORTS_KICK_SOCKET)));
    close(fd);
}
