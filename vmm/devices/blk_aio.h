/* virtio-blk's requests in flight: reads, writes and flushes of one disk image through an io_uring, so that
 * the VMM's I/O thread only pops, submits and completes them, and a slow request (a cold read, a flush that
 * waits for the disk) no longer holds up every other disk, session and device on that thread.
 *
 * Why io_uring and not a pool of threads doing preadv: a read the host's page cache holds completes inside
 * the submit call, with no thread handoff (and is reaped right there), while one that blocks (a cache miss,
 * a flush) waits in the kernel (its workers, or task work); a pool
 * would pay a wakeup and a context switch on every request, which the emulated KVM host (one CPU, ~10x slow)
 * and small requests feel most. Against serving each request synchronously on the I/O thread
 * (bench/blkbench.py, LSL_BLK_SYNC=1, one emulated CPU, warm page cache, 12-06): reads and random writes at
 * QD1 and QD32 0.92-1.00x, sequential writes 0.70x (0.5-0.9 run to run: a write goes to a kernel worker,
 * since 6.1's ext4 cannot write through the page cache without blocking; a write alone is therefore still
 * done synchronously, blk.c). What the ring is for does not show there: a request that blocks on the host's
 * disk (a cold read, a flush) no longer stops the I/O thread, and on hardware the workers run on other cores.
 * Discard and write-zeroes (fallocate) go through the ring too: hole punching a gigabyte can take the
 * host's file system a while, and on the I/O thread every other device would wait for it.
 * Without io_uring (seccomp in a container, a kernel built without it) the device serves every request
 * synchronously, as it always could. */
#ifndef LSL_BLK_AIO_H
#define LSL_BLK_AIO_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "blk.h"

/* Requests in flight per disk: Linux's virtio-blk keeps up to the queue's size (256) outstanding; 64 keep a
 * host SSD's queue busy, and a fuller ring waits in the virtqueue (the driver sees the device as busy). */
#define BLK_AIO_DEPTH 64

enum blk_aio_kind { BLK_AIO_READ, BLK_AIO_WRITE, BLK_AIO_FLUSH, BLK_AIO_FALLOCATE };

/* One range of a discard or write-zeroes: the fallocate mode to try, and the one to try when the file system
 * lacks it (EOPNOTSUPP; 0: none). */
struct blk_aio_range {
    off_t off, len;
    int modes[2];
};

struct blk_aio_op {
    enum blk_aio_kind kind;
    uint16_t queue, head;
    uint8_t *status;   /* in guest memory */
    uint32_t written;  /* the used length when it succeeds (data in + status) */
    uint64_t bytes;    /* data moved, for the counters */
    off_t off;         /* where the rest of the transfer goes */
    struct iovec *iov; /* the rest: a suffix of seg[] (its first element trimmed by a short transfer) */
    unsigned n;
    union {
        struct iovec seg[BLK_SEG_MAX];
        struct {
            struct blk_aio_range range[BLK_DWZ_SEG_MAX];
            unsigned nranges, at, mode; /* the range under way, and which of its modes */
            bool advisory;              /* a discard: a file system with no mode for it makes it a success */
        } fa;
    };
};

struct blk_aio {
    struct io_uring ring;
    int efd;                   /* readable when completions wait */
    int fd;                    /* the image */
    unsigned inflight, queued; /* ops out; SQEs prepared and not yet submitted */
    /* The free ops, a stack apart from them: an op is 4 KiB, and only those ever used become resident (the
     * last freed is the next used, so a disk at low depth keeps reusing a few). */
    uint8_t free[BLK_AIO_DEPTH];
    unsigned nfree;
    struct blk_aio_op *ops; /* BLK_AIO_DEPTH of them */
};

/* The ring for image fd (not taken). -errno when io_uring is not there; nothing is left open then. */
int blk_aio_init(struct blk_aio *a, int fd);
/* Waits for what is in flight (its results are dropped: see blk_aio_drain first), then frees the ring. */
void blk_aio_exit(struct blk_aio *a);
/* A free op, or NULL when BLK_AIO_DEPTH are out. */
struct blk_aio_op *blk_aio_get(struct blk_aio *a);
/* Gives back an op taken and not started. */
void blk_aio_put(struct blk_aio *a, struct blk_aio_op *op);
/* Starts op (filled in: kind, off, iov/n for reads and writes, fa for fallocate). A flush starts once
 * everything submitted before it has completed (IOSQE_IO_DRAIN): what the guest saw complete before it
 * asked is on stable storage when it completes. Fallocate goes through fa's ranges one after the other,
 * each with its second mode when the first is not supported; its result is -EOPNOTSUPP when a range had
 * no mode and it is not advisory. Prepared here, sent by blk_aio_submit. */
void blk_aio_start(struct blk_aio *a, struct blk_aio_op *op);
/* Sends what was started since the last call, in one system call. */
void blk_aio_submit(struct blk_aio *a);
/* Sends what was started, then calls done(opaque, op, result) for each finished op (result 0 or -errno;
 * short transfers are continued here, a read past the file's end reads zeroes) and returns the op to the
 * free list after it. wait: block until at least one finishes (when any is in flight). Returns how many
 * finished. efd is readable whenever one has finished; whoever starts ops reaps right after, for those that
 * finished inside the submit. */
unsigned blk_aio_reap(struct blk_aio *a, bool wait,
                      void (*done)(void *opaque, struct blk_aio_op *op, int result), void *opaque);

#endif
