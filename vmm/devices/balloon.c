/* virtio-balloon (virtio 1.x, section 5.5) with free page reporting: gives memory the guest does not use
 * back to the host. Guest RAM is one private anonymous mapping (guest_mem.c), so MADV_DONTNEED frees the
 * host pages at once and a later guest touch faults in a zero page: nothing to do when pages come back.
 *
 * Queues, numbered the way Linux's driver finds them (only the ones negotiated, no gaps): inflate 0 and
 * deflate 1 carry arrays of le32 PFNs (4 KiB pages) the guest gives up or takes back; stats (with STATS_VQ)
 * holds the driver's one buffer of {le16 tag, le64 val} entries, which the device returns to ask for fresh
 * numbers; reporting (with REPORTING) carries device-writable ranges of free guest memory, released and
 * returned with length 0. FREE_PAGE_HINT (migration) and PAGE_POISON are not offered: without the latter a
 * guest that poisons or zeroes freed pages turns reporting off itself, as zero pages would break it.
 *
 * Config: the host's target (num_pages, balloon_set_target) and the driver's actual, its one writable
 * field.
 *
 * Sweeps: Linux reports free pages at its own pace (a sixteenth of each free list every 2 s: "all pages on
 * an idle system in about 30 seconds") and only in blocks of 2 MiB, so a guest that frees 2 GiB keeps most
 * of it on the host for ten seconds and more, and memory freed in scattered pages (a build's) stays there.
 * Every SWEEP_TICK_NS the device may ask for the guest's numbers (one small round trip, below); when our
 * anonymous memory exceeds what the guest uses (its RAM less MemFree and the balloon) by SWEEP_MIN, the
 * balloon inflates by about that much on top of the host's target, then lets it all go once the driver got
 * there (or stopped getting anywhere for SWEEP_STALL_NS). Linux hands out reported pages last, so inflating
 * takes the pages still on the host, and each goes back to the host as it comes; the pages deflated after are
 * free in the guest and on the host no longer. They are also the first Linux hands out next (a freed page
 * goes to the head of its list), so a sweep takes twice what is held: half as much took about half. What a
 * sweep could not take (the VMM's own memory, pages the guest keeps free) is left alone for a while that
 * doubles with each sweep that did not halve it (SWEEP_QUIET_NS up to SWEEP_QUIET_MAX_NS), unless SWEEP_MIN
 * more is freed meanwhile: a useless sweep costs little and is rare, and a judgement spoiled by memory freed
 * during the sweep costs a second. A sweep releases whole 2 MiB ranges only, once every page of one is in
 * the balloon (Linux hands a sweep contiguous pages as it splits its free blocks): releasing a 4 KiB page of
 * a huge host page (THP) splits it, and the range is then backed by 4 KiB pages for good (its page table
 * stays), which made every later guest access there slower (in the emulated host, the guest's own copy of
 * a file it had cached up to 10x: vmm/fs/README.md). At the sweep's end, a range it got half or more of
 * (the guest uses the rest) goes page by page, split: that is where a build's scattered frees are, and half
 * a huge page's worth of memory is worth its split. Those are the pages the guest hands out first next
 * (they were freed last), so a split range the guest fills again (three quarters of it resident, looked at
 * when our RSS grows) is made a huge page again (MADV_COLLAPSE, Linux 6.1; a kernel without it: no
 * splits). What the host's target asks for goes page by page.
 *
 * Asking costs the guest a wake-up, most of what an idle VM costs the host, so an idle guest is asked less
 * and less often (ask_due): every tick while our RSS moves, free page reporting reports, or its MemFree
 * changes, which show a guest at work or freeing memory (the first two without asking it); otherwise the
 * ticks between asks double up to ASK_EVERY_MAX. A guest that frees much at once reports 2 MiB blocks
 * within seconds (Linux's page_reporting_delay, 2 s), which brings the asking back to every tick.
 *
 * Deflate on OOM: pages the driver takes back on its own (the host did not ask: actual was not above the
 * target) were needed; the host's target drops by as much (a sweep ends first), so the next config change
 * does not take them again. The service adopts the lower target (oom_pages). */
#include "balloon.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "macro.h"
#include "virtio.h"
#include "virtio_mmio.h"

#define VIRTIO_ID_BALLOON 5

#define F_STATS_VQ       1
#define F_DEFLATE_ON_OOM 2
#define F_FREE_PAGE_HINT 3
#define F_REPORTING      5
#define BALLOON_FEATURES ((1ull << F_STATS_VQ) | (1ull << F_DEFLATE_ON_OOM) | (1ull << F_REPORTING))
#define BALLOON_QUEUES   4
/* Linux keeps one buffer at a time in inflate, deflate and stats, and up to 32 ranges in reporting. */
#define BALLOON_QUEUE_MAX 128

