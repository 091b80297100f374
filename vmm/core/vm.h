/* One virtual machine: KVM handles, guest RAM, buses, the I/O loop, vCPUs, devices, and why it stopped. */
#ifndef LSL_VM_H
#define LSL_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "evloop.h"
#include "guest_mem.h"
#include "kvm.h"
#include "options.h"

enum vm_stop {
    VM_RUNNING = 0,
    VM_STOP_POWEROFF,
    VM_STOP_REBOOT,
    VM_STOP_PANIC,
    VM_STOP_ERROR,
    VM_STOP_SIGNAL,
};

struct balloon;
struct blk_slots;
struct vcpu;
struct serial;
struct virtio_dev;
struct virtio_mmio;
struct vsock;

struct vm {
    const struct vmm_options *opts;
    struct kvm kvm;
    struct gmem mem;
    struct bus pio, mmio;
    struct evloop loop;

    struct vcpu *vcpus;
    unsigned ncpus;
    struct serial *serial;
    struct vsock *vsock;          /* NULL without --vsock */
    struct blk_slots *disk_slots; /* NULL without --disk-slots */
    struct balloon *balloon;      /* virtio-balloon, always there */
    struct virtio_mmio *transports[32];
    unsigned ntransports;
    /* Owned device objects, freed at teardown: each virtio device and its transport, the slot table, ... */
    void *devices[80];
    void (*device_free[80])(void *);
    unsigned ndevices;

    /* Devices' shared memory windows (virtio-fs's DAX), above RAM, one KVM memory slot each (vm_add_window),
     * and what a vCPU asks to mend memory KVM could not map (vm_on_efault). */
    uint64_t window_next;
    uint32_t next_slot; /* KVM memory slots past RAM's: windows, and register pages (vm_alloc_slot) */
    struct {
        unsigned (*fn)(void *opaque);
        void *opaque;
    } efault[8];
    unsigned nefault;

    /* Kernel command-line fragments contributed by devices (virtio_mmio.device=...). */
    char *cmdline_devices;

    /* How the run ended; the first stop reason wins. */
    pthread_mutex_t stop_lock;
    enum vm_stop stop_reason;
    int exit_status; /* from lsl-init's exit port, -1 if never written */
    int stop_signal;
    char stop_message[512];
    char panic_message[256]; /* the guest's "Kernel panic" line, if it printed one */
    bool stopping;
    int log_fd, signal_fd;

    uint64_t start_ns, boot_marker_ns, stop_ns;
};

int vm_create(struct vm *vm, const struct vmm_options *opts);
/* Runs vCPUs and the I/O loop until the guest powers off, reboots, panics or fails. */
int vm_run(struct vm *vm);
void vm_destroy(struct vm *vm);
/* Exit code lsl-vmm should return for how the VM stopped (see proto/boot.h). */
int vm_exit_code(const struct vm *vm);
void vm_print_stats(const struct vm *vm);

/* Thread-safe. The first reason recorded wins; message (may be NULL) explains it. */
void vm_request_stop(struct vm *vm, enum vm_stop reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Adds a fragment (" key=value", leading space included) to the kernel command line lsl-vmm generates. */
int vm_cmdline_append(struct vm *vm, const char *frag);
/* Registers a device object to be freed with the VM. */
int vm_own_device(struct vm *vm, void *dev, void (*free_fn)(void *));
/* Gives the guest size bytes at host (a multiple of 2 MiB) as memory at *gpa, above RAM. */
int vm_add_window(struct vm *vm, void *host, uint64_t size, uint64_t *gpa);
/* A KVM memory slot number no one else has (after RAM's). */
uint32_t vm_alloc_slot(struct vm *vm);
/* fn is called when a vCPU's KVM_RUN fails with EFAULT (part of a window has nothing behind it) and returns
 * how many things it mended; vm_fix_efault calls them all and returns the sum. */
int vm_on_efault(struct vm *vm, unsigned (*fn)(void *opaque), void *opaque);
unsigned vm_fix_efault(struct vm *vm);
/* Called by the serial device for each complete console line. */
void vm_console_line(struct vm *vm, const char *line, size_t len);

#endif
