/* autoMemoryReclaim (reclaim.h). The guest's free memory goes back to the host through the balloon's free
 * page reporting (vmm/devices/balloon.c): a 2 MiB block the guest frees is released on the host within
 * seconds. What the kernel never frees by itself is page cache: a file read once stays cached until memory
 * runs short, and in a VM memory never runs short, it just stays on the host's bill (WSL's `vmmem`).
 *
 * gradual: every TICK_MS, half of the inactive file pages (read once and not since: the kernel's own
 * notion of cold) go, through cgroup v2's memory.reclaim at the root, down to a small floor; what a build
 * reads again is on the active list and stays. A gigabyte read once is gone in about 20 s. After
 * IDLE_TICKS of an idle CPU, all clean cache goes (drop_caches).
 * dropcache: all clean cache as soon as the CPU is idle for DROP_IDLE_TICKS. disabled: nothing.
 *
 * Once the idle spell's drop is done there is nothing to trim until the guest works again, and every wake-up
 * of an idle VM costs the host (issue 15: < 1 % of a CPU idle): the daemon then looks every REST_MS, at
 * /proc/uptime only. Cache a command makes meanwhile waits for that look at most (a gigabyte read once is
 * still gone within 30 s).
 *
 * Also here, as the other setting that decides an idle guest's wake-ups against memory given back:
 * proactive compaction is off in every guest (lsl_compaction_quiet, whatever the policy). kcompactd would
 * wake every 500 ms to score fragmentation (two of an idle VM's wake-ups a second); free page reporting
 * does not need it (a large free comes back in 2 MiB blocks on its own, and the balloon's sweeps take back
 * pages freed scattered). */
#include "reclaim.h"

#include "fileio.h"
#include "log.h"
#include "boot.h" /* proto/ */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define TICK_MS         3000
#define FLOOR_BYTES     (16ull << 20) /* below this much cold cache, nothing to gain */
#define IDLE_PERMILLE   30            /* a tick with less CPU busy than this is idle */
#define IDLE_TICKS      10            /* gradual: 30 s idle, then the full drop */
#define DROP_IDLE_TICKS 2             /* dropcache: 6 s */
#define REST_MS         9000          /* the tick once an idle spell's drop is done */

int lsl_reclaim_parse(const char *value, enum lsl_reclaim *out)
{
    if (!value || strcmp(value, LSL_RECLAIM_GRADUAL) == 0)
        *out = LSL_RECLAIM_POLICY_GRADUAL;
    else if (strcmp(value, LSL_RECLAIM_DROPCACHE) == 0)
        *out = LSL_RECLAIM_POLICY_DROPCACHE;
    else if (strcmp(value, LSL_RECLAIM_DISABLED) == 0)
        *out = LSL_RECLAIM_POLICY_DISABLED;
    else
        return -EINVAL;
    return 0;
}

/* A "Key:   N kB" line of /proc/meminfo in bytes, 0 if missing. */
static unsigned long long meminfo_bytes(const char *text, const char *key)
{
    const char *p = strstr(text, key);

    return p ? strtoull(p + strlen(key), NULL, 10) * 1024 : 0;
}

/* CPU busy since the last call, in 1/1000, from /proc/uptime (uptime, and idle summed over the ncpus CPUs:
 * the cheapest file that has it); 1000 on the first call. Time waiting for I/O counts as busy. */
static unsigned busy_permille(long ncpus, double *last_up, double *last_idle)
{
    char *text = NULL;
    double up = 0, idle = 0;
    unsigned r = 1000;

    if (lsl_read_file("/proc/uptime", &text) < 0)
        return r;
    (void)sscanf(text, "%lf %lf", &up, &idle);
    free(text);
    if (*last_up > 0 && up > *last_up) {
        double share = (idle - *last_idle) / ((up - *last_up) * (double)ncpus);
        r = share >= 1 ? 0 : share <= 0 ? 1000 : (unsigned)(1000 * (1 - share));
    }
    *last_up = up;
    *last_idle = idle;
    return r;
}

static _Noreturn void reclaim_main(enum lsl_reclaim policy)
{
    long ncpus = sysconf(_SC_NPROCESSORS_ONLN);
    double last_up = 0, last_idle = 0;
    unsigned idle_ticks = 0,
             idle_needed = policy == LSL_RECLAIM_POLICY_DROPCACHE ? DROP_IDLE_TICKS : IDLE_TICKS;
    bool dropped = false;

    (void)prctl(PR_SET_NAME, "lsl-reclaim");
    if (ncpus < 1)
        ncpus = 1;
    for (;;) {
        /* Resting: the cache dropped, which only an idle spell does and any busy tick ends. */
        lsl_sleep_ms(dropped ? REST_MS : TICK_MS);
        if (busy_permille(ncpus, &last_up, &last_idle) < IDLE_PERMILLE) {
            idle_ticks++;
        } else {
            idle_ticks = 0;
            dropped = false;
        }
        if (idle_ticks >= idle_needed) {
            if (!dropped)
                (void)lsl_write_file("/proc/sys/vm/drop_caches", "1");
            dropped = true; /* once per idle spell */
            continue;
        }
        if (policy != LSL_RECLAIM_POLICY_GRADUAL)
            continue;
        char *info = NULL;
        if (lsl_read_file("/proc/meminfo", &info) < 0)
            continue;
        unsigned long long cold = meminfo_bytes(info, "Inactive(file):");
        free(info);
        if (cold > FLOOR_BYTES) {
            char amount[32];
            snprintf(amount, sizeof(amount), "%llu", cold / 2);
            /* memory.reclaim fails with EAGAIN when it got less than asked: fine. */
            (void)lsl_write_file("/sys/fs/cgroup/memory.reclaim", amount);
        }
    }
}

void lsl_compaction_quiet(void)
{
    (void)lsl_write_file("/proc/sys/vm/compaction_proactiveness", "0"); /* see the top */
}

pid_t lsl_reclaim_start(enum lsl_reclaim policy)
{
    if (policy == LSL_RECLAIM_POLICY_DISABLED)
        return 0;
    pid_t pid = fork();
    if (pid < 0)
        return lsl_log_errno(errno, "cannot fork the memory reclaimer: %m");
    if (pid == 0)
        reclaim_main(policy);
    return pid;
}
