/* Guest RAM: one lazily-populated anonymous mapping, split around the 32-bit MMIO hole. */
#include "guest_mem.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define GMEM_ALIGN ((size_t)2 << 20)

int gmem_init(struct gmem *m, uint64_t size, uint64_t hole_start)
{
    memset(m, 0, sizeof(*m));
    /* MAP_NORESERVE + no MAP_POPULATE: pages are allocated on first guest touch, so a 4 GiB guest that uses
     * 200 MiB costs 200 MiB. Giving pages back is the balloon's job. */
    void *map = mmap(NULL, size + GMEM_ALIGN, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (map == MAP_FAILED)
        return -errno;
    /* 2 MiB aligned, as guest physical addresses are: KVM maps a huge host page (THP) as one large guest page
     * only where the two agree modulo 2 MiB, and a 2 MiB range the balloon gives back is then one huge page,
     * freed whole instead of split. mmap aligns only to 4 KiB. */
    uint8_t *p = (uint8_t *)(((uintptr_t)map + GMEM_ALIGN - 1) & ~(uintptr_t)(GMEM_ALIGN - 1));
    size_t head = (size_t)(p - (uint8_t *)map);
    if (head)
        munmap(map, head);
    munmap(p + size, GMEM_ALIGN - head); /* head < GMEM_ALIGN: a tail is always left */
    madvise(p, size, MADV_DONTDUMP);
    m->base = p;
    m->total = size;
    uint64_t low = size < hole_start ? size : hole_start;
    m->regions[0] = (struct gmem_region){.gpa = 0, .size = low, .host = m->base};
    m->nregions = 1;
    if (size > low) {
        m->regions[1] = (struct gmem_region){.gpa = 1ull << 32, .size = size - low, .host = m->base + low};
        m->nregions = 2;
    }
    return 0;
}

void gmem_free(struct gmem *m)
{
    if (m->base)
        munmap(m->base, m->total);
    memset(m, 0, sizeof(*m));
}

void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len)
{
    for (unsigned i = 0; i < m->nregions; i++) {
        const struct gmem_region *r = &m->regions[i];
        if (gpa < r->gpa)
            continue;
        uint64_t off = gpa - r->gpa;
        if (off > r->size || len > r->size - off)
            continue;
        return r->host + off;
    }
    return NULL;
}

uint64_t gmem_low_end(const struct gmem *m)
{
    return m->regions[0].size;
}

int gmem_read(const struct gmem *m, uint64_t gpa, void *buf, size_t len)
{
    const void *p = gmem_ptr(m, gpa, len);
    if (!p)
        return -EFAULT;
    memcpy(buf, p, len);
    return 0;
}

int gmem_write(const struct gmem *m, uint64_t gpa, const void *buf, size_t len)
{
    void *p = gmem_ptr(m, gpa, len);
    if (!p)
        return -EFAULT;
    memcpy(p, buf, len);
    return 0;
}
