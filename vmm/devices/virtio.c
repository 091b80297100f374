/* Generic virtio device state machine and the request loop all devices share. */
#include "virtio.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "macro.h"
#include "size.h"

void virtio_dev_init(struct virtio_dev *vdev, const struct virtio_dev_ops *ops, void *priv,
                     const struct gmem *mem)
{
    memset(vdev, 0, sizeof(*vdev));
    vdev->ops = ops;
    vdev->priv = priv;
    vdev->mem = mem;
    for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
        vdev->kick_fd[i] = -1;
    pthread_mutex_init(&vdev->lock, NULL);
}

void virtio_dev_uninit(struct virtio_dev *vdev)
{
    for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
        if (vdev->kick_fd[i] >= 0)
            close(vdev->kick_fd[i]);
    virtq_req_free(&vdev->req);
    pthread_mutex_destroy(&vdev->lock);
}

uint64_t virtio_dev_features(const struct virtio_dev *vdev)
{
    return vdev->ops->features | (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) |
           (1ull << VIRTIO_F_INDIRECT_DESC);
}

void virtio_dev_break(struct virtio_dev *vdev, const char *why)
{
    if (!vdev->broken)
        log_error("%s: device disabled: %s", vdev->ops->name, why);
    vdev->broken = true;
    vdev->stats.malformed++;
    vdev->status |= VIRTIO_STATUS_NEEDS_RESET;
    if (vdev->changed)
        vdev->changed(vdev, false);
    if (vdev->status & VIRTIO_STATUS_DRIVER_OK)
        vdev->interrupt(vdev, VIRTIO_INT_CONFIG);
}

void virtio_dev_config_changed(struct virtio_dev *vdev)
{
    vdev->config_generation++;
    if (vdev->changed)
        vdev->changed(vdev, true);
    /* From DRIVER on, not only DRIVER_OK: a change during the driver's probe stays pending in
     * InterruptStatus and Linux handles it once the probe is done; before, the probe reads the config. */
    if ((vdev->status & VIRTIO_STATUS_DRIVER) && vdev->interrupt)
        vdev->interrupt(vdev, VIRTIO_INT_CONFIG);
}

void virtio_dev_reset(struct virtio_dev *vdev)
{
    if (vdev->ops->reset)
        vdev->ops->reset(vdev);
    for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
        virtq_reset(&vdev->vq[i]);
    vdev->driver_features = 0;
    vdev->status = 0;
    vdev->broken = false;
}

bool virtio_queue_live(const struct virtio_dev *vdev, unsigned q)
{
    return !vdev->broken && (vdev->status & VIRTIO_STATUS_DRIVER_OK) && vdev->vq[q].ready;
}

void virtio_process_queue(struct virtio_dev *vdev, uint16_t q, virtio_req_handler handle)
{
    struct virtq *vq = &vdev->vq[q];
    if (!virtio_queue_live(vdev, q))
        return;
    bool pushed = false;
    do {
        int r;
        while ((r = virtq_pop(vq, vdev->mem, &vdev->req)) > 0) {
            int len = handle(vdev, &vdev->req);
            if (len == VIRTIO_REQ_ASYNC)
                continue;
            if (len == VIRTIO_REQ_BUSY) {
                virtq_unpop(vq);
                goto out;
            }
            if (len < 0) {
                virtio_dev_break(vdev, "malformed request");
                return;
            }
            vdev->stats.requests++;
            virtq_push(vq, vdev->req.head, (uint32_t)len);
            pushed = true;
        }
        if (r < 0) {
            virtio_dev_break(vdev, "malformed descriptor ring");
            return;
        }
    } while (virtq_arm_notify(vq));
out:
    if (pushed)
        virtio_dev_signal(vdev, vq);
}

void virtio_dev_signal(struct virtio_dev *vdev, struct virtq *vq)
{
    if (virtq_should_signal(vq)) {
        vdev->stats.interrupts++;
        vdev->interrupt(vdev, VIRTIO_INT_VRING);
    }
}
