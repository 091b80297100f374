/* Fuzz target: the virtqueue walker (vmm/devices/virtq.c) driven by a hostile guest. The input is the
 * queue's configuration, a script of device and driver steps, and the guest memory holding the rings and
 * the indirect tables (see struct config). Guest RAM is two separate allocations, so any buffer the walker
 * hands out that leaves guest memory, or spans both regions, is an ASan report or a failed check here. */
#include <errno.h>

#include "devices/virtq.h"
#include "fuzz.h"

#define LOW_SIZE  (40u << 10) /* RAM at GPA 0: room for the largest queue (1024 entries take 26 KiB) */
#define HIGH_GPA  (1ull << 32)
#define HIGH_SIZE (8u << 10) /* RAM at 4 GiB, like the part above the 32-bit MMIO hole */
#define MAX_HEADS VIRTQ_MAX_SIZE

/* The first bytes of the input; then nsteps steps of 4 bytes; then the bytes of guest memory, from GPA 0 up
 * (what is left over goes to the region at 4 GiB), or from 4 GiB up. */
struct config {
    uint8_t size;  /* bit 7 clear: queue size 1 << (size % 12), 2048 being refused; set: size & 0x7f as is */
    uint8_t flags; /* bit 0: VIRTIO_F_EVENT_IDX; bit 1: the memory bytes go to the region at 4 GiB */
    uint8_t nsteps;
    uint8_t reserved;
    uint32_t desc, avail, used; /* ring addresses, see gpa() */
};

enum step {
    STEP_POP,    /* the device takes requests until the ring is empty */
    STEP_PUSH,   /* it returns the oldest one it took, with bytes 1-3 as the length written */
    STEP_SIGNAL, /* it asks whether to interrupt */
    STEP_ARM,    /* it goes to sleep, publishing how far it has read */
    STEP_POKE,   /* the driver writes byte 3 at offset bytes 1-2 of low RAM, between the device's steps */
    STEP_KICK,   /* the driver offers byte 1 more requests */
    STEP_COUNT,
};

struct fake {
    struct gmem m;
    uint8_t *low, *high;
    struct virtq vq;
    struct virtq_req req;
    uint16_t heads[MAX_HEADS];
    unsigned nheads;
};

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* Bits 0-15: the offset; bit 16: in the region at 4 GiB; any of bits 17-31 make it wild (beyond 2^49), so
 * the address arithmetic of the checks meets its limits too. */
static uint64_t gpa(uint32_t v)
{
    return (v & 0x10000 ? HIGH_GPA : 0) + (v & 0xffff) + ((uint64_t)(v >> 17) << 49);
}

static bool inside(const uint8_t *p, size_t len, const uint8_t *region, size_t size)
{
    return p >= region && p <= region + size && len <= (size_t)(region + size - p);
}

static void check_req(struct fake *f, const uint8_t step[4])
{
    struct virtq_req *req = &f->req;
    FUZZ_CHECK(req->head < f->vq.size);
    FUZZ_CHECK(req->n_out + req->n_in <= req->cap);
    uint64_t out = 0, in = 0;
    for (uint32_t i = 0; i < req->n_out + req->n_in; i++) {
        const struct iovec *v = &req->iov[i];
        /* Inside one region of guest memory, never across the two. */
        FUZZ_CHECK(inside(v->iov_base, v->iov_len, f->low, LOW_SIZE) ||
                   inside(v->iov_base, v->iov_len, f->high, HIGH_SIZE));
        if (v->iov_len == 0)
            continue;
        volatile uint8_t *p = v->iov_base;
        if (i < req->n_out) {
            out += v->iov_len;
            (void)p[0], (void)p[v->iov_len - 1];
        } else {
            in += v->iov_len;
            p[0] = p[v->iov_len - 1] = step[1]; /* the device may write what the guest uses as its rings */
        }
    }
    FUZZ_CHECK(out == req->out_len && in == req->in_len);

    /* The iovec helpers the devices use on a request, at an offset the step picks. */
    uint8_t buf[256];
    size_t off = step[2];
    size_t want = req->out_len > off ? min_size(sizeof(buf), req->out_len - off) : 0;
    FUZZ_CHECK(iov_to_buf(req->iov, req->n_out, off, buf, sizeof(buf)) == want);
    want = req->in_len > off ? min_size(sizeof(buf), req->in_len - off) : 0;
    FUZZ_CHECK(iov_from_buf(virtq_req_in(req), req->n_in, off, buf, sizeof(buf)) == want);
    struct iovec slice[4];
    int n = iov_slice(req->iov, req->n_out, off, step[3], slice, 4);
    size_t sliced = 0;
    for (int i = 0; i < n; i++)
        sliced += slice[i].iov_len;
    /* Refused only when the request is too short, or the slice needs more than 4 entries. */
    FUZZ_CHECK(n >= 0 ? n <= 4 && sliced == step[3] : req->out_len < off + step[3] || req->n_out > 4);
}

