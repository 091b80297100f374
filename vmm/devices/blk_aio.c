/* See blk_aio.h. */
#include "blk_aio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

_Static_assert(BLK_AIO_DEPTH <= 256, "free op indexes are bytes");
#define OPS_SIZE (BLK_AIO_DEPTH * sizeof(struct blk_aio_op))

int blk_aio_init(struct blk_aio *a, int fd)
{
    memset(a, 0, sizeof(*a));
    a->efd = -1;
    a->fd = fd;
    /* Twice the depth of completion entries: a continued short transfer never finds the CQ full. */
    struct io_uring_params p = {.flags = IORING_SETUP_CQSIZE, .cq_entries = 2 * BLK_AIO_DEPTH};
    int r = io_uring_queue_init_params(BLK_AIO_DEPTH, &a->ring, &p);
    if (r < 0)
        return r;
    /* Mapped, not allocated: pages of ops never used are never touched (an allocator may clear them). */
    void *ops = mmap(NULL, OPS_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    a->ops = ops == MAP_FAILED ? NULL : ops;
    a->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    /* Signalled for every completion. (Not "async" only, for those of the kernel's workers: a read that
     * missed the page cache, or one held behind a flush, completes in task work on the submitting thread,
     * which that would leave unsignalled, and the guest waiting for it. What completes inside a submit is
     * reaped there and then, and costs the loop one empty wakeup.) */
    r = !a->ops ? -ENOMEM : a->efd < 0 ? -errno : io_uring_register_eventfd(&a->ring, a->efd);
    if (r < 0) {
        if (a->efd >= 0)
            close(a->efd);
        if (a->ops)
            munmap(a->ops, OPS_SIZE);
        io_uring_queue_exit(&a->ring);
        return r;
    }
    for (unsigned i = 0; i < BLK_AIO_DEPTH; i++)
        a->free[i] = (uint8_t)(BLK_AIO_DEPTH - 1 - i);
    a->nfree = BLK_AIO_DEPTH;
    return 0;
}

static void drop(void *opaque, struct blk_aio_op *op, int result)
{
    (void)opaque, (void)op, (void)result;
}

void blk_aio_exit(struct blk_aio *a)
{
    blk_aio_submit(a);
    while (a->inflight)
        if (!blk_aio_reap(a, true, drop, NULL))
            break; /* the ring failed: the kernel still owns the ops, so they are not freed */
    bool idle = a->inflight == 0;
    io_uring_queue_exit(&a->ring); /* waits for anything left, before the memory it names goes */
    close(a->efd);
    if (idle)
        munmap(a->ops, OPS_SIZE);
    memset(a, 0, sizeof(*a));
    a->efd = -1;
}

struct blk_aio_op *blk_aio_get(struct blk_aio *a)
{
    if (!a->nfree)
        return NULL;
    a->inflight++;
    return &a->ops[a->free[--a->nfree]];
}

void blk_aio_put(struct blk_aio *a, struct blk_aio_op *op)
{
    a->free[a->nfree++] = (uint8_t)(op - a->ops);
    a->inflight--;
}

/* The SQ holds BLK_AIO_DEPTH entries and at most that many ops are out, each with one SQE at a time: an SQE
 * is always there (a submit first, when continued transfers and new ones fill it between two submits). */
static struct io_uring_sqe *sqe_for(struct blk_aio *a)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&a->ring);
    if (!sqe) {
        blk_aio_submit(a);
        sqe = io_uring_get_sqe(&a->ring);
    }
    return sqe;
}

void blk_aio_start(struct blk_aio *a, struct blk_aio_op *op)
{
    struct io_uring_sqe *sqe = sqe_for(a);
    switch (op->kind) {
    case BLK_AIO_READ:
        io_uring_prep_readv(sqe, a->fd, op->iov, op->n, (uint64_t)op->off);
        break;
    case BLK_AIO_WRITE:
        io_uring_prep_writev(sqe, a->fd, op->iov, op->n, (uint64_t)op->off);
        break;
    case BLK_AIO_FLUSH:
        io_uring_prep_fsync(sqe, a->fd, IORING_FSYNC_DATASYNC);
        io_uring_sqe_set_flags(sqe, IOSQE_IO_DRAIN);
        break;
    case BLK_AIO_FALLOCATE: {
        const struct blk_aio_range *r = &op->fa.range[op->fa.at];
        io_uring_prep_fallocate(sqe, a->fd, r->modes[op->fa.mode], (uint64_t)r->off, (uint64_t)r->len);
        break;
    }
    }
    io_uring_sqe_set_data(sqe, op);
    a->queued++;
}