#define PAGE       4096u
#define PFN_SHIFT  12
#define HUGE_SHIFT 21 /* a huge host page (THP): what a sweep releases whole */
#define HUGE_PAGES (1u << (HUGE_SHIFT - PFN_SHIFT))
#define PFN_CHUNK  256 /* PFNs read at once, on the stack */
/* At a sweep's end, a range this much in the balloon is worth splitting its huge page for; a split range
 * this much in use again is made a huge page again. */
#define SPLIT_MIN_PAGES    (HUGE_PAGES / 2)
#define COLLAPSE_MIN_PAGES (HUGE_PAGES * 3 / 4)
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25 /* Linux 6.1; glibc 2.36's headers do not have it yet */
#endif

#define STAT_ENTRY 10 /* packed le16 tag, le64 val */

#define SWEEP_KEEP_MIN     (128ull << 20) /* what a sweep leaves free in the guest, at least, */
#define SWEEP_KEEP_SHIFT   4              /* or a sixteenth of its RAM (a quarter at most) */
#define SWEEP_MIN          (32ull << 20)  /* held on the host beyond what the guest uses: worth a sweep */
#define SWEEP_TICK_NS      1000000000ull  /* how often the guest's numbers are asked for */
#define SWEEP_STALL_NS     2000000000ull  /* a sweep whose actual has not grown for this long ends */
#define SWEEP_QUIET_NS     2000000000ull  /* after a sweep that did not halve what was held, */
#define SWEEP_QUIET_MAX_NS 64000000000ull /* doubling up to this */
#define ASK_EVERY_MAX      16u            /* ticks between asks at most, for an idle guest */
#define ASK_MOVED          (4ull << 20)   /* RSS or MemFree this far from the last ask's: at work */
enum {
    S_SWAP_IN,
    S_SWAP_OUT,
    S_MAJFLT,
    S_MINFLT,
    S_MEMFREE,
    S_MEMTOT,
    S_AVAIL,
    S_CACHES,
    S_NTAGS, /* hugetlb and later tags are read and ignored */
};

enum role { ROLE_NONE, ROLE_INFLATE, ROLE_DEFLATE, ROLE_STATS, ROLE_REPORTING };

struct balloon_config {
    uint32_t num_pages;
    uint32_t actual;
    uint32_t free_page_hint_cmd_id;
    uint32_t poison_val;
};

struct balloon {
    struct virtio_dev vdev;
    struct balloon_config config; /* little endian, like the host */

    /* The statistics buffer the driver left with us, returned (used) to ask for the next one. */
    bool stats_held;
    uint16_t stats_head, stats_queue;
    bool stats_valid;
    uint64_t stats_ns;
    uint64_t stats[S_NTAGS];

    uint64_t reported_bytes, reports, inflated_pages, deflated_pages;
    uint64_t release_errors; /* madvise failures: a host problem, never the guest's; logged once */

    uint32_t base;     /* the host's target; num_pages is base + sweep */
    uint32_t sweep;    /* the pages of the sweep under way, 0 if none */
    bool sweep_asked;  /* statistics asked for to decide on a sweep */
    uint64_t sweep_ns; /* when the current sweep began or its actual last grew */
    uint64_t sweeps;
    uint64_t held_before; /* what we held when the sweep under way began, */
    uint64_t
        rss_before;     /* and our RSS then: it must fall by half of that for the sweep to have been of use */
    uint64_t held_left; /* what the last useless sweep left: more than SWEEP_MIN above it ends the quiet */
    uint64_t quiet_ns;  /* the quiet after the last useless sweep (0: none), and its end */
    uint64_t quiet_until_ns;
    uint64_t oom_pages; /* deflated by the driver on its own: the guest needed them */
    unsigned ask_every,
        ask_wait; /* ticks between asks (1 while memory moves, doubling), and since the last */
    uint64_t ask_rss, ask_reports,
        ask_free; /* our RSS, the reports and the guest's MemFree at the last ask */
    /* The pages in the balloon now (a bit per page of guest RAM) and how many of each 2 MiB range, made at
     * the first inflate (NULL: a sweep then releases page by page). */
    uint64_t *in_balloon;
    uint16_t *in_range;
    uint64_t balloon_pages;
    /* Ranges a sweep's end released in part, their huge pages split (a bit each; kept across resets: it is
     * our memory's shape, not the driver's), how many, and our RSS at the last look at them. */
    uint64_t *split;
    size_t split_now;
    uint64_t split_ranges, collapsed_ranges, collapse_rss;
    bool no_collapse; /* MADV_COLLAPSE unknown to this kernel (before 6.1): nothing is split then */
    int statm_fd;     /* /proc/self/statm: our RSS, guest RAM included (-1 without: no sweeps) */
    int timer_fd;     /* SWEEP_TICK_NS on the I/O thread (balloon_create; -1 in tests) */
};

