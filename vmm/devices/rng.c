/* virtio-rng (virtio 1.x, section 5.4): fills the guest's buffers from the host's getrandom(). */
#include "rng.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "io.h"
#include "log.h"
#include "macro.h"
#include "size.h"
#include "virtio.h"
#include "virtio_mmio.h"

#define VIRTIO_ID_RNG   4
#define RNG_MAX_REQUEST (64u << 10) /* bound the work one request can make the I/O thread do */

struct rng {
    struct virtio_dev vdev;
};

static int rng_handle(struct virtio_dev *vdev, struct virtq_req *req)
{
    struct iovec *in = virtq_req_in(req);
    uint32_t budget = RNG_MAX_REQUEST, written = 0;
    for (uint32_t i = 0; i < req->n_in && budget; i++) {
        size_t want = MIN(in[i].iov_len, (size_t)budget);
        ssize_t r = getrandom(in[i].iov_base, want, 0);
        if (r <= 0)
            break;
        written += (uint32_t)r;
        budget -= (uint32_t)r;
    }
    vdev->stats.bytes_in += written;
    return (int)written;
}

static void rng_notify(struct virtio_dev *vdev, uint16_t q)
{
    virtio_process_queue(vdev, q, rng_handle);
}

static const struct virtio_dev_ops rng_ops = {
    .name = "virtio-rng",
    .device_id = VIRTIO_ID_RNG,
    .num_queues = 1,
    .queue_max = 64,
    .queue_notify = rng_notify,
};

static void rng_free(void *p)
{
    struct rng *g = p;
    virtio_dev_uninit(&g->vdev);
    free(g);
}

int rng_create(struct vm *vm)
{
    struct rng *g = calloc(1, sizeof(*g));
    if (!g)
        return log_errno(ENOMEM, "virtio-rng");
    virtio_dev_init(&g->vdev, &rng_ops, g, &vm->mem);
    int r = vm_own_device(vm, g, rng_free);
    if (r < 0) {
        rng_free(g);
        return r;
    }
    return virtio_mmio_attach(vm, &g->vdev);
}