void blk_aio_submit(struct blk_aio *a)
{
    for (int tries = 0; a->queued && tries < 100; tries++) {
        int r = io_uring_submit(&a->ring);
        if (r > 0) {
            a->queued = (unsigned)r < a->queued ? a->queued - (unsigned)r : 0;
            tries = 0;
        } else if (r != -EINTR && r != -EAGAIN && r != -EBUSY) {
            break; /* not expected of a valid ring */
        }
        /* EAGAIN/EBUSY: the kernel is short of memory or of completion room; both drain as it runs */
    }
    /* What is still unsent stays in the SQ and goes with the next submit; the caller's loop must not wait
     * on it. */
    a->queued = 0;
}

/* A transfer that moved n bytes of what was asked: the rest is what remains (0: done). */
static bool advance(struct blk_aio_op *op, size_t n)
{
    op->off += (off_t)n;
    while (op->n && n >= op->iov->iov_len) {
        n -= op->iov->iov_len;
        op->iov++;
        op->n--;
    }
    if (op->n) {
        op->iov->iov_base = (uint8_t *)op->iov->iov_base + n;
        op->iov->iov_len -= n;
    }
    return op->n > 0;
}

/* A fallocate step finished with res: whether there is a next one (this range's other mode after
 * EOPNOTSUPP, or the next range after success or an advisory range nothing supports). */
static bool fallocate_next(struct blk_aio_op *op, int res)
{
    const struct blk_aio_range *r = &op->fa.range[op->fa.at];
    if (res == -EOPNOTSUPP && op->fa.mode == 0 && r->modes[1]) {
        op->fa.mode = 1;
        return true;
    }
    if (res != 0 && !(res == -EOPNOTSUPP && op->fa.advisory))
        return false;
    op->fa.mode = 0;
    return ++op->fa.at < op->fa.nranges;
}

unsigned blk_aio_reap(struct blk_aio *a, bool wait,
                      void (*done)(void *opaque, struct blk_aio_op *op, int result), void *opaque)
{
    unsigned finished = 0;
    uint64_t ev;
    ssize_t got =
        read(a->efd, &ev, sizeof(ev)); /* EAGAIN: an earlier reap took the signal with its entries */
    (void)got;
    for (;;) {
        struct io_uring_cqe *cqe;
        int r = io_uring_peek_cqe(&a->ring, &cqe);
        if (r == -EAGAIN && a->queued) {
            /* Started and not yet sent (new ones, or the rest of a short one): what the host has at hand
             * completes inside the submit, unsignalled (blk_aio_init), so it is looked for right after. */
            blk_aio_submit(a);
            continue;
        }
        if (r == -EAGAIN && wait && !finished && a->inflight) {
            r = io_uring_wait_cqe(&a->ring, &cqe);
            if (r == -EINTR)
                continue;
        }
        if (r < 0)
            break;
        struct blk_aio_op *op = io_uring_cqe_get_data(cqe);
        int res = cqe->res;
        io_uring_cqe_seen(&a->ring, cqe);
        int result = res < 0 ? res : 0;
        if (res > 0 && (op->kind == BLK_AIO_READ || op->kind == BLK_AIO_WRITE) && advance(op, (size_t)res)) {
            blk_aio_start(a, op); /* a short transfer: the rest goes again */
            continue;
        }
        if (op->kind == BLK_AIO_FALLOCATE && fallocate_next(op, res)) {
            blk_aio_start(a, op);
            continue;
        }
        if (op->kind == BLK_AIO_FALLOCATE && res == -EOPNOTSUPP && op->fa.advisory)
            result = 0;
        if (res == 0 && op->kind == BLK_AIO_WRITE && op->n)
            result = -EIO;
        if (res == 0 && op->kind == BLK_AIO_READ) /* past a sparse file's end: zeroes */
            for (unsigned i = 0; i < op->n; i++)
                memset(op->iov[i].iov_base, 0, op->iov[i].iov_len);
        done(opaque, op, result);
        blk_aio_put(a, op);
        finished++;
    }
    return finished;
}
