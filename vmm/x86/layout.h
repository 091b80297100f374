/* Guest physical memory map of an lsl VM (x86-64). Low addresses follow what Linux's boot protocol and
 * Firecracker use; devices live in the 32-bit hole, RAM above 3 GiB continues at 4 GiB. */
#ifndef LSL_X86_LAYOUT_H
#define LSL_X86_LAYOUT_H

#define LAYOUT_GDT              0x500ull
#define LAYOUT_BOOT_PARAMS      0x7000ull
#define LAYOUT_BOOT_STACK       0x8ff0ull
#define LAYOUT_PML4             0x9000ull
#define LAYOUT_PDPT             0xa000ull
#define LAYOUT_PD               0xb000ull /* 4 pages: identity map of the first 4 GiB with 2 MiB pages */
#define LAYOUT_CMDLINE          0x20000ull
#define LAYOUT_CMDLINE_MAX      2048u /* x86 COMMAND_LINE_SIZE */
#define LAYOUT_EBDA             0x9fc00ull
#define LAYOUT_ACPI             0xe0000ull /* RSDP and tables; Linux also scans here for the RSDP */
#define LAYOUT_ACPI_END         0x100000ull
#define LAYOUT_HIGH             0x100000ull /* bzImage protected-mode code loads here */
#define LAYOUT_MMIO_HOLE        0xc0000000ull
#define LAYOUT_VIRTIO_MMIO      0xd0000000ull
#define LAYOUT_VIRTIO_MMIO_SIZE 0x1000ull
#define LAYOUT_IOAPIC           0xfec00000ull
#define LAYOUT_LAPIC            0xfee00000ull

/* Fixed I/O ports. */
#define PORT_COM1          0x3f8
#define PORT_I8042_DATA    0x60
#define PORT_I8042_CMD     0x64
#define PORT_ACPI_PM1A_EVT 0x600 /* 4 bytes: PM1 status + enable */
#define PORT_ACPI_PM1A_CNT 0x604 /* 2 bytes: SCI_EN, SLP_TYP, SLP_EN */
#define PORT_ACPI_RESET    0x608
#define ACPI_RESET_VALUE   0x0e
#define ACPI_SCI_IRQ       9

#define IRQ_COM1 4

#endif
