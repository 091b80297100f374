/* See blk_image.h. */
#include "blk_image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"

int blk_image_open(const char *path, bool readonly, uint64_t *sectors, struct stat *st, char *err,
                   size_t errlen)
{
    _cleanup_close_ int fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open disk image %s%s: %s", path, readonly ? "" : " for writing",
                 strerror(e));
        return -e;
    }
    const char *why = NULL;
    int r = -EINVAL;
    if (fstat(fd, st) < 0) {
        r = -errno;
        why = strerror(errno);
    } else if (!S_ISREG(st->st_mode)) {
        why = "not a regular file";
    } else if (st->st_size == 0) {
        why = "empty";
    } else if (st->st_size % BLK_SECTOR) {
        why = "size is not a multiple of 512 bytes";
    }
    if (why) {
        snprintf(err, errlen, "disk image %s: %s", path, why);
        return r;
    }
    *sectors = (uint64_t)st->st_size / BLK_SECTOR;
    return TAKE_FD(fd);
}
