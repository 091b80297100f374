/* The guest's listeners as localhost forwarding sees them (proto/fwd.h's PORTS entries): TCP sockets in
 * LISTEN from a sock_diag dump, UDP sockets bound and unconnected from /proc/net/udp{,6} (the kernel has
 * INET_DIAG but not INET_UDP_DIAG; the files are the same table, read the same way), on a wildcard or
 * loopback address of the caller's network namespace: the VM's, which the distributions share, or a
 * container's (the forwarder enters each in turn). */
#ifndef LSL_AGENT_PORTS_SCAN_H
#define LSL_AGENT_PORTS_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "fwd.h" /* proto/ */

/* What one socket contributes, before the address is turned into entries. */
struct ports_socket {
    uint8_t proto;    /* LSL_FWD_TCP, LSL_FWD_UDP */
    int af;           /* AF_INET, AF_INET6 */
    uint8_t addr[16]; /* network order; 4 bytes for AF_INET */
    uint16_t port;    /* host order */
    uint8_t v6only;   /* AF_INET6: IPV6_V6ONLY */
    uint32_t inode;   /* the socket's inode, to find its owner */
};

/* Where an entry came from: one socket behind it and the network namespace (its nsfs inode) it is in. */
struct ports_origin {
    uint32_t inode;
    uint64_t netns;
};

/* Adds the entries sock (in network namespace netns) gives (none for an address that is neither wildcard nor
 * loopback) to out, which holds *n of max, keeping it sorted by (proto, family, port) without duplicates:
 * the first added wins. The entry's distro is left empty and origin[i] says where out[i] came from. */
void ports_add(const struct ports_socket *sock, uint64_t netns, struct lsl_fwd_port *out,
               struct ports_origin *origin, size_t *n, size_t max);

/* Parses one /proc/net/udp or udp6 line (af: which) into sock. Returns 1 for a bound, unconnected socket,
 * 0 for any other line (the header, a connected socket), -EINVAL for a malformed one. */
int ports_parse_proc_udp(const char *line, int af, struct ports_socket *sock);

/* Adds the listeners of the caller's network namespace (netns: its inode) to out (*n of max), now: nl is a
 * NETLINK_SOCK_DIAG socket opened in that namespace (ports_diag_open). Returns 0, or -errno when the TCP
 * dump failed. */
int ports_scan(int nl, uint64_t netns, struct lsl_fwd_port *out, struct ports_origin *origin, size_t *n,
               size_t max);
int ports_diag_open(void);

/* The distribution a socket belongs to: the cgroup (LSL_CGROUP_DIR/NAME) of a process holding it, found
 * through /proc/PID/fd. Fills name ("" for the system root or none found). Costly (every process's fds):
 * for new listeners only. */
void ports_owner(uint32_t inode, char *name, size_t len);

/* A session is starting a command, which may soon listen: tells the forwarder to scan at its fast pace for a
 * while (LSL_FWD_KICK_MS), without waiting for the service to notice the session. A datagram to an abstract
 * unix socket, which every distribution reaches (they share the network namespace); best effort. */
#define PORTS_KICK_SOCKET "lsl-fwd-kick" /* abstract: a leading NUL */
#define PORTS_KICK_MS     5000
void ports_kick(void);

#endif
