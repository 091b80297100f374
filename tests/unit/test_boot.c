/* x86 boot structures: e820 layouts, the zero page, ACPI tables (checksums, links, CPU count), and the
 * guest memory accessor they are written through. */
#include <string.h>

#include "check.h"
#include "core/guest_mem.h"
#include "x86/boot.h"
#include "x86/layout.h"

static void test_e820_small(void)
{
    struct e820_entry e[8];
    unsigned n = x86_e820_build(256ull << 20, LAYOUT_MMIO_HOLE, e, 8);
    CHECK_EQ(n, 4);
    CHECK_EQ(e[0].addr, 0);
    CHECK_EQ(e[0].type, E820_RAM);
    CHECK_EQ(e[0].addr + e[0].size, LAYOUT_EBDA);
    CHECK_EQ(e[2].addr, LAYOUT_ACPI);
    CHECK_EQ(e[2].type, E820_RESERVED);
    CHECK_EQ(e[3].addr, LAYOUT_HIGH);
    CHECK_EQ(e[3].addr + e[3].size, 256ull << 20);
    for (unsigned i = 1; i < n; i++)
        CHECK(e[i].addr >= e[i - 1].addr + e[i - 1].size); /* sorted, no overlap */
}

static void test_e820_above_hole(void)
{
    struct e820_entry e[8];
    unsigned n = x86_e820_build(5ull << 30, LAYOUT_MMIO_HOLE, e, 8);
    CHECK_EQ(n, 5);
    CHECK_EQ(e[3].addr + e[3].size, LAYOUT_MMIO_HOLE);
    CHECK_EQ(e[4].addr, 1ull << 32);
    CHECK_EQ(e[4].size, (5ull << 30) - LAYOUT_MMIO_HOLE);
    uint64_t ram = 0;
    for (unsigned i = 0; i < n; i++)
        if (e[i].type == E820_RAM)
            ram += e[i].size;
    CHECK_EQ(ram, (5ull << 30) - (0x100000 - LAYOUT_EBDA));          /* all RAM but the legacy hole */
    CHECK_EQ(x86_e820_build(5ull << 30, LAYOUT_MMIO_HOLE, e, 2), 2); /* never writes past cap */
}

static void test_guest_mem_split(void)
{
    struct gmem m;
    CHECK_EQ(gmem_init(&m, 5ull << 30, LAYOUT_MMIO_HOLE), 0);
    CHECK_EQ(m.nregions, 2);
    CHECK(gmem_ptr(&m, 0, 4096) == m.base);
    /* Host and guest addresses agree modulo 2 MiB, in both regions: KVM's large pages need it. */
    CHECK_EQ((uintptr_t)m.base % (2u << 20), 0);
    CHECK_EQ((uintptr_t)gmem_ptr(&m, 1ull << 32, 1) % (2u << 20), 0);
    /* A size that is no 2 MiB multiple, which newer kernels' own THP alignment of mmap leaves alone. */
    for (int i = 0; i < 4; i++) {
        struct gmem odd;
        CHECK_EQ(gmem_init(&odd, (1ull << 30) + (1u << 20), LAYOUT_MMIO_HOLE), 0);
        CHECK_EQ((uintptr_t)odd.base % (2u << 20), 0);
        gmem_free(&odd);
    }
    CHECK(gmem_ptr(&m, LAYOUT_MMIO_HOLE - 4096, 4096) != NULL);
    CHECK(gmem_ptr(&m, LAYOUT_MMIO_HOLE - 4096, 4097) == NULL); /* runs into the hole */
    CHECK(gmem_ptr(&m, LAYOUT_MMIO_HOLE, 1) == NULL);
    CHECK(gmem_ptr(&m, 1ull << 32, 4096) == m.base + LAYOUT_MMIO_HOLE);
    CHECK(gmem_ptr(&m, (1ull << 32) + (2ull << 30) - 1, 1) != NULL);
    CHECK(gmem_ptr(&m, (1ull << 32) + (2ull << 30), 1) == NULL);
    CHECK(gmem_ptr(&m, UINT64_MAX, 2) == NULL);
    CHECK(gmem_ptr(&m, 16, UINT64_MAX) == NULL);
    gmem_free(&m);
}

