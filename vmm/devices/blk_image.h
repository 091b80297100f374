/* The one rule for a virtio-blk disk image, for --disk and for a disk slot alike. */
#ifndef LSL_BLK_IMAGE_H
#define LSL_BLK_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define BLK_SECTOR 512u

/* Opens path (read-only or read-write) as a disk image: a regular file of whole 512-byte sectors, at least
 * one. A partial last sector is refused rather than hidden: the guest could neither read nor write it.
 * Returns the fd (close-on-exec) with its size in sectors and its stat, or -errno with one line in err
 * naming the path. */
int blk_image_open(const char *path, bool readonly, uint64_t *sectors, struct stat *st, char *err,
                   size_t errlen);

#endif
