/* Virtqueue walker against well-formed and hostile rings: every malformed case must be refused, never
 * read or write outside guest memory. */
#include <string.h>

#include "check.h"
#include "devices/virtq.h"

#define MEM   (1u << 20)
#define QSIZE 8
#define DESC  0x1000
#define AVAIL 0x2000
#define USED  0x3000
#define BUF   0x10000

static struct gmem m;
static struct virtq vq;
static struct virtq_req req;

static struct virtq_desc *desc(unsigned i)
{
    return (struct virtq_desc *)gmem_ptr(&m, DESC, 16 * QSIZE) + i;
}
static uint16_t *avail(void)
{
    return gmem_ptr(&m, AVAIL, 6 + 2 * QSIZE);
}
static uint16_t *used(void)
{
    return gmem_ptr(&m, USED, 6 + 8 * QSIZE);
}

static void setup(bool event_idx)
{
    memset(m.base, 0, MEM);
    virtq_reset(&vq);
    vq.size = QSIZE;
    vq.desc_gpa = DESC;
    vq.avail_gpa = AVAIL;
    vq.used_gpa = USED;
    vq.event_idx = event_idx;
    CHECK_EQ(virtq_enable(&vq, &m), 0);
    vq.ready = true;
}

static void offer(uint16_t head)
{
    uint16_t *a = avail();
    a[2 + a[1] % QSIZE] = head;
    a[1]++;
}

static void set_desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    *desc(i) = (struct virtq_desc){.addr = addr, .len = len, .flags = flags, .next = next};
}

