/* Disk slot bookkeeping and the attach/detach/disks control requests (see blk_slots.h). */
#include "blk_slots.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blk_image.h"
#include "control.h"
#include "io.h"
#include "log.h"
#include "macro.h"
#include "size.h"

unsigned blk_slots_attached(const struct blk_slots *s)
{
    unsigned n = 0;
    for (unsigned i = 0; i < s->n; i++)
        n += s->slot[i].id[0] != '\0';
    return n;
}

static int find_id(const struct blk_slots *s, const char *id)
{
    for (unsigned i = 0; i < s->n; i++)
        if (s->slot[i].id[0] && strcmp(s->slot[i].id, id) == 0)
            return (int)i;
    return -1;
}

void blk_slots_attach(struct blk_slots *s, const char *id, const char *path, FILE *out)
{
    int i = find_id(s, id);
    if (i >= 0) {
        /* Concurrent clients attach the disk they need without knowing who came first. */
        if (strcmp(s->slot[i].path, path) == 0)
            lsl_ctl_reply_ok(out, "%d", i);
        else
            lsl_ctl_reply_error(out, "%s is already attached to %s (slot %d)", id, s->slot[i].path, i);
        return;
    }
    for (i = 0; i < (int)s->n && s->slot[i].id[0]; i++)
        ;
    if (i == (int)s->n) {
        if (s->n == 0)
            lsl_ctl_reply_error(out, "no disk slots (lsl-vmm was started without --disk-slots)");
        else
            lsl_ctl_reply_error(out, "no free disk slot (%u in use)", s->n);
        return;
    }
    struct blk_slot *slot = &s->slot[i];
    char err[PATH_MAX + 128];
    uint64_t sectors;
    struct stat st;
    int fd = blk_image_open(path, false, &sectors, &st, err, sizeof(err));
    if (fd < 0) {
        lsl_ctl_reply_error(out, "%s", err);
        return;
    }
    /* Two guest mounts of one image would corrupt it, whatever names it is reached by. */
    for (unsigned j = 0; j < s->n; j++) {
        if (s->slot[j].id[0] && s->slot[j].dev == st.st_dev && s->slot[j].ino == st.st_ino) {
            lsl_ctl_reply_error(out, "%s is already attached as %s (slot %u)", path, s->slot[j].id, j);
            close(fd);
            return;
        }
    }
    char *p = strdup(path);
    if (!p) {
        lsl_ctl_reply_error(out, "out of memory");
        close(fd);
        return;
    }
    free(slot->path);
    slot->path = p;
    slot->dev = st.st_dev;
    slot->ino = st.st_ino;
    snprintf(slot->id, sizeof(slot->id), "%s", id);
    s->ops->insert(slot->drive, id, fd, sectors);
    char size[32];
    log_info("blk slot %d: inserted %s (%s) from %s", i, id,
             format_size((uint64_t)st.st_size, size, sizeof(size)), path);
    lsl_ctl_reply_ok(out, "%d", i);
}

static void eject(struct blk_slots *s, unsigned i)
{
    struct blk_slot *slot = &s->slot[i];
    s->ops->eject(slot->drive);
    log_info("blk slot %u: ejected %s", i, slot->id);
    slot->id[0] = '\0';
    free(slot->path);
    slot->path = NULL;
}

void blk_slots_detach(struct blk_slots *s, const char *id, FILE *out)
{
    int i = find_id(s, id);
    if (i < 0) {
        lsl_ctl_reply_error(out, "%s is not attached", id);
        return;
    }
    eject(s, (unsigned)i);
    lsl_ctl_reply_ok(out, NULL);
}

void blk_slots_list(const struct blk_slots *s, FILE *out)
{
    lsl_ctl_reply_ok(out, NULL);
    for (unsigned i = 0; i < s->n; i++)
        if (s->slot[i].id[0])
            fprintf(out, "%u %s %s\n", i, s->slot[i].id, s->slot[i].path);
}

bool blk_slots_request(struct blk_slots *s, const struct lsl_ctl_request *r, FILE *out)
{
    switch (r->verb) {
    case LSL_CTL_ATTACH:
        blk_slots_attach(s, r->id, r->path, out);
        return true;
    case LSL_CTL_DETACH:
        blk_slots_detach(s, r->id, out);
        return true;
    case LSL_CTL_DISKS:
        blk_slots_list(s, out);
        return true;
    default:
        return false;
    }
}

void blk_slots_release(struct blk_slots *s)
{
    for (unsigned i = 0; i < s->n; i++) {
        free(s->slot[i].path);
        s->slot[i].path = NULL;
        s->slot[i].id[0] = '\0';
    }
}