static void stats_return(struct balloon *b);
static void release(struct balloon *b, uint8_t *p, size_t len);

/* Bit i of a bitmap of 64-bit words (the balloon's pages, the split ranges). */
static inline bool bit_is_set(const uint64_t *w, size_t i)
{
    return w[i / 64] >> (i % 64) & 1;
}

static void set_num_pages(struct balloon *b, uint64_t pages)
{
    uint64_t ram_pages = b->vdev.mem->total >> PFN_SHIFT;
    uint32_t n = (uint32_t)MIN(pages, ram_pages);
    if (b->config.num_pages != n) {
        b->config.num_pages = n;
        virtio_dev_config_changed(&b->vdev);
    }
}

static uint64_t rss_bytes(struct balloon *b)
{
    char buf[64];
    unsigned long long size, resident, shared;
    ssize_t n = b->statm_fd >= 0 ? pread(b->statm_fd, buf, sizeof(buf) - 1, 0) : -1;
    if (n <= 0)
        return 0;
    buf[n] = 0;
    /* Resident less file-backed and shared: our anonymous memory, which guest RAM is (not our libraries). */
    if (sscanf(buf, "%llu %llu %llu", &size, &resident, &shared) != 3 || shared > resident)
        return 0;
    return (uint64_t)(resident - shared) * PAGE;
}

uint64_t balloon_sweep_bytes(uint64_t total, uint64_t free, uint64_t held)
{
    uint64_t keep = MIN(MAX(SWEEP_KEEP_MIN, total >> SWEEP_KEEP_SHIFT), total / 4);
    if (free > total || free < keep + SWEEP_MIN || held < SWEEP_MIN)
        return 0; /* a guest's numbers: never trusted past the RAM it has */
    return MIN(free - keep, 2 * held) & ~(uint64_t)(PAGE - 1);
}

/* The statistics the tick asked for: a sweep when the host holds much of what the guest does not use. */
static void sweep_decide(struct balloon *b)
{
    b->sweep_asked = false;
    if (b->sweep)
        return;
    uint64_t total = b->vdev.mem->total, free = MIN(b->stats[S_MEMFREE], total), rss = rss_bytes(b);
    /* The guest's use: neither its free pages nor the balloon's, which are on the host no longer. */
    uint64_t ballooned = MIN((uint64_t)b->config.actual << PFN_SHIFT, total - free);
    uint64_t used = total - free - ballooned;
    uint64_t held = rss > used ? rss - used : 0; /* free there, still here (and ours) */
    uint64_t now = now_ns();
    b->held_left = MIN(b->held_left, held);
    if (b->quiet_ns && now < b->quiet_until_ns && held < b->held_left + SWEEP_MIN)
        return;
    uint64_t bytes = balloon_sweep_bytes(total, b->stats[S_MEMFREE], held);
    if (!bytes)
        return;
    b->held_before = held;
    b->rss_before = rss;
    b->sweep = (uint32_t)(bytes >> PFN_SHIFT);
    b->sweep_ns = now;
    b->sweeps++;
    log_debug("virtio-balloon: %" PRIu64 " MiB held beyond the guest's use of %" PRIu64
              " MiB: a sweep of %" PRIu64 " MiB",
              held >> 20, used >> 20, bytes >> 20);
    set_num_pages(b, (uint64_t)b->base + b->sweep);
}

/* A sweep's end: the ranges it got half or more of (not all: those went as they came) give back what it got,
 * page by page. That splits their huge pages, but most of each was free (a build's scattered frees), and
 * collapse_reused makes them huge again once the guest uses them again. */
static void sweep_split(struct balloon *b)
{
    const struct gmem *m = b->vdev.mem;
    size_t ranges = m->total >> HUGE_SHIFT;
    if (!b->in_balloon || b->no_collapse)
        return;
    if (!b->split && !(b->split = calloc((ranges + 63) / 64, sizeof(uint64_t))))
        return;
    for (size_t r = 0; r < ranges; r++) {
        if (b->in_range[r] < SPLIT_MIN_PAGES || b->in_range[r] == HUGE_PAGES)
            continue;
        uint8_t *base = m->base + (r << HUGE_SHIFT);
        const uint64_t *w = b->in_balloon + r * (HUGE_PAGES / 64);
        size_t start = 0; /* of the run of ballooned pages that ends where a page is not, or the range */
        bool run = false;
        for (size_t i = 0; i <= HUGE_PAGES; i++) {
            bool on = i < HUGE_PAGES && bit_is_set(w, i);
            if (on && !run)
                start = i;
            else if (!on && run)
                release(b, base + start * PAGE, (i - start) * PAGE);
            run = on;
        }
        if (!bit_is_set(b->split, r)) {
            b->split[r / 64] |= 1ull << (r % 64);
            b->split_now++;
        }
        b->split_ranges++;
    }
}