/* False once the walker called the ring malformed: the device then stops using the queue. */
static bool run_step(struct fake *f, const uint8_t step[4])
{
    switch (step[0] % STEP_COUNT) {
    case STEP_POP:
        for (unsigned i = 0; i < 2 * VIRTQ_MAX_SIZE; i++) {
            int r = virtq_pop(&f->vq, &f->m, &f->req);
            FUZZ_CHECK(r == 0 || r == 1 || r == -EINVAL || r == -ENOMEM);
            if (r < 0)
                return false;
            if (r == 0)
                break;
            check_req(f, step);
            if (f->nheads < MAX_HEADS)
                f->heads[f->nheads++] = f->req.head;
        }
        break;
    case STEP_PUSH:
        if (f->nheads) {
            virtq_push(&f->vq, f->heads[0], step[1] | step[2] << 8 | (uint32_t)step[3] << 16);
            memmove(f->heads, f->heads + 1, --f->nheads * sizeof(f->heads[0]));
        }
        break;
    case STEP_SIGNAL:
        (void)virtq_should_signal(&f->vq);
        break;
    case STEP_ARM:
        (void)virtq_arm_notify(&f->vq);
        break;
    case STEP_POKE:
        f->low[(step[1] | step[2] << 8) % LOW_SIZE] = step[3];
        break;
    case STEP_KICK:
        f->vq.avail[1] = (uint16_t)(f->vq.avail[1] + step[1]);
        break;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config c;
    if (size < sizeof(c))
        return 0;
    memcpy(&c, data, sizeof(c));
    data += sizeof(c), size -= sizeof(c);
    size_t steps_len = min_size((size_t)c.nsteps * 4, size);
    const uint8_t *steps = data;
    data += steps_len, size -= steps_len;

    static struct fake f;
    f = (struct fake){.low = calloc(1, LOW_SIZE), .high = calloc(1, HIGH_SIZE)};
    FUZZ_CHECK(f.low && f.high);
    if (c.flags & 2) {
        memcpy(f.high, data, min_size(size, HIGH_SIZE));
    } else {
        memcpy(f.low, data, min_size(size, LOW_SIZE));
        if (size > LOW_SIZE)
            memcpy(f.high, data + LOW_SIZE, min_size(size - LOW_SIZE, HIGH_SIZE));
    }
    f.m = (struct gmem){
        .regions = {{.gpa = 0, .size = LOW_SIZE, .host = f.low},
                    {.gpa = HIGH_GPA, .size = HIGH_SIZE, .host = f.high}},
        .nregions = 2,
        .base = f.low,
        .total = LOW_SIZE + HIGH_SIZE,
    };

    virtq_reset(&f.vq);
    f.vq.size = c.size & 0x80 ? c.size & 0x7f : (uint16_t)(1u << (c.size % 12));
    f.vq.desc_gpa = gpa(c.desc);
    f.vq.avail_gpa = gpa(c.avail);
    f.vq.used_gpa = gpa(c.used);
    f.vq.event_idx = c.flags & 1;
    int r = virtq_enable(&f.vq, &f.m);
    FUZZ_CHECK(r == 0 || r == -EINVAL);
    if (r == 0) {
        f.vq.ready = true;
        for (size_t i = 0; i + 4 <= steps_len; i += 4)
            if (!run_step(&f, steps + i))
                break;
    }
    virtq_req_free(&f.req);
    free(f.low);
    free(f.high);
    return 0;
}
