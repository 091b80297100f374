/* The virtio-mmio register window against every access width and offset a guest can issue: each access
 * fills or reads exactly its own len bytes (guard-filled buffers here, exact-size heap buffers for ASan),
 * the 64-bit config fields read whole, and widths the spec does not allow read as zero and are counted. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "devices/virtio_mmio.h"
#include "devices/virtio_mmio_regs.h"
#include "devices/vsock.h"

#define WINDOW      0x1000
#define GUARD       0xa5
#define CONFIG_SIZE 5

static struct gmem m;

/* A device whose config space (5 bytes) ends in the middle of a 32-bit and a 64-bit access. */
static const uint8_t fake_config[CONFIG_SIZE] = {'A', 'B', 'C', 'D', 'E'};

static const void *fake_config_space(struct virtio_dev *vdev, uint32_t *len)
{
    (void)vdev;
    *len = sizeof(fake_config);
    return fake_config;
}

static void fake_notify(struct virtio_dev *vdev, uint16_t q)
{
    (void)vdev, (void)q;
}

static const struct virtio_dev_ops fake_ops = {
    .name = "fake",
    .device_id = 1,
    .num_queues = 1,
    .queue_max = 8,
    .config = fake_config_space,
    .queue_notify = fake_notify,
};

static uint64_t read_n(struct virtio_mmio *t, uint64_t off, uint32_t len)
{
    uint8_t data[8];
    memset(data, GUARD, sizeof(data));
    virtio_mmio_access(t, off, data, len, false);
    uint64_t v = 0;
    memcpy(&v, data, len);
    for (uint32_t i = len; i < sizeof(data); i++)
        CHECK_EQ(data[i], GUARD);
    return v;
}

static void write32(struct virtio_mmio *t, uint64_t off, uint32_t v, uint32_t len)
{
    uint8_t data[8] = {0};
    memcpy(data, &v, sizeof(v));
    virtio_mmio_access(t, off, data, len, true);
}

static void test_vsock_cid_readq(void)
{
    char dir[] = "/tmp/lsl-mmio-test.XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/v", dir);
    /* A CID with every byte distinct and the high half set: a 4-byte copy cannot pass for it. */
    const uint64_t cid = 0x1122334455667788ull;
    struct vsock *v;
    CHECK_EQ(vsock_new(&m, cid, path, &v), 0);
    struct virtio_dev *vd = vsock_vdev(v);
    struct virtio_mmio *t = virtio_mmio_new(vd);
    CHECK(t != NULL);
    CHECK(read_n(t, REG_CONFIG, 8) == cid); /* readq: the whole guest_cid */
    CHECK_EQ(read_n(t, REG_CONFIG, 4), 0x55667788u);
    CHECK_EQ(read_n(t, REG_CONFIG + 4, 4), 0x11223344u);
    CHECK_EQ(read_n(t, REG_CONFIG + 6, 2), 0x1122u);
    CHECK_EQ(read_n(t, REG_CONFIG + 7, 1), 0x11u);
    CHECK_EQ(read_n(t, REG_CONFIG + 8, 8), 0); /* past the config: zeroes */
    CHECK_EQ(vd->stats.malformed, 0);
    CHECK_EQ(read_n(t, REG_CONFIG + 4, 8), 0); /* a misaligned readq */
    CHECK_EQ(vd->stats.malformed, 1);
    virtio_mmio_free(t);
    vsock_free(v);
    rmdir(dir);
}

static bool config_width_ok(uint64_t off, uint32_t len)
{
    return (len == 1 || len == 2 || len == 4 || len == 8) && off % len == 0;
}

/* Every offset of the window (1 KiB of it: registers, config and beyond; and its last bytes) at every
 * width: exactly len bytes are written, and they are the value the spec gives or zeroes. */
static void test_every_width_and_offset(void)
{
    struct virtio_dev vdev;
    virtio_dev_init(&vdev, &fake_ops, NULL, &m);
    struct virtio_mmio *t = virtio_mmio_new(&vdev);
    CHECK(t != NULL);
    uint64_t malformed = 0;
    for (uint64_t off = 0; off < WINDOW; off++) {
        if (off == 0x400)
            off = WINDOW - 16;
        for (uint32_t len = 1; len <= 8; len++) {
            uint8_t buf[32];
            memset(buf, GUARD, sizeof(buf));
            uint8_t *data = buf + 12;
            virtio_mmio_access(t, off, data, len, false);
            bool guard_ok = true;
            for (unsigned i = 0; i < sizeof(buf); i++)
                if ((i < 12 || i >= 12 + len) && buf[i] != GUARD)
                    guard_ok = false;
            if (!guard_ok)
                fprintf(stderr, "  read of %u bytes at 0x%llx wrote outside its buffer\n", len,
                        (unsigned long long)off);
            CHECK(guard_ok);
            uint8_t want[8] = {0};
            bool valid;
            if (off < REG_CONFIG) {
                valid = len == 4 && off % 4 == 0;
                if (valid && off == REG_MAGIC)
                    memcpy(want, "virt", 4);
            } else {
                valid = config_width_ok(off, len);
                for (uint32_t i = 0; valid && i < len; i++)
                    if (off - REG_CONFIG + i < CONFIG_SIZE)
                        want[i] = fake_config[off - REG_CONFIG + i];
            }
            if (off < REG_CONFIG && valid && off != REG_MAGIC)
                memcpy(want, data, len); /* other registers: their value is tested elsewhere */
            if (memcmp(data, want, len) != 0)
                fprintf(stderr, "  read of %u bytes at 0x%llx: wrong value\n", len, (unsigned long long)off);
            CHECK(memcmp(data, want, len) == 0);
            malformed += !valid;
            /* The same access from an exact-size heap buffer: ASan sees any byte outside it. */
            uint8_t *exact = malloc(len);
            virtio_mmio_access(t, off, exact, len, false);
            free(exact);
            malformed += !valid;
        }
    }
    CHECK_EQ(vdev.stats.malformed, malformed);
    virtio_mmio_free(t);
    virtio_dev_uninit(&vdev);
}