/* A tick: split ranges the guest uses again (COLLAPSE_MIN_PAGES of them resident: it touched what the sweep
 * gave back) are made huge pages again, so its memory there is at full speed again, for a quarter of a range
 * in zeroes at most. Looked at only when our RSS grew by ASK_MOVED since the last look (a refault is RSS). */
static void collapse_reused(struct balloon *b)
{
    if (!b->split_now)
        return;
    uint64_t rss = rss_bytes(b);
    if (rss < b->collapse_rss + ASK_MOVED) {
        b->collapse_rss = MIN(b->collapse_rss, rss);
        return;
    }
    b->collapse_rss = rss;
    const struct gmem *m = b->vdev.mem;
    unsigned char vec[HUGE_PAGES];
    for (size_t r = 0; r < m->total >> HUGE_SHIFT; r++) {
        if (!bit_is_set(b->split, r))
            continue;
        uint8_t *base = m->base + (r << HUGE_SHIFT);
        unsigned resident = 0;
        if (mincore(base, 1u << HUGE_SHIFT, vec) < 0)
            continue;
        for (size_t i = 0; i < HUGE_PAGES; i++)
            resident += vec[i] & 1;
        if (resident < COLLAPSE_MIN_PAGES)
            continue;
        if (madvise(base, 1u << HUGE_SHIFT, MADV_COLLAPSE) < 0) {
            if (errno != EINVAL)
                continue; /* no huge page to be had now (EAGAIN, ENOMEM): the next look tries again */
            b->no_collapse = true; /* this kernel cannot: stop splitting, what is split stays so */
            log_debug("virtio-balloon: MADV_COLLAPSE: %s; sweeps release whole ranges only", strerror(errno));
            free(b->split); /* never made again: sweep_split stops first */
            b->split = NULL;
            b->split_now = 0;
            return;
        }
        b->split[r / 64] &= ~(1ull << (r % 64));
        b->split_now--;
        b->collapsed_ranges++;
    }
}

/* The driver's actual changed, or a tick: a sweep it finished (or that stalled) lets go. */
static void sweep_check(struct balloon *b)
{
    uint64_t now = now_ns();
    if (!b->sweep || (b->config.actual < b->config.num_pages && now - b->sweep_ns <= SWEEP_STALL_NS))
        return;
    b->sweep = 0;
    sweep_split(b);
    set_num_pages(b, b->base);
    /* Judged by what left our RSS (memory the guest frees meanwhile does not count against it). */
    uint64_t rss = rss_bytes(b), released = b->rss_before > rss ? b->rss_before - rss : 0;
    b->collapse_rss = rss; /* what the split ranges are looked at again from (collapse_reused) */
    if (released < b->held_before / 2) {
        b->quiet_ns = b->quiet_ns ? MIN(2 * b->quiet_ns, SWEEP_QUIET_MAX_NS) : SWEEP_QUIET_NS;
        b->quiet_until_ns = now + b->quiet_ns;
        b->held_left = b->held_before - released;
        log_debug("virtio-balloon: a sweep released %" PRIu64 " of %" PRIu64 " MiB: none for %" PRIu64 " s",
                  released >> 20, b->held_before >> 20, b->quiet_ns / UINT64_C(1000000000));
    } else {
        b->quiet_ns = 0;
        log_debug("virtio-balloon: a sweep released %" PRIu64 " of %" PRIu64 " MiB", released >> 20,
                  b->held_before >> 20);
    }
}

/* Queue q's job under the features the driver accepted: Linux numbers only the queues that exist. */
static enum role queue_role(const struct virtio_dev *vdev, uint16_t q)
{
    uint64_t f = vdev->driver_features;
    if (q < 2)
        return q == 0 ? ROLE_INFLATE : ROLE_DEFLATE;
    uint16_t next = 2;
    if (f & (1ull << F_STATS_VQ)) {
        if (q == next)
            return ROLE_STATS;
        next++;
    }
    if (f & (1ull << F_FREE_PAGE_HINT))
        next++; /* never accepted (not offered); counted so the numbering stays Linux's */
    if ((f & (1ull << F_REPORTING)) && q == next)
        return ROLE_REPORTING;
    return ROLE_NONE;
}

/* Frees host pages behind [p, p+len): page-aligned, inside guest RAM (the callers checked both). */
static void release(struct balloon *b, uint8_t *p, size_t len)
{
    if (len && madvise(p, len, MADV_DONTNEED) < 0) {
        if (!b->release_errors++)
            log_errno(errno, "virtio-balloon: cannot release guest memory");
        b->vdev.stats.errors++;
    }
}

