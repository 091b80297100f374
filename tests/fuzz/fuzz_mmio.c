/* Fuzz target: the virtio-mmio register window (vmm/devices/virtio_mmio.c) as a hostile guest drives it,
 * with accesses of every width (1-8 bytes) at any offset, in front of a real device (virtio-blk on a small
 * image, or virtio-vsock) so feature negotiation, queue setup, resets and kicks run the device's queue
 * processing on fake guest RAM. Every read fills exactly its len bytes (read twice over different guard
 * patterns: no byte inside left alone, none outside touched), every write reads exactly len bytes (an
 * exact-size heap buffer, so ASan sees any byte past it), and after every step the transport's promises hold:
 * a ready queue lies inside guest RAM with a size the device allows, FEATURES_OK only with offered features.
 *
 * Input: byte 0 picks the device (even: blk, odd: vsock), byte 1 the number of steps; then the steps, 12
 * bytes each (struct step); what is left is guest RAM from GPA 0 (rings, descriptors, requests). */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/blk.h"
#include "devices/virtio_mmio.h"
#include "devices/virtio_mmio_regs.h"
#include "devices/vsock.h"
#include "fuzz.h"

#define RAM_SIZE   (64u << 10)
#define WINDOW     0x1000u
#define IMAGE_SIZE (64u << 10)
#define GUARD      12

struct __attribute__((packed)) step {
    /* Bits 0-2: access width - 1; bit 3: write; bits 4-7: what the step does (enum kind). */
    uint8_t kind;
    uint8_t arg;
    uint16_t off;
    uint64_t value;
};
_Static_assert(sizeof(struct step) == 12, "steps are 12 bytes");

enum kind {
    KIND_POKE = 10,  /* guest RAM at off gets value's 8 bytes (a driver filling rings between kicks) */
    KIND_QUEUE = 11, /* queue arg: size and ring addresses from value, then QueueReady */
    KIND_NEGOTIATE =
        12,           /* ACKNOWLEDGE, DRIVER, the offered features masked by value, FEATURES_OK, DRIVER_OK */
    KIND_NOTIFY = 13, /* QueueNotify of queue arg, then InterruptACK of what is pending */
    KIND_RESET = 14,  /* Status 0 */
    KIND_POLL = 15,   /* vsock: the host side's turn (its epoll set); blk: nothing */
    /* 0-9: one access at off % WINDOW, as the step's kind bits say */
};

static uint8_t *ram;

/* The vsock device's socket, in a directory of its own for one input: nothing may outlive the input, as
 * make check's replay ends without exit handlers. The blk image is a memfd. */
static char dir[64], sock[96];

static void sock_dir_make(void)
{
    snprintf(dir, sizeof(dir), "/tmp/lsl-fuzz-mmio-XXXXXX");
    FUZZ_CHECK(mkdtemp(dir) != NULL);
    snprintf(sock, sizeof(sock), "%s/v", dir);
}

static void access_checked(struct virtio_mmio *t, uint64_t off, uint32_t len, bool write, uint64_t value)
{
    if (write) {
        uint8_t *exact = malloc(len);
        FUZZ_CHECK(exact != NULL);
        memcpy(exact, &value, len);
        virtio_mmio_access(t, off, exact, len, true);
        FUZZ_CHECK(memcmp(exact, &value, len) == 0); /* the guest's data is read, never written */
        free(exact);
        return;
    }
    /* Reads have no side effects, so two reads give the same bytes: over two guard patterns, a byte the
     * access left alone inside len shows as a difference, one it wrote outside as a broken guard. */
    uint8_t a[GUARD + 8 + GUARD], b[sizeof(a)];
    memset(a, 0xa5, sizeof(a));
    memset(b, 0x5a, sizeof(b));
    virtio_mmio_access(t, off, a + GUARD, len, false);
    uint8_t *exact = malloc(len);
    FUZZ_CHECK(exact != NULL);
    memcpy(exact, b + GUARD, len);
    virtio_mmio_access(t, off, exact, len, false);
    memcpy(b + GUARD, exact, len);
    free(exact);
    for (size_t i = 0; i < sizeof(a); i++) {
        if (i >= GUARD && i < GUARD + len)
            FUZZ_CHECK(a[i] == b[i]);
        else
            FUZZ_CHECK(a[i] == 0xa5 && b[i] == 0x5a);
    }
    /* Widths the spec does not allow read as zeroes; so does anything past the registers. */
    bool reg_ok = off < REG_CONFIG && len == 4 && off % 4 == 0;
    bool cfg_ok = off >= REG_CONFIG && (len == 1 || len == 2 || len == 4 || len == 8) && off % len == 0;
    if (!reg_ok && !cfg_ok)
        for (uint32_t i = 0; i < len; i++)
            FUZZ_CHECK(a[GUARD + i] == 0);
    if (off == 0 && reg_ok)
        FUZZ_CHECK(memcmp(a + GUARD, "virt", 4) == 0);
}

static void write32(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
    access_checked(t, off, 4, true, v);
}

static uint32_t read32(struct virtio_mmio *t, uint64_t off)
{
    uint32_t v;
    virtio_mmio_access(t, off, (uint8_t *)&v, 4, false);
    return v;
}

