/* virtio-mmio transport.
 *
 * Why MMIO and not PCI, by measurement (lsl-vmm --stats, boot to lsl-init and poweroff): probing and
 * configuring the virtio-mmio devices costs 39 MMIO exits in total, and the guest's failed PCI probe alone
 * already costs ~230 port exits (0xcf8/0xcfc) - a PCI transport would add a bus scan, BAR sizing and MSI-X
 * table programming on top, at ~47 us per exit in the emulated KVM host (2-5 us on hardware). In steady state
 * both transports kick through an ioeventfd (no exit to userspace) and interrupt through an irqfd; what MMIO
 * still pays is the guest's InterruptStatus read and InterruptACK write per interrupt, which event-index
 * suppression keeps to one pair per batch. QEMU's microvm and Firecracker choose MMIO for the same reason. */
#include "virtio_mmio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "macro.h"
#include "size.h"
#include "../x86/layout.h"

#define REG_MAGIC               0x000
#define REG_VERSION             0x004
#define REG_DEVICE_ID           0x008
#define REG_VENDOR_ID           0x00c
#define REG_DEVICE_FEATURES     0x010
#define REG_DEVICE_FEATURES_SEL 0x014
#define REG_DRIVER_FEATURES     0x020
#define REG_DRIVER_FEATURES_SEL 0x024
#define REG_QUEUE_SEL           0x030
#define REG_QUEUE_NUM_MAX       0x034
#define REG_QUEUE_NUM           0x038
#define REG_QUEUE_READY         0x044
#define REG_QUEUE_NOTIFY        0x050
#define REG_INTERRUPT_STATUS    0x060
#define REG_INTERRUPT_ACK       0x064
#define REG_STATUS              0x070
#define REG_QUEUE_DESC_LOW      0x080
#define REG_QUEUE_DESC_HIGH     0x084
#define REG_QUEUE_DRIVER_LOW    0x090
#define REG_QUEUE_DRIVER_HIGH   0x094
#define REG_QUEUE_DEVICE_LOW    0x0a0
#define REG_QUEUE_DEVICE_HIGH   0x0a4
#define REG_CONFIG_GENERATION   0x0fc
#define REG_CONFIG              0x100

#define MMIO_MAGIC  0x74726976 /* "virt" */
#define MMIO_VENDOR 0x4c534c00 /* "\0LSL" */

/* ISA IRQs that nothing else uses: 4 is COM1, 9 the ACPI SCI; 0-2, 8 and 13 are the PIT, keyboard, cascade,
 * RTC and FPU. Edge-triggered, identity-mapped on the IOAPIC, which is what an irqfd's pulse needs. */
static const uint8_t free_irqs[] = {5, 6, 7, 10, 11, 12, 14, 15, 3};

/* The first devices get a line each. Later ones (disk slots, created last) share: Linux's virtio_mmio
 * requests its IRQ with IRQF_SHARED and every sharer's handler runs on each pulse, reading its own
 * InterruptStatus, so nothing is lost; an idle sharer costs one register read (an exit) per interrupt of its
 * neighbours. Sharing starts from the most recently given lines so the first devices (root disk, rng, vsock)
 * stay alone longest. */
static uint32_t irq_for(unsigned index)
{
    const unsigned n = ARRAY_SIZE(free_irqs);
    return index < n ? free_irqs[index] : free_irqs[n - 1 - (index - n) % n];
}

struct virtio_mmio;

struct kick {
    struct virtio_mmio *t;
    uint16_t queue;
    int fd;
};

struct virtio_mmio {
    struct vm *vm;
    struct virtio_dev *vdev;
    uint64_t base;
    uint32_t irq;
    int irq_fd;
    uint32_t int_status;
    uint32_t dev_features_sel, drv_features_sel, queue_sel;
    struct kick kicks[VIRTIO_MAX_QUEUES];
};

static void raise_interrupt(struct virtio_dev *vdev, uint32_t kind)
{
    struct virtio_mmio *t = vdev->transport;
    __atomic_or_fetch(&t->int_status, kind, __ATOMIC_SEQ_CST);
    uint64_t one = 1;
    if (write(t->irq_fd, &one, sizeof(one)) < 0)
        log_errno(errno, "%s: irqfd write", vdev->ops->name);
}

static void kick_ready(void *opaque, uint32_t events)
{
    struct kick *k = opaque;
    (void)events;
    uint64_t v;
    if (read(k->fd, &v, sizeof(v)) < 0)
        return;
    struct virtio_dev *vdev = k->t->vdev;
    pthread_mutex_lock(&vdev->lock);
    vdev->stats.kicks++;
    if (k->queue < vdev->ops->num_queues)
        vdev->ops->queue_notify(vdev, k->queue);
    pthread_mutex_unlock(&vdev->lock);
}