/* Page p (of guest RAM) goes into the balloon or out: true when it is a sweep's, to be released only with
 * its whole 2 MiB range, which *range then says is all in the balloon (NULL: not yet). */
static bool track(struct balloon *b, uint8_t *p, bool inflate, uint8_t **range)
{
    *range = NULL;
    const struct gmem *m = b->vdev.mem;
    if (!b->in_balloon) {
        size_t pages = m->total >> PFN_SHIFT;
        b->in_balloon = calloc((pages + 63) / 64, sizeof(uint64_t));
        b->in_range = calloc((pages + HUGE_PAGES - 1) / HUGE_PAGES, sizeof(uint16_t));
        if (!b->in_balloon || !b->in_range) {
            free(b->in_balloon);
            free(b->in_range);
            b->in_balloon = NULL;
            b->in_range = NULL;
            return false;
        }
    }
    size_t i = (size_t)(p - m->base) >> PFN_SHIFT, r = i / HUGE_PAGES;
    uint64_t bit = 1ull << (i % 64);
    bool was = bit_is_set(b->in_balloon, i);
    if (inflate && !was) {
        b->in_balloon[i / 64] |= bit;
        b->in_range[r]++;
        b->balloon_pages++;
    } else if (!inflate && was) {
        b->in_balloon[i / 64] &= ~bit;
        b->in_range[r]--;
        b->balloon_pages--;
    }
    /* Past the host's target: a sweep's page. Its range, whole and inside RAM, once all of it is here. */
    if (!inflate || !b->sweep || b->balloon_pages <= b->base)
        return false;
    uint8_t *start = m->base + (r << HUGE_SHIFT);
    if (b->in_range[r] == HUGE_PAGES && start + (1u << HUGE_SHIFT) <= m->base + m->total)
        *range = start;
    return true;
}

/* Inflate or deflate: walks the le32 PFN array in the readable segments in slices, releases (inflate) the
 * valid pages, coalescing runs of neighbours into one madvise (a sweep's: their whole ranges, track). A bad
 * PFN is skipped; the request then counts as malformed once. Returns the used length, 0. */
static int handle_pfns(struct balloon *b, struct virtq_req *req, bool inflate)
{
    struct virtio_dev *vdev = &b->vdev;
    bool bad = req->n_in || req->out_len % 4; /* writable segments or a torn PFN: not what a driver sends */
    uint64_t n = req->out_len / 4;
    if (n > BALLOON_PFNS_MAX) {
        bad = true;
        n = BALLOON_PFNS_MAX;
    }
    uint32_t pfns[PFN_CHUNK];
    uint8_t *run = NULL; /* the pages to release next, [run, run + run_len) */
    size_t run_len = 0;
    uint64_t good = 0;
    for (uint64_t done = 0; done < n;) {
        size_t c = (size_t)MIN(n - done, (uint64_t)PFN_CHUNK);
        /* Copied out first: the guest may rewrite the array while we read it. */
        size_t got = iov_to_buf(req->iov, req->n_out, done * 4, pfns, c * 4);
        if (got != c * 4)
            break; /* cannot happen: out_len counts these bytes; stop rather than read garbage */
        done += c;
        vdev->stats.bytes_out += got;
        for (size_t i = 0; i < c; i++) {
            uint8_t *p = gmem_ptr(vdev->mem, (uint64_t)pfns[i] << PFN_SHIFT, PAGE);
            if (!p) {
                bad = true;
                continue;
            }
            good++;
            uint8_t *range;
            bool sweeping = track(b, p, inflate, &range);
            if (!inflate)
                continue; /* a page taken back refaults on its own */
            if ((uintptr_t)p % PAGE)
                continue; /* RAM not page-aligned in the host (never in a VM): no page of its own to free */
            if (sweeping) {
                if (range)
                    release(b, range, 1u << HUGE_SHIFT);
                continue;
            }
            if (run && p == run + run_len) {
                run_len += PAGE;
                continue;
            }
            release(b, run, run_len);
            run = p;
            run_len = PAGE;
        }
    }
    release(b, run, run_len);
    if (inflate)
        b->inflated_pages += good;
    else
        b->deflated_pages += good;
    if (bad)
        vdev->stats.malformed++;
    return 0;
}

static int inflate_handle(struct virtio_dev *vdev, struct virtq_req *req)
{
    return handle_pfns(vdev->priv, req, true);
}

