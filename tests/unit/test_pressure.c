/* The host's shortage of memory and the balloon (vmm/service/pressure.h): nothing while the host is fine or
 * between the marks, steps while it is short (never past the guest's floor, never blind), all back once it
 * is comfortable. A simulated guest gives the balloon what it asks for out of what it has available. */
#include <stdint.h>

#include "check.h"
#include "service/pressure.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)

static void test_fine(void)
{
    struct pressure_in in = {.host_total = 16 * GIB,
                             .host_available = 8 * GIB,
                             .guest_known = true,
                             .guest_total = 8 * GIB,
                             .guest_available = 6 * GIB};
    CHECK_EQ(pressure_target(&in), 0);
    in.target = 1 * GIB; /* comfortable again (over 20 %): all of it back at once */
    in.host_available = 4 * GIB;
    CHECK_EQ(pressure_target(&in), 0);
    in.host_available = 2 * GIB; /* between 10 and 20 %: held */
    CHECK_EQ(pressure_target(&in), 1 * GIB);
    in.host_total = 0; /* nothing known of the host: nothing taken */
    CHECK_EQ(pressure_target(&in), 0);
}

static void test_short(void)
{
    /* 16 GiB host with 1 GiB available (limit 1.6 GiB): a step of at most 256 MiB a tick. */
    struct pressure_in in = {.host_total = 16 * GIB,
                             .host_available = 1 * GIB,
                             .guest_known = true,
                             .guest_total = 8 * GIB,
                             .guest_available = 6 * GIB};
    CHECK_EQ(pressure_target(&in), PRESSURE_STEP);
    /* Just short: what is missing and 64 MiB. */
    in.host_available = 16 * GIB / 1000 * PRESSURE_LOW_PERMILLE - 10 * MIB;
    CHECK_EQ(pressure_target(&in), 74 * MIB);
    /* Without the guest's numbers: held where it is. */
    in.guest_known = false;
    in.target = 512 * MIB;
    CHECK_EQ(pressure_target(&in), 512 * MIB);
}

static void test_floor(void)
{
    /* The host stays short; the guest gives up to its floor (an eighth of 8 GiB = 1 GiB) and no further. */
    struct pressure_in in = {.host_total = 16 * GIB,
                             .host_available = 512 * MIB,
                             .guest_known = true,
                             .guest_total = 8 * GIB,
                             .guest_available = 2 * GIB};
    unsigned ticks = 0;
    for (uint64_t next; (next = pressure_target(&in)) != in.target && ticks < 100; ticks++) {
        in.guest_available -= next - in.target; /* the balloon's pages are no longer available */
        in.target = next;
    }
    CHECK_EQ(in.target, 1 * GIB);
    CHECK_EQ(in.guest_available, 1 * GIB);
    CHECK_EQ(ticks, 4);
    /* A small guest keeps PRESSURE_FLOOR_MIN. */
    in = (struct pressure_in){.host_total = 16 * GIB,
                              .host_available = 512 * MIB,
                              .guest_known = true,
                              .guest_total = 1 * GIB,
                              .guest_available = 300 * MIB};
    CHECK_EQ(pressure_target(&in), 300 * MIB - PRESSURE_FLOOR_MIN);
    in.guest_available = 200 * MIB;
    CHECK_EQ(pressure_target(&in), 0);
}

int main(void)
{
    RUN(test_fine);
    RUN(test_short);
    RUN(test_floor);
    return CHECK_DONE();
}