static uint32_t read_config(struct virtio_dev *vdev, uint64_t off, uint32_t len)
{
    uint32_t size = 0;
    const uint8_t *cfg = vdev->ops->config ? vdev->ops->config(vdev, &size) : NULL;
    uint32_t v = 0;
    if (cfg && off < size && len <= size - off)
        memcpy(&v, cfg + off, len);
    return v;
}

static struct virtq *selected(struct virtio_mmio *t)
{
    return t->queue_sel < t->vdev->ops->num_queues ? &t->vdev->vq[t->queue_sel] : NULL;
}

static void mmio_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
    struct virtio_mmio *t = opaque;
    struct virtio_dev *vdev = t->vdev;
    uint32_t v = 0;
    pthread_mutex_lock(&vdev->lock);
    if (off >= REG_CONFIG) {
        v = read_config(vdev, off - REG_CONFIG, len);
        memcpy(data, &v, len);
        pthread_mutex_unlock(&vdev->lock);
        return;
    }
    struct virtq *vq = selected(t);
    if (len == 4 && !(off & 3)) {
        switch (off) {
        case REG_MAGIC:
            v = MMIO_MAGIC;
            break;
        case REG_VERSION:
            v = 2;
            break;
        case REG_DEVICE_ID:
            v = vdev->ops->device_id;
            break;
        case REG_VENDOR_ID:
            v = MMIO_VENDOR;
            break;
        case REG_DEVICE_FEATURES:
            v = t->dev_features_sel < 2 ? (uint32_t)(virtio_dev_features(vdev) >> (32 * t->dev_features_sel))
                                        : 0;
            break;
        case REG_QUEUE_NUM_MAX:
            v = vq ? vdev->ops->queue_max : 0;
            break;
        case REG_QUEUE_READY:
            v = vq ? vq->ready : 0;
            break;
        case REG_INTERRUPT_STATUS:
            v = __atomic_load_n(&t->int_status, __ATOMIC_SEQ_CST);
            break;
        case REG_STATUS:
            v = vdev->status;
            break;
        case REG_CONFIG_GENERATION:
            v = vdev->config_generation;
            break;
        default:
            break;
        }
    }
    memcpy(data, &v, len < 4 ? len : 4);
    pthread_mutex_unlock(&vdev->lock);
}

static void set_status(struct virtio_mmio *t, uint32_t status)
{
    struct virtio_dev *vdev = t->vdev;
    if (status == 0) {
        virtio_dev_reset(vdev);
        __atomic_store_n(&t->int_status, 0, __ATOMIC_SEQ_CST);
        return;
    }
    if ((status & VIRTIO_STATUS_FEATURES_OK) && !(vdev->status & VIRTIO_STATUS_FEATURES_OK)) {
        /* Only features we offered, and only the modern interface. */
        uint64_t f = vdev->driver_features;
        if ((f & ~virtio_dev_features(vdev)) || !(f & (1ull << VIRTIO_F_VERSION_1)))
            status &= ~(uint32_t)VIRTIO_STATUS_FEATURES_OK;
        bool ev = f & (1ull << VIRTIO_F_EVENT_IDX);
        for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
            vdev->vq[i].event_idx = ev;
    }
    vdev->status = status | (vdev->status & VIRTIO_STATUS_NEEDS_RESET);
}

static void queue_ready(struct virtio_mmio *t, struct virtq *vq, uint32_t ready)
{
    if (!ready) {
        vq->ready = false;
        return;
    }
    if (vq->ready)
        return;
    if (vq->size == 0)
        vq->size = t->vdev->ops->queue_max;
    if (vq->size > t->vdev->ops->queue_max || virtq_enable(vq, t->vdev->mem) < 0) {
        virtio_dev_break(t->vdev, "queue placed outside guest memory or misaligned");
        return;
    }
    vq->event_idx = t->vdev->driver_features & (1ull << VIRTIO_F_EVENT_IDX);
    vq->ready = true;
}

static void set_addr(uint64_t *addr, bool high, uint32_t v)
{
    if (high)
        *addr = (*addr & 0xffffffffull) | ((uint64_t)v << 32);
    else
        *addr = (*addr & ~0xffffffffull) | v;
}

