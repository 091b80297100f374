/* virtio-mmio transport.
 *
 * Why MMIO and not PCI, by measurement (lsl-vmm --stats, boot to lsl-init and poweroff): probing and
 * configuring the virtio-mmio devices costs 39 MMIO exits in total, and the guest's failed PCI probe alone
 * already costs ~230 port exits (0xcf8/0xcfc) - a PCI transport would add a bus scan, BAR sizing and MSI-X
 * table programming on top, at ~47 us per exit in the emulated KVM host (2-5 us on hardware). In steady state
 * both transports kick through an ioeventfd (no exit to userspace).
 *
 * An interrupt is an edge on the device's IOAPIC pin, which the raising thread makes itself (KVM_IRQ_LINE,
 * up and down): an irqfd would be one syscall, but KVM injects only MSI routes from the eventfd's wakeup and
 * hands a pin to a kworker, one more context switch per interrupt (measured in the emulated host: a FUSE
 * round trip ~9 % shorter without it).
 *
 * What MMIO paid besides, per interrupt, was two exits to userspace: Linux's handler reads InterruptStatus
 * and writes InterruptACK (a FUSE round trip in the emulated host: ~380 us, ~95 of them those two). Neither
 * needs us: no register read has a side effect, so the window is a page KVM maps read-only (the guest reads
 * it as memory; every write still exits and the page is brought up to date before the vCPU goes on), and an
 * ACK of the used-buffer bit alone is an ioeventfd nobody reads: that bit, once raised, stays up until a
 * reset, so an ACK of it has nothing to do. Linux's handler then looks at its queues on each interrupt, as it
 * does anyway whenever the bit is up, and a queue with nothing new returns IRQ_NONE as before. An ACK with
 * the config bit in it still exits and clears as the spec says. A config change on the device's side (a
 * resize, the balloon's target) is written into the page in place when it is one word, and with the page
 * taken away from KVM meanwhile when it is more (device_changed). */
#include "virtio_mmio.h"
#include "virtio_mmio_regs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "macro.h"
#include "size.h"
#include "../x86/layout.h"

#define MMIO_MAGIC  0x74726976 /* "virt" */
#define MMIO_VENDOR 0x4c534c00 /* "\0LSL" */

/* ISA IRQs that nothing else uses: 4 is COM1, 9 the ACPI SCI; 0-2, 8 and 13 are the PIT, keyboard, cascade,
 * RTC and FPU. Edge-triggered, identity-mapped on the IOAPIC, which is what a pulse needs. */
static const uint8_t free_irqs[] = {5, 6, 7, 10, 11, 12, 14, 15, 3};

/* The first devices get a line each. Later ones (disk slots, created last) share: Linux's virtio_mmio
 * requests its IRQ with IRQF_SHARED and every sharer's handler runs on each pulse, reading its own
 * InterruptStatus, so nothing is lost; an idle sharer costs one register read and a look at its queues per
 * interrupt of its neighbours (no exit: it is memory). Sharing starts from the most recently given lines so
 * the first devices (root disk, rng, vsock) stay alone longest. */
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
    int ack_fd;    /* the ioeventfd InterruptACK writes of VIRTIO_INT_VRING alone go to, never read */
    int32_t slot;  /* the KVM memory slot mapping page read-only at base; -1: reads exit as well */
    uint8_t *page; /* the window as the driver reads it; its InterruptStatus word is the live one */
    uint32_t dev_features_sel, drv_features_sel, queue_sel, shm_sel;
    struct kick kicks[VIRTIO_MAX_QUEUES];
};

static uint32_t *page_word(struct virtio_mmio *t, uint64_t off)
{
    return (uint32_t *)(void *)(t->page + off);
}