static void setup_queue(struct virtio_mmio *t, const struct step *s)
{
    write32(t, REG_QUEUE_SEL, s->arg % 4);
    write32(t, REG_QUEUE_NUM, (uint32_t)(s->value >> 48) & 0x7ff);
    /* Ring addresses inside RAM mostly (16-bit offsets), wild when bit 47 is set. */
    uint32_t high = s->value & (1ull << 47) ? 0xffffffffu : 0;
    const uint32_t regs[3] = {REG_QUEUE_DESC_LOW, REG_QUEUE_DRIVER_LOW, REG_QUEUE_DEVICE_LOW};
    for (unsigned i = 0; i < 3; i++) {
        write32(t, regs[i], (uint32_t)(s->value >> (16 * i)) & 0xffff);
        write32(t, regs[i] + 4, high);
    }
    write32(t, REG_QUEUE_READY, 1);
}

static void negotiate(struct virtio_mmio *t, const struct step *s)
{
    write32(t, REG_STATUS, 1);
    write32(t, REG_STATUS, 1 | 2);
    for (uint32_t sel = 0; sel < 2; sel++) {
        write32(t, REG_DEVICE_FEATURES_SEL, sel);
        uint32_t offered = read32(t, REG_DEVICE_FEATURES);
        write32(t, REG_DRIVER_FEATURES_SEL, sel);
        write32(t, REG_DRIVER_FEATURES, offered & ~(uint32_t)(s->value >> (32 * sel)));
    }
    write32(t, REG_STATUS, 1 | 2 | 8);
    write32(t, REG_STATUS, 1 | 2 | 8 | 4 | (s->arg & 0x80 ? 0x40 : 0));
}

static bool inside(const void *p, size_t len)
{
    const uint8_t *b = p;
    return b >= ram && b <= ram + RAM_SIZE && len <= (size_t)(ram + RAM_SIZE - b);
}

/* What the transport promises the device and the guest, whatever came before. */
static void check_state(struct virtio_dev *vdev)
{
    pthread_mutex_lock(&vdev->lock);
    if (vdev->status & 8) {
        FUZZ_CHECK((vdev->driver_features & ~virtio_dev_features(vdev)) == 0);
        FUZZ_CHECK(vdev->driver_features & (1ull << 32));
    }
    for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
        const struct virtq *vq = &vdev->vq[q];
        if (q >= vdev->ops->num_queues) {
            FUZZ_CHECK(!vq->ready);
            continue;
        }
        if (!vq->ready)
            continue;
        FUZZ_CHECK(vq->size && vq->size <= vdev->ops->queue_max && !(vq->size & (vq->size - 1)));
        FUZZ_CHECK(inside(vq->desc, 16ull * vq->size));
        FUZZ_CHECK(inside(vq->avail, 6ull + 2ull * vq->size));
        FUZZ_CHECK(inside(vq->used, 6ull + 8ull * vq->size));
    }
    pthread_mutex_unlock(&vdev->lock);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    bool vsock = data[0] & 1;
    size_t nsteps = data[1];
    data += 2, size -= 2;
    if (nsteps > size / sizeof(struct step))
        nsteps = size / sizeof(struct step);
    const uint8_t *steps = data;
    data += nsteps * sizeof(struct step), size -= nsteps * sizeof(struct step);

    ram = calloc(1, RAM_SIZE);
    FUZZ_CHECK(ram != NULL);
    memcpy(ram, data, size < RAM_SIZE ? size : RAM_SIZE);
    struct gmem m = {.regions = {{.gpa = 0, .size = RAM_SIZE, .host = ram}},
                     .nregions = 1,
                     .base = ram,
                     .total = RAM_SIZE};

    struct blk *b = NULL;
    struct vsock *v = NULL;
    struct virtio_dev *vdev;
    if (vsock) {
        sock_dir_make();
        FUZZ_CHECK(vsock_new(&m, 3, sock, &v) == 0);
        vdev = vsock_vdev(v);
    } else {
        int fd = memfd_create("lsl-fuzz-mmio", MFD_CLOEXEC);
        FUZZ_CHECK(fd >= 0 && ftruncate(fd, IMAGE_SIZE) == 0);
        b = blk_new(&m, false);
        FUZZ_CHECK(b != NULL);
        blk_insert(b, "fuzz", fd, IMAGE_SIZE / 512);
        vdev = blk_vdev(b);
    }
    struct virtio_mmio *t = virtio_mmio_new(vdev);
    FUZZ_CHECK(t != NULL);

    for (size_t i = 0; i < nsteps; i++) {
        struct step s;
        memcpy(&s, steps + i * sizeof(s), sizeof(s));
        switch (s.kind >> 4) {
        case KIND_POKE:
            memcpy(ram + s.off % (RAM_SIZE - 7), &s.value, 8);
            break;
        case KIND_QUEUE:
            setup_queue(t, &s);
            break;
        case KIND_NEGOTIATE:
            negotiate(t, &s);
            break;
        case KIND_NOTIFY:
            write32(t, REG_QUEUE_NOTIFY, s.arg % 4);
            write32(t, REG_INTERRUPT_ACK, read32(t, 0x060));
            break;
        case KIND_RESET:
            write32(t, REG_STATUS, 0);
            break;
        case KIND_POLL:
            if (v)
                vsock_poll(v);
            break;
        default:
            access_checked(t, s.off % WINDOW, (s.kind & 7) + 1, s.kind & 8, s.value);
            break;
        }
        check_state(vdev);
    }

    virtio_mmio_free(t);
    if (v) {
        vsock_free(v); /* unlinks its socket */
        FUZZ_CHECK(rmdir(dir) == 0);
    } else {
        blk_free(b);
    }
    free(ram);
    ram = NULL;
    return 0;
}
