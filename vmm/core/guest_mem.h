/* Guest physical memory: the one place that turns a guest address into a host pointer, always checking
 * that the whole range lies inside a single RAM region. Device code never does pointer math on GPAs. */
#ifndef LSL_GUEST_MEM_H
#define LSL_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GMEM_MAX_REGIONS 2

struct gmem_region {
    uint64_t gpa;
    uint64_t size;
    uint8_t *host;
};

struct gmem {
    struct gmem_region regions[GMEM_MAX_REGIONS];
    unsigned nregions;
    uint8_t *base; /* the single host mapping behind all regions */
    uint64_t total;
};

/* Maps `size` bytes of lazily-allocated RAM (untouched pages cost the host nothing) and lays it out below
 * the 32-bit MMIO hole at `hole_start`, continuing at 4 GiB. */
int gmem_init(struct gmem *m, uint64_t size, uint64_t hole_start);
void gmem_free(struct gmem *m);

/* Host pointer for [gpa, gpa+len) or NULL when any byte is outside guest RAM. len may be 0. */
void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len);

/* End of RAM below 4 GiB. */
uint64_t gmem_low_end(const struct gmem *m);

/* Copy helpers: return 0 or -EFAULT. */
int gmem_read(const struct gmem *m, uint64_t gpa, void *buf, size_t len);
int gmem_write(const struct gmem *m, uint64_t gpa, const void *buf, size_t len);

#endif
