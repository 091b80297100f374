/* virtio-balloon: gives guest memory the guest does not use back to the host (inflate, free page
 * reporting) and reports the guest's memory statistics. */
#ifndef LSL_BALLOON_H
#define LSL_BALLOON_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/vm.h"

/* Bounds on what one request may make the I/O thread do (Linux sends at most 256 PFNs, and 32 ranges of 2
 * or 4 MiB): what is past them is left alone and the request counts as malformed. Not releasing memory the
 * guest offered is always safe. */
#define BALLOON_PFNS_MAX         1024
#define BALLOON_REPORT_SEGS_MAX  256
#define BALLOON_REPORT_BYTES_MAX (256ull << 20)
#define BALLOON_STATS_MAX        64 /* statistics entries read from one buffer */

struct balloon;

/* What the service shows, a snapshot taken under the device lock. Pages are 4 KiB. */
struct balloon_info {
    uint32_t target_pages;     /* num_pages: what the host asked the guest to hand over */
    uint32_t actual_pages;     /* actual: what the driver says it holds (0 after a reset) */
    uint32_t sweep_pages;      /* of the target, what a sweep under way adds (balloon.c) */
    uint64_t sweeps;           /* sweeps begun */
    uint64_t split_ranges;     /* 2 MiB ranges sweeps' ends released in part (their huge host pages split) */
    uint64_t collapsed_ranges; /* split ranges the guest used again, made huge pages again */
    uint32_t base_pages;       /* the host's target as it stands: balloon_set_target's, less oom_pages */
    uint64_t oom_pages;        /* deflated by the driver on its own since the start: the guest needed them */
    uint64_t reported_bytes, reports; /* free page reporting: bytes released, requests */
    uint64_t inflated_pages, deflated_pages;
    bool stats_valid;      /* the driver has sent statistics at least once */
    uint64_t stats_age_ns; /* since the last statistics arrived (0 without any) */
    /* The last statistics, in bytes for memory and counts for events; 0 for a tag the driver did not send.
     * mem_free is MemFree, mem_available MemAvailable, disk_caches the page cache. */
    uint64_t swap_in, swap_out, major_faults, minor_faults, mem_free, mem_total, mem_available, disk_caches;
    uint64_t malformed; /* requests and accesses the guest got wrong (the device's counter) */
};

/* Creates the device, attaches it to the VM and stores it in *out (owned by the VM). Errors are logged. */
int balloon_create(struct vm *vm, struct balloon **out);

/* All thread-safe (the device lock): for the service's thread while the VM runs. */
/* Asks the guest to hold `pages` 4 KiB pages in the balloon (clamped to guest RAM); the driver inflates or
 * deflates towards it. */
void balloon_set_target(struct balloon *b, uint32_t pages);
/* Returns the statistics buffer the driver left with the device, which makes it send fresh numbers (they
 * show in balloon_info once they arrive, usually within milliseconds). Nothing without a buffer. */
void balloon_request_stats(struct balloon *b);
void balloon_info(struct balloon *b, struct balloon_info *out);

/* What a sweep (balloon.c) takes, in bytes, from a guest of total bytes of RAM with free of them free, when
 * the host holds held bytes of its free memory; 0 when there is nothing worth it. */
uint64_t balloon_sweep_bytes(uint64_t total, uint64_t free, uint64_t held);
/* The device's periodic work (SWEEP_TICK_NS on the I/O thread; tests call it themselves). */
void balloon_tick(struct balloon *b);

/* The device without a VM (what balloon_create builds on; unit tests and fuzzing drive it directly). */
struct balloon *balloon_new(const struct gmem *mem);
void balloon_free(void *b);
struct virtio_dev *balloon_vdev(struct balloon *b);

#endif
