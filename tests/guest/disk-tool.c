/* Disk throughput, the same binary in the guest (on a virtio-blk disk, O_DIRECT: the device path, not the
 * guest's page cache) and on the host (on the image file, through the page cache, as lsl-vmm serves it): the
 * disk benchmark's two sides (bench/blkbench.py) and the crash test's writer (tests/vm/run.sh).
 *   seq-write PATH MIB     MIB of 1 MiB writes, then fdatasync; "seq-write MIB MiB S s X MB/s"
 *   seq-read PATH MIB      MIB of 1 MiB reads; "seq-read MIB MiB S s X MB/s"
 *   rand read|write PATH QD SECONDS SPAN_MIB
 *                          4 KiB at random aligned offsets in the first SPAN_MIB, QD threads each with one
 *                          request out, for SECONDS; "rand-read qd QD N ops S s IOPS iops X MB/s"
 *   stamp PATH N           writes block i (4 KiB, i < N) with its number and fdatasyncs after each; prints
 *                          "stamped i" once block i is on stable storage
 *   check PATH N           "stamps N/N" when blocks 0..N-1 hold their numbers (exit 1 otherwise)
 * A block device is used with O_DIRECT, a file through the page cache. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TOOL_NAME "disk-tool"
#include "tool.h"

#define MIB (1u << 20)
#define BLK 4096u

/* A block device with O_DIRECT (the guest's side: the device, not its page cache); a file through the page
 * cache (the host's side: as lsl-vmm reads and writes the image). */
static int open_disk(const char *path, int flags)
{
    struct stat st;
    bool dev = stat(path, &st) == 0 && S_ISBLK(st.st_mode);
    return open(path, flags | (dev ? O_DIRECT : 0) | O_CLOEXEC, 0600);
}

static void *aligned(size_t len)
{
    void *p = NULL;
    if (posix_memalign(&p, BLK, len) != 0)
        return NULL;
    memset(p, 0x5a, len);
    return p;
}

static int seq(const char *path, unsigned mib, int write)
{
    int fd = open_disk(path, write ? O_WRONLY | O_CREAT : O_RDONLY);
    uint8_t *buf = aligned(MIB);
    if (fd < 0 || !buf)
        return die(path);
    double t0 = now();
    for (unsigned i = 0; i < mib; i++) {
        ssize_t n = write ? pwrite(fd, buf, MIB, (off_t)i * MIB) : pread(fd, buf, MIB, (off_t)i * MIB);
        if (n != (ssize_t)MIB)
            return die(write ? "write" : "read");
    }
    if (write && fdatasync(fd) < 0)
        return die("fdatasync");
    double s = now() - t0;
    printf("seq-%s %u MiB %.3f s %.1f MB/s\n", write ? "write" : "read", mib, s, mib * (double)MIB / 1e6 / s);
    return 0;
}

struct rand_job {
    int fd, write;
    uint64_t blocks, ops;
    double until;
    unsigned seed;
    int err;
};

static void *rand_worker(void *opaque)
{
    struct rand_job *j = opaque;
    uint8_t *buf = aligned(BLK);
    if (!buf) {
        j->err = ENOMEM;
        return NULL;
    }
    while (now() < j->until) {
        for (int k = 0; k < 16; k++) { /* the clock every 16 requests */
            off_t off = (off_t)(rand_r(&j->seed) % j->blocks) * BLK;
            ssize_t n = j->write ? pwrite(j->fd, buf, BLK, off) : pread(j->fd, buf, BLK, off);
            if (n != (ssize_t)BLK) {
                j->err = n < 0 ? errno : EIO;
                free(buf);
                return NULL;
            }
            j->ops++;
        }
    }
    free(buf);
    return NULL;
}

static int rand_io(const char *how, const char *path, unsigned qd, double seconds, unsigned span_mib)
{
    int write = strcmp(how, "write") == 0;
    int fd = open_disk(path, write ? O_RDWR : O_RDONLY);
    if (fd < 0)
        return die(path);
    if (qd < 1 || qd > 256)
        qd = 1;
    struct rand_job jobs[256];
    pthread_t t[256];
    double t0 = now();
    for (unsigned i = 0; i < qd; i++) {
        jobs[i] = (struct rand_job){.fd = fd,
                                    .write = write,
                                    .blocks = (uint64_t)span_mib * MIB / BLK,
                                    .until = t0 + seconds,
                                    .seed = 1234 + i};
        if (pthread_create(&t[i], NULL, rand_worker, &jobs[i]) != 0)
            return die("thread");
    }
    uint64_t ops = 0;
    int err = 0;
    for (unsigned i = 0; i < qd; i++) {
        pthread_join(t[i], NULL);
        ops += jobs[i].ops;
        err = err ? err : jobs[i].err;
    }
    double s = now() - t0;
    if (err) {
        errno = err;
        return die("random I/O");
    }
    printf("rand-%s qd %u %llu ops %.3f s %.0f iops %.1f MB/s\n", how, qd, (unsigned long long)ops, s,
           (double)ops / s, (double)ops * BLK / 1e6 / s);
    return 0;
}

static int stamp(const char *path, unsigned n, int check)
{
    int fd = open_disk(path, check ? O_RDONLY : O_RDWR);
    uint8_t *buf = aligned(BLK);
    if (fd < 0 || !buf)
        return die(path);
    unsigned good = 0;
    for (unsigned i = 0; i < n; i++) {
        if (check) {
            uint32_t v;
            if (pread(fd, buf, BLK, (off_t)i * BLK) != (ssize_t)BLK)
                return die("read");
            memcpy(&v, buf, 4);
            good += v == i + 1;
            continue;
        }
        uint32_t v = i + 1;
        memset(buf, (int)(i & 0xff), BLK);
        memcpy(buf, &v, 4);
        if (pwrite(fd, buf, BLK, (off_t)i * BLK) != (ssize_t)BLK || fdatasync(fd) < 0)
            return die("write");
        printf("stamped %u\n", i);
        fflush(stdout);
    }
    if (check) {
        printf("stamps %u/%u\n", good, n);
        return good == n ? 0 : 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 4 && strcmp(argv[1], "seq-write") == 0)
        return seq(argv[2], (unsigned)atoi(argv[3]), 1);
    if (argc == 4 && strcmp(argv[1], "seq-read") == 0)
        return seq(argv[2], (unsigned)atoi(argv[3]), 0);
    if (argc == 7 && strcmp(argv[1], "rand") == 0)
        return rand_io(argv[2], argv[3], (unsigned)atoi(argv[4]), atof(argv[5]), (unsigned)atoi(argv[6]));
    if (argc == 4 && (strcmp(argv[1], "stamp") == 0 || strcmp(argv[1], "check") == 0))
        return stamp(argv[2], (unsigned)atoi(argv[3]), argv[1][0] == 'c');
    fprintf(stderr,
            "usage: disk-tool seq-write|seq-read PATH MIB | rand read|write PATH QD SECONDS SPAN_MIB | "
            "stamp|check PATH N\n");
    return 2;
}
