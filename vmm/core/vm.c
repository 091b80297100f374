/* Builds a VM from options (RAM, devices, kernel, boot tables, vCPUs), runs it, and tears it down. */
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot.h"
#include "../devices/balloon.h"
#include "../devices/blk.h"
#include "../devices/fs.h"
#include "../devices/net.h"
#include "../devices/platform.h"
#include "../devices/rng.h"
#include "../devices/serial.h"
#include "../devices/virtio.h"
#include "../devices/virtio_mmio.h"
#include "../devices/vsock.h"
#include "io.h"
#include "log.h"
#include "macro.h"
#include "size.h"
#include "../x86/boot.h"
#include "../x86/layout.h"
#include "cmdline.h"
#include "control.h"
#include "vcpu.h"

#define PANIC_LINE "Kernel panic - not syncing"
#define PANIC_END  "---[ end Kernel panic"

int vm_cmdline_append(struct vm *vm, const char *frag)
{
    size_t old = vm->cmdline_devices ? strlen(vm->cmdline_devices) : 0, len = strlen(frag);
    char *s = realloc(vm->cmdline_devices, old + len + 1);
    if (!s)
        return log_errno(ENOMEM, "kernel command line");
    memcpy(s + old, frag, len + 1);
    vm->cmdline_devices = s;
    return 0;
}

int vm_own_device(struct vm *vm, void *dev, void (*free_fn)(void *))
{
    if (vm->ndevices == ARRAY_SIZE(vm->devices)) {
        log_error("too many device objects (at most %zu)", ARRAY_SIZE(vm->devices));
        return -ENOSPC;
    }
    vm->devices[vm->ndevices] = dev;
    vm->device_free[vm->ndevices] = free_fn;
    vm->ndevices++;
    return 0;
}

uint32_t vm_alloc_slot(struct vm *vm)
{
    return vm->next_slot++;
}

int vm_add_window(struct vm *vm, void *host, uint64_t size, uint64_t *gpa)
{
    if (!vm->window_next) {
        /* Past RAM's end (it continues at 4 GiB above the hole), 1 GiB aligned; well inside the 39 or more
         * physical address bits every x86-64 CPU KVM runs on has. */
        const struct gmem_region *last = &vm->mem.regions[vm->mem.nregions - 1];
        vm->window_next = ALIGN_UP(MAX(last->gpa + last->size, 1ull << 32), 1ull << 30);
    }
    int r = kvm_set_memory(&vm->kvm, vm_alloc_slot(vm), vm->window_next, size, host);
    if (r < 0)
        return r;
    *gpa = vm->window_next;
    vm->window_next = ALIGN_UP(vm->window_next + size, 1ull << 30);
    return 0;
}

int vm_on_efault(struct vm *vm, unsigned (*fn)(void *opaque), void *opaque)
{
    if (vm->nefault == ARRAY_SIZE(vm->efault))
        return -ENOSPC;
    vm->efault[vm->nefault].fn = fn;
    vm->efault[vm->nefault].opaque = opaque;
    vm->nefault++;
    return 0;
}

unsigned vm_fix_efault(struct vm *vm)
{
    unsigned fixed = 0;
    for (unsigned i = 0; i < vm->nefault; i++)
        fixed += vm->efault[i].fn(vm->efault[i].opaque);
    return fixed;
}

void vm_request_stop(struct vm *vm, enum vm_stop reason, const char *fmt, ...)
{
    pthread_mutex_lock(&vm->stop_lock);
    if (vm->stop_reason == VM_RUNNING) {
        vm->stop_reason = reason;
        vm->stop_ns = now_ns();
        if (fmt) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(vm->stop_message, sizeof(vm->stop_message), fmt, ap);
            va_end(ap);
        }
        __atomic_store_n(&vm->stopping, true, __ATOMIC_RELEASE);
        evloop_stop(&vm->loop);
    }
    pthread_mutex_unlock(&vm->stop_lock);
}

void vm_console_line(struct vm *vm, const char *line, size_t len)
{
    (void)len;
    if (!vm->boot_marker_ns && strncmp(line, LSL_BOOT_MARKER, strlen(LSL_BOOT_MARKER)) == 0)
        vm->boot_marker_ns = now_ns();
    if (!vm->opts->console && strncmp(line, LSL_INIT_ERROR_PREFIX, strlen(LSL_INIT_ERROR_PREFIX)) == 0)
        fprintf(stderr, "%s\n", line);
    const char *p = strstr(line, PANIC_LINE);
    if (p && !vm->panic_message[0])
        snprintf(vm->panic_message, sizeof(vm->panic_message), "%s", p);
    /* With panic=-1 the guest resets right after the panic line; with panic=0 it hangs after this one. */
    if (strstr(line, PANIC_END))
        vm_request_stop(vm, VM_STOP_PANIC, NULL);
}

