/* The generic virtio device every device file embeds: an ops table (kvmtool's shape), feature/status
 * state, its queues, a lock and per-device counters. Transports (virtio_mmio.c) drive it. */
#ifndef LSL_VIRTIO_H
#define LSL_VIRTIO_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "virtq.h"

#define VIRTIO_MAX_QUEUES 8

#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX     29
#define VIRTIO_F_VERSION_1     32

#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER      2
#define VIRTIO_STATUS_DRIVER_OK   4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED      128

#define VIRTIO_INT_VRING  1
#define VIRTIO_INT_CONFIG 2

struct virtio_dev;

struct virtio_dev_ops {
    const char *name;
    uint32_t device_id;
    uint16_t num_queues;
    uint16_t queue_max;
    uint64_t features; /* device-specific bits; the core adds VERSION_1, EVENT_IDX, INDIRECT_DESC */
    /* Device config space (may be NULL): the transport reads bytes out of it under the device lock. */
    const void *(*config)(struct virtio_dev *vdev, uint32_t *len);
    /* A driver's write to the config space (may be NULL: writes are ignored), at byte off of it, of len 1, 2,
     * 4 or 8 naturally aligned bytes (the transport checked that). Called with the device lock held. */
    void (*config_write)(struct virtio_dev *vdev, uint64_t off, const uint8_t *data, uint32_t len);
    /* Called with the device lock held, in the I/O thread, when the driver kicks queue q. */
    void (*queue_notify)(struct virtio_dev *vdev, uint16_t q);
    /* Called with the lock held when the driver resets the device. */
    void (*reset)(struct virtio_dev *vdev);
    /* A device that serves its queues on a thread of its own (net: libslirp's poll loop) sets own_kicks: the
     * transport then leaves the queues' ioeventfds out of the VMM's loop and hands them over in kick_fd[],
     * and queue_notify runs only for a kick that missed the ioeventfd (on a vCPU thread). stop (may be NULL)
     * ends that thread; vm_destroy calls it for every device before it frees any, so the thread never
     * outlives the transport it interrupts through. */
    bool own_kicks;
    void (*stop)(struct virtio_dev *vdev);
    /* Device-specific counters for lsl-vmm --stats, one line on f (may be NULL). */
    void (*print_stats)(struct virtio_dev *vdev, FILE *f);
};

struct virtio_counters {
    uint64_t kicks;      /* queue notifications from the driver */
    uint64_t interrupts; /* used-buffer interrupts raised */
    uint64_t requests;
    uint64_t bytes_in, bytes_out; /* to the guest, from the guest */
    uint64_t errors;              /* requests failed with an I/O error */
    uint64_t malformed;           /* what the guest got wrong: rings (the device broke), requests, accesses */
};

struct virtio_dev {
    const struct virtio_dev_ops *ops;
    void *priv;
    const struct gmem *mem;
    pthread_mutex_t lock;

    uint64_t driver_features;
    uint32_t status;
    bool broken;
    /* Bumped with every config change, under the lock, so a driver reading a multi-word field (two 32-bit
     * reads of a 64-bit capacity) sees it change and reads again. */
    uint32_t config_generation;
    struct virtq vq[VIRTIO_MAX_QUEUES];
    struct virtq_req req; /* scratch, reused across pops */
    struct virtio_counters stats;

    /* The device's shared memory region 0 (virtio 1.2, 2.10; virtio-fs's DAX window): guest-physical base and
     * length, set before the transport is attached; shm_len 0: none. */
    uint64_t shm_gpa, shm_len;

    /* ops->own_kicks: each queue's kick eventfd, the device's to poll, read and (in virtio_dev_uninit) close;
     * -1 otherwise. */
    int kick_fd[VIRTIO_MAX_QUEUES];

    /* Set by the transport: raise an interrupt of the given VIRTIO_INT_* kind. Thread-safe. */
    void (*interrupt)(struct virtio_dev *vdev, uint32_t kind);
    /* Set by the transport (may be NULL): what the driver reads changed on the device's side, its config
     * space or status (config_changed, break). Called with the lock held, before the interrupt. */
    void (*changed)(struct virtio_dev *vdev, bool config);
    void *transport;
};

void virtio_dev_init(struct virtio_dev *vdev, const struct virtio_dev_ops *ops, void *priv,
                     const struct gmem *mem);
/* Frees what virtio_dev_init and the request loop allocated; every device's teardown calls it. */
void virtio_dev_uninit(struct virtio_dev *vdev);
uint64_t virtio_dev_features(const struct virtio_dev *vdev);
/* A hostile or buggy driver corrupted a ring: stop using the device and tell the driver (NEEDS_RESET). */
void virtio_dev_break(struct virtio_dev *vdev, const char *why);
/* Interrupts the guest for vq's used buffers if its event index (or flags) asks for it, counting it. The
 * caller holds the device lock and has pushed something. */
void virtio_dev_signal(struct virtio_dev *vdev, struct virtq *vq);
void virtio_dev_reset(struct virtio_dev *vdev);
/* The device changed its config space: caller holds the lock. Tells a driver that is there. */
void virtio_dev_config_changed(struct virtio_dev *vdev);

/* Runs handle() for every available request on queue q and returns them with the length handle() wrote;
 * interrupts the driver once per batch if it asked. handle() returns bytes written into in-segments, or
 * a negative errno for a malformed request (which breaks the device), or one of the two answers below. Caller
 * holds the lock. */
typedef int (*virtio_req_handler)(struct virtio_dev *vdev, struct virtq_req *req);
/* Taken, to be completed later by the device (virtq_push and virtio_dev_signal, under the lock). */
#define VIRTIO_REQ_ASYNC (-EINPROGRESS)
/* No room to take it now: it stays in the ring, and the pass ends; the device runs the queue again when it
 * has room (the driver's next kick would do too). */
#define VIRTIO_REQ_BUSY (-EBUSY)
void virtio_process_queue(struct virtio_dev *vdev, uint16_t q, virtio_req_handler handle);
/* Queue q may be used: the device works, the driver is up and has set the queue up. */
bool virtio_queue_live(const struct virtio_dev *vdev, unsigned q);

#endif
