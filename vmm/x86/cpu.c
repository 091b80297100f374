/* Initial x86-64 CPU state for direct kernel entry: identity-mapped page tables, a flat GDT, long mode
 * registers for the boot CPU, and per-vCPU CPUID derived from KVM's supported set. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "log.h"
#include "macro.h"
#include "size.h"
#include "../core/kvm.h"
#include "boot.h"
#include "layout.h"

#define PTE_P  0x1ull
#define PTE_RW 0x2ull
#define PTE_PS 0x80ull

#define GDT_CODE64 0x00af9b000000ffffull
#define GDT_DATA   0x00cf93000000ffffull
#define GDT_TSS    0x008f8b000000ffffull
#define SEL_CODE   0x08
#define SEL_DATA   0x10
#define SEL_TSS    0x18

int x86_setup_boot_memory(const struct gmem *m)
{
    uint64_t *pml4 = gmem_ptr(m, LAYOUT_PML4, 4096);
    uint64_t *pdpt = gmem_ptr(m, LAYOUT_PDPT, 4096);
    uint64_t *pd = gmem_ptr(m, LAYOUT_PD, 4 * 4096);
    uint64_t *gdt = gmem_ptr(m, LAYOUT_GDT, 4 * sizeof(uint64_t));
    if (!pml4 || !pdpt || !pd || !gdt)
        return -EFAULT;
    /* The kernel replaces these early; they only need to cover where it, its zero page and the initrd sit. */
    pml4[0] = LAYOUT_PDPT | PTE_P | PTE_RW;
    for (uint64_t i = 0; i < 4; i++)
        pdpt[i] = (LAYOUT_PD + i * 4096) | PTE_P | PTE_RW;
    for (uint64_t i = 0; i < 4 * 512; i++)
        pd[i] = (i << 21) | PTE_P | PTE_RW | PTE_PS;
    gdt[0] = 0;
    gdt[1] = GDT_CODE64;
    gdt[2] = GDT_DATA;
    gdt[3] = GDT_TSS;
    return 0;
}

static struct kvm_segment segment(uint64_t desc, uint16_t sel)
{
    return (struct kvm_segment){
        .base = 0,
        .limit = 0xffffffffu,
        .selector = sel,
        .type = (desc >> 40) & 0xf,
        .present = (desc >> 47) & 1,
        .dpl = (desc >> 45) & 3,
        .db = (desc >> 54) & 1,
        .s = (desc >> 44) & 1,
        .l = (desc >> 53) & 1,
        .g = (desc >> 55) & 1,
    };
}

int x86_setup_boot_cpu(int fd, uint64_t entry, uint64_t boot_params_gpa)
{
    struct kvm_sregs s;
    int ret = kvm_vcpu_get_sregs(fd, &s);
    if (ret < 0)
        return ret;
    s.gdt.base = LAYOUT_GDT;
    s.gdt.limit = 4 * 8 - 1;
    s.idt.base = 0;
    s.idt.limit = 0;
    s.cs = segment(GDT_CODE64, SEL_CODE);
    s.ds = s.es = s.fs = s.gs = s.ss = segment(GDT_DATA, SEL_DATA);
    s.tr = segment(GDT_TSS, SEL_TSS);
    s.cr0 |= 0x80000001ull; /* PG | PE */
    s.cr3 = LAYOUT_PML4;
    s.cr4 |= 0x20;   /* PAE */
    s.efer |= 0x500; /* LME | LMA */
    if ((ret = kvm_vcpu_set_sregs(fd, &s)) < 0)
        return ret;

    struct kvm_regs r = {0};
    r.rflags = 2;
    r.rip = entry;
    r.rsi = boot_params_gpa;
    r.rsp = r.rbp = LAYOUT_BOOT_STACK;
    if ((ret = kvm_vcpu_set_regs(fd, &r)) < 0)
        return ret;

    struct kvm_fpu fpu = {.fcw = 0x37f, .mxcsr = 0x1f80};
    return kvm_vcpu_set_fpu(fd, &fpu);
}

