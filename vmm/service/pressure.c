/* See pressure.h. */
#include "pressure.h"

#include "macro.h"

uint64_t pressure_target(const struct pressure_in *in)
{
    if (!in->host_total || in->host_available >= in->host_total / 1000 * PRESSURE_HIGH_PERMILLE)
        return 0;
    uint64_t low = in->host_total / 1000 * PRESSURE_LOW_PERMILLE;
    if (in->host_available >= low || !in->guest_known)
        return in->target;
    uint64_t floor = MAX(PRESSURE_FLOOR_MIN, in->guest_total >> PRESSURE_FLOOR_SHIFT);
    uint64_t spare = in->guest_available > floor ? in->guest_available - floor : 0;
    uint64_t step = MIN(PRESSURE_STEP, low - in->host_available + (64ull << 20));
    return in->target + MIN(step, spare);
}
