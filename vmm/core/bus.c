/* Address-range dispatch for port I/O and MMIO exits. */
#include "bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int bus_add(struct bus *b, uint64_t base, uint64_t len, const char *name, bus_read_fn read,
            bus_write_fn write, void *opaque)
{
    for (unsigned i = 0; i < b->n; i++) {
        const struct bus_range *r = &b->ranges[i];
        if (base < r->base + r->len && r->base < base + len) {
            log_error("%s at 0x%llx overlaps %s", name, (unsigned long long)base, r->name);
            return -EEXIST;
        }
    }
    struct bus_range *nr = realloc(b->ranges, (b->n + 1) * sizeof(*nr));
    if (!nr)
        return log_errno(ENOMEM, "%s", name);
    b->ranges = nr;
    b->ranges[b->n++] = (struct bus_range){
        .base = base, .len = len, .name = name, .read = read, .write = write, .opaque = opaque};
    return 0;
}

bool bus_access(struct bus *b, uint64_t addr, uint8_t *data, uint32_t len, bool write)
{
    for (unsigned i = 0; i < b->n; i++) {
        const struct bus_range *r = &b->ranges[i];
        if (addr < r->base || addr - r->base >= r->len)
            continue;
        if (write) {
            if (r->write)
                r->write(r->opaque, addr - r->base, data, len);
        } else if (r->read) {
            r->read(r->opaque, addr - r->base, data, len);
        } else {
            memset(data, 0xff, len);
        }
        return true;
    }
    __atomic_add_fetch(&b->unhandled, 1, __ATOMIC_RELAXED);
    for (unsigned i = 0; i < BUS_UNCLAIMED_SLOTS; i++) {
        uint64_t expected = 0;
        if (__atomic_load_n(&b->unclaimed[i].addr, __ATOMIC_RELAXED) == addr ||
            __atomic_compare_exchange_n(&b->unclaimed[i].addr, &expected, addr, false, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED)) {
            __atomic_add_fetch(&b->unclaimed[i].count, 1, __ATOMIC_RELAXED);
            break;
        }
    }
    if (!write)
        memset(data, 0xff, len);
    return false;
}

void bus_free(struct bus *b)
{
    free(b->ranges);
    memset(b, 0, sizeof(*b));
}
