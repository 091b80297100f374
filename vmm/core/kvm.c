/* /dev/kvm: VM creation, memory slots, interrupts, ioeventfds, vCPUs and their registers. Every ioctl the
 * VMM makes is here. */
#include "kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "macro.h"
#include "size.h"

/* Identity-map page and TSS live in the 32-bit hole just below the BIOS area, as QEMU places them. */
#define KVM_TSS_ADDR          0xfffbd000ull
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ull

static const struct {
    int cap;
    const char *name;
} required_caps[] = {
    {KVM_CAP_IRQCHIP, "in-kernel irqchip"},
    {KVM_CAP_USER_MEMORY, "user memory"},
    {KVM_CAP_IOEVENTFD, "ioeventfd"},
    {KVM_CAP_PIT2, "in-kernel PIT"},
    {KVM_CAP_IMMEDIATE_EXIT, "immediate exit"},
    {KVM_CAP_SET_TSS_ADDR, "TSS address"},
    {KVM_CAP_EXT_CPUID, "CPUID2"},
};

int kvm_open(struct kvm *k, const char *dev)
{
    k->sys_fd = k->vm_fd = -1;
    pthread_mutex_init(&k->pulse_lock, NULL);
    k->sys_fd = open(dev, O_RDWR | O_CLOEXEC);
    if (k->sys_fd < 0)
        return log_errno(errno, "cannot open %s (is KVM enabled and are you in the kvm group?)", dev);
    int api = ioctl(k->sys_fd, KVM_GET_API_VERSION, 0);
    if (api != KVM_API_VERSION) {
        log_error("%s: unsupported KVM API version %d", dev, api);
        return -ENOTSUP;
    }
    for (size_t i = 0; i < ARRAY_SIZE(required_caps); i++) {
        if (ioctl(k->sys_fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0) {
            log_error("%s lacks a required capability: %s", dev, required_caps[i].name);
            return -ENOTSUP;
        }
    }
    k->run_size = ioctl(k->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (k->run_size <= 0)
        return log_errno(errno, "KVM_GET_VCPU_MMAP_SIZE");
    k->max_vcpus = ioctl(k->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
    if (k->max_vcpus <= 0)
        k->max_vcpus = ioctl(k->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
    if (k->max_vcpus <= 0)
        k->max_vcpus = 1;

    k->tsc_deadline = ioctl(k->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
    k->readonly_mem = ioctl(k->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) > 0;

    do
        k->vm_fd = ioctl(k->sys_fd, KVM_CREATE_VM, 0);
    while (k->vm_fd < 0 && errno == EINTR);
    if (k->vm_fd < 0)
        return log_errno(errno, "KVM_CREATE_VM");
    if (ioctl(k->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0)
        return log_errno(errno, "KVM_SET_TSS_ADDR");
    uint64_t idmap = KVM_IDENTITY_MAP_ADDR;
    if (ioctl(k->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
        return log_errno(errno, "KVM_SET_IDENTITY_MAP_ADDR");
    if (ioctl(k->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
        return log_errno(errno, "KVM_CREATE_IRQCHIP");
    /* The speaker port is a dummy: the guest's PIT calibration reads it, nothing else. */
    struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
    if (ioctl(k->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
        return log_errno(errno, "KVM_CREATE_PIT2");
    return 0;
}

void kvm_close(struct kvm *k)
{
    if (k->vm_fd >= 0)
        close(k->vm_fd);
    if (k->sys_fd >= 0)
        close(k->sys_fd);
    k->vm_fd = k->sys_fd = -1;
}

static int set_region(struct kvm *k, uint32_t slot, uint32_t flags, uint64_t gpa, uint64_t size, void *host)
{
    struct kvm_userspace_memory_region r = {.slot = slot,
                                            .flags = flags,
                                            .guest_phys_addr = gpa,
                                            .memory_size = size,
                                            .userspace_addr = (uintptr_t)host};
    return ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0 ? -errno : 0;
}

int kvm_set_memory(struct kvm *k, uint32_t slot, uint64_t gpa, uint64_t size, void *host)
{
    int r = set_region(k, slot, 0, gpa, size, host);
    return r < 0 ? log_errno(-r, "KVM_SET_USER_MEMORY_REGION") : 0;
}

int kvm_set_memory_ro(struct kvm *k, uint32_t slot, uint64_t gpa, uint64_t size, void *host)
{
    return set_region(k, slot, size ? KVM_MEM_READONLY : 0, gpa, size, host);
}

int kvm_irq_line(struct kvm *k, uint32_t gsi, int level)
{
    struct kvm_irq_level l = {.irq = gsi, .level = level};
    return ioctl(k->vm_fd, KVM_IRQ_LINE, &l) < 0 ? -errno : 0;
}

int kvm_irq_pulse(struct kvm *k, uint32_t gsi)
{
    pthread_mutex_lock(&k->pulse_lock);
    int r = kvm_irq_line(k, gsi, 1);
    if (r == 0)
        r = kvm_irq_line(k, gsi, 0);
    pthread_mutex_unlock(&k->pulse_lock);
    return r;
}

int kvm_ioeventfd(struct kvm *k, int fd, uint64_t addr, uint32_t len, uint64_t datamatch, bool pio)
{
    struct kvm_ioeventfd e = {
        .datamatch = datamatch,
        .addr = addr,
        .len = len,
        .fd = fd,
        .flags = KVM_IOEVENTFD_FLAG_DATAMATCH | (pio ? KVM_IOEVENTFD_FLAG_PIO : 0),
    };
    if (ioctl(k->vm_fd, KVM_IOEVENTFD, &e) < 0)
        return log_errno(errno, "KVM_IOEVENTFD");
    return 0;
}

int kvm_vcpu_create(struct kvm *k, unsigned id, int *fd, struct kvm_run **run)
{
    int f = ioctl(k->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
    if (f < 0)
        return log_errno(errno, "KVM_CREATE_VCPU %u", id);
    void *p = mmap(NULL, (size_t)k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        close(f);
        return log_errno(e, "mmap vcpu %u", id);
    }
    *fd = f;
    *run = p;
    return 0;
}

void kvm_vcpu_destroy(struct kvm *k, int fd, struct kvm_run *run)
{
    if (run)
        munmap(run, (size_t)k->run_size);
    if (fd >= 0)
        close(fd);
}

int kvm_vcpu_run(int vcpu_fd)
{
    return ioctl(vcpu_fd, KVM_RUN, 0) < 0 ? -errno : 0;
}

int kvm_vcpu_get_sregs(int vcpu_fd, struct kvm_sregs *s)
{
    if (ioctl(vcpu_fd, KVM_GET_SREGS, s) < 0)
        return log_errno(errno, "KVM_GET_SREGS");
    return 0;
}

int kvm_vcpu_set_sregs(int vcpu_fd, const struct kvm_sregs *s)
{
    if (ioctl(vcpu_fd, KVM_SET_SREGS, s) < 0)
        return log_errno(errno, "KVM_SET_SREGS");
    return 0;
}

int kvm_vcpu_set_regs(int vcpu_fd, const struct kvm_regs *r)
{
    if (ioctl(vcpu_fd, KVM_SET_REGS, r) < 0)
        return log_errno(errno, "KVM_SET_REGS");
    return 0;
}

int kvm_vcpu_set_fpu(int vcpu_fd, const struct kvm_fpu *f)
{
    if (ioctl(vcpu_fd, KVM_SET_FPU, f) < 0)
        return log_errno(errno, "KVM_SET_FPU");
    return 0;
}

int kvm_vcpu_set_cpuid(int vcpu_fd, const struct kvm_cpuid2 *c)
{
    if (ioctl(vcpu_fd, KVM_SET_CPUID2, c) < 0)
        return log_errno(errno, "KVM_SET_CPUID2");
    return 0;
}

struct kvm_cpuid2 *kvm_supported_cpuid(struct kvm *k)
{
    for (unsigned n = 64; n <= 4096; n *= 2) {
        struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(struct kvm_cpuid_entry2));
        if (!c) {
            log_errno(ENOMEM, "KVM_GET_SUPPORTED_CPUID");
            return NULL;
        }
        c->nent = n;
        if (ioctl(k->sys_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
            return c;
        int e = errno;
        free(c);
        if (e != E2BIG) {
            log_errno(e, "KVM_GET_SUPPORTED_CPUID");
            return NULL;
        }
    }
    log_error("KVM_GET_SUPPORTED_CPUID: more than 4096 entries");
    return NULL;
}
