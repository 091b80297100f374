/* Kernel and initrd loading: ELF vmlinux, bzImage, and the files that must be refused with a clear error. */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "x86/boot.h"
#include "x86/layout.h"

static struct gmem m;
static char dir[] = "/tmp/lsl-test-loader.XXXXXX";

static const char *write_file(const char *name, const void *data, size_t len)
{
    static char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, len, f);
    fclose(f);
    return path;
}

static const char *make_elf(const char *name, uint64_t paddr, uint64_t filesz_claim, uint64_t memsz)
{
    uint8_t buf[4096] = {0};
    Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;
    memcpy(eh->e_ident, ELFMAG, SELFMAG);
    eh->e_ident[EI_CLASS] = ELFCLASS64;
    eh->e_type = ET_EXEC;
    eh->e_machine = EM_X86_64;
    eh->e_entry = paddr;
    eh->e_phoff = sizeof(*eh);
    eh->e_phentsize = sizeof(Elf64_Phdr);
    eh->e_phnum = 1;
    Elf64_Phdr *ph = (Elf64_Phdr *)(buf + sizeof(*eh));
    ph->p_type = PT_LOAD;
    ph->p_offset = 1024;
    ph->p_paddr = paddr;
    ph->p_vaddr = 0xffffffff80000000ull + paddr;
    ph->p_filesz = filesz_claim;
    ph->p_memsz = memsz;
    memcpy(buf + 1024, "KERNEL", 6);
    return write_file(name, buf, sizeof(buf));
}

static void test_elf(void)
{
    struct kernel_image k;
    CHECK_EQ(x86_load_kernel(&m, make_elf("ok.elf", 0x1000000, 6, 0x200000), &k), 0);
    CHECK_EQ(k.entry, 0x1000000);
    CHECK_EQ(k.end, 0x1200000);
    CHECK(!k.is_bzimage);
    CHECK(memcmp(gmem_ptr(&m, 0x1000000, 6), "KERNEL", 6) == 0);
    CHECK_EQ(x86_load_kernel(&m, make_elf("big.elf", 0x1000000, 6, 1ull << 40), &k), -ENOSPC);
    CHECK_EQ(x86_load_kernel(&m, make_elf("trunc.elf", 0x1000000, 1 << 20, 1 << 21), &k), -ENOEXEC);
}

static void test_bzimage(void)
{
    uint8_t buf[8192] = {0};
    buf[0x1f1] = 1; /* setup_sects: setup is 1024 bytes */
    buf[0x1fe] = 0x55, buf[0x1ff] = 0xaa;
    buf[0x200] = 0xeb, buf[0x201] = 0x66;
    memcpy(buf + 0x202, "HdrS", 4);
    buf[0x206] = 0x0f, buf[0x207] = 0x02;                    /* protocol 2.15 */
    buf[0x236] = 1;                                          /* XLF_KERNEL_64 */
    buf[0x260] = 0x00, buf[0x261] = 0x00, buf[0x262] = 0x10; /* init_size 1 MiB */
    memcpy(buf + 1024, "PMODE", 5);
    struct kernel_image k;
    CHECK_EQ(x86_load_kernel(&m, write_file("bz", buf, sizeof(buf)), &k), 0);
    CHECK(k.is_bzimage);
    CHECK_EQ(k.entry, LAYOUT_HIGH + 0x200);
    CHECK_EQ(k.end, LAYOUT_HIGH + 0x100000);
    CHECK_EQ(k.hdr.version, 0x20f);
    CHECK(memcmp(gmem_ptr(&m, LAYOUT_HIGH, 5), "PMODE", 5) == 0);

    buf[0x236] = 0; /* no 64-bit entry */
    CHECK_EQ(x86_load_kernel(&m, write_file("bz32", buf, sizeof(buf)), &k), -ENOEXEC);
}

static void test_not_a_kernel(void)
{
    struct kernel_image k;
    char text[2048];
    memset(text, 'x', sizeof(text));
    CHECK_EQ(x86_load_kernel(&m, write_file("text", text, sizeof(text)), &k), -ENOEXEC);
    CHECK_EQ(x86_load_kernel(&m, write_file("tiny", "ELF", 3), &k), -ENOEXEC);
    char p[300];
    snprintf(p, sizeof(p), "%s/missing", dir);
    CHECK_EQ(x86_load_kernel(&m, p, &k), -ENOENT);
    CHECK_EQ(x86_load_kernel(&m, dir, &k), -EINVAL); /* a directory */
}

static void test_initrd(void)
{
    struct kernel_image k = {.end = 0x1200000};
    static uint8_t data[100000];
    memset(data, 0x5a, sizeof(data));
    uint64_t gpa, size;
    CHECK_EQ(x86_load_initrd(&m, write_file("initrd", data, sizeof(data)), &k, &gpa, &size), 0);
    CHECK_EQ(size, sizeof(data));
    CHECK_EQ(gpa % 4096, 0);
    CHECK(gpa >= k.end && gpa + size <= m.total);
    CHECK(((uint8_t *)gmem_ptr(&m, gpa, size))[size - 1] == 0x5a);
    k.end = m.total - 4096; /* no room left above the kernel */
    CHECK_EQ(x86_load_initrd(&m, write_file("initrd2", data, sizeof(data)), &k, &gpa, &size), -ENOSPC);
    CHECK_EQ(x86_load_initrd(&m, write_file("empty", "", 0), &k, &gpa, &size), -EINVAL);
}

int main(void)
{
    if (!mkdtemp(dir) || gmem_init(&m, 64ull << 20, LAYOUT_MMIO_HOLE) < 0)
        return 2;
    RUN(test_elf);
    RUN(test_bzimage);
    RUN(test_not_a_kernel);
    RUN(test_initrd);
    gmem_free(&m);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? CHECK_DONE() : 1;
}