/* Writes read exactly len bytes (ASan: exact-size buffers) and only 32-bit aligned ones reach a register. */
static void test_write_widths(void)
{
    struct virtio_dev vdev;
    virtio_dev_init(&vdev, &fake_ops, NULL, &m);
    struct virtio_mmio *t = virtio_mmio_new(&vdev);
    for (uint64_t off = 0; off < 0x200; off++) {
        for (uint32_t len = 1; len <= 8; len++) {
            if (off == REG_STATUS || off == 0x064 /* InterruptACK */)
                continue; /* written below, on purpose */
            uint8_t *exact = malloc(len);
            memset(exact, 0, len);
            virtio_mmio_access(t, off, exact, len, true);
            free(exact);
        }
    }
    vdev.stats.malformed = 0;
    write32(t, REG_STATUS, 1, 2); /* a 16-bit write to a 32-bit register: dropped */
    CHECK_EQ(vdev.status, 0);
    CHECK_EQ(vdev.stats.malformed, 1);
    write32(t, REG_STATUS, 1, 8);
    CHECK_EQ(vdev.status, 0);
    write32(t, REG_STATUS + 1, 1, 4); /* misaligned */
    CHECK_EQ(vdev.status, 0);
    CHECK_EQ(vdev.stats.malformed, 3);
    write32(t, REG_STATUS, 1, 4);
    CHECK_EQ(vdev.status, 1);
    CHECK_EQ(read_n(t, REG_STATUS, 4), 1);
    CHECK_EQ(read_n(t, REG_STATUS, 2), 0); /* the same register read 16 bits wide: zeroes */
    CHECK_EQ(read_n(t, REG_MAGIC, 8), 0);
    CHECK_EQ(vdev.stats.malformed, 5);
    write32(t, REG_CONFIG, 0x41414141, 4); /* config is read-only here: ignored, but a valid access */
    CHECK_EQ(vdev.stats.malformed, 5);
    CHECK_EQ(read_n(t, REG_CONFIG, 4), 0x44434241u);
    write32(t, REG_CONFIG + 1, 0, 2); /* misaligned config write */
    CHECK_EQ(vdev.stats.malformed, 6);
    virtio_mmio_free(t);
    virtio_dev_uninit(&vdev);
}

/* Accesses that straddle the end of the config space return its last bytes and zeroes after them. */
static void test_config_straddle(void)
{
    struct virtio_dev vdev;
    virtio_dev_init(&vdev, &fake_ops, NULL, &m);
    struct virtio_mmio *t = virtio_mmio_new(&vdev);
    CHECK(read_n(t, REG_CONFIG, 8) == 0x4544434241ull);
    CHECK_EQ(read_n(t, REG_CONFIG + 4, 4), 'E');
    CHECK_EQ(read_n(t, REG_CONFIG + 4, 2), 'E');
    CHECK_EQ(read_n(t, REG_CONFIG + 5, 1), 0);
    CHECK_EQ(read_n(t, REG_CONFIG + 8, 8), 0);
    CHECK_EQ(read_n(t, WINDOW - 8, 8), 0);
    CHECK_EQ(vdev.stats.malformed, 0);
    virtio_mmio_free(t);
    virtio_dev_uninit(&vdev);
}

/* Shared memory regions (4.2.2, SHMSel..SHMBaseHigh): all ones for one the device lacks, which is how a
 * driver tells (a zero length would be a region at 0); region 0's base and length when it has one. */
