/* virtio-net behind a user-mode NAT (libslirp): the guest reaches what the host user can reach, without
 * root, TAP or bridges. The guest is 10.0.2.15/24 and fec0::15/64; 10.0.2.2 (fec0::2) is the host's own
 * loopback, 10.0.2.3 (fec0::3) a DNS forwarder that follows the host's /etc/resolv.conf. */
#ifndef LSL_NET_H
#define LSL_NET_H

#include <stddef.h>

#include "../core/vm.h"

#define NET_DNS_SEARCH_MAX 6   /* domains, as glibc's resolver takes */
#define NET_DNS_SEARCH_LEN 256 /* bytes, with the commas and the NUL */

int net_create(struct vm *vm);

/* The search domains of a resolv.conf text (its last "search" or "domain" line), comma-separated into out:
 * only names a kernel parameter can carry, at most NET_DNS_SEARCH_MAX, never more than outlen with the NUL.
 * Returns the length written (0: none). */
int net_dns_search(const char *resolv_conf, char *out, size_t outlen);

#endif
