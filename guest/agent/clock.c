/* See clock.h. */
#include "clock.h"

#include <errno.h>
#include <time.h>

static int set_realtime(const struct timespec *ts)
{
    return clock_settime(CLOCK_REALTIME, ts);
}

int (*agent_clock_settime)(const struct timespec *ts) = set_realtime;

bool agent_clock_should_step(int64_t guest_ns, int64_t host_ns)
{
    /* In wrapping arithmetic: the values come from the host and the guest's clock may be anything. */
    int64_t lead = (int64_t)((uint64_t)guest_ns - (uint64_t)host_ns);
    return lead < -AGENT_CLOCK_BEHIND_NS || lead > AGENT_CLOCK_AHEAD_NS;
}

int agent_clock_sync(int64_t host_ns)
{
    struct timespec now;

    if (host_ns <= 0 || clock_gettime(CLOCK_REALTIME, &now) < 0)
        return host_ns <= 0 ? -EINVAL : -errno;
    if (!agent_clock_should_step((int64_t)now.tv_sec * 1000000000LL + now.tv_nsec, host_ns))
        return 0;
    struct timespec to = {.tv_sec = host_ns / 1000000000LL, .tv_nsec = host_ns % 1000000000LL};
    return agent_clock_settime(&to) < 0 ? -errno : 1;
}
