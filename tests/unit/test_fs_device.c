/* The virtio-fs device without KVM: a fake driver puts FUSE requests on the real virtqueues in fake guest
 * memory (direct chains and indirect tables, as Linux does for long ones) and reads the used ring. INIT,
 * LOOKUP, a 64 KiB READ over 16 page segments, FORGET on the hiprio queue (no reply), the config space, a
 * SETLKW that parks and completes later, a chain longer than any FUSE request, and a corrupt ring that
 * breaks only the device until the driver resets it. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "devices/fs.h"
#include "devices/virtio.h"
#include "fs/fs.h"

#define MEM      (8u << 20)
#define QSIZE    1024
#define DESC(q)  (0x10000u + (q)*0x20000u)
#define AVAIL(q) (DESC(q) + 0x4000u)
#define USED(q)  (DESC(q) + 0x8000u)
#define TABLE    0x60000u  /* indirect tables */
#define BUF      0x100000u /* request and reply buffers */
#define PAGES    0x200000u

static struct gmem m;
static struct fs_dev *d;
static struct virtio_dev *vd;
static uint16_t used_seen[2];
static char dir[] = "/tmp/lsl-fsdev-test.XXXXXX";
static uint64_t unique = 1;

static void *gp(uint64_t gpa, uint64_t len)
{
    return gmem_ptr(&m, gpa, len);
}

static void irq(struct virtio_dev *v, uint32_t kind)
{
    (void)v, (void)kind;
}

static void setup_queues(void)
{
    vd->interrupt = irq;
    vd->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
                 VIRTIO_STATUS_DRIVER_OK;
    for (unsigned q = 0; q < 2; q++) {
        struct virtq *vq = &vd->vq[q];
        virtq_reset(vq);
        memset(gp(DESC(q), 0x10000), 0, 0x10000);
        vq->size = QSIZE;
        vq->desc_gpa = DESC(q), vq->avail_gpa = AVAIL(q), vq->used_gpa = USED(q);
        CHECK_EQ(virtq_enable(vq, &m), 0);
        vq->ready = true;
        used_seen[q] = 0;
    }
}

struct seg {
    uint64_t gpa;
    uint32_t len;
    bool write;
};

