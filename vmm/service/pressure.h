/* When the host runs short of memory, the guest gives back more than it frees by itself: the service asks
 * the balloon to take guest memory (the guest drops cache to give it, and swaps if it has swap), a step a
 * second while the host stays short, and lets it all go once the host is comfortable again. Free page
 * reporting already returns what the guest does not use; this takes what it merely caches. Kept apart from
 * the service's I/O so that it is tested on its own (tests/unit/test_pressure.c). */
#ifndef LSL_SERVICE_PRESSURE_H
#define LSL_SERVICE_PRESSURE_H

#include <stdbool.h>
#include <stdint.h>

#define PRESSURE_LOW_PERMILLE  100            /* host MemAvailable under 10 % of its RAM: short */
#define PRESSURE_HIGH_PERMILLE 200            /* over 20 %: comfortable, the balloon lets go */
#define PRESSURE_STEP          (256ull << 20) /* the most one tick takes */
#define PRESSURE_FLOOR_MIN     (256ull << 20) /* what the guest keeps available, at least, */
#define PRESSURE_FLOOR_SHIFT   3              /* or an eighth of its RAM */

struct pressure_in {
    uint64_t host_total, host_available; /* /proc/meminfo */
    bool guest_known;                    /* the guest's statistics below are there */
    uint64_t guest_total, guest_available;
    uint64_t target; /* what the balloon is asked to hold for the host now (bytes) */
};

/* The next target (bytes): unchanged between the two marks, 0 above the high one, a step more under the low
 * one (as much as the host is short, plus 64 MiB, at most PRESSURE_STEP, never below the guest's floor). */
uint64_t pressure_target(const struct pressure_in *in);

#endif