static int check_memory(const struct vmm_options *o)
{
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    uint64_t host = (uint64_t)pages * (uint64_t)psize;
    char a[32], b[32];
    if (pages > 0 && psize > 0 && o->memory > host) {
        log_error("--memory %s is more than this host's RAM (%s)", format_size(o->memory, a, sizeof(a)),
                  format_size(host, b, sizeof(b)));
        return -EINVAL;
    }
    return 0;
}

/* The console carries whatever the guest prints, the user's data: private like every file lsl keeps. A log
 * an older lsl-vmm left readable to others is made private too (O_TRUNC keeps the old inode and mode); what
 * is not a regular file (a terminal, a pipe, /dev/stdout) is left as it is. */
static int open_console_log(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return log_errno(errno, "cannot open console log %s", path);
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) &&
        fchmod(fd, st.st_mode & 0700) < 0) {
        int e = errno;
        close(fd);
        return log_errno(e, "cannot make console log %s private", path);
    }
    return fd;
}

static int build_cmdline(struct vm *vm, char **out)
{
    const struct vmm_options *o = vm->opts;
    struct boot_cmdline c = {0};
    int r = boot_cmdline_add(&c, o->cmdline ? o->cmdline : VMM_DEFAULT_CMDLINE);
    if (r >= 0 && vm->cmdline_devices)
        r = boot_cmdline_add(&c, vm->cmdline_devices);
    if (r >= 0 && o->root)
        r = boot_cmdline_add_root(&c, o->root, boot_root_readonly(o));
    if (r >= 0 && o->command)
        r = boot_cmdline_add_command(&c, o->command);
    if (r >= 0 && o->service)
        r = boot_cmdline_add(&c, LSL_CMDLINE_AGENT "1");
    if (r >= 0 && o->append)
        r = boot_cmdline_add(&c, o->append);
    if (r < 0) {
        free(c.buf);
        log_error("cannot build the kernel command line: %s", strerror(-r));
        return r;
    }
    if (c.len >= LAYOUT_CMDLINE_MAX) {
        free(c.buf);
        log_error("kernel command line is %zu bytes, the limit is %u (shorten the command or --append)",
                  c.len, LAYOUT_CMDLINE_MAX - 1);
        return -E2BIG;
    }
    *out = c.buf;
    return 0;
}

static int setup_boot(struct vm *vm)
{
    const struct vmm_options *o = vm->opts;
    struct kernel_image k;
    int r = x86_load_kernel(&vm->mem, o->kernel, &k);
    if (r < 0)
        return r;
    uint64_t initrd_gpa = 0, initrd_size = 0;
    if (o->initrd && (r = x86_load_initrd(&vm->mem, o->initrd, &k, &initrd_gpa, &initrd_size)) < 0)
        return r;

    uint8_t *acpi = gmem_ptr(&vm->mem, LAYOUT_ACPI, LAYOUT_ACPI_END - LAYOUT_ACPI);
    long acpi_len =
        acpi ? x86_acpi_build(acpi, LAYOUT_ACPI_END - LAYOUT_ACPI, LAYOUT_ACPI, vm->ncpus) : -ENOSPC;
    if (acpi_len < 0) {
        log_error("cannot build ACPI tables");
        return (int)acpi_len;
    }

    _cleanup_free_ char *cmdline = NULL;
    if ((r = build_cmdline(vm, &cmdline)) < 0)
        return r;
    size_t clen = strlen(cmdline) + 1;
    if ((r = gmem_write(&vm->mem, LAYOUT_CMDLINE, cmdline, clen)) < 0)
        return log_errno(-r, "cannot place the kernel command line in guest memory");

    struct e820_entry e820[8];
    unsigned ne = x86_e820_build(vm->mem.total, LAYOUT_MMIO_HOLE, e820, ARRAY_SIZE(e820));
    struct boot_params *bp = gmem_ptr(&vm->mem, LAYOUT_BOOT_PARAMS, sizeof(*bp));
    if (!bp)
        return log_errno(EFAULT, "cannot place the zero page in guest memory");
    x86_boot_params_build(bp, &k, LAYOUT_CMDLINE, (uint32_t)clen, initrd_gpa, initrd_size, e820, ne,
                          LAYOUT_ACPI);
    if ((r = x86_setup_boot_memory(&vm->mem)) < 0)
        return log_errno(-r, "cannot place the boot page tables in guest memory");

    _cleanup_free_ struct kvm_cpuid2 *cpuid = kvm_supported_cpuid(&vm->kvm);
    if (!cpuid)
        return -EIO;
    vm->vcpus = calloc(vm->ncpus, sizeof(*vm->vcpus));
    if (!vm->vcpus)
        return log_errno(ENOMEM, "vCPUs");
    for (unsigned i = 0; i < vm->ncpus; i++)
        if ((r = vcpu_init(vm, &vm->vcpus[i], i, cpuid)) < 0)
            return r;
    return x86_setup_boot_cpu(vm->vcpus[0].fd, k.entry, LAYOUT_BOOT_PARAMS);
}

