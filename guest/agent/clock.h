/* The guest's wall clock follows the host's: kvm-clock stops while the host sleeps, so after a suspend the
 * guest runs behind (WSL 2's old clock skew). Every session and the service's resync after a host suspend
 * carry the host's time (LSL_CLOCK); the agent steps the guest's clock when it is off. */
#ifndef LSL_AGENT_CLOCK_H
#define LSL_AGENT_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* The frame's own delay makes the host's time look early, never late: a guest clock behind it is wrong for
 * sure, one ahead may only look so. So a small lag is corrected, an apparent lead only when large. */
#define AGENT_CLOCK_BEHIND_NS (200 * 1000000LL)
#define AGENT_CLOCK_AHEAD_NS  (2000 * 1000000LL)

/* Whether a guest clock reading guest_ns, taken when the host's host_ns arrived, should be set to it. */
bool agent_clock_should_step(int64_t guest_ns, int64_t host_ns);

/* How the clock is set: clock_settime(CLOCK_REALTIME, ...) unless a unit test, running as a host's root,
 * puts a recorder here. */
extern int (*agent_clock_settime)(const struct timespec *ts);

/* Steps CLOCK_REALTIME to host_ns when agent_clock_should_step says so. Returns 1 if it did, 0 if the clock
 * was right, or a negative errno. */
int agent_clock_sync(int64_t host_ns);

#endif
