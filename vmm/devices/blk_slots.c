/* Disk slot bookkeeping and the attach/detach/disks control requests (see blk_slots.h). */
#include "blk_slots.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/util.h"

#define SECTOR 512u

bool blk_slot_id_valid(const char *id)
{
    size_t n = strlen(id);
    return n >= 1 && n <= BLK_SLOT_ID_MAX &&
           strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                      "0123456789._-") == n;
}

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

/* Opens an image for a slot: a non-empty regular file of whole sectors (what the guest can address). */
static int open_image(const char *path, struct stat *st, FILE *out)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        fprintf(out, "error cannot open %s for writing: %s\n", path, strerror(errno));
        return -1;
    }
    const char *why = NULL;
    if (fstat(fd, st) < 0)
        why = strerror(errno);
    else if (!S_ISREG(st->st_mode))
        why = "not a regular file";
    else if (st->st_size == 0)
        why = "empty";
    else if (st->st_size % SECTOR)
        why = "size is not a multiple of 512 bytes";
    if (why) {
        fprintf(out, "error %s: %s\n", path, why);
        close(fd);
        return -1;
    }
    return fd;
}

static void attach(struct blk_slots *s, char *args, FILE *out)
{
    char *sp = strchr(args, ' ');
    if (!sp || !sp[1]) {
        fprintf(out, "error usage: attach ID PATH\n");
        return;
    }
    *sp = '\0';
    const char *id = args, *path = sp + 1;
    if (!blk_slot_id_valid(id)) {
        fprintf(out, "error invalid disk id '%.*s' (1-%d characters of A-Z a-z 0-9 . _ -)\n", 64, id,
                BLK_SLOT_ID_MAX);
        return;
    }
    if (path[0] != '/') {
        fprintf(out, "error disk path must be absolute: %s\n", path);
        return;
    }
    int i = find_id(s, id);
    if (i >= 0) {
        /* Concurrent clients attach the disk they need without knowing who came first. */
        if (strcmp(s->slot[i].path, path) == 0)
            fprintf(out, "ok %d\n", i);
        else
            fprintf(out, "error %s is already attached to %s (slot %d)\n", id, s->slot[i].path, i);
        return;
    }
    for (i = 0; i < (int)s->n && s->slot[i].id[0]; i++)
        ;
    if (i == (int)s->n) {
        if (s->n == 0)
            fprintf(out, "error no disk slots (lsl-vmm was started without --disk-slots)\n");
        else
            fprintf(out, "error no free disk slot (%u in use)\n", s->n);
        return;
    }
    struct blk_slot *slot = &s->slot[i];
    struct stat st;
    int fd = open_image(path, &st, out);
    if (fd < 0)
        return;
    /* Two guest mounts of one image would corrupt it, whatever names it is reached by. */
    for (unsigned j = 0; j < s->n; j++) {
        if (s->slot[j].id[0] && s->slot[j].dev == st.st_dev && s->slot[j].ino == st.st_ino) {
            fprintf(out, "error %s is already attached as %s (slot %u)\n", path, s->slot[j].id, j);
            close(fd);
            return;
        }
    }
    char *p = strdup(path);
    if (!p) {
        fprintf(out, "error out of memory\n");
        close(fd);
        return;
    }
    free(slot->path);
    slot->path = p;
    slot->dev = st.st_dev;
    slot->ino = st.st_ino;
    snprintf(slot->id, sizeof(slot->id), "%s", id);
    uint64_t sectors = (uint64_t)st.st_size / SECTOR;
    s->ops->insert(slot->drive, id, fd, sectors);
    char size[32];
    log_info("blk slot %d: inserted %s (%s) from %s", i, id,
             format_size((uint64_t)st.st_size, size, sizeof(size)), path);
    fprintf(out, "ok %d\n", i);
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

static void detach(struct blk_slots *s, const char *id, FILE *out)
{
    int i = find_id(s, id);
    if (i < 0) {
        if (blk_slot_id_valid(id))
            fprintf(out, "error %s is not attached\n", id);
        else
            fprintf(out, "error invalid disk id '%.*s'\n", 64, id);
        return;
    }
    eject(s, (unsigned)i);
    fprintf(out, "ok\n");
}

bool blk_slots_request(struct blk_slots *s, const char *req, FILE *out)
{
    if (strcmp(req, "disks") == 0) {
        for (unsigned i = 0; i < s->n; i++)
            if (s->slot[i].id[0])
                fprintf(out, "%u %s %s\n", i, s->slot[i].id, s->slot[i].path);
        return true;
    }
    if (strncmp(req, "detach ", 7) == 0) {
        detach(s, req + 7, out);
        return true;
    }
    if (strncmp(req, "attach ", 7) == 0) {
        char *args = strdup(req + 7);
        if (!args)
            fprintf(out, "error out of memory\n");
        else
            attach(s, args, out);
        free(args);
        return true;
    }
    return false;
}

void blk_slots_release(struct blk_slots *s)
{
    for (unsigned i = 0; i < s->n; i++) {
        free(s->slot[i].path);
        s->slot[i].path = NULL;
        s->slot[i].id[0] = '\0';
    }
}
