/* Minimal ACPI tables: the MADT tells Linux how many CPUs there are, the FADT's PM1 control and reset
 * registers give it poweroff and reboot through I/O ports, and the DSDT holds nothing but the \_S5 object
 * that makes poweroff available. Not "hardware-reduced" on purpose: in that mode Linux drops the legacy
 * PIC and with it the identity mapping of ISA IRQs 0-15 that the UART and the command-line virtio-mmio
 * devices rely on. No PM timer (kvm-clock is the clocksource), no GPEs; the SCI is never raised. */
#include <errno.h>
#include <string.h>

#include "io.h"
#include "log.h"
#include "macro.h"
#include "size.h"
#include "boot.h"
#include "layout.h"

struct __attribute__((packed)) acpi_header {
    char signature[4];
    uint32_t length;
    uint8_t revision;
    uint8_t checksum;
    char oem_id[6];
    char oem_table_id[8];
    uint32_t oem_revision;
    char creator_id[4];
    uint32_t creator_revision;
};

struct __attribute__((packed)) acpi_rsdp {
    char signature[8];
    uint8_t checksum;
    char oem_id[6];
    uint8_t revision;
    uint32_t rsdt_address;
    uint32_t length;
    uint64_t xsdt_address;
    uint8_t extended_checksum;
    uint8_t reserved[3];
};

struct __attribute__((packed)) acpi_gas {
    uint8_t space_id; /* 1 = system I/O */
    uint8_t bit_width;
    uint8_t bit_offset;
    uint8_t access_size; /* 1 = byte */
    uint64_t address;
};

struct __attribute__((packed)) acpi_fadt {
    struct acpi_header h;
    uint32_t firmware_ctrl;
    uint32_t dsdt;
    uint8_t reserved0;
    uint8_t preferred_pm_profile;
    uint16_t sci_int;
    uint32_t smi_cmd;
    uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
    uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk, pm2_cnt_blk, pm_tmr_blk;
    uint32_t gpe0_blk, gpe1_blk;
    uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len, gpe0_blk_len, gpe1_blk_len, gpe1_base, cst_cnt;
    uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
    uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
    uint16_t iapc_boot_arch;
    uint8_t reserved1;
    uint32_t flags;
    struct acpi_gas reset_reg;
    uint8_t reset_value;
    uint16_t arm_boot_arch;
    uint8_t minor_version;
    uint64_t x_firmware_ctrl;
    uint64_t x_dsdt;
    struct acpi_gas x_pm1a_evt_blk, x_pm1b_evt_blk, x_pm1a_cnt_blk, x_pm1b_cnt_blk, x_pm2_cnt_blk;
    struct acpi_gas x_pm_tmr_blk, x_gpe0_blk, x_gpe1_blk;
    struct acpi_gas sleep_control, sleep_status;
    uint64_t hypervisor_vendor_id;
};
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT revision 6 is 276 bytes");

#define FADT_F_WBINVD             (1u << 0)
#define FADT_F_RESET_REG_SUP      (1u << 10)
#define FADT_F_PWR_BUTTON         (1u << 4) /* set = no fixed power button */
#define FADT_F_SLP_BUTTON         (1u << 5)
#define IAPC_VGA_NOT_PRESENT      (1u << 2)
#define IAPC_CMOS_RTC_NOT_PRESENT (1u << 5)

struct __attribute__((packed)) acpi_facs {
    char signature[4];
    uint32_t length;
    uint32_t hardware_signature;
    uint32_t firmware_waking_vector;
    uint32_t global_lock;
    uint32_t flags;
    uint64_t x_firmware_waking_vector;
    uint8_t version;
    uint8_t reserved[3];
    uint32_t ospm_flags;
    uint8_t reserved2[24];
};
_Static_assert(sizeof(struct acpi_facs) == 64, "FACS is 64 bytes");

struct __attribute__((packed)) madt_lapic {
    uint8_t type, length, processor_uid, apic_id;
    uint32_t flags;
};
struct __attribute__((packed)) madt_ioapic {
    uint8_t type, length, id, reserved;
    uint32_t address, gsi_base;
};

/* Name (\_S5, Package (2) { 5, 0 }): SLP_TYP 5 for soft-off, written to the sleep control register. */
static const uint8_t dsdt_aml[] = {0x08, '_', 'S', '5', '_', 0x12, 0x05, 0x02, 0x0a, 0x05, 0x00};

static uint8_t checksum(const void *p, size_t len)
{
    uint8_t s = 0;
    for (size_t i = 0; i < len; i++)
        s += ((const uint8_t *)p)[i];
    return (uint8_t)(0 - s);
}

static void header(struct acpi_header *h, const char *sig, uint32_t len, uint8_t rev)
{
    memcpy(h->signature, sig, 4);
    h->length = len;
    h->revision = rev;
    memcpy(h->oem_id, "LSL   ", 6);
    memcpy(h->oem_table_id, "LSLVMM  ", 8);
    h->oem_revision = 1;
    memcpy(h->creator_id, "LSL ", 4);
    h->creator_revision = 1;
}

static struct acpi_gas io_reg8(uint16_t port)
{
    return (struct acpi_gas){.space_id = 1, .bit_width = 8, .access_size = 1, .address = port};
}

