/* Listen events: how the forwarder learns, without polling, that a socket in the VM began or stopped serving.
 * Linux has no notification for listen() or bind(), but cgroup BPF hooks run on exactly those: a sock_ops
 * program at the cgroup root sees every TCP socket enter LISTEN (and, having asked for state callbacks on it,
 * leave it), and cgroup sock programs see every UDP bind() complete and every UDP socket released. Attached
 * at the root they cover every distribution and every container in them, whatever their network namespace.
 * Each writes a 16-byte record (the socket's network-namespace cookie and what happened) to a BPF ring
 * buffer, whose fd wakes epoll: an idle guest runs nothing for forwarding at all.
 *
 * Needs only CONFIG_BPF_SYSCALL and CONFIG_CGROUP_BPF (no tracing, no JIT: the programs are a dozen
 * instructions for the interpreter). musl has no kernel headers: the BPF ABI used is spelled out in the .c
 * and checked against <linux/bpf.h> by the host's unit test (test_fwd). */
#ifndef LSL_INIT_LISTEN_EVENTS_H
#define LSL_INIT_LISTEN_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a drained batch held (a bit set). */
enum {
    LISTEN_EV_TCP_LISTEN = 1u << 0, /* a TCP socket entered LISTEN */
    LISTEN_EV_TCP_CLOSED = 1u << 1, /* a listening TCP socket left it */
    LISTEN_EV_UDP_BOUND = 1u << 2,  /* a UDP socket was bound */
    LISTEN_EV_UDP_GONE = 1u << 3,   /* a bound UDP socket was released */
    LISTEN_EV_FOREIGN = 1u << 4,    /* one of them was in another network namespace than the forwarder's */
    LISTEN_EV_LOST = 1u << 5,       /* the ring filled up: records may be missing, assume anything */
};

struct listen_events {
    int ring; /* the ring buffer map: epoll it for EPOLLIN */
    uint64_t own_cookie;
    size_t size;
    volatile uint64_t *consumer;
    const volatile uint64_t *producer;
    const uint8_t *data;
};

/* Loads and attaches the programs at the cgroup2 root (cgroup_root, an open directory fd). Returns 0, or
 * -errno when this kernel cannot (the caller then polls). own_cookie: the forwarder's netns cookie. */
int listen_events_open(struct listen_events *le, int cgroup_root, uint64_t own_cookie);

/* Consumes every record there is; returns what they said (0: none). */
unsigned listen_events_drain(struct listen_events *le);

/* The network-namespace cookie of socket fd's namespace (SO_NETNS_COOKIE), 0 if unknown. */
uint64_t listen_events_netns_cookie(int fd);

/* The ABI numbers the .c spells out, for the host's unit test to compare with <linux/bpf.h>. */
struct listen_events_abi {
    int map_ringbuf, prog_cgroup_sock, prog_sock_ops;
    int att_sock_ops, att_inet4_post_bind, att_inet6_post_bind, att_sock_release;
    int fn_cb_flags_set, fn_netns_cookie, fn_ringbuf_output;
    int ops_listen_cb, ops_state_cb, ops_state_cb_flag, tcp_listen;
    size_t off_ops_op, off_ops_args, off_sock_protocol, off_sock_src_port;
    size_t off_attr_expected_attach_type, off_attr_prog_name;
};
void listen_events_abi(struct listen_events_abi *abi);

#endif
