/* vCPU threads: one per guest CPU, each looping on KVM_RUN and dispatching exits to the buses. */
#ifndef LSL_VCPU_H
#define LSL_VCPU_H

#include <linux/kvm.h>
#include "thread.h"
#include "vm.h"

struct vcpu {
    struct vm *vm;
    unsigned id;
    int fd;
    struct kvm_run *run;
    struct vmm_thread thread;
    uint64_t exits_io, exits_mmio;
};

int vcpu_init(struct vm *vm, struct vcpu *c, unsigned id, const void *cpuid);
/* Starts the vCPU's thread; -errno, not logged (the caller stops the VM with the reason). */
int vcpu_start(struct vcpu *c);
/* Makes a running vCPU leave KVM_RUN promptly (after the VM decided to stop). */
void vcpu_kick(struct vcpu *c);
void vcpu_join(struct vcpu *c);
void vcpu_free(struct vcpu *c);

#endif