static void test_shm_region(void)
{
    struct virtio_dev vdev;
    virtio_dev_init(&vdev, &fake_ops, NULL, &m);
    struct virtio_mmio *t = virtio_mmio_new(&vdev);
    CHECK(t != NULL);
    write32(t, REG_SHM_SEL, 0, 4);
    CHECK_EQ(read_n(t, REG_SHM_LEN_LOW, 4), 0xffffffffu);
    CHECK_EQ(read_n(t, REG_SHM_LEN_HIGH, 4), 0xffffffffu);
    virtio_mmio_free(t);
    /* The region is the device's before its transport is made (fs.c's add_window, then attach). */
    vdev.shm_gpa = 0x540000000ull;
    vdev.shm_len = 0x110000000ull;
    t = virtio_mmio_new(&vdev);
    CHECK(t != NULL);
    write32(t, REG_SHM_SEL, 0, 4);
    CHECK_EQ(read_n(t, REG_SHM_LEN_LOW, 4), 0x10000000u);
    CHECK_EQ(read_n(t, REG_SHM_LEN_HIGH, 4), 1);
    CHECK_EQ(read_n(t, REG_SHM_BASE_LOW, 4), 0x40000000u);
    CHECK_EQ(read_n(t, REG_SHM_BASE_HIGH, 4), 5);
    write32(t, REG_SHM_SEL, 1, 4); /* only region 0 (virtio-fs's cache) exists */
    CHECK_EQ(read_n(t, REG_SHM_LEN_LOW, 4), 0xffffffffu);
    CHECK_EQ(read_n(t, REG_SHM_BASE_HIGH, 4), 0xffffffffu);
    CHECK_EQ(vdev.stats.malformed, 0);
    virtio_mmio_free(t);
    virtio_dev_uninit(&vdev);
}

/* What the driver reads is a page the transport keeps (KVM maps it read-only: reads do not exit), so every
 * change must reach it: the driver's writes (selectors, status), the device's config change (with the
 * generation) and break (NEEDS_RESET), interrupts raised and acknowledged, a reset. */
static uint32_t live_config[2];

static const void *live_config_space(struct virtio_dev *vdev, uint32_t *len)
{
    (void)vdev;
    *len = sizeof(live_config);
    return live_config;
}

static void test_reads_follow_the_device(void)
{
    struct virtio_dev_ops live_ops = fake_ops; /* with a config space the device changes */
    live_ops.config = live_config_space;
    struct virtio_dev vdev;
    virtio_dev_init(&vdev, &live_ops, NULL, &m);
    live_config[0] = 7;
    live_config[1] = 9;
    struct virtio_mmio *t = virtio_mmio_new(&vdev);
    CHECK(t != NULL);
    CHECK_EQ(read_n(t, REG_CONFIG, 8), 7 | (9ull << 32));
    CHECK_EQ(read_n(t, REG_QUEUE_NUM_MAX, 4), 8);
    write32(t, REG_QUEUE_SEL, 1, 4); /* no such queue */
    CHECK_EQ(read_n(t, REG_QUEUE_NUM_MAX, 4), 0);
    write32(t, REG_QUEUE_SEL, 0, 4);
    CHECK_EQ(read_n(t, REG_QUEUE_NUM_MAX, 4), 8);
    write32(t, REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 4);
    CHECK_EQ(read_n(t, REG_STATUS, 4), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);

    uint64_t gen = read_n(t, REG_CONFIG_GENERATION, 4);
    pthread_mutex_lock(&vdev.lock);
    live_config[1] = 11;
    virtio_dev_config_changed(&vdev);
    pthread_mutex_unlock(&vdev.lock);
    CHECK_EQ(read_n(t, REG_CONFIG + 4, 4), 11);
    CHECK(read_n(t, REG_CONFIG_GENERATION, 4) != gen);
    CHECK_EQ(read_n(t, REG_INTERRUPT_STATUS, 4), VIRTIO_INT_CONFIG); /* DRIVER is set: the driver is told */
    write32(t, REG_INTERRUPT_ACK, VIRTIO_INT_CONFIG, 4);
    CHECK_EQ(read_n(t, REG_INTERRUPT_STATUS, 4), 0);

    vdev.interrupt(&vdev, VIRTIO_INT_VRING);
    CHECK_EQ(read_n(t, REG_INTERRUPT_STATUS, 4), VIRTIO_INT_VRING);
    write32(t, REG_INTERRUPT_ACK, VIRTIO_INT_VRING, 4); /* (under KVM, an ioeventfd takes this one) */
    CHECK_EQ(read_n(t, REG_INTERRUPT_STATUS, 4), 0);

    pthread_mutex_lock(&vdev.lock);
    virtio_dev_break(&vdev, "a test");
    pthread_mutex_unlock(&vdev.lock);
    CHECK(read_n(t, REG_STATUS, 4) & VIRTIO_STATUS_NEEDS_RESET);
    vdev.interrupt(&vdev, VIRTIO_INT_VRING);
    write32(t, REG_STATUS, 0, 4); /* reset: status and InterruptStatus read zero again */
    CHECK_EQ(read_n(t, REG_STATUS, 4), 0);
    CHECK_EQ(read_n(t, REG_INTERRUPT_STATUS, 4), 0);
    CHECK_EQ(read_n(t, REG_CONFIG, 4), 7);
    virtio_mmio_free(t);
    virtio_dev_uninit(&vdev);
}

int main(void)
{
    if (gmem_init(&m, 1u << 20, 1ull << 32) < 0)
        return 1;
    RUN(test_vsock_cid_readq);
    RUN(test_every_width_and_offset);
    RUN(test_write_widths);
    RUN(test_config_straddle);
    RUN(test_shm_region);
    RUN(test_reads_follow_the_device);
    gmem_free(&m);
    return CHECK_DONE();
}