/* Offers one chain on queue q (indirect when asked) and kicks. */
static void offer(unsigned q, const struct seg *s, unsigned n, bool indirect)
{
    struct virtq_desc *t = indirect ? gp(TABLE, 16ull * n) : gp(DESC(q) + 16, 16ull * n);
    for (unsigned i = 0; i < n; i++)
        t[i] = (struct virtq_desc){
            .addr = s[i].gpa,
            .len = s[i].len,
            .flags = (uint16_t)((s[i].write ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
            .next = (uint16_t)(indirect ? i + 1 : i + 2)};
    uint16_t head = indirect ? 0 : 1;
    if (indirect)
        *(struct virtq_desc *)gp(DESC(q), 16) =
            (struct virtq_desc){.addr = TABLE, .len = 16 * n, .flags = VIRTQ_DESC_F_INDIRECT};
    uint16_t *a = gp(AVAIL(q), 6 + 2 * QSIZE);
    a[2 + a[1] % QSIZE] = head;
    __atomic_store_n(&a[1], (uint16_t)(a[1] + 1), __ATOMIC_RELEASE);
    pthread_mutex_lock(&vd->lock);
    vd->ops->queue_notify(vd, (uint16_t)q);
    pthread_mutex_unlock(&vd->lock);
}

/* The next used element of queue q: its length, or -1 if the device has not returned anything. */
static int used(unsigned q)
{
    uint16_t *u = gp(USED(q), 6 + 8 * QSIZE);
    if (__atomic_load_n(&u[1], __ATOMIC_ACQUIRE) == used_seen[q])
        return -1;
    struct virtq_used_elem *e = (struct virtq_used_elem *)&u[2] + used_seen[q] % QSIZE;
    used_seen[q]++;
    return (int)e->len;
}

/* A request with its arguments at BUF and the reply room right after, as two plus two segments. */
static uint64_t req_base = BUF;

static int request(uint32_t opcode, uint64_t nodeid, const void *args, uint32_t alen, uint32_t reply_len,
                   struct fuse_out_header *oh, void *reply)
{
    const uint64_t BASE = req_base;
    struct fuse_in_header h = {
        .len = (uint32_t)sizeof(h) + alen, .opcode = opcode, .unique = ++unique, .nodeid = nodeid};
    memcpy(gp(BASE, sizeof(h)), &h, sizeof(h));
    if (alen)
        memcpy(gp(BASE + 64, alen), args, alen);
    struct seg s[4] = {{BASE, sizeof(h), false},
                       {BASE + 64, alen, false},
                       {BASE + 0x8000, 16, true},
                       {BASE + 0x8100, reply_len, true}};
    unsigned n = 4;
    if (!alen) {
        s[1] = s[2], s[2] = s[3];
        n = 3;
    }
    if (!reply_len)
        n--;
    offer(1, s, n, false);
    int len = used(1);
    if (len >= 16) {
        memcpy(oh, gp(BASE + 0x8000, 16), 16);
        CHECK_EQ(oh->unique, h.unique);
        CHECK_EQ(oh->len, (uint32_t)len);
        if (reply && len > 16)
            memcpy(reply, gp(BASE + 0x8100, (uint64_t)len - 16), (size_t)len - 16);
    }
    return len;
}

static void init_session(void)
{
    struct fuse_init_in in = {.major = 7, .minor = 38, .max_readahead = 1 << 17, .flags = FUSE_MAX_PAGES};
    struct fuse_init_out out;
    struct fuse_out_header oh;
    CHECK_EQ(request(FUSE_INIT, 0, &in, sizeof(in), sizeof(out), &oh, &out), 16 + (int)sizeof(out));
    CHECK_EQ(oh.error, 0);
    CHECK_EQ(out.max_pages, 256);
}

static void test_config_and_init(void)
{
    uint32_t len;
    const uint8_t *cfg = vd->ops->config(vd, &len);
    CHECK_EQ(len, 40);
    CHECK(memcmp(cfg, "hostshare\0", 10) == 0);
    uint32_t nq;
    memcpy(&nq, cfg + 36, 4);
    CHECK_EQ(nq, 1);
    CHECK_EQ(vd->ops->device_id, 26);
    CHECK_EQ(vd->ops->num_queues, 2);
    CHECK_EQ(vd->ops->queue_max, 1024); /* Linux's max_pages is the queue size - 4, capped at 256 */
    setup_queues();
    init_session();
}

static void test_lookup_read_forget(void)
{
    setup_queues();
    init_session();
    char path[128];
    snprintf(path, sizeof(path), "%s/data", dir);
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    static uint8_t content[65536];
    for (unsigned i = 0; i < sizeof(content); i++)
        content[i] = (uint8_t)(i * 31);
    CHECK(write(fd, content, sizeof(content)) == (ssize_t)sizeof(content));
    close(fd);
    struct fuse_entry_out e;
    struct fuse_out_header oh;
    CHECK_EQ(request(FUSE_LOOKUP, 1, "data", 5, sizeof(e), &oh, &e), 16 + (int)sizeof(e));
    CHECK(e.nodeid > 1);
    struct fuse_open_in oin = {.flags = O_RDONLY};
    struct fuse_open_out oout;
    CHECK_EQ(request(FUSE_OPEN, e.nodeid, &oin, sizeof(oin), sizeof(oout), &oh, &oout),
             16 + (int)sizeof(oout));
    /* READ of 64 KiB into 16 pages scattered in guest memory, through an indirect table. */
    struct fuse_in_header h = {.len = sizeof(h) + sizeof(struct fuse_read_in),
                               .opcode = FUSE_READ,
                               .unique = ++unique,
                               .nodeid = e.nodeid};
    struct fuse_read_in rin = {.fh = oout.fh, .size = sizeof(content)};
    memcpy(gp(BUF, sizeof(h)), &h, sizeof(h));
    memcpy(gp(BUF + 64, sizeof(rin)), &rin, sizeof(rin));
    struct seg s[2 + 1 + 16] = {
        {BUF, sizeof(h), false}, {BUF + 64, sizeof(rin), false}, {BUF + 0x8000, 16, true}};
    for (unsigned i = 0; i < 16; i++)
        s[3 + i] = (struct seg){PAGES + (15 - i) * 0x2000u, 4096, true}; /* out of order, gaps between */
    offer(1, s, 19, true);
    CHECK_EQ(used(1), 16 + 65536);
    bool same = true;
    for (unsigned i = 0; i < 16; i++)
        same &= memcmp(gp(PAGES + (15 - i) * 0x2000u, 4096), content + i * 4096, 4096) == 0;
    CHECK(same);
    /* FORGET on the hiprio queue: no reply, nothing written. */
    struct fuse_in_header fh = {
        .len = sizeof(fh) + 8, .opcode = FUSE_FORGET, .unique = 0, .nodeid = e.nodeid};
    uint64_t one = 1;
    memcpy(gp(BUF + 0x4000, sizeof(fh)), &fh, sizeof(fh));
    memcpy(gp(BUF + 0x4000 + sizeof(fh), 8), &one, 8);
    struct seg f[1] = {{BUF + 0x4000, sizeof(fh) + 8, false}};
    offer(0, f, 1, false);
    CHECK_EQ(used(0), 0);
    /* The open file keeps the node; after RELEASE it is gone. */
    struct fuse_release_in rel = {.fh = oout.fh};
    CHECK_EQ(request(FUSE_RELEASE, e.nodeid, &rel, sizeof(rel), 0, &oh, NULL), 16);
    CHECK_EQ(request(FUSE_GETATTR, e.nodeid, &(struct fuse_getattr_in){0}, 16, sizeof(struct fuse_attr_out),
                     &oh, NULL),
             16);
    CHECK_EQ(oh.error, -ESTALE);
}

static void test_parked_lock(void)
{
    setup_queues();
    init_session();
    char path[128];
    snprintf(path, sizeof(path), "%s/locked", dir);
    int hostfd = open(path, O_CREAT | O_RDWR, 0644);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    CHECK_EQ(fcntl(hostfd, F_OFD_SETLK, &fl), 0); /* a host process holds the lock */
    struct fuse_entry_out e;
    struct fuse_out_header oh;
    CHECK_EQ(request(FUSE_LOOKUP, 1, "locked", 7, sizeof(e), &oh, &e), 16 + (int)sizeof(e));
    struct fuse_open_in oin = {.flags = O_RDWR};
    struct fuse_open_out oout;
    CHECK_EQ(request(FUSE_OPEN, e.nodeid, &oin, sizeof(oin), sizeof(oout), &oh, &oout),
             16 + (int)sizeof(oout));
    struct fuse_lk_in lk = {.fh = oout.fh, .owner = 7, .lk = {.start = 0, .end = INT64_MAX, .type = F_WRLCK}};
    req_base = BUF + 0x40000; /* its own buffers: the driver does not reuse a request's before its answer */
    CHECK_EQ(request(FUSE_SETLKW, e.nodeid, &lk, sizeof(lk), 0, &oh, NULL), -1); /* waiting, not answered */
    req_base = BUF;
    CHECK_EQ(fs_dev_retry(d, true), 1);
    CHECK_EQ(used(1), -1);
    /* Other requests go on meanwhile. */
    struct fuse_attr_out a;
    CHECK_EQ(request(FUSE_GETATTR, e.nodeid, &(struct fuse_getattr_in){0}, 16, sizeof(a), &oh, &a),
             16 + (int)sizeof(a));
    close(hostfd); /* the host lets go */
    CHECK_EQ(fs_dev_retry(d, true), 0);
    CHECK_EQ(used(1), 16);
    memcpy(&oh, gp(BUF + 0x40000 + 0x8000, 16), 16);
    CHECK_EQ(oh.error, 0);
}

static void test_hostile_chains(void)
{
    setup_queues();
    init_session();
    uint64_t malformed = vd->stats.malformed;
    /* 2000 segments: no FUSE request has that many; returned empty, counted, the device keeps going. */
    static struct seg s[2000];
    struct fuse_in_header h = {.len = sizeof(h), .opcode = FUSE_STATFS, .unique = ++unique, .nodeid = 1};
    memcpy(gp(BUF, sizeof(h)), &h, sizeof(h));
    s[0] = (struct seg){BUF, sizeof(h), false};
    for (unsigned i = 1; i < 2000; i++)
        s[i] = (struct seg){PAGES, 8, true};
    offer(1, s, 2000, true);
    CHECK_EQ(used(1), 0);
    CHECK_EQ(vd->stats.malformed, malformed + 1);
    CHECK(!vd->broken);
    struct fuse_statfs_out sf;
    struct fuse_out_header oh;
    CHECK_EQ(request(FUSE_STATFS, 1, NULL, 0, sizeof(sf), &oh, &sf), 16 + (int)sizeof(sf));
    /* A corrupt ring (more available than the ring holds): the device breaks, the process does not. */
    uint16_t *a = gp(AVAIL(1), 6 + 2 * QSIZE);
    __atomic_store_n(&a[1], (uint16_t)(a[1] + 5000), __ATOMIC_RELEASE);
    pthread_mutex_lock(&vd->lock);
    vd->ops->queue_notify(vd, 1);
    pthread_mutex_unlock(&vd->lock);
    CHECK(vd->broken);
    CHECK(vd->status & VIRTIO_STATUS_NEEDS_RESET);
    /* The driver resets the device: a new session works. */
    pthread_mutex_lock(&vd->lock);
    virtio_dev_reset(vd);
    pthread_mutex_unlock(&vd->lock);
    setup_queues();
    init_session();
    CHECK_EQ(request(FUSE_STATFS, 1, NULL, 0, sizeof(sf), &oh, &sf), 16 + (int)sizeof(sf));
}

int main(void)
{
    if (!mkdtemp(dir) || gmem_init(&m, MEM, MEM) < 0)
        return 1;
    struct fs_share sh;
    fs_share_defaults(&sh, "hostshare", dir);
    if (fs_dev_new(&m, &sh, &d) < 0)
        return 1;
    vd = fs_dev_vdev(d);
    RUN(test_config_and_init);
    RUN(test_lookup_read_forget);
    RUN(test_parked_lock);
    RUN(test_hostile_chains);
    fs_dev_free(d);
    gmem_free(&m);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return CHECK_DONE();
}
