/* Loads the guest kernel (ELF vmlinux or bzImage) and the initrd straight into guest RAM: no firmware. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "macro.h"
#include "size.h"
#include "boot.h"
#include "layout.h"

/* pread that loops over short reads; -EIO if the file ends early. */
static int read_exact(int fd, void *buf, size_t len, off_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t r = pread(fd, (uint8_t *)buf + done, len - done, off + (off_t)done);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            return -EIO;
        done += (size_t)r;
    }
    return 0;
}

/* Opens `path` (a `what`: "kernel", "initrd") and checks it is a regular file; returns the fd or -errno. */
static int open_regular(const char *path, const char *what, uint64_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return log_errno(errno, "cannot open %s %s", what, path);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return log_errno(e, "cannot stat %s %s", what, path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        log_error("%s %s is not a regular file", what, path);
        return -EINVAL;
    }
    *size = (uint64_t)st.st_size;
    return fd;
}

static int load_elf(const struct gmem *m, int fd, const char *path, const Elf64_Ehdr *eh, uint64_t fsize,
                    struct kernel_image *k)
{
    if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_machine != EM_X86_64 || eh->e_type != ET_EXEC ||
        eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 || eh->e_phnum > 64 ||
        eh->e_phoff > fsize || eh->e_phnum * sizeof(Elf64_Phdr) > fsize - eh->e_phoff) {
        log_error("%s: not an x86-64 Linux kernel (unsupported ELF)", path);
        return -ENOEXEC;
    }
    Elf64_Phdr ph[64];
    int r = read_exact(fd, ph, eh->e_phnum * sizeof(Elf64_Phdr), (off_t)eh->e_phoff);
    if (r < 0)
        return log_errno(-r, "%s: cannot read program headers", path);
    uint64_t entry = eh->e_entry, end = 0;
    unsigned loaded = 0;
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type != PT_LOAD || ph[i].p_memsz == 0)
            continue;
        if (ph[i].p_filesz > ph[i].p_memsz || ph[i].p_offset > fsize ||
            ph[i].p_filesz > fsize - ph[i].p_offset) {
            log_error("%s: corrupt ELF segment", path);
            return -ENOEXEC;
        }
        uint8_t *dst = gmem_ptr(m, ph[i].p_paddr, ph[i].p_memsz);
        if (!dst) {
            log_error("%s: kernel segment at 0x%llx does not fit in guest memory", path,
                      (unsigned long long)ph[i].p_paddr);
            return -ENOSPC;
        }
        r = read_exact(fd, dst, ph[i].p_filesz, (off_t)ph[i].p_offset);
        if (r < 0)
            return log_errno(-r, "%s: cannot read kernel segment", path);
        /* Guest RAM is fresh zeroed memory: the bss needs no memset (and stays untouched). */
        /* The kernel links at a virtual address; its entry is physical in vmlinux, but accept either. */
        if (entry >= ph[i].p_vaddr && entry - ph[i].p_vaddr < ph[i].p_memsz && ph[i].p_vaddr != ph[i].p_paddr)
            entry = entry - ph[i].p_vaddr + ph[i].p_paddr;
        end = MAX(end, ph[i].p_paddr + ph[i].p_memsz);
        loaded++;
    }
    if (!loaded || !gmem_ptr(m, entry, 1)) {
        log_error("%s: ELF has no loadable kernel or its entry point is outside RAM", path);
        return -ENOEXEC;
    }
    memset(&k->hdr, 0, sizeof(k->hdr));
    k->entry = entry;
    k->end = end;
    k->is_bzimage = 0;
    k->hdr_len = 0;
    return 0;
}

