/* The hypervisor boundary: every /dev/kvm ioctl the VMM makes goes through this file, so another backend
 * (or a seccomp policy) has one place to look. */
#ifndef LSL_KVM_H
#define LSL_KVM_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

struct kvm {
    int sys_fd;
    int vm_fd;
    int run_size;
    int max_vcpus;
    bool tsc_deadline; /* LAPIC TSC-deadline mode is emulated (KVM_CAP_TSC_DEADLINE_TIMER) */
};

/* Opens /dev/kvm, checks the API and every capability lsl needs, creates the VM with an in-kernel
 * irqchip (PIC, IOAPIC, LAPICs) and PIT. Errors are logged once here. */
int kvm_open(struct kvm *k, const char *dev);
void kvm_close(struct kvm *k);

int kvm_set_memory(struct kvm *k, uint32_t slot, uint64_t gpa, uint64_t size, void *host);
int kvm_irq_line(struct kvm *k, uint32_t gsi, int level);
int kvm_irqfd(struct kvm *k, int fd, uint32_t gsi);
/* Routes a guest write of `datamatch` (len bytes) at addr to an eventfd, handled without leaving the kernel.
 */
int kvm_ioeventfd(struct kvm *k, int fd, uint64_t addr, uint32_t len, uint64_t datamatch, bool pio);

int kvm_vcpu_create(struct kvm *k, unsigned id, int *fd, struct kvm_run **run);
/* Supported CPUID, caller frees. */
struct kvm_cpuid2 *kvm_supported_cpuid(struct kvm *k);

#endif
