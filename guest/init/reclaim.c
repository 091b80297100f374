/* autoMemoryReclaim (reclaim.h). The guest's free memory goes back to the host through the balloon's free
 * page reporting (vmm/devices/balloon.c): a 2 MiB block the guest frees is released on the host within
 * seconds. What the kernel never frees by itself is page cache: a file read once stays cached until memory
 * runs short, and in a VM memory never runs short, it just stays on the host's bill (WSL's `vmmem`).
 *
 * gradual: every TICK_MS, half of the inactive file pages (read once and not since: the kernel's own
 * notion of cold) go, through cgroup v2's memory.reclaim at the root, down to a small floor; what a build
 * reads again is on the active list and stays. A gigabyte read once is gone in about 20 s. After
 * IDLE_TICKS of an idle CPU, all clean cache goes (drop_caches).
 * dropcache: all clean cache as soon as the CPU is idle for DROP_IDLE_TICKS. disabled: nothing. */
#include "reclaim.h"

#include "fileio.h"
#include "log.h"
#include "boot.h" /* proto/ */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define TICK_MS         3000
#define FLOOR_BYTES     (16ull << 20) /* below this much cold cache, nothing to gain */
#define IDLE_PERMILLE   30            /* a tick with less CPU busy than this is idle */
#define IDLE_TICKS      10            /* gradual: 30 s idle, then the full drop */
#define DROP_IDLE_TICKS 2             /* dropcache: 6 s */

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

/* CPU busy since the last call, in 1/1000 (from /proc/stat's first line); 1000 on the first call. */
static unsigned busy_permille(unsigned long long *last_total, unsigned long long *last_idle)
{
    char *text = NULL;
    unsigned long long v[8] = {0}, total = 0, idle;
    unsigned r = 1000;

    if (lsl_read_file("/proc/stat", &text) < 0)
        return r;
    (void)sscanf(text, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
                 &v[5], &v[6], &v[7]);
    free(text);
    for (int i = 0; i < 8; i++)
        total += v[i];
    idle = v[3] + v[4]; /* idle + iowait */
    if (*last_total && total > *last_total)
        r = (unsigned)(1000 - 1000 * (idle - *last_idle) / (total - *last_total));
    *last_total = total;
    *last_idle = idle;
    return r;
}

static void write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);

    if (fd < 0)
        return;
    (void)!write(fd, text, strlen(text)); /* memory.reclaim says EAGAIN when it got less: fine */
    close(fd);
}

static _Noreturn void reclaim_main(enum lsl_reclaim policy)
{
    const struct timespec tick = {.tv_sec = TICK_MS / 1000, .tv_nsec = (TICK_MS % 1000) * 1000000L};
    unsigned long long last_total = 0, last_idle = 0;
    unsigned idle_ticks = 0,
             idle_needed = policy == LSL_RECLAIM_POLICY_DROPCACHE ? DROP_IDLE_TICKS : IDLE_TICKS;
    int dropped = 0;

    (void)prctl(PR_SET_NAME, "lsl-reclaim");
    for (;;) {
        (void)nanosleep(&tick, NULL);
        if (busy_permille(&last_total, &last_idle) < IDLE_PERMILLE) {
            idle_ticks++;
        } else {
            idle_ticks = 0;
            dropped = 0;
        }
        if (idle_ticks >= idle_needed && !dropped) {
            write_text("/proc/sys/vm/drop_caches", "1");
            dropped = 1; /* once per idle spell */
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
            write_text("/sys/fs/cgroup/memory.reclaim", amount);
        }
    }
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