static void mmio_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
    struct virtio_mmio *t = opaque;
    struct virtio_dev *vdev = t->vdev;
    if (off >= REG_CONFIG || len != 4 || (off & 3))
        return; /* device config is read-only here; the registers are 32-bit only */
    uint32_t v;
    memcpy(&v, data, 4);
    pthread_mutex_lock(&vdev->lock);
    struct virtq *vq = selected(t);
    /* Queue layout may only change while the queue is disabled (spec 4.2.2.2). */
    bool vq_writable = vq && !vq->ready;
    switch (off) {
    case REG_DEVICE_FEATURES_SEL:
        t->dev_features_sel = v;
        break;
    case REG_DRIVER_FEATURES:
        if (t->drv_features_sel < 2 && !(vdev->status & VIRTIO_STATUS_FEATURES_OK)) {
            unsigned sh = 32 * t->drv_features_sel;
            vdev->driver_features = (vdev->driver_features & ~(0xffffffffull << sh)) | ((uint64_t)v << sh);
        }
        break;
    case REG_DRIVER_FEATURES_SEL:
        t->drv_features_sel = v;
        break;
    case REG_QUEUE_SEL:
        t->queue_sel = v;
        break;
    case REG_QUEUE_NUM:
        if (vq_writable)
            vq->size = (uint16_t)MIN(v, 0xffffu);
        break;
    case REG_QUEUE_READY:
        if (vq)
            queue_ready(t, vq, v & 1);
        break;
    case REG_QUEUE_NOTIFY:
        /* Normally caught by the ioeventfd in the kernel; this path only runs if a write slips past it. */
        if (v < vdev->ops->num_queues) {
            vdev->stats.kicks++;
            vdev->ops->queue_notify(vdev, (uint16_t)v);
        }
        break;
    case REG_INTERRUPT_ACK:
        __atomic_and_fetch(&t->int_status, ~v, __ATOMIC_SEQ_CST);
        break;
    case REG_STATUS:
        set_status(t, v);
        break;
    case REG_QUEUE_DESC_LOW:
    case REG_QUEUE_DESC_HIGH:
        if (vq_writable)
            set_addr(&vq->desc_gpa, off == REG_QUEUE_DESC_HIGH, v);
        break;
    case REG_QUEUE_DRIVER_LOW:
    case REG_QUEUE_DRIVER_HIGH:
        if (vq_writable)
            set_addr(&vq->avail_gpa, off == REG_QUEUE_DRIVER_HIGH, v);
        break;
    case REG_QUEUE_DEVICE_LOW:
    case REG_QUEUE_DEVICE_HIGH:
        if (vq_writable)
            set_addr(&vq->used_gpa, off == REG_QUEUE_DEVICE_HIGH, v);
        break;
    default:
        break;
    }
    pthread_mutex_unlock(&vdev->lock);
}

struct virtio_dev *virtio_mmio_dev(struct virtio_mmio *t)
{
    return t->vdev;
}

static void transport_free(void *p)
{
    struct virtio_mmio *t = p;
    for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
        if (t->kicks[i].fd >= 0)
            close(t->kicks[i].fd);
    if (t->irq_fd >= 0)
        close(t->irq_fd);
    free(t);
}

static int add_cmdline(struct vm *vm, uint64_t base, uint32_t irq)
{
    char frag[64];
    snprintf(frag, sizeof(frag), " virtio_mmio.device=4K@0x%llx:%u", (unsigned long long)base, irq);
    size_t old = vm->cmdline_devices ? strlen(vm->cmdline_devices) : 0;
    char *s = realloc(vm->cmdline_devices, old + strlen(frag) + 1);
    if (!s)
        return -ENOMEM;
    memcpy(s + old, frag, strlen(frag) + 1);
    vm->cmdline_devices = s;
    return 0;
}

int virtio_mmio_attach(struct vm *vm, struct virtio_dev *vdev)
{
    if (vm->ntransports >= ARRAY_SIZE(vm->transports)) {
        log_error("too many virtio devices (at most %zu)", ARRAY_SIZE(vm->transports));
        return -ENOSPC;
    }
    struct virtio_mmio *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->vm = vm;
    t->vdev = vdev;
    t->base = LAYOUT_VIRTIO_MMIO + vm->ntransports * LAYOUT_VIRTIO_MMIO_SIZE;
    t->irq = irq_for(vm->ntransports);
    t->irq_fd = -1;
    for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
        t->kicks[i].fd = -1;
    int r = vm_own_device(vm, t, transport_free);
    if (r < 0) {
        free(t);
        return r;
    }
    vdev->transport = t;
    vdev->interrupt = raise_interrupt;

    t->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (t->irq_fd < 0)
        return log_errno(errno, "eventfd");
    if ((r = kvm_irqfd(&vm->kvm, t->irq_fd, t->irq)) < 0)
        return r;
    for (uint16_t q = 0; q < vdev->ops->num_queues; q++) {
        struct kick *k = &t->kicks[q];
        k->t = t;
        k->queue = q;
        k->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (k->fd < 0)
            return log_errno(errno, "eventfd");
        if ((r = kvm_ioeventfd(&vm->kvm, k->fd, t->base + REG_QUEUE_NOTIFY, 4, q, false)) < 0)
            return r;
        if ((r = evloop_add(&vm->loop, k->fd, EPOLLIN, kick_ready, k)) < 0)
            return log_errno(-r, "epoll");
    }
    if ((r = bus_add(&vm->mmio, t->base, LAYOUT_VIRTIO_MMIO_SIZE, vdev->ops->name, mmio_read, mmio_write,
                     t)) < 0)
        return r;
    if ((r = add_cmdline(vm, t->base, t->irq)) < 0)
        return r;
    vm->transports[vm->ntransports++] = t;
    return 0;
}
