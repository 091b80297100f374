/* Disk slots: virtio-blk devices created empty at boot whose medium the service inserts and ejects while the
 * VM runs, like a CD drive (Linux cannot hot-plug virtio-mmio devices). This file is the bookkeeping and the
 * control requests; the medium change itself is behind ops (blk.c), so unit tests run it without a VM. */
#ifndef LSL_BLK_SLOTS_H
#define LSL_BLK_SLOTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define BLK_SLOTS_MAX   24
#define BLK_SLOT_ID_MAX 20 /* the virtio-blk serial (GET_ID) is 20 bytes */

struct blk_slot_ops {
    /* Puts the open image (fd, ownership passes) of `sectors` 512-byte sectors into the slot's drive. */
    void (*insert)(void *drive, const char *id, int fd, uint64_t sectors);
    /* Empties the drive and closes its fd. */
    void (*eject)(void *drive);
};

struct blk_slot {
    void *drive;
    char id[BLK_SLOT_ID_MAX + 1]; /* "" when empty */
    char *path;
    dev_t dev;
    ino_t ino;
};

/* Only the thread serving the control socket touches this table; the drives lock themselves. */
struct blk_slots {
    const struct blk_slot_ops *ops;
    unsigned n;
    struct blk_slot slot[BLK_SLOTS_MAX];
};

/* 1-20 characters of [A-Za-z0-9._-]: safe in a reply line, a sysfs file and a shell word. */
bool blk_slot_id_valid(const char *id);
unsigned blk_slots_attached(const struct blk_slots *s);
/* Handles one control request line: "attach ID PATH", "detach ID" or "disks", writing the whole reply to
 * out. Returns false (writing nothing) if req is none of these. */
bool blk_slots_request(struct blk_slots *s, const char *req, FILE *out);
/* Frees what the table holds at VM teardown; the drives close their own images. */
void blk_slots_release(struct blk_slots *s);

#endif