int vm_create(struct vm *vm, const struct vmm_options *o)
{
    memset(vm, 0, sizeof(*vm));
    vm->opts = o;
    vm->exit_status = -1;
    vm->ncpus = o->cpus;
    vm->kvm.sys_fd = vm->kvm.vm_fd = -1;
    vm->log_fd = -1;
    vm->loop.epfd = vm->loop.wake_fd = -1;
    vm->start_ns = now_ns();
    pthread_mutex_init(&vm->stop_lock, NULL);
    int r;
    if ((r = check_memory(o)) < 0)
        return r;
    if ((r = kvm_open(&vm->kvm, o->kvm_dev)) < 0)
        return r;
    if (o->cpus > (unsigned)vm->kvm.max_vcpus) {
        log_error("--cpus %u is more than KVM supports here (%d)", o->cpus, vm->kvm.max_vcpus);
        return -EINVAL;
    }
    if ((r = gmem_init(&vm->mem, o->memory, LAYOUT_MMIO_HOLE)) < 0)
        return log_errno(-r, "cannot reserve %" PRIu64 " MiB of guest memory", o->memory >> 20);
    for (unsigned i = 0; i < vm->mem.nregions; i++) {
        const struct gmem_region *g = &vm->mem.regions[i];
        if ((r = kvm_set_memory(&vm->kvm, i, g->gpa, g->size, g->host)) < 0)
            return r;
    }
    vm->next_slot = vm->mem.nregions;
    if ((r = evloop_init(&vm->loop)) < 0)
        return log_errno(-r, "event loop");
    if (o->console_log && (vm->log_fd = open_console_log(o->console_log)) < 0)
        return vm->log_fd;
    if ((r = serial_create(vm, vm->log_fd, o->console ? STDOUT_FILENO : -1)) < 0 ||
        (r = platform_create(vm)) < 0)
        return r;
    for (unsigned i = 0; i < o->ndisks; i++)
        if ((r = blk_create(vm, o->disks[i].path, o->disks[i].readonly, i)) < 0)
            return r;
    if ((r = rng_create(vm)) < 0 || (r = balloon_create(vm, &vm->balloon)) < 0)
        return r;
    /* The service's sessions reach the agent through the vsock socket in its runtime directory. */
    char service_vsock[4096];
    const char *vsock_path = o->vsock;
    if (o->service && !vsock_path) {
        if (snprintf(service_vsock, sizeof(service_vsock), "%s/" LSL_VSOCK_SOCKET, o->service) >=
            (int)sizeof(service_vsock)) {
            log_error("--service directory path too long");
            return -ENAMETOOLONG;
        }
        vsock_path = service_vsock;
    }
    if (vsock_path && (r = vsock_create(vm, o->cid, vsock_path)) < 0)
        return r;
    /* Before the slots, so the network gets an IRQ line of its own (virtio_mmio.c). */
    if (o->net && (r = net_create(vm)) < 0)
        return r;
    for (unsigned i = 0; i < o->nshares; i++)
        if ((r = fs_create(vm, &o->shares[i])) < 0)
            return r;
    /* Slots come last: the guest still names them after the disks (vdb... with one disk), and they are the
     * devices that share IRQ lines first (virtio_mmio.c). */
    if ((r = blk_create_slots(vm, o->disk_slots)) < 0)
        return r;
    return setup_boot(vm);
}

static void on_signal(void *opaque, uint32_t events)
{
    struct vm *vm = opaque;
    struct signalfd_siginfo si;
    (void)events;
    if (read(vm->signal_fd, &si, sizeof(si)) == sizeof(si)) {
        vm->stop_signal = (int)si.ssi_signo;
        vm_request_stop(vm, VM_STOP_SIGNAL, "stopped by signal %s", strsignal((int)si.ssi_signo));
    }
}

