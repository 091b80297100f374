/* virtio-blk backed by a raw image file, fixed (--disk) or inserted at run time (--disk-slots). */
#ifndef LSL_BLK_H
#define LSL_BLK_H

#include <stdbool.h>

#include "../core/vm.h"

/* Opens the image (read-only if asked or if it cannot be opened for writing is an error) and attaches it. */
int blk_create(struct vm *vm, const char *path, bool readonly, unsigned index);
/* Adds n empty drives (disk slots, see blk_slots.h) and sets vm->disk_slots. n = 0: nothing. */
int blk_create_slots(struct vm *vm, unsigned n);

#endif
