/* The hypervisor boundary: every /dev/kvm ioctl the VMM makes goes through kvm.c, so another backend (or a
 * seccomp policy) has one place to look. */
#ifndef LSL_KVM_H
#define LSL_KVM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct kvm {
    int sys_fd;
    int vm_fd;
    int run_size;
    int max_vcpus;
    bool tsc_deadline; /* LAPIC TSC-deadline mode is emulated (KVM_CAP_TSC_DEADLINE_TIMER) */
    bool readonly_mem; /* memory slots the guest reads and whose writes exit (KVM_CAP_READONLY_MEM) */
    pthread_mutex_t pulse_lock; /* kvm_irq_pulse: one edge at a time */
};

/* Opens /dev/kvm, checks the API and every capability lsl needs, creates the VM with an in-kernel
 * irqchip (PIC, IOAPIC, LAPICs) and PIT. Errors are logged once here. */
int kvm_open(struct kvm *k, const char *dev);
void kvm_close(struct kvm *k);

int kvm_set_memory(struct kvm *k, uint32_t slot, uint64_t gpa, uint64_t size, void *host);
/* The same with KVM_MEM_READONLY: guest reads come from host, a guest write is an MMIO exit (or an ioeventfd
 * in the range). size 0 deletes the slot. Not logged: the caller can fall back. */
int kvm_set_memory_ro(struct kvm *k, uint32_t slot, uint64_t gpa, uint64_t size, void *host);
int kvm_irq_line(struct kvm *k, uint32_t gsi, int level);
/* An edge on an IOAPIC pin (high, then low), injected by the calling thread. Pulses from several threads
 * never overlap: a raise while the line is still high from another would be no edge. */
int kvm_irq_pulse(struct kvm *k, uint32_t gsi);
/* Routes a guest write of `datamatch` (len bytes) at addr to an eventfd, handled without leaving the kernel.
 */
int kvm_ioeventfd(struct kvm *k, int fd, uint64_t addr, uint32_t len, uint64_t datamatch, bool pio);

/* A vCPU's fd and its mapped kvm_run page; destroy undoes it (either may be unset: -1, NULL). */
int kvm_vcpu_create(struct kvm *k, unsigned id, int *fd, struct kvm_run **run);
void kvm_vcpu_destroy(struct kvm *k, int fd, struct kvm_run *run);
/* KVM_RUN once: 0 when the vCPU exited (kvm_run says why) or -errno (-EINTR: kicked), not logged: the
 * caller decides. */
int kvm_vcpu_run(int vcpu_fd);
/* Registers and CPUID of a vCPU; logged. */
int kvm_vcpu_get_sregs(int vcpu_fd, struct kvm_sregs *s);
int kvm_vcpu_set_sregs(int vcpu_fd, const struct kvm_sregs *s);
int kvm_vcpu_set_regs(int vcpu_fd, const struct kvm_regs *r);
int kvm_vcpu_set_fpu(int vcpu_fd, const struct kvm_fpu *f);
int kvm_vcpu_set_cpuid(int vcpu_fd, const struct kvm_cpuid2 *c);
/* Supported CPUID, caller frees; NULL (logged) on failure. */
struct kvm_cpuid2 *kvm_supported_cpuid(struct kvm *k);

#endif