static void raise_interrupt(struct virtio_dev *vdev, uint32_t kind)
{
    struct virtio_mmio *t = vdev->transport;
    __atomic_or_fetch(page_word(t, REG_INTERRUPT_STATUS), kind, __ATOMIC_SEQ_CST);
    if (!t->vm)
        return; /* a window without a VM (virtio_mmio_new): InterruptStatus is all there is */
    int r = kvm_irq_pulse(&t->vm->kvm, t->irq);
    if (r < 0)
        log_errno(-r, "%s: interrupt", vdev->ops->name);
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

/* Access widths (spec 4.2.2.2): the registers below REG_CONFIG are 32 bits wide and aligned; the device
 * config takes naturally aligned 8, 16 and 32-bit accesses, and 64-bit ones too (a 64-bit field such as
 * vsock's guest_cid or blk's capacity read in one go; Linux splits them, other drivers may not). */
static bool register_access_ok(uint64_t off, uint32_t len)
{
    return len == 4 && !(off & 3);
}

static bool config_access_ok(uint64_t off, uint32_t len)
{
    return (len == 1 || len == 2 || len == 4 || len == 8) && !(off & (len - 1));
}

/* Copies config bytes [off, off+len) into data, which the caller zeroed: bytes past the end of the config
 * space (an access straddling it, or beyond it) read as zero. Never more than len bytes. */
static void read_config(struct virtio_dev *vdev, uint64_t off, uint8_t *data, uint32_t len)
{
    uint32_t size = 0;
    const uint8_t *cfg = vdev->ops->config ? vdev->ops->config(vdev, &size) : NULL;
    if (cfg && off < size)
        memcpy(data, cfg + off, MIN((uint64_t)len, size - off));
}

static struct virtq *selected(struct virtio_mmio *t)
{
    return t->queue_sel < t->vdev->ops->num_queues ? &t->vdev->vq[t->queue_sel] : NULL;
}

/* Shared memory region shm_sel's length and base: all ones for a region the device does not have (4.2.2). */
static uint64_t shm_value(struct virtio_mmio *t, bool base)
{
    struct virtio_dev *vdev = t->vdev;
    if (t->shm_sel != 0 || !vdev->shm_len)
        return ~0ull;
    return base ? vdev->shm_gpa : vdev->shm_len;
}

static uint32_t register_value(struct virtio_mmio *t, uint64_t off)
{
    struct virtio_dev *vdev = t->vdev;
    struct virtq *vq = selected(t);
    switch (off) {
    case REG_SHM_LEN_LOW:
    case REG_SHM_BASE_LOW:
        return (uint32_t)shm_value(t, off == REG_SHM_BASE_LOW);
    case REG_SHM_LEN_HIGH:
    case REG_SHM_BASE_HIGH:
        return (uint32_t)(shm_value(t, off == REG_SHM_BASE_HIGH) >> 32);
    case REG_MAGIC:
        return MMIO_MAGIC;
    case REG_VERSION:
        return 2;
    case REG_DEVICE_ID:
        return vdev->ops->device_id;
    case REG_VENDOR_ID:
        return MMIO_VENDOR;
    case REG_DEVICE_FEATURES:
        return t->dev_features_sel < 2 ? (uint32_t)(virtio_dev_features(vdev) >> (32 * t->dev_features_sel))
                                       : 0;
    case REG_QUEUE_NUM_MAX:
        return vq ? vdev->ops->queue_max : 0;
    case REG_QUEUE_READY:
        return vq ? vq->ready : 0;
    case REG_STATUS:
        return vdev->status;
    case REG_CONFIG_GENERATION:
        return vdev->config_generation;
    default:
        return 0;
    }
}

#define CONFIG_WORDS ((LAYOUT_VIRTIO_MMIO_SIZE - REG_CONFIG) / 4)

/* The config space as the device has it now, in the page's words; bytes past its end zero. */
static void config_words(struct virtio_mmio *t, uint32_t cfg[CONFIG_WORDS])
{
    memset(cfg, 0, CONFIG_WORDS * sizeof(*cfg));
    read_config(t->vdev, 0, (uint8_t *)cfg, CONFIG_WORDS * sizeof(*cfg));
}

/* Brings the page up to what the driver would read now. Lock held (or no VM yet). Word by word, and only
 * the words that changed: a register or config field a vCPU reads meanwhile is the old value or the new,
 * never half. The config space first, then the registers (InterruptStatus aside: raise_interrupt and ACK
 * keep it), the generation among them: a driver may see a new config word with the old generation, never
 * the new generation with an old word. */
static void page_sync(struct virtio_mmio *t)
{
    uint32_t cfg[CONFIG_WORDS];
    config_words(t, cfg);
    for (size_t i = 0; i < CONFIG_WORDS; i++) {
        uint32_t *w = page_word(t, REG_CONFIG + 4 * i);
        if (*w != cfg[i])
            __atomic_store_n(w, cfg[i], __ATOMIC_RELEASE);
    }
    for (uint64_t off = 0; off < REG_CONFIG; off += 4)
        if (off != REG_INTERRUPT_STATUS)
            __atomic_store_n(page_word(t, off), register_value(t, off), __ATOMIC_RELEASE);
}

/* Maps the page read-only into the guest at the window (or takes it away: map false). */
static int page_map(struct virtio_mmio *t, bool map)
{
    return kvm_set_memory_ro(&t->vm->kvm, (uint32_t)t->slot, t->base, map ? LAYOUT_VIRTIO_MMIO_SIZE : 0,
                             t->page);
}

/* The device changed what the driver reads (vdev->changed; lock held). The status is one word. So is the
 * usual config change (the balloon's target, a disk's capacity below 2 TiB): stored in place before the
 * generation, any read of it is the old value or the new and a driver's multi-field read either sees one
 * state or a new generation. A change of several words at once would let a driver read half of it under an
 * unchanged generation, so then the page is taken from the guest while it is rewritten (its reads exit and
 * wait on the lock): only then, as deleting a slot makes x86 KVM drop all of the guest's mappings, which
 * fault back in. */
static void device_changed(struct virtio_dev *vdev, bool config)
{
    struct virtio_mmio *t = vdev->transport;
    if (!config) {
        __atomic_store_n(page_word(t, REG_STATUS), vdev->status, __ATOMIC_RELEASE);
        return;
    }
    uint32_t cfg[CONFIG_WORDS];
    config_words(t, cfg);
    unsigned changed = 0;
    for (size_t i = 0; i < CONFIG_WORDS; i++)
        changed += *page_word(t, REG_CONFIG + 4 * i) != cfg[i];
    if (t->slot < 0 || changed <= 1) {
        page_sync(t);
        return;
    }
    int r = page_map(t, false);
    if (r < 0) /* not expected: the slot is ours */
        log_errno(-r, "%s: register page kept through a config change", vdev->ops->name);
    page_sync(t);
    if (r == 0 && (r = page_map(t, true)) < 0) {
        log_errno(-r, "%s: register page", vdev->ops->name); /* its reads exit from now on */
        t->slot = -1;
    }
}

/* A read that exited (no read-only slot, or KVM could not map it; the unit tests and fuzzing): the page, as
 * the guest would read it. Fills exactly len bytes of data (1..8); an access of a width the spec does not
 * allow there reads as zeroes and counts as malformed. */
static void mmio_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
    struct virtio_mmio *t = opaque;
    struct virtio_dev *vdev = t->vdev;
    memset(data, 0, len);
    if (off == REG_INTERRUPT_STATUS && register_access_ok(off, len)) {
        /* Atomic, so without the lock: a device thread may hold that for a whole round of its work (net),
         * and the guest reads this in every interrupt handler. */
        uint32_t v = __atomic_load_n(page_word(t, REG_INTERRUPT_STATUS), __ATOMIC_SEQ_CST);
        memcpy(data, &v, sizeof(v));
        return;
    }
    pthread_mutex_lock(&vdev->lock);
    if ((off >= REG_CONFIG && off < LAYOUT_VIRTIO_MMIO_SIZE && config_access_ok(off, len)) ||
        (off < REG_CONFIG && register_access_ok(off, len)))
        memcpy(data, t->page + off, MIN((uint64_t)len, LAYOUT_VIRTIO_MMIO_SIZE - off));
    else
        vdev->stats.malformed++;
    pthread_mutex_unlock(&vdev->lock);
}

