/* virtio-blk backed by a raw image file, fixed (--disk) or inserted at run time (--disk-slots). */
#ifndef LSL_BLK_H
#define LSL_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/vm.h"

/* What one request may make the I/O thread do, advertised in the config (SEG_MAX, SIZE_MAX, the discard
 * and write-zeroes limits) so a driver never asks for more; the ring alone would let one request name the
 * same guest pages thousands of times and move the whole disk before anything else runs. Reads and writes
 * carry at most BLK_SEG_MAX data segments of at most BLK_SIZE_MAX bytes (16 MiB in all; Linux's own
 * requests stay at a few MiB); discard and write-zeroes at most BLK_DWZ_SEG_MAX ranges of
 * BLK_DWZ_SECTORS_MAX sectors (file-system metadata work: holes and zeroed extents, never data). A request
 * over a limit fails with VIRTIO_BLK_S_IOERR, as QEMU's does; the VMM goes on. */
#define BLK_SEG_MAX         254 /* a 256-entry queue: the chain's header and status take the other two */
#define BLK_SIZE_MAX        (64u << 10)
#define BLK_DWZ_SEG_MAX     16
#define BLK_DWZ_SECTORS_MAX (1u << 21) /* 1 GiB per range */

/* Opens the image (read-only if asked; --disk FILE must be writable otherwise) and attaches it. Errors are
 * logged. */
int blk_create(struct vm *vm, const char *path, bool readonly, unsigned index);
/* Adds n empty drives (disk slots, see blk_slots.h) and sets vm->disk_slots. n = 0: nothing. */
int blk_create_slots(struct vm *vm, unsigned n);

/* The drive without a VM (what the two above build on; unit tests drive its queue directly): empty until a
 * medium is inserted. blk_insert takes ownership of fd; blk_eject closes it. */
struct blk;
struct blk *blk_new(const struct gmem *mem, bool readonly);
void blk_free(void *b);
struct virtio_dev *blk_vdev(struct blk *b);
void blk_insert(struct blk *b, const char *id, int fd, uint64_t sectors);
/* Reads, writes and flushes of the media inserted from now on go through an io_uring whose completions this
 * loop (the VM's I/O thread) serves; without it (a bare device: the unit tests) they run synchronously. */
struct evloop;
void blk_set_loop(struct blk *b, struct evloop *loop);
void blk_eject(struct blk *b);

#endif