static void test_zero_page(void)
{
    struct kernel_image k = {.entry = 0x1000000, .end = 0x2000000};
    struct e820_entry e[8];
    unsigned n = x86_e820_build(512ull << 20, LAYOUT_MMIO_HOLE, e, 8);
    static struct boot_params bp;
    x86_boot_params_build(&bp, &k, LAYOUT_CMDLINE, 42, 0x1f000000, 0x100000, e, n, LAYOUT_ACPI);
    const uint8_t *raw = (const uint8_t *)&bp;
    uint16_t u16;
    uint32_t u32;
    memcpy(&u16, raw + 0x1fe, 2);
    CHECK_EQ(u16, 0xaa55);
    memcpy(&u32, raw + 0x202, 4);
    CHECK_EQ(u32, 0x53726448);
    CHECK_EQ(raw[0x210], 0xff); /* type_of_loader */
    memcpy(&u32, raw + 0x228, 4);
    CHECK_EQ(u32, LAYOUT_CMDLINE);
    memcpy(&u32, raw + 0x218, 4);
    CHECK_EQ(u32, 0x1f000000);
    memcpy(&u32, raw + 0x21c, 4);
    CHECK_EQ(u32, 0x100000);
    CHECK_EQ(raw[0x1e8], n);
    uint64_t u64;
    memcpy(&u64, raw + 0x70, 8);
    CHECK_EQ(u64, LAYOUT_ACPI);
    memcpy(&u64, raw + 0x2d0 + 20 * 3, 8); /* fourth e820 entry's address */
    CHECK_EQ(u64, LAYOUT_HIGH);
}

static uint8_t sum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    while (n--)
        s += *p++;
    return s;
}

static const uint8_t *table_at(const uint8_t *buf, uint64_t base, uint64_t gpa, const char *sig)
{
    const uint8_t *t = buf + (gpa - base);
    CHECK(memcmp(t, sig, 4) == 0);
    uint32_t len;
    memcpy(&len, t + 4, 4);
    CHECK_EQ(sum(t, len), 0);
    return t;
}

static void test_acpi(void)
{
    static uint8_t buf[LAYOUT_ACPI_END - LAYOUT_ACPI];
    const uint64_t base = LAYOUT_ACPI;
    long len = x86_acpi_build(buf, sizeof(buf), base, 4);
    CHECK(len > 0);
    CHECK(memcmp(buf, "RSD PTR ", 8) == 0);
    CHECK_EQ(sum(buf, 20), 0);
    CHECK_EQ(sum(buf, 36), 0);
    uint64_t xsdt_gpa, fadt_gpa, madt_gpa, dsdt_gpa;
    memcpy(&xsdt_gpa, buf + 24, 8);
    const uint8_t *xsdt = table_at(buf, base, xsdt_gpa, "XSDT");
    memcpy(&fadt_gpa, xsdt + 36, 8);
    memcpy(&madt_gpa, xsdt + 44, 8);
    const uint8_t *fadt = table_at(buf, base, fadt_gpa, "FACP");
    memcpy(&dsdt_gpa, fadt + 140, 8);
    const uint8_t *dsdt = table_at(buf, base, dsdt_gpa, "DSDT");
    CHECK(memmem(dsdt + 36, 11, "_S5_", 4) != NULL);
    uint32_t facs_gpa;
    memcpy(&facs_gpa, fadt + 36, 4);
    CHECK(memcmp(buf + (facs_gpa - base), "FACS", 4) == 0);
    CHECK_EQ(facs_gpa % 64, 0);
    uint32_t pm1a_cnt;
    memcpy(&pm1a_cnt, fadt + 64, 4);
    CHECK_EQ(pm1a_cnt, PORT_ACPI_PM1A_CNT);
    CHECK_EQ(fadt[128], ACPI_RESET_VALUE);
    const uint8_t *madt = table_at(buf, base, madt_gpa, "APIC");
    uint32_t mlen;
    memcpy(&mlen, madt + 4, 4);
    unsigned cpus = 0, ioapics = 0;
    for (uint32_t off = 44; off < mlen; off += madt[off + 1]) {
        CHECK(madt[off + 1] > 0);
        if (madt[off + 1] == 0)
            break;
        cpus += madt[off] == 0 && (madt[off + 4] & 1);
        ioapics += madt[off] == 1;
    }
    CHECK_EQ(cpus, 4);
    CHECK_EQ(ioapics, 1);
    CHECK((uint64_t)len <= sizeof(buf));
    CHECK_EQ(x86_acpi_build(buf, 64, base, 4), -28); /* too small: refuses, no overflow */
    CHECK_EQ(x86_acpi_build(buf, sizeof(buf), base, 0), -28);
    CHECK(x86_acpi_build(buf, sizeof(buf), base, 255) > 0);
}

int main(void)
{
    RUN(test_e820_small);
    RUN(test_e820_above_hole);
    RUN(test_guest_mem_split);
    RUN(test_zero_page);
    RUN(test_acpi);
    return CHECK_DONE();
}
