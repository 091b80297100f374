/* virtio-blk backed by a raw image file. */
#ifndef LSL_BLK_H
#define LSL_BLK_H

#include <stdbool.h>

#include "../core/vm.h"

/* Opens the image (read-only if asked or if it cannot be opened for writing is an error) and attaches it. */
int blk_create(struct vm *vm, const char *path, bool readonly, unsigned index);

#endif