static void test_simple_chain(void)
{
    setup(false);
    set_desc(0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
    set_desc(1, BUF + 16, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
    set_desc(2, BUF + 528, 1, VIRTQ_DESC_F_WRITE, 0);
    offer(0);
    CHECK_EQ(virtq_pop(&vq, &m, &req), 1);
    CHECK_EQ(req.head, 0);
    CHECK_EQ(req.n_out, 1);
    CHECK_EQ(req.n_in, 2);
    CHECK_EQ(req.out_len, 16);
    CHECK_EQ(req.in_len, 513);
    CHECK(req.iov[0].iov_base == gmem_ptr(&m, BUF, 16));
    CHECK_EQ(virtq_pop(&vq, &m, &req), 0);
    virtq_push(&vq, 0, 513);
    CHECK_EQ(used()[1], 1);
    CHECK_EQ(((struct virtq_used_elem *)&used()[2])[0].len, 513);
    CHECK(virtq_should_signal(&vq));
    avail()[0] = VIRTQ_AVAIL_F_NO_INTERRUPT;
    CHECK(!virtq_should_signal(&vq));
}

static void test_indirect(void)
{
    setup(false);
    struct virtq_desc *table = gmem_ptr(&m, 0x8000, 3 * 16);
    table[0] = (struct virtq_desc){.addr = BUF, .len = 16, .flags = VIRTQ_DESC_F_NEXT, .next = 1};
    table[1] = (struct virtq_desc){.addr = BUF + 100, .len = 4096, .flags = VIRTQ_DESC_F_NEXT, .next = 2};
    table[2] = (struct virtq_desc){.addr = BUF + 8192, .len = 1, .flags = VIRTQ_DESC_F_WRITE};
    set_desc(3, 0x8000, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
    offer(3);
    CHECK_EQ(virtq_pop(&vq, &m, &req), 1);
    CHECK_EQ(req.head, 3);
    CHECK_EQ(req.n_out, 2);
    CHECK_EQ(req.n_in, 1);
    CHECK_EQ(req.out_len, 16 + 4096);
}

static void expect_malformed(const char *what)
{
    offer(0);
    int r = virtq_pop(&vq, &m, &req);
    if (r != -22)
        fprintf(stderr, "  malformed case not refused: %s (got %d)\n", what, r);
    CHECK_EQ(r, -22);
}

static void test_malformed(void)
{
    setup(false);
    set_desc(0, BUF, 16, VIRTQ_DESC_F_NEXT, 0); /* points at itself */
    expect_malformed("self loop");

    setup(false);
    set_desc(0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
    set_desc(1, BUF, 16, VIRTQ_DESC_F_NEXT, 0); /* two-element loop */
    expect_malformed("two-descriptor loop");

    setup(false);
    set_desc(0, BUF, 16, VIRTQ_DESC_F_NEXT, QSIZE); /* next out of range */
    expect_malformed("next index beyond queue");

    setup(false);
    set_desc(0, MEM - 8, 16, 0, 0); /* buffer crosses the end of RAM */
    expect_malformed("buffer past end of memory");

    setup(false);
    set_desc(0, UINT64_MAX - 4, 16, 0, 0); /* address wraps */
    expect_malformed("wrapping address");

    setup(false);
    set_desc(0, BUF, 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
    set_desc(1, BUF, 16, 0, 0); /* readable after writable */
    expect_malformed("readable after writable");

    setup(false);
    set_desc(0, 0x8000, 20, VIRTQ_DESC_F_INDIRECT, 0); /* not a multiple of 16 */
    expect_malformed("indirect length not multiple of 16");

    setup(false);
    set_desc(0, 0x8000, 0, VIRTQ_DESC_F_INDIRECT, 0);
    expect_malformed("empty indirect table");

    setup(false);
    struct virtq_desc *table = gmem_ptr(&m, 0x8000, 32);
    table[0] = (struct virtq_desc){.addr = 0x9000, .len = 16, .flags = VIRTQ_DESC_F_INDIRECT};
    set_desc(0, 0x8000, 32, VIRTQ_DESC_F_INDIRECT, 0);
    expect_malformed("nested indirect");

    setup(false);
    set_desc(0, 0x8000, 32, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
    expect_malformed("indirect with NEXT");

    setup(false);
    set_desc(0, MEM - 16, 64, VIRTQ_DESC_F_INDIRECT, 0);
    expect_malformed("indirect table outside memory");

    setup(false);
    table = gmem_ptr(&m, 0x8000, 32);
    table[0] = (struct virtq_desc){.addr = BUF, .len = 16, .flags = VIRTQ_DESC_F_NEXT, .next = 0};
    set_desc(0, 0x8000, 32, VIRTQ_DESC_F_INDIRECT, 0);
    expect_malformed("loop inside indirect table");

    /* The driver claims more available entries than the ring has. */
    setup(false);
    set_desc(0, BUF, 16, 0, 0);
    avail()[1] = QSIZE + 1;
    CHECK_EQ(virtq_pop(&vq, &m, &req), -22);

    /* A head index beyond the queue size. */
    setup(false);
    offer(QSIZE + 3);
    CHECK_EQ(virtq_pop(&vq, &m, &req), -22);
}

static void test_enable_checks(void)
{
    virtq_reset(&vq);
    vq.size = 6; /* not a power of two */
    vq.desc_gpa = DESC, vq.avail_gpa = AVAIL, vq.used_gpa = USED;
    CHECK_EQ(virtq_enable(&vq, &m), -22);
    vq.size = QSIZE;
    vq.desc_gpa = DESC + 8; /* misaligned */
    CHECK_EQ(virtq_enable(&vq, &m), -22);
    vq.desc_gpa = DESC;
    vq.used_gpa = MEM - 16; /* used ring runs off the end */
    CHECK_EQ(virtq_enable(&vq, &m), -22);
    vq.used_gpa = USED;
    vq.size = 0;
    CHECK_EQ(virtq_enable(&vq, &m), -22);
}

static void test_event_idx(void)
{
    setup(true);
    uint16_t *used_event = &avail()[2 + QSIZE];
    for (int i = 0; i < 4; i++) {
        set_desc((unsigned)i, BUF, 1, VIRTQ_DESC_F_WRITE, 0);
        offer((uint16_t)i);
    }
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(virtq_pop(&vq, &m, &req), 1);
        virtq_push(&vq, req.head, 1);
    }
    CHECK(virtq_should_signal(&vq)); /* the first signal is always sent */
    /* The driver wants an interrupt only once used idx passes 6. */
    *used_event = 6;
    for (int i = 0; i < 2; i++) {
        offer(0);
        CHECK_EQ(virtq_pop(&vq, &m, &req), 1);
        virtq_push(&vq, 0, 1);
    }
    CHECK(!virtq_should_signal(&vq)); /* used idx 6: not past 6 yet */
    offer(0);
    CHECK_EQ(virtq_pop(&vq, &m, &req), 1);
    virtq_push(&vq, 0, 1);
    CHECK(virtq_should_signal(&vq)); /* used idx 7 crossed the event */
    /* avail_event tells the driver how far the device has read. */
    CHECK(!virtq_arm_notify(&vq));
    CHECK_EQ(((uint16_t *)&((struct virtq_used_elem *)&used()[2])[QSIZE])[0], 7);
    offer(0);
    CHECK(virtq_arm_notify(&vq)); /* arrived after arming: must be noticed */
}

/* A request the device popped but had nothing for goes back to the head of the ring, unused. */
static void test_unpop(void)
{
    setup(true);
    set_desc(0, BUF, 64, VIRTQ_DESC_F_WRITE, 0);
    set_desc(1, BUF + 64, 64, VIRTQ_DESC_F_WRITE, 0);
    offer(0);
    offer(1);
    CHECK_EQ(virtq_pop(&vq, &m, &req), 1);
    CHECK_EQ(req.head, 0);
    virtq_unpop(&vq);
    /* Still pending: arming the notification must report it, not sleep on it. */
    CHECK(virtq_arm_notify(&vq));
    CHECK_EQ(((uint16_t *)&((struct virtq_used_elem *)&used()[2])[QSIZE])[0], 0);
    CHECK_EQ(virtq_pop(&vq, &m, &req), 1);
    CHECK_EQ(req.head, 0);
    CHECK_EQ(req.in_len, 64);
    CHECK_EQ(virtq_pop(&vq, &m, &req), 1);
    CHECK_EQ(req.head, 1);
    CHECK_EQ(virtq_pop(&vq, &m, &req), 0);
    CHECK_EQ(used()[1], 0); /* nothing was returned to the driver along the way */
    virtq_push(&vq, 0, 0);
    virtq_push(&vq, 1, 0);
    CHECK_EQ(used()[1], 2);
    CHECK(!virtq_arm_notify(&vq));
}

static void test_iov_helpers(void)
{
    char a[4] = "abcd", b[3] = "efg", out[8] = {0};
    struct iovec iov[2] = {{a, 4}, {b, 3}};
    CHECK_EQ(iov_to_buf(iov, 2, 2, out, 4), 4);
    CHECK(memcmp(out, "cdef", 4) == 0);
    struct iovec s[2];
    CHECK_EQ(iov_slice(iov, 2, 3, 3, s, 2), 2);
    CHECK(s[0].iov_base == a + 3 && s[0].iov_len == 1 && s[1].iov_len == 2);
    CHECK_EQ(iov_slice(iov, 2, 3, 3, s, 1), -1); /* not enough room */
    CHECK_EQ(iov_slice(iov, 2, 5, 9, s, 2), -1); /* beyond the data */
    CHECK_EQ(iov_from_buf(iov, 2, 6, "Z", 1), 1);
    CHECK(b[2] == 'Z');
}

int main(void)
{
    if (gmem_init(&m, MEM, MEM) < 0)
        return 2;
    RUN(test_simple_chain);
    RUN(test_indirect);
    RUN(test_malformed);
    RUN(test_enable_checks);
    RUN(test_event_idx);
    RUN(test_unpop);
    RUN(test_iov_helpers);
    virtq_req_free(&req);
    gmem_free(&m);
    return CHECK_DONE();
}