static int load_bzimage(const struct gmem *m, int fd, const char *path, const uint8_t *head, uint64_t fsize,
                        struct kernel_image *k)
{
    struct setup_header h;
    memcpy(&h, head + 0x1f1, sizeof(h));
    /* The header's own length is given by the jump at 0x200: 0x202 + its 8-bit displacement. */
    size_t hdr_end = 0x202 + head[0x201];
    size_t hdr_len = MIN(hdr_end - 0x1f1, sizeof(h));
    if (h.version < 0x20c || !(h.xloadflags & XLF_KERNEL_64)) {
        log_error("%s: bzImage too old or not 64-bit (boot protocol %u.%u, need 2.12 with 64-bit entry)",
                  path, h.version >> 8, h.version & 0xff);
        return -ENOEXEC;
    }
    unsigned setup_sects = h.setup_sects ? h.setup_sects : 4;
    uint64_t setup_size = (setup_sects + 1ull) * 512;
    if (setup_size >= fsize) {
        log_error("%s: truncated bzImage", path);
        return -ENOEXEC;
    }
    uint64_t size = fsize - setup_size;
    uint64_t need = MAX(size, (uint64_t)h.init_size);
    uint8_t *dst = gmem_ptr(m, LAYOUT_HIGH, need);
    if (!dst) {
        log_error("%s: kernel needs %llu MiB, more than guest memory", path,
                  (unsigned long long)(need >> 20));
        return -ENOSPC;
    }
    int r = read_exact(fd, dst, size, (off_t)setup_size);
    if (r < 0)
        return log_errno(-r, "%s: cannot read kernel", path);
    memset(&k->hdr, 0, sizeof(k->hdr));
    memcpy(&k->hdr, &h, hdr_len);
    k->hdr_len = hdr_len;
    k->entry = LAYOUT_HIGH + 0x200; /* 64-bit entry point, boot protocol 2.12+ */
    k->end = LAYOUT_HIGH + need;
    k->is_bzimage = 1;
    return 0;
}

int x86_load_kernel(const struct gmem *m, const char *path, struct kernel_image *k)
{
    uint64_t fsize;
    _cleanup_close_ int fd = open_regular(path, "kernel", &fsize);
    if (fd < 0)
        return fd;
    uint8_t head[1024] = {0};
    if (fsize < sizeof(head) || read_exact(fd, head, sizeof(head), 0) < 0) {
        log_error("%s: too small to be a Linux kernel", path);
        return -ENOEXEC;
    }
    if (memcmp(head, ELFMAG, SELFMAG) == 0) {
        Elf64_Ehdr eh;
        memcpy(&eh, head, sizeof(eh));
        return load_elf(m, fd, path, &eh, fsize, k);
    }
    uint16_t boot_flag;
    uint32_t magic;
    memcpy(&boot_flag, head + 0x1fe, 2);
    memcpy(&magic, head + 0x202, 4);
    if (boot_flag == BOOT_FLAG_MAGIC && magic == SETUP_HEADER_MAGIC)
        return load_bzimage(m, fd, path, head, fsize, k);
    log_error("%s: not a Linux kernel (neither ELF vmlinux nor bzImage)", path);
    return -ENOEXEC;
}

int x86_load_initrd(const struct gmem *m, const char *path, const struct kernel_image *k, uint64_t *gpa,
                    uint64_t *size)
{
    uint64_t len;
    _cleanup_close_ int fd = open_regular(path, "initrd", &len);
    if (fd < 0)
        return fd;
    if (len == 0) {
        log_error("initrd %s is empty", path);
        return -EINVAL;
    }
    uint64_t limit = gmem_low_end(m);
    if (k->is_bzimage && k->hdr.initrd_addr_max)
        limit = MIN(limit, (uint64_t)k->hdr.initrd_addr_max + 1);
    if (len > limit || ALIGN_DOWN(limit - len, 4096) < ALIGN_UP(k->end, 4096)) {
        log_error("initrd %s (%llu MiB) does not fit in guest memory next to the kernel; raise --memory",
                  path, (unsigned long long)(len >> 20));
        return -ENOSPC;
    }
    uint64_t at = ALIGN_DOWN(limit - len, 4096);
    int r = read_exact(fd, gmem_ptr(m, at, len), len, 0);
    if (r < 0)
        return log_errno(-r, "cannot read initrd %s", path);
    *gpa = at;
    *size = len;
    return 0;
}
