/* See lock.h. flock() itself cannot time out: the lock is tried without blocking and tried again, at a
 * pace that costs nothing next to what the holder is doing (starting a VM, copying an image). */
#include "lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

#define RETRY_MS 20

int lsl_lock_take(const char *path, int timeout_s)
{
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    uint64_t deadline = now_ns() + (uint64_t)timeout_s * 1000000000ull;
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return fd;
        int e = errno;
        if (e != EWOULDBLOCK && e != EINTR) {
            close(fd);
            return -e;
        }
        if (now_ns() >= deadline) {
            close(fd);
            return -ETIMEDOUT;
        }
        struct timespec ts = {.tv_nsec = RETRY_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
}
