/* The vCPU run loop. Exits that end the VM record a reason through vm_request_stop(); the I/O thread then
 * kicks every vCPU out of KVM_RUN with a signal and immediate_exit. */
#include "vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "macro.h"
#include "size.h"
#include "../x86/boot.h"

#define SIG_KICK SIGUSR1

int vcpu_init(struct vm *vm, struct vcpu *c, unsigned id, const void *cpuid)
{
    memset(c, 0, sizeof(*c));
    c->vm = vm;
    c->id = id;
    c->fd = -1;
    int r = kvm_vcpu_create(&vm->kvm, id, &c->fd, &c->run);
    if (r < 0)
        return r;
    return x86_setup_cpuid(c->fd, cpuid, id, vm->ncpus, vm->kvm.tsc_deadline);
}

static void handle_io(struct vcpu *c)
{
    struct kvm_run *run = c->run;
    uint8_t *data = (uint8_t *)run + run->io.data_offset;
    bool write = run->io.direction == KVM_EXIT_IO_OUT;
    c->exits_io++;
    /* String I/O (rep outsb) arrives as `count` back-to-back accesses in the shared page. */
    for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size)
        bus_access(&c->vm->pio, run->io.port, data, run->io.size, write);
}

static void handle_mmio(struct vcpu *c)
{
    struct kvm_run *run = c->run;
    c->exits_mmio++;
    if (run->mmio.len == 0 || run->mmio.len > sizeof(run->mmio.data)) {
        /* KVM never sends these; should it, a read sees all-ones as from an unclaimed address, never stale
         * bytes of an earlier exit. */
        if (!run->mmio.is_write)
            memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
        return;
    }
    bus_access(&c->vm->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len, run->mmio.is_write);
}

static void *vcpu_thread(void *arg)
{
    struct vcpu *c = arg;
    struct vm *vm = c->vm;
    /* SIG_KICK is blocked in every thread but the vCPUs, so it only ever interrupts KVM_RUN. */
    sigset_t unblocked;
    pthread_sigmask(SIG_BLOCK, NULL, &unblocked);
    sigdelset(&unblocked, SIG_KICK);
    pthread_sigmask(SIG_SETMASK, &unblocked, NULL);

    unsigned efaults = 0; /* in a row, with nothing mended */
    while (!__atomic_load_n(&vm->stopping, __ATOMIC_ACQUIRE)) {
        int r = kvm_vcpu_run(c->fd);
        if (r == -EINTR || r == -EAGAIN) {
            c->run->immediate_exit = 0;
            continue;
        }
        /* Guest memory KVM could not map: a DAX window's file shrank on the host. The device puts zeroes
         * there and the guest goes on; a few tries with nothing to mend cover another vCPU having mended it
         * first, and then it is a VMM bug, not something to spin on. */
        if (r == -EFAULT && efaults < 8) {
            efaults = vm_fix_efault(vm) ? 0 : efaults + 1;
            continue;
        }
        efaults = 0;
        if (r < 0) {
            vm_request_stop(vm, VM_STOP_ERROR, "vCPU %u: KVM_RUN failed: %s", c->id, strerror(-r));
            break;
        }
        struct kvm_run *run = c->run;
        switch (run->exit_reason) {
        case KVM_EXIT_IO:
            handle_io(c);
            break;
        case KVM_EXIT_MMIO:
            handle_mmio(c);
            break;
        case KVM_EXIT_HLT:
            break;
        case KVM_EXIT_INTR:
            break;
        case KVM_EXIT_SHUTDOWN:
            /* A triple fault: Linux's last-resort reboot method, or a crash before the console was up. */
            vm_request_stop(vm, VM_STOP_REBOOT, NULL);
            break;
        case KVM_EXIT_SYSTEM_EVENT:
            vm_request_stop(
                vm, run->system_event.type == KVM_SYSTEM_EVENT_RESET ? VM_STOP_REBOOT : VM_STOP_POWEROFF,
                NULL);
            break;
        case KVM_EXIT_FAIL_ENTRY:
            vm_request_stop(vm, VM_STOP_ERROR, "vCPU %u: entry failed (hardware reason 0x%llx)", c->id,
                            (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
            break;
        case KVM_EXIT_INTERNAL_ERROR:
            vm_request_stop(vm, VM_STOP_ERROR, "vCPU %u: KVM internal error %u", c->id,
                            run->internal.suberror);
            break;
        default:
            vm_request_stop(vm, VM_STOP_ERROR, "vCPU %u: unhandled exit reason %u", c->id, run->exit_reason);
            break;
        }
    }
    return NULL;
}

static void on_kick(int sig)
{
    (void)sig;
}

static void install_kick_handler(void)
{
    struct sigaction sa = {.sa_handler = on_kick}; /* no SA_RESTART: KVM_RUN must return EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIG_KICK, &sa, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIG_KICK);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int vcpu_start(struct vcpu *c)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, install_kick_handler);
    char name[16]; /* top -H and --status's measurements find the vCPUs by it */
    snprintf(name, sizeof(name), "lsl-vcpu%u", c->id);
    return vmm_thread_start(&c->thread, name, vcpu_thread, c); /* the caller stops the VM with the reason */
}

void vcpu_kick(struct vcpu *c)
{
    if (!c->thread.started)
        return;
    __atomic_store_n(&c->run->immediate_exit, 1, __ATOMIC_RELEASE);
    pthread_kill(c->thread.id, SIG_KICK);
}

void vcpu_join(struct vcpu *c)
{
    vmm_thread_join(&c->thread);
}

void vcpu_free(struct vcpu *c)
{
    kvm_vcpu_destroy(&c->vm->kvm, c->fd, c->run);
    c->run = NULL;
    c->fd = -1;
}