long x86_acpi_build(uint8_t *buf, size_t cap, uint64_t gpa, unsigned ncpus)
{
    size_t rsdp_off = 0;
    size_t facs_off = 64; /* FACS must be 64-byte aligned */
    size_t dsdt_off = ALIGN_UP(facs_off + sizeof(struct acpi_facs), 16);
    size_t dsdt_len = sizeof(struct acpi_header) + sizeof(dsdt_aml);
    size_t fadt_off = ALIGN_UP(dsdt_off + dsdt_len, 16);
    size_t madt_off = ALIGN_UP(fadt_off + sizeof(struct acpi_fadt), 16);
    size_t madt_len =
        sizeof(struct acpi_header) + 8 + ncpus * sizeof(struct madt_lapic) + sizeof(struct madt_ioapic);
    size_t xsdt_off = ALIGN_UP(madt_off + madt_len, 16);
    size_t xsdt_len = sizeof(struct acpi_header) + 2 * sizeof(uint64_t);
    size_t total = xsdt_off + xsdt_len;
    if (ncpus == 0 || ncpus > 255 || total > cap)
        return -ENOSPC;
    memset(buf, 0, total);

    struct acpi_facs *facs = (void *)(buf + facs_off);
    memcpy(facs->signature, "FACS", 4);
    facs->length = sizeof(*facs);
    facs->version = 2;

    struct acpi_header *dsdt = (void *)(buf + dsdt_off);
    header(dsdt, "DSDT", (uint32_t)dsdt_len, 2);
    memcpy(dsdt + 1, dsdt_aml, sizeof(dsdt_aml));
    dsdt->checksum = checksum(dsdt, dsdt_len);

    struct acpi_fadt *fadt = (void *)(buf + fadt_off);
    header(&fadt->h, "FACP", sizeof(*fadt), 6);
    fadt->minor_version = 0;
    fadt->flags = FADT_F_WBINVD | FADT_F_RESET_REG_SUP | FADT_F_PWR_BUTTON | FADT_F_SLP_BUTTON;
    fadt->iapc_boot_arch = IAPC_VGA_NOT_PRESENT | IAPC_CMOS_RTC_NOT_PRESENT;
    fadt->sci_int = ACPI_SCI_IRQ;
    fadt->smi_cmd = 0; /* no SMM: the platform is always in ACPI mode */
    fadt->pm1a_evt_blk = PORT_ACPI_PM1A_EVT;
    fadt->pm1_evt_len = 4;
    fadt->pm1a_cnt_blk = PORT_ACPI_PM1A_CNT;
    fadt->pm1_cnt_len = 2;
    fadt->reset_reg = io_reg8(PORT_ACPI_RESET);
    fadt->reset_value = ACPI_RESET_VALUE;
    fadt->firmware_ctrl = (uint32_t)(gpa + facs_off);
    fadt->dsdt = (uint32_t)(gpa + dsdt_off);
    fadt->x_dsdt = gpa + dsdt_off;
    memcpy(&fadt->hypervisor_vendor_id, "LSLVMM  ", 8);
    fadt->h.checksum = checksum(fadt, sizeof(*fadt));

    struct acpi_header *madt = (void *)(buf + madt_off);
    header(madt, "APIC", (uint32_t)madt_len, 4);
    uint8_t *p = (uint8_t *)(madt + 1);
    uint32_t lapic_addr = (uint32_t)LAYOUT_LAPIC, madt_flags = 0; /* no 8259 setup expected of the OS */
    memcpy(p, &lapic_addr, 4);
    memcpy(p + 4, &madt_flags, 4);
    p += 8;
    for (unsigned i = 0; i < ncpus; i++, p += sizeof(struct madt_lapic)) {
        struct madt_lapic l = {
            .type = 0, .length = sizeof(l), .processor_uid = (uint8_t)i, .apic_id = (uint8_t)i, .flags = 1};
        memcpy(p, &l, sizeof(l));
    }
    struct madt_ioapic io = {.type = 1,
                             .length = sizeof(io),
                             .id = (uint8_t)ncpus,
                             .address = (uint32_t)LAYOUT_IOAPIC,
                             .gsi_base = 0};
    memcpy(p, &io, sizeof(io));
    madt->checksum = checksum(madt, madt_len);

    struct acpi_header *xsdt = (void *)(buf + xsdt_off);
    header(xsdt, "XSDT", (uint32_t)xsdt_len, 1);
    uint64_t entries[2] = {gpa + fadt_off, gpa + madt_off};
    memcpy(xsdt + 1, entries, sizeof(entries));
    xsdt->checksum = checksum(xsdt, xsdt_len);

    struct acpi_rsdp *rsdp = (void *)(buf + rsdp_off);
    memcpy(rsdp->signature, "RSD PTR ", 8);
    memcpy(rsdp->oem_id, "LSL   ", 6);
    rsdp->revision = 2;
    rsdp->length = sizeof(*rsdp);
    rsdp->xsdt_address = gpa + xsdt_off;
    rsdp->checksum = checksum(rsdp, 20);
    rsdp->extended_checksum = checksum(rsdp, sizeof(*rsdp));
    return (long)total;
}
