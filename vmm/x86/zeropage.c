/* The e820 memory map and the Linux zero page (boot_params). Pure functions: no guest memory access. */
#include <string.h>

#include "boot.h"
#include "layout.h"

unsigned x86_e820_build(uint64_t mem, uint64_t hole_start, struct e820_entry *out, unsigned cap)
{
    unsigned n = 0;
#define ADD(a, s, t)                                                                                         \
    do {                                                                                                     \
        if (n < cap)                                                                                         \
            out[n] = (struct e820_entry){.addr = (a), .size = (s), .type = (t)};                             \
        n++;                                                                                                 \
    } while (0)
    uint64_t low = mem < hole_start ? mem : hole_start;
    ADD(0, LAYOUT_EBDA, E820_RAM);
    ADD(LAYOUT_EBDA, 0xa0000 - LAYOUT_EBDA, E820_RESERVED);
    /* The ACPI tables and the area the kernel scans for the RSDP. */
    ADD(LAYOUT_ACPI, LAYOUT_ACPI_END - LAYOUT_ACPI, E820_RESERVED);
    ADD(LAYOUT_HIGH, low - LAYOUT_HIGH, E820_RAM);
    if (mem > low)
        ADD(1ull << 32, mem - low, E820_RAM);
#undef ADD
    return n < cap ? n : cap;
}

void x86_boot_params_build(struct boot_params *bp, const struct kernel_image *k, uint64_t cmdline_gpa,
                           uint32_t cmdline_len, uint64_t initrd_gpa, uint64_t initrd_size,
                           const struct e820_entry *e820, unsigned ne820, uint64_t rsdp_gpa)
{
    memset(bp, 0, sizeof(*bp));
    bp->hdr = k->hdr;
    bp->hdr.type_of_loader = LOADER_TYPE_UNDEFINED;
    bp->hdr.boot_flag = BOOT_FLAG_MAGIC;
    bp->hdr.header = SETUP_HEADER_MAGIC;
    bp->hdr.loadflags |= LOADFLAG_LOADED_HIGH | LOADFLAG_CAN_USE_HEAP;
    bp->hdr.heap_end_ptr = 0xfe00;
    bp->hdr.cmd_line_ptr = (uint32_t)cmdline_gpa;
    bp->hdr.cmdline_size = cmdline_len;
    bp->hdr.ramdisk_image = (uint32_t)initrd_gpa;
    bp->hdr.ramdisk_size = (uint32_t)initrd_size;
    if (!k->is_bzimage)
        bp->hdr.kernel_alignment = 0x1000000;
    bp->acpi_rsdp_addr = rsdp_gpa;
    if (ne820 > E820_MAX_ENTRIES)
        ne820 = E820_MAX_ENTRIES;
    memcpy(bp->e820_table, e820, ne820 * sizeof(*e820));
    bp->e820_entries = (uint8_t)ne820;
}
