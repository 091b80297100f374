/* virtio-mmio (virtio 1.x, section 4.2) transport: one 4 KiB register window per device and an
 * IRQ line (shared once there are more devices than free ISA lines). */
#ifndef LSL_VIRTIO_MMIO_H
#define LSL_VIRTIO_MMIO_H

#include "../core/vm.h"
#include "virtio.h"

/* Gives the device a register window (a page the guest reads without exits) and an IRQ line it pulses,
 * wires queue kicks to ioeventfds served by the I/O loop, and adds its virtio_mmio.device= entry to the
 * kernel command line. */
int virtio_mmio_attach(struct vm *vm, struct virtio_dev *vdev);
struct virtio_dev *virtio_mmio_dev(struct virtio_mmio *t);

/* The register window alone, without a VM or KVM (what attach builds on; unit tests and fuzzing drive it
 * directly): accesses of len 1..8 bytes at offset off, as a vCPU's exit delivers them. Interrupts only set
 * InterruptStatus. */
struct virtio_mmio *virtio_mmio_new(struct virtio_dev *vdev);
void virtio_mmio_free(void *t);
void virtio_mmio_access(struct virtio_mmio *t, uint64_t off, uint8_t *data, uint32_t len, bool write);

#endif
