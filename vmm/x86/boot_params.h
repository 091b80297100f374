/* Linux x86 boot protocol structures (Documentation/arch/x86/boot.rst, zero-page.rst): the parts lsl fills.
 */
#ifndef LSL_X86_BOOT_PARAMS_H
#define LSL_X86_BOOT_PARAMS_H

#include <assert.h>
#include <stdint.h>

#define E820_RAM         1
#define E820_RESERVED    2
#define E820_MAX_ENTRIES 128

struct __attribute__((packed)) e820_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
};

struct __attribute__((packed)) setup_header {
    uint8_t setup_sects;
    uint16_t root_flags;
    uint32_t syssize;
    uint16_t ram_size;
    uint16_t vid_mode;
    uint16_t root_dev;
    uint16_t boot_flag;
    uint16_t jump;
    uint32_t header;
    uint16_t version;
    uint32_t realmode_swtch;
    uint16_t start_sys_seg;
    uint16_t kernel_version;
    uint8_t type_of_loader;
    uint8_t loadflags;
    uint16_t setup_move_size;
    uint32_t code32_start;
    uint32_t ramdisk_image;
    uint32_t ramdisk_size;
    uint32_t bootsect_kludge;
    uint16_t heap_end_ptr;
    uint8_t ext_loader_ver;
    uint8_t ext_loader_type;
    uint32_t cmd_line_ptr;
    uint32_t initrd_addr_max;
    uint32_t kernel_alignment;
    uint8_t relocatable_kernel;
    uint8_t min_alignment;
    uint16_t xloadflags;
    uint32_t cmdline_size;
    uint32_t hardware_subarch;
    uint64_t hardware_subarch_data;
    uint32_t payload_offset;
    uint32_t payload_length;
    uint64_t setup_data;
    uint64_t pref_address;
    uint32_t init_size;
    uint32_t handover_offset;
    uint32_t kernel_info_offset;
};

struct __attribute__((packed)) boot_params {
    uint8_t pad0[0x70];
    uint64_t acpi_rsdp_addr; /* 0x070 */
    uint8_t pad1[0x1e8 - 0x78];
    uint8_t e820_entries; /* 0x1e8 */
    uint8_t pad2[0x1f1 - 0x1e9];
    struct setup_header hdr; /* 0x1f1 */
    uint8_t pad3[0x2d0 - 0x1f1 - sizeof(struct setup_header)];
    struct e820_entry e820_table[E820_MAX_ENTRIES]; /* 0x2d0 */
    uint8_t pad4[0x1000 - 0x2d0 - E820_MAX_ENTRIES * sizeof(struct e820_entry)];
};

static_assert(sizeof(struct boot_params) == 4096, "zero page is one page");
static_assert(__builtin_offsetof(struct boot_params, hdr) == 0x1f1, "setup header at 0x1f1");
static_assert(__builtin_offsetof(struct boot_params, hdr.type_of_loader) == 0x210, "type_of_loader");
static_assert(__builtin_offsetof(struct boot_params, hdr.cmd_line_ptr) == 0x228, "cmd_line_ptr");
static_assert(__builtin_offsetof(struct boot_params, hdr.xloadflags) == 0x236, "xloadflags");
static_assert(__builtin_offsetof(struct boot_params, hdr.init_size) == 0x260, "init_size");
static_assert(__builtin_offsetof(struct boot_params, e820_table) == 0x2d0, "e820 table");

#define BOOT_FLAG_MAGIC       0xaa55
#define SETUP_HEADER_MAGIC    0x53726448 /* "HdrS" */
#define LOADFLAG_LOADED_HIGH  0x01
#define LOADFLAG_CAN_USE_HEAP 0x80
#define XLF_KERNEL_64         0x01
#define LOADER_TYPE_UNDEFINED 0xff

#endif