static void set_status(struct virtio_mmio *t, uint32_t status)
{
    struct virtio_dev *vdev = t->vdev;
    if (status == 0) {
        virtio_dev_reset(vdev);
        __atomic_store_n(page_word(t, REG_INTERRUPT_STATUS), 0, __ATOMIC_SEQ_CST);
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
    if (off == REG_INTERRUPT_ACK && register_access_ok(off, len)) {
        uint32_t v; /* atomic like the read above, and for the same reason */
        memcpy(&v, data, sizeof(v));
        __atomic_and_fetch(page_word(t, REG_INTERRUPT_STATUS), ~v, __ATOMIC_SEQ_CST);
        return;
    }
    pthread_mutex_lock(&vdev->lock);
    if (off >= REG_CONFIG || !register_access_ok(off, len)) {
        /* A well-formed config write goes to the device if it has a writable field (the balloon's actual)
         * and is ignored otherwise; anything of a width the spec does not allow is counted. */
        if (off < REG_CONFIG || !config_access_ok(off, len))
            vdev->stats.malformed++;
        else if (vdev->ops->config_write)
            vdev->ops->config_write(vdev, off - REG_CONFIG, data, len);
        page_sync(t);
        pthread_mutex_unlock(&vdev->lock);
        return;
    }
    uint32_t v;
    memcpy(&v, data, sizeof(v));
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
    case REG_SHM_SEL:
        t->shm_sel = v;
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
    page_sync(t); /* before the vCPU goes on: the guest's next read is of memory */
    pthread_mutex_unlock(&vdev->lock);
}

struct virtio_dev *virtio_mmio_dev(struct virtio_mmio *t)
{
    return t->vdev;
}

struct virtio_mmio *virtio_mmio_new(struct virtio_dev *vdev)
{
    struct virtio_mmio *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    /* A page of its own: KVM maps whole pages. */
    t->page = mmap(NULL, LAYOUT_VIRTIO_MMIO_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (t->page == MAP_FAILED) {
        free(t);
        return NULL;
    }
    t->vdev = vdev;
    t->ack_fd = -1;
    t->slot = -1;
    for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
        t->kicks[i].fd = -1;
    vdev->transport = t;
    vdev->interrupt = raise_interrupt;
    vdev->changed = device_changed;
    page_sync(t);
    return t;
}

void virtio_mmio_free(void *p)
{
    struct virtio_mmio *t = p;
    if (!t)
        return;
    for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
        if (t->kicks[i].fd >= 0)
            close(t->kicks[i].fd);
    if (t->ack_fd >= 0)
        close(t->ack_fd);
    if (t->slot >= 0)
        page_map(t, false);
    munmap(t->page, LAYOUT_VIRTIO_MMIO_SIZE);
    free(t);
}

void virtio_mmio_access(struct virtio_mmio *t, uint64_t off, uint8_t *data, uint32_t len, bool write)
{
    if (write)
        mmio_write(t, off, data, len);
    else
        mmio_read(t, off, data, len);
}

static int add_cmdline(struct vm *vm, uint64_t base, uint32_t irq)
{
    char frag[64];
    snprintf(frag, sizeof(frag), " virtio_mmio.device=4K@0x%llx:%u", (unsigned long long)base, irq);
    return vm_cmdline_append(vm, frag);
}

int virtio_mmio_attach(struct vm *vm, struct virtio_dev *vdev)
{
    if (vm->ntransports >= ARRAY_SIZE(vm->transports)) {
        log_error("too many virtio devices (at most %zu)", ARRAY_SIZE(vm->transports));
        return -ENOSPC;
    }
    struct virtio_mmio *t = virtio_mmio_new(vdev);
    if (!t)
        return log_errno(ENOMEM, "%s", vdev->ops->name);
    int r = vm_own_device(vm, t, virtio_mmio_free);
    if (r < 0) {
        virtio_mmio_free(t);
        return r;
    }
    t->vm = vm;
    t->base = LAYOUT_VIRTIO_MMIO + vm->ntransports * LAYOUT_VIRTIO_MMIO_SIZE;
    t->irq = irq_for(vm->ntransports);

    t->ack_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (t->ack_fd < 0)
        return log_errno(errno, "eventfd");
    if ((r = kvm_ioeventfd(&vm->kvm, t->ack_fd, t->base + REG_INTERRUPT_ACK, 4, VIRTIO_INT_VRING, false)) < 0)
        return r;
    if (vm->kvm.readonly_mem) {
        t->slot = (int32_t)vm_alloc_slot(vm);
        if ((r = page_map(t, true)) < 0) {
            log_debug("%s: register page not mapped (%s): its reads exit", vdev->ops->name, strerror(-r));
            t->slot = -1;
        }
    }
    for (uint16_t q = 0; q < vdev->ops->num_queues; q++) {
        struct kick *k = &t->kicks[q];
        k->t = t;
        k->queue = q;
        k->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (k->fd < 0)
            return log_errno(errno, "eventfd");
        if ((r = kvm_ioeventfd(&vm->kvm, k->fd, t->base + REG_QUEUE_NOTIFY, 4, q, false)) < 0)
            return r;
        if (vdev->ops->own_kicks) {
            /* The device's own thread polls it (and closes it: KVM keeps its own reference). */
            vdev->kick_fd[q] = k->fd;
            k->fd = -1;
            continue;
        }
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