static int deflate_handle(struct virtio_dev *vdev, struct virtq_req *req)
{
    struct balloon *b = vdev->priv;
    uint64_t before = b->deflated_pages;
    int r = handle_pfns(b, req, false);
    uint64_t n = b->deflated_pages - before;
    if (n && b->config.actual <= b->config.num_pages) {
        /* Not asked for: the guest ran out (deflate on OOM). What it took stays with it. */
        b->oom_pages += n;
        b->sweep = 0;
        b->base -= (uint32_t)MIN(n, (uint64_t)b->base);
        set_num_pages(b, b->base);
    }
    return r;
}

/* Free page reporting: each writable segment is one free range (already checked to lie in guest RAM by
 * the ring walker). Released whole pages only, rounded inward; returned with used length 0. */
static int report_handle(struct virtio_dev *vdev, struct virtq_req *req)
{
    struct balloon *b = vdev->priv;
    bool bad = req->n_out; /* readable segments: not ranges a driver reports */
    uint32_t n = req->n_in;
    if (n > BALLOON_REPORT_SEGS_MAX) {
        bad = true;
        n = BALLOON_REPORT_SEGS_MAX;
    }
    const struct iovec *in = virtq_req_in(req);
    uint64_t budget = BALLOON_REPORT_BYTES_MAX;
    for (uint32_t i = 0; i < n; i++) {
        uintptr_t start = ALIGN_UP((uintptr_t)in[i].iov_base, (uintptr_t)PAGE);
        uintptr_t end = ALIGN_DOWN((uintptr_t)in[i].iov_base + in[i].iov_len, (uintptr_t)PAGE);
        if (end <= start)
            continue;
        uint64_t len = MIN((uint64_t)(end - start), budget); /* budget stays a multiple of PAGE */
        if (len < end - start)
            bad = true;
        release(b, (uint8_t *)start, len);
        b->reported_bytes += len;
        budget -= len;
    }
    b->reports++;
    if (bad)
        vdev->stats.malformed++;
    return 0;
}

static void stats_parse(struct balloon *b, struct virtq_req *req)
{
    struct virtio_dev *vdev = &b->vdev;
    if (req->n_in)
        vdev->stats.malformed++; /* writable segments: ignored */
    /* Whole entries only (a partial tail is ignored), at most BALLOON_STATS_MAX of them. */
    uint64_t n = MIN(req->out_len / STAT_ENTRY, (uint64_t)BALLOON_STATS_MAX);
    uint8_t buf[BALLOON_STATS_MAX * STAT_ENTRY];
    size_t got = iov_to_buf(req->iov, req->n_out, 0, buf, (size_t)n * STAT_ENTRY);
    vdev->stats.bytes_out += got;
    memset(b->stats, 0, sizeof(b->stats));
    for (size_t i = 0; i + STAT_ENTRY <= got; i += STAT_ENTRY) {
        uint16_t tag;
        uint64_t val;
        memcpy(&tag, buf + i, sizeof(tag));
        memcpy(&val, buf + i + 2, sizeof(val));
        if (tag < S_NTAGS)
            b->stats[tag] = val;
    }
    b->stats_valid = true;
    b->stats_ns = now_ns();
    uint64_t free = b->stats[S_MEMFREE];
    if ((free > b->ask_free ? free - b->ask_free : b->ask_free - free) >= ASK_MOVED)
        b->ask_every = 1;
    b->ask_free = free;
    if (b->sweep_asked)
        sweep_decide(b);
}

/* Takes what the driver made available on the stats queue and keeps the newest buffer. Also called when
 * the host asks for statistics: Linux's driver offers its first buffer during probe, before DRIVER_OK, when
 * the device must not take it yet. Caller holds the lock. */
static void stats_pop(struct balloon *b)
{
    struct virtio_dev *vdev = &b->vdev;
    if (vdev->broken || !(vdev->status & VIRTIO_STATUS_DRIVER_OK))
        return;
    uint16_t q = 0;
    while (q < BALLOON_QUEUES && queue_role(vdev, q) != ROLE_STATS)
        q++;
    if (q == BALLOON_QUEUES || !vdev->vq[q].ready)
        return;
    struct virtq *vq = &vdev->vq[q];
    bool pushed = false;
    do {
        int r;
        while ((r = virtq_pop(vq, vdev->mem, &vdev->req)) > 0) {
            vdev->stats.requests++;
            if (b->stats_held) {
                /* The spec allows one buffer at a time: hand the older one back, keep the newer. */
                vdev->stats.malformed++;
                virtq_push(vq, b->stats_head, 0);
                pushed = true;
            }
            stats_parse(b, &vdev->req);
            b->stats_held = true;
            b->stats_head = vdev->req.head;
            b->stats_queue = q;
        }
        if (r < 0) {
            virtio_dev_break(vdev, "malformed descriptor ring");
            return;
        }
    } while (virtq_arm_notify(vq));
    if (pushed)
        virtio_dev_signal(vdev, vq);
}

