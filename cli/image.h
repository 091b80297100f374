/* A distribution's disk on the host: one sparse raw ext4 image, made and changed without root with
 * e2fsprogs (the guest only ever sees it through a virtio-blk slot), readable by its owner only. */
#ifndef LSL_CLI_IMAGE_H
#define LSL_CLI_IMAGE_H

#include <stdbool.h>
#include <stdint.h>

#define LSL_IMAGE_NAME       "ext4.img"
#define LSL_DEFAULT_VHD_SIZE (256ull << 30) /* virtual; nearly nothing is allocated while it is empty */

/* Creates path (which must not exist; mode 0600) as an empty ext4 file system of size bytes. Returns 0 or
 * -errno after one error line. */
int lsl_image_create(const char *path, uint64_t size, const char *label);
/* Whether path holds an ext4 (or ext2/3) superblock. Returns 1, 0, or -errno. */
int lsl_image_is_ext4(const char *path);
/* Copies src to dest (created 0600, must not exist, not even as a symlink) keeping holes. Returns 0 or -errno
 * after one error line; dest is gone again on failure. */
int lsl_image_copy(const char *src, const char *dest);
/* Takes group and other permissions off an image of ours that an older lsl made 0644. Quiet, best effort. */
void lsl_image_make_private(const char *path);
/* Grows or shrinks the file system and the file to size bytes (the image must not be in use). -ENOSPC (said)
 * when its files need more than size; the image is left as it was on any failure. */
int lsl_image_resize(const char *path, uint64_t size);

#endif
