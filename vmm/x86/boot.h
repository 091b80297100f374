/* x86-64 direct Linux boot: kernel/initrd loading, the zero page, e820, ACPI tables, initial CPU state. */
#ifndef LSL_X86_BOOT_H
#define LSL_X86_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/guest_mem.h"
#include "boot_params.h"

struct kernel_image {
    uint64_t entry; /* 64-bit entry point (guest physical) */
    uint64_t end;   /* first byte above the loaded image (incl. bss/init_size) */
    int is_bzimage;
    struct setup_header hdr; /* from the bzImage; synthesized for ELF */
    size_t hdr_len;          /* bytes of hdr that came from the file */
};

/* Loads an ELF vmlinux (PT_LOAD at physical addresses) or a bzImage into guest memory. A file that is
 * neither is rejected with -ENOEXEC and one clear line. */
int x86_load_kernel(const struct gmem *m, const char *path, struct kernel_image *k);
/* Places the initrd as high as the kernel allows in low RAM; returns its address/size. */
int x86_load_initrd(const struct gmem *m, const char *path, const struct kernel_image *k, uint64_t *gpa,
                    uint64_t *size);

/* The e820 map for a VM of `mem` bytes (pure; unit-tested). Returns the number of entries. */
unsigned x86_e820_build(uint64_t mem, uint64_t hole_start, struct e820_entry *out, unsigned cap);

/* Fills the zero page (pure; unit-tested). */
void x86_boot_params_build(struct boot_params *bp, const struct kernel_image *k, uint64_t cmdline_gpa,
                           uint32_t cmdline_len, uint64_t initrd_gpa, uint64_t initrd_size,
                           const struct e820_entry *e820, unsigned ne820, uint64_t rsdp_gpa);

/* ACPI tables (RSDP, XSDT, FADT, DSDT, MADT) for a hardware-reduced platform with `ncpus` CPUs, built into
 * buf which will live at guest address `gpa` (pure; unit-tested). Returns bytes used or -ENOSPC. */
long x86_acpi_build(uint8_t *buf, size_t cap, uint64_t gpa, unsigned ncpus);

/* Identity page tables and GDT in guest memory; registers of the boot CPU. */
int x86_setup_boot_memory(const struct gmem *m);
int x86_setup_boot_cpu(int vcpu_fd, uint64_t entry, uint64_t boot_params_gpa);
/* CPUID for vCPU `id` of `ncpus`, derived from what KVM supports; tsc_deadline: KVM emulates that timer. */
int x86_setup_cpuid(int vcpu_fd, const void *supported_cpuid, unsigned id, unsigned ncpus, bool tsc_deadline);

#endif