static void balloon_notify(struct virtio_dev *vdev, uint16_t q)
{
    struct balloon *b = vdev->priv;
    switch (queue_role(vdev, q)) {
    case ROLE_INFLATE:
        virtio_process_queue(vdev, q, inflate_handle);
        break;
    case ROLE_DEFLATE:
        virtio_process_queue(vdev, q, deflate_handle);
        break;
    case ROLE_REPORTING:
        virtio_process_queue(vdev, q, report_handle);
        break;
    case ROLE_STATS:
        break;
    case ROLE_NONE:
        vdev->stats.malformed++; /* a queue the negotiated features do not have */
        break;
    }
    /* Any kick also collects a stats buffer offered before DRIVER_OK (see stats_pop). */
    stats_pop(b);
}

static void balloon_reset(struct virtio_dev *vdev)
{
    struct balloon *b = vdev->priv;
    /* The driver is gone and its buffer with it; a new one starts with an empty balloon. The target stays:
     * it is the host's wish, which the next driver reads. */
    b->stats_held = false;
    b->config.actual = 0;
    free(b->in_balloon); /* made again at the next driver's first inflate */
    free(b->in_range);
    b->in_balloon = NULL;
    b->in_range = NULL;
    b->balloon_pages = 0;
    b->sweep = 0;
    b->sweep_asked = false;
    b->quiet_ns = 0;
    b->ask_every = 1;
    b->config.num_pages = b->base;
}

static const void *balloon_config_space(struct virtio_dev *vdev, uint32_t *len)
{
    struct balloon *b = vdev->priv;
    *len = sizeof(b->config);
    return &b->config;
}

/* The driver writes actual, and nothing else here (poison_val only with PAGE_POISON, not offered). */
static void balloon_config_write(struct virtio_dev *vdev, uint64_t off, const uint8_t *data, uint32_t len)
{
    struct balloon *b = vdev->priv;
    if (off != offsetof(struct balloon_config, actual) || len != sizeof(b->config.actual)) {
        vdev->stats.malformed++;
        return;
    }
    uint32_t before = b->config.actual;
    memcpy(&b->config.actual, data, sizeof(b->config.actual));
    if (b->sweep && b->config.actual > before)
        b->sweep_ns = now_ns(); /* getting there */
    sweep_check(b);
}

static void balloon_print_stats(struct virtio_dev *vdev, FILE *f)
{
    struct balloon_info i;
    balloon_info(vdev->priv, &i);
    fprintf(f,
            "lsl-vmm: virtio-balloon target %" PRIu32 " pages, actual %" PRIu32 "; inflated %" PRIu64
            " deflated %" PRIu64 " pages; reported %" PRIu64 " MiB in %" PRIu64
            " reports; stats %s; sweeps %" PRIu64 ", ranges split %" PRIu64 " collapsed %" PRIu64 "\n",
            i.target_pages, i.actual_pages, i.inflated_pages, i.deflated_pages, i.reported_bytes >> 20,
            i.reports, i.stats_valid ? "received" : "none", i.sweeps, i.split_ranges, i.collapsed_ranges);
}

static const struct virtio_dev_ops balloon_ops = {
    .name = "virtio-balloon",
    .device_id = VIRTIO_ID_BALLOON,
    .num_queues = BALLOON_QUEUES,
    .queue_max = BALLOON_QUEUE_MAX,
    .features = BALLOON_FEATURES,
    .config = balloon_config_space,
    .config_write = balloon_config_write,
    .queue_notify = balloon_notify,
    .reset = balloon_reset,
    .print_stats = balloon_print_stats,
};

void balloon_set_target(struct balloon *b, uint32_t pages)
{
    struct virtio_dev *vdev = &b->vdev;
    uint64_t ram_pages = vdev->mem->total >> PFN_SHIFT;
    pthread_mutex_lock(&vdev->lock);
    b->base = (uint32_t)MIN((uint64_t)pages, ram_pages);
    set_num_pages(b, (uint64_t)b->base + b->sweep);
    pthread_mutex_unlock(&vdev->lock);
}

/* Hands the held statistics buffer back, which makes the driver send fresh numbers. Lock held. */
static void stats_return(struct balloon *b)
{
    struct virtio_dev *vdev = &b->vdev;
    stats_pop(b);
    struct virtq *vq = &vdev->vq[b->stats_queue];
    if (b->stats_held && !vdev->broken && (vdev->status & VIRTIO_STATUS_DRIVER_OK) && vq->ready) {
        b->stats_held = false;
        virtq_push(vq, b->stats_head, 0);
        virtio_dev_signal(vdev, vq);
    }
}

