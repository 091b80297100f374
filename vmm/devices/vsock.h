/* virtio-vsock with Firecracker-style hybrid sockets: guest streams map to host unix sockets (the host
 * connects to PATH and writes "CONNECT <port>\n"; guest connects to CID 2 port P reach PATH_P). */
#ifndef LSL_VSOCK_H
#define LSL_VSOCK_H

#include <stdint.h>

#include "../core/guest_mem.h"

struct vm;
struct vsock;
struct virtio_dev;

int vsock_create(struct vm *vm, uint64_t guest_cid, const char *uds_path);

/* The device without a VM, for vsock_create and the unit tests: listens on uds_path, keeps its sockets in
 * its own epoll set (vsock_fd) which vsock_poll drains; both take the device lock. */
int vsock_new(const struct gmem *mem, uint64_t guest_cid, const char *uds_path, struct vsock **out);
void vsock_free(void *v);
struct virtio_dev *vsock_vdev(struct vsock *v);
int vsock_fd(const struct vsock *v);
void vsock_poll(struct vsock *v);
/* Live connections (including host clients still sending their CONNECT line). */
unsigned vsock_nconns(const struct vsock *v);
/* Established or pending host-initiated connections to guest ports first..first+count-1 whose host side is
 * still open (e.g. sessions with
 * the agents). */
unsigned vsock_connections_to(const struct vsock *v, uint32_t first, uint32_t count);

#endif
