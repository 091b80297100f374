/* virtio-fs (virtio 1.2, section 5.11): a host directory the guest mounts with `mount -t virtiofs TAG DIR`,
 * served by the FUSE server in vmm/fs/. */
#ifndef LSL_FS_DEV_H
#define LSL_FS_DEV_H

#include "../core/vm.h"
#include "../fs/share.h"
#include "virtio.h"

struct fs_dev;

/* A device for the share, attached to the VM, its threads running once the VM does. */
int fs_create(struct vm *vm, const struct fs_share *share);

/* Without a VM (unit tests, fuzzing): no threads; a queue notification serves the queue in the caller, and
 * a request that has to wait stays parked until fs_dev_retry. */
int fs_dev_new(const struct gmem *mem, const struct fs_share *share, struct fs_dev **out);
void fs_dev_free(void *dev);
struct virtio_dev *fs_dev_vdev(struct fs_dev *d);
struct fs_server *fs_dev_server(struct fs_dev *d);
/* Serves the parked requests whose time has come (all of them with force). Returns how many stay parked. */
unsigned fs_dev_retry(struct fs_dev *d, bool force);

#endif