static struct kvm_cpuid_entry2 *find_leaf(struct kvm_cpuid2 *c, uint32_t fn, uint32_t index)
{
    for (unsigned i = 0; i < c->nent; i++)
        if (c->entries[i].function == fn && c->entries[i].index == index)
            return &c->entries[i];
    return NULL;
}

/* Leaf 0xD (XSAVE) must agree with the feature bits: advertise a state component only if its feature is
 * there, and size the area for what remains. KVM reports what the host's XSAVE can hold, which under nested
 * or emulated CPUs can include components (AVX) whose feature bit is absent; Linux then warns and dumps every
 * sub-leaf to the console, measured at ~0.6 s of boot in the emulated KVM host. QEMU filters the same way. */
static void normalize_xsave(struct kvm_cpuid2 *c)
{
    struct kvm_cpuid_entry2 *l1 = find_leaf(c, 1, 0), *l7 = find_leaf(c, 7, 0), *d0 = find_leaf(c, 0xd, 0);
    if (!l1 || !d0)
        return;
    uint64_t mask = d0->eax | ((uint64_t)d0->edx << 32);
    if (!(l1->ecx & (1u << 28))) /* AVX */
        mask &= ~(1ull << 2);
    if (!l7 || !(l7->ebx & (1u << 14))) /* MPX */
        mask &= ~(3ull << 3);
    if (!l7 || !(l7->ebx & (1u << 16))) /* AVX-512F */
        mask &= ~(7ull << 5);
    if (!l7 || !(l7->ecx & (1u << 3))) /* PKU */
        mask &= ~(1ull << 9);
    uint32_t size = 512 + 64; /* legacy area + XSAVE header */
    for (unsigned i = 0; i < c->nent; i++) {
        struct kvm_cpuid_entry2 *e = &c->entries[i];
        if (e->function != 0xd || e->index < 2 || e->index >= 64)
            continue;
        if (!(mask & (1ull << e->index)) && e->index != 1) {
            /* Only user state components are gated by XCR0; supervisor ones (IA32_XSS) keep their leaves. */
            if (!(e->ecx & 1))
                e->eax = e->ebx = e->ecx = e->edx = 0;
            continue;
        }
        size = MAX(size, e->ebx + e->eax);
    }
    d0->eax = (uint32_t)mask;
    d0->edx = (uint32_t)(mask >> 32);
    d0->ecx = size;
    /* EBX is the size for the current XCR0. Linux reads it right after enabling every component, and not
     * every KVM recomputes it on XSETBV (the emulated host's does not), so start from the full size, as QEMU
     * does. */
    d0->ebx = size;
}

int x86_setup_cpuid(int fd, const void *supported, unsigned id, unsigned ncpus, bool tsc_deadline)
{
    const struct kvm_cpuid2 *sup = supported;
    size_t sz = sizeof(*sup) + sup->nent * sizeof(sup->entries[0]);
    _cleanup_free_ struct kvm_cpuid2 *c = malloc(sz);
    if (!c)
        return log_errno(ENOMEM, "CPUID");
    memcpy(c, sup, sz);
    normalize_xsave(c);
    for (unsigned i = 0; i < c->nent; i++) {
        struct kvm_cpuid_entry2 *e = &c->entries[i];
        switch (e->function) {
        case 1:
            /* Initial APIC ID and logical processor count; HTT so Linux reads the count. */
            e->ebx = (e->ebx & 0x0000ffff) | (id << 24) | ((ncpus & 0xff) << 16);
            if (ncpus > 1)
                e->edx |= 1u << 28;
            /* KVM does not report the hypervisor bit; without it Linux never looks at the KVM leaves and
             * loses kvm-clock (measured: it then spins 40,000 exits on the CMOS RTC at boot) and the PV
             * features (spinlocks, EOI, TLB flush, steal time). */
            e->ecx |= 1u << 31;
            /* KVM emulates the TSC-deadline timer but leaves it out of the supported set; without it Linux
             * calibrates the LAPIC timer against the PIT at boot (measured: ~0.3 s in the emulated host). */
            if (tsc_deadline)
                e->ecx |= 1u << 24;
            break;
        case 0xb:
        case 0x1f:
            e->edx = id; /* x2APIC ID */
            break;
        default:
            break;
        }
    }
    return kvm_vcpu_set_cpuid(fd, c);
}
