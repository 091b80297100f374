/* Port-I/O and MMIO dispatch: an explicit table of address ranges, each with its device's handlers.
 * Filled once at start-up, read-only afterwards (vCPU threads dispatch concurrently without locking). */
#ifndef LSL_BUS_H
#define LSL_BUS_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*bus_read_fn)(void *opaque, uint64_t off, uint8_t *data, uint32_t len);
typedef void (*bus_write_fn)(void *opaque, uint64_t off, const uint8_t *data, uint32_t len);

struct bus_range {
    uint64_t base, len;
    const char *name;
    bus_read_fn read;
    bus_write_fn write;
    void *opaque;
};

#define BUS_UNCLAIMED_SLOTS 8

struct bus {
    struct bus_range *ranges;
    unsigned n;
    uint64_t unhandled; /* accesses nobody claimed (reads see all-ones) */
    /* The first few distinct unclaimed addresses and their counts, for --stats: a guest probing ports we do
     * not emulate costs an exit each time, and this is how to see it. */
    struct {
        uint64_t addr, count;
    } unclaimed[BUS_UNCLAIMED_SLOTS];
};

/* Fails with -EEXIST on overlap (or -ENOMEM), logged. */
int bus_add(struct bus *b, uint64_t base, uint64_t len, const char *name, bus_read_fn read,
            bus_write_fn write, void *opaque);
/* Dispatches an access; returns false (and fills reads with 0xff) when no device claims it. */
bool bus_access(struct bus *b, uint64_t addr, uint8_t *data, uint32_t len, bool write);
void bus_free(struct bus *b);

#endif
