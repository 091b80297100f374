/* Disk slots: virtio-blk devices created empty at boot whose medium the service inserts and ejects while the
 * VM runs, like a CD drive (Linux cannot hot-plug virtio-mmio devices). This file is the bookkeeping and the
 * control requests; the medium change itself is behind ops (blk.c), so unit tests run it without a VM. */
#ifndef LSL_BLK_SLOTS_H
#define LSL_BLK_SLOTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "distro.h"

struct blk_slot_ops {
    /* Puts the open image (fd, ownership passes) of `sectors` 512-byte sectors into the slot's drive. */
    void (*insert)(void *drive, const char *id, int fd, uint64_t sectors);
    /* Empties the drive and closes its fd. */
    void (*eject)(void *drive);
};

struct blk_slot {
    void *drive;
    char id[LSL_DISK_ID_MAX + 1]; /* "" when empty */
    char *path;
    dev_t dev;
    ino_t ino;
};

/* Only the thread serving the control socket touches this table; the drives lock themselves. */
struct blk_slots {
    const struct blk_slot_ops *ops;
    unsigned n;
    struct blk_slot slot[LSL_DISK_SLOTS_MAX];
};

unsigned blk_slots_attached(const struct blk_slots *s);
/* The control requests (proto/control.h), with arguments the parser checked; each writes its whole reply to
 * out. attach is idempotent for the same id and path, so concurrent clients need not know who came first. */
void blk_slots_attach(struct blk_slots *s, const char *id, const char *path, FILE *out);
void blk_slots_detach(struct blk_slots *s, const char *id, FILE *out);
void blk_slots_list(const struct blk_slots *s, FILE *out);
/* Serves r if it is one of the three; false (writing nothing) otherwise. */
struct lsl_ctl_request;
bool blk_slots_request(struct blk_slots *s, const struct lsl_ctl_request *r, FILE *out);
/* Frees what the table holds at VM teardown; the drives close their own images. */
void blk_slots_release(struct blk_slots *s);

#endif
