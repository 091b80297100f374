/* The guest's network: lsl-init brings up lo and eth0 (lsl-vmm --net's virtio-net behind libslirp) by
 * static rtnetlink configuration, and the distributions' /etc/resolv.conf and /etc/hosts are made from here.
 */
#ifndef LSL_INIT_NET_H
#define LSL_INIT_NET_H

#include <stddef.h>

/* libslirp's fixed plan (vmm/devices/net_slirp.c sets the same): the guest, the gateway that is also the
 * host's own loopback, the DNS forwarder. */
#define LSL_NET_GUEST4    "10.0.2.15"
#define LSL_NET_PREFIX4   24
#define LSL_NET_GATEWAY4  "10.0.2.2"
#define LSL_NET_DNS4      "10.0.2.3"
#define LSL_NET_GUEST6    "fec0::15"
#define LSL_NET_PREFIX6   64
#define LSL_NET_GATEWAY6  "fec0::2"
#define LSL_NET_HOST_NAME "host.lsl.internal" /* reaches the host's 127.0.0.1 services */

/* lo up always; eth0 (if there is one) up with its addresses and default routes, IPv4 and IPv6. Returns 0,
 * 1 when there is no eth0 (no --net), or -errno after logging what failed. */
int lsl_net_setup(void);

/* A distribution's /etc/resolv.conf: the forwarder, and the host's search domains from the kernel command
 * line (lsl.dns_search=). Always NUL-terminated within len. */
void lsl_net_resolv_conf(char *buf, size_t len);

#endif