void balloon_request_stats(struct balloon *b)
{
    pthread_mutex_lock(&b->vdev.lock);
    stats_return(b);
    pthread_mutex_unlock(&b->vdev.lock);
}

/* Whether this tick asks the guest for its numbers (see the top). Lock held. */
static bool ask_due(struct balloon *b)
{
    uint64_t rss = rss_bytes(b);
    if ((rss > b->ask_rss ? rss - b->ask_rss : b->ask_rss - rss) >= ASK_MOVED ||
        b->reports != b->ask_reports || !b->stats_valid)
        b->ask_every = 1;
    if (++b->ask_wait < b->ask_every)
        return false;
    b->ask_wait = 0;
    b->ask_rss = rss;
    b->ask_reports = b->reports;
    b->ask_every = MIN(2 * b->ask_every, ASK_EVERY_MAX); /* unless the next tick sees it move again */
    return true;
}

void balloon_tick(struct balloon *b)
{
    pthread_mutex_lock(&b->vdev.lock);
    sweep_check(b);
    collapse_reused(b);
    if (!b->sweep && b->statm_fd >= 0 && ask_due(b)) {
        b->sweep_asked = true;
        stats_return(b);
    }
    pthread_mutex_unlock(&b->vdev.lock);
}

void balloon_info(struct balloon *b, struct balloon_info *out)
{
    struct virtio_dev *vdev = &b->vdev;
    pthread_mutex_lock(&vdev->lock);
    *out = (struct balloon_info){
        .target_pages = b->config.num_pages,
        .sweep_pages = b->sweep,
        .sweeps = b->sweeps,
        .split_ranges = b->split_ranges,
        .collapsed_ranges = b->collapsed_ranges,
        .base_pages = b->base,
        .oom_pages = b->oom_pages,
        .actual_pages = b->config.actual,
        .reported_bytes = b->reported_bytes,
        .reports = b->reports,
        .inflated_pages = b->inflated_pages,
        .deflated_pages = b->deflated_pages,
        .stats_valid = b->stats_valid,
        .stats_age_ns = b->stats_valid ? now_ns() - b->stats_ns : 0,
        .swap_in = b->stats[S_SWAP_IN],
        .swap_out = b->stats[S_SWAP_OUT],
        .major_faults = b->stats[S_MAJFLT],
        .minor_faults = b->stats[S_MINFLT],
        .mem_free = b->stats[S_MEMFREE],
        .mem_total = b->stats[S_MEMTOT],
        .mem_available = b->stats[S_AVAIL],
        .disk_caches = b->stats[S_CACHES],
        .malformed = vdev->stats.malformed,
    };
    pthread_mutex_unlock(&vdev->lock);
}

struct balloon *balloon_new(const struct gmem *mem)
{
    struct balloon *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    virtio_dev_init(&b->vdev, &balloon_ops, b, mem);
    b->statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    b->timer_fd = -1;
    b->ask_every = 1;
    return b;
}

void balloon_free(void *p)
{
    struct balloon *b = p;
    if (!b)
        return;
    virtio_dev_uninit(&b->vdev);
    if (b->statm_fd >= 0)
        close(b->statm_fd);
    if (b->timer_fd >= 0)
        close(b->timer_fd);
    free(b->in_balloon);
    free(b->in_range);
    free(b->split);
    free(b);
}

static void on_tick(void *opaque, uint32_t events)
{
    struct balloon *b = opaque;
    uint64_t n;
    (void)events;
    if (read(b->timer_fd, &n, sizeof(n)) == (ssize_t)sizeof(n))
        balloon_tick(b);
}

struct virtio_dev *balloon_vdev(struct balloon *b)
{
    return &b->vdev;
}

int balloon_create(struct vm *vm, struct balloon **out)
{
    struct balloon *b = balloon_new(&vm->mem);
    if (!b)
        return log_errno(ENOMEM, "virtio-balloon");
    int r = vm_own_device(vm, b, balloon_free);
    if (r < 0) {
        balloon_free(b);
        return r;
    }
    if ((r = virtio_mmio_attach(vm, &b->vdev)) < 0)
        return r;
    /* Without the tick the device still works; only sweeps are off (said once). */
    const struct timespec tick = {.tv_sec = SWEEP_TICK_NS / 1000000000ull,
                                  .tv_nsec = SWEEP_TICK_NS % 1000000000ull};
    struct itimerspec its = {.it_interval = tick, .it_value = tick};
    b->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (b->timer_fd < 0 || timerfd_settime(b->timer_fd, 0, &its, NULL) < 0 ||
        evloop_add(&vm->loop, b->timer_fd, EPOLLIN, on_tick, b) < 0)
        log_warn("virtio-balloon: no timer (%s): memory the guest frees comes back at its own pace",
                 strerror(errno));
    *out = b;
    return 0;
}
