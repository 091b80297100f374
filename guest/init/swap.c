/* swap.h. The area is made anew at every boot: what an earlier VM swapped out means nothing now, and the
 * host truncated the file before the start, so nothing of it is read back either. */
#include "swap.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/swap.h>
#include <unistd.h>

/* union swap_header (include/linux/swap.h): after 1024 boot bytes, version, last_page, nr_badpages, a
 * uuid and a label; the signature closes the first page. */
#define HDR_VERSION    1024
#define HDR_LAST_PAGE  1028
#define HDR_NR_BAD     1032
#define SWAP_MAGIC     "SWAPSPACE2"
#define SWAP_MIN_PAGES 10

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int lsl_swap_header(uint8_t *page, uint64_t size)
{
    uint64_t pages = size / LSL_SWAP_PAGE;
    if (pages < SWAP_MIN_PAGES)
        return -EINVAL;
    if (pages > UINT32_MAX) /* the header counts in 32 bits: the rest stays unused */
        pages = UINT32_MAX;
    memset(page, 0, LSL_SWAP_PAGE);
    put_le32(page + HDR_VERSION, 1);
    put_le32(page + HDR_LAST_PAGE, (uint32_t)(pages - 1));
    put_le32(page + HDR_NR_BAD, 0);
    memcpy(page + LSL_SWAP_PAGE - strlen(SWAP_MAGIC), SWAP_MAGIC, strlen(SWAP_MAGIC));
    return 0;
}

int lsl_swap_start(const char *dev)
{
    uint8_t page[LSL_SWAP_PAGE];
    int fd = open(dev, O_RDWR | O_CLOEXEC | O_EXCL);
    if (fd < 0)
        return lsl_log_errno(errno, "swap: cannot open %s: %m", dev);
    off_t size = lseek(fd, 0, SEEK_END); /* a block device's size */
    int r = size < 0 ? -errno : lsl_swap_header(page, (uint64_t)size);
    if (r == 0) {
        ssize_t n = pwrite(fd, page, sizeof(page), 0);
        r = n < 0 ? -errno : n != (ssize_t)sizeof(page) ? -EIO : fsync(fd) < 0 ? -errno : 0;
    }
    close(fd);
    if (r < 0)
        return lsl_log_errno(r, "swap: cannot make %s a swap area: %m", dev);
    /* Linux frees swap by cluster, and discards what it freed, only on a device it takes for an SSD;
     * virtio-blk says nothing and counts as rotational. The host file is sparse: an SSD it is. */
    const char *name = strrchr(dev, '/');
    char path[96];
    snprintf(path, sizeof(path), "/sys/block/%.32s/queue/rotational", name ? name + 1 : dev);
    if ((fd = open(path, O_WRONLY | O_CLOEXEC)) >= 0) {
        (void)!write(fd, "0", 1);
        close(fd);
    }
    if (swapon(dev, SWAP_FLAG_DISCARD) < 0)
        return lsl_log_errno(errno, "swap: swapon %s: %m", dev);
    return 0;
}