int vm_run(struct vm *vm)
{
    /* Termination signals become loop events; every thread created below inherits the blocked mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    sigdelset(&set, SIGPIPE);
    vm->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (vm->signal_fd < 0) {
        vm_request_stop(vm, VM_STOP_ERROR, "signalfd: %s", strerror(errno));
        return -1;
    }
    int r = evloop_add(&vm->loop, vm->signal_fd, EPOLLIN, on_signal, vm);
    if (r < 0) {
        vm_request_stop(vm, VM_STOP_ERROR, "epoll: %s", strerror(-r));
        return r;
    }

    for (unsigned i = 0; i < vm->ncpus; i++) {
        if ((r = vcpu_start(&vm->vcpus[i])) < 0) {
            vm_request_stop(vm, VM_STOP_ERROR, "cannot start vCPU %u: %s", i, strerror(-r));
            break;
        }
    }
    r = evloop_run(&vm->loop);
    if (r < 0)
        vm_request_stop(vm, VM_STOP_ERROR, "event loop failed: %s", strerror(-r));
    for (unsigned i = 0; i < vm->ncpus; i++)
        vcpu_kick(&vm->vcpus[i]);
    for (unsigned i = 0; i < vm->ncpus; i++)
        vcpu_join(&vm->vcpus[i]);
    if (vm->serial)
        serial_flush(vm->serial);
    return 0;
}

int vm_exit_code(const struct vm *vm)
{
    switch (vm->stop_reason) {
    case VM_STOP_POWEROFF:
    case VM_STOP_REBOOT:
        if (vm->panic_message[0])
            return LSL_VMM_EXIT_PANIC;
        return vm->exit_status >= 0 ? vm->exit_status : 0;
    case VM_STOP_PANIC:
        return LSL_VMM_EXIT_PANIC;
    case VM_STOP_SIGNAL:
        return 128 + vm->stop_signal;
    case VM_STOP_ERROR:
    case VM_RUNNING:
    default:
        return LSL_VMM_EXIT_ERROR;
    }
}

static double ms_since(uint64_t start, uint64_t t)
{
    return t ? (double)(t - start) / 1e6 : -1;
}

void vm_print_stats(const struct vm *vm)
{
    fprintf(stderr, "lsl-vmm: boot marker %.1f ms, stop %.1f ms after start\n",
            ms_since(vm->start_ns, vm->boot_marker_ns), ms_since(vm->start_ns, vm->stop_ns));
    uint64_t io = 0, mmio = 0;
    for (unsigned i = 0; i < vm->ncpus && vm->vcpus; i++) {
        io += vm->vcpus[i].exits_io;
        mmio += vm->vcpus[i].exits_mmio;
    }
    fprintf(stderr,
            "lsl-vmm: exits to userspace: %" PRIu64 " port I/O, %" PRIu64 " MMIO; unclaimed %" PRIu64
            " port, %" PRIu64 " MMIO\n",
            io, mmio, vm->pio.unhandled, vm->mmio.unhandled);
    for (unsigned i = 0; i < BUS_UNCLAIMED_SLOTS && vm->pio.unclaimed[i].count; i++)
        fprintf(stderr, "lsl-vmm: unclaimed port 0x%" PRIx64 ": %" PRIu64 " accesses\n",
                vm->pio.unclaimed[i].addr, vm->pio.unclaimed[i].count);
    for (unsigned i = 0; i < vm->ntransports; i++) {
        const struct virtio_dev *d = virtio_mmio_dev(vm->transports[i]);
        const struct virtio_counters *s = &d->stats;
        fprintf(stderr,
                "lsl-vmm: %-10s #%u kicks %" PRIu64 " irqs %" PRIu64 " reqs %" PRIu64 " in %" PRIu64
                " B out %" PRIu64 " B errors %" PRIu64 " malformed %" PRIu64 "\n",
                d->ops->name, i, s->kicks, s->interrupts, s->requests, s->bytes_in, s->bytes_out, s->errors,
                s->malformed);
        if (d->ops->print_stats)
            d->ops->print_stats((struct virtio_dev *)d, stderr);
    }
}

void vm_destroy(struct vm *vm)
{
    /* Devices with a thread of their own stop first: it may use any device object until it has. */
    for (unsigned i = 0; i < vm->ntransports; i++) {
        struct virtio_dev *d = virtio_mmio_dev(vm->transports[i]);
        if (d->ops->stop)
            d->ops->stop(d);
    }
    for (unsigned i = 0; vm->vcpus && i < vm->ncpus; i++)
        vcpu_free(&vm->vcpus[i]);
    free(vm->vcpus);
    vm->vcpus = NULL;
    for (unsigned i = vm->ndevices; i-- > 0;)
        vm->device_free[i](vm->devices[i]);
    vm->ndevices = 0;
    free(vm->cmdline_devices);
    evloop_free(&vm->loop);
    bus_free(&vm->pio);
    bus_free(&vm->mmio);
    kvm_close(&vm->kvm);
    gmem_free(&vm->mem);
    if (vm->log_fd >= 0)
        close(vm->log_fd);
    if (vm->signal_fd > 0)
        close(vm->signal_fd);
    pthread_mutex_destroy(&vm->stop_lock);
}
