/* Host attributes as the guest sees them. Ownership: what the host user owns belongs to the share's uid/gid
 * in the guest (the distribution's default user), and to keep the map one-to-one both ways that guest id's
 * own host files show as the host user's id; every other owner shows as it is. The same swap runs backwards
 * for chown. */
#include <errno.h>
#include <fcntl.h>
#include <sys/sysmacros.h>

#include "fs_int.h"

static uint32_t swap_id(uint32_t id, uint32_t a, uint32_t b)
{
    return id == a ? b : id == b ? a : id;
}

uint32_t fs_uid_to_host(const struct fs_server *s, uint32_t guest_uid)
{
    return swap_id(guest_uid, s->share.uid, (uint32_t)s->host_uid);
}

uint32_t fs_gid_to_host(const struct fs_server *s, uint32_t guest_gid)
{
    return swap_id(guest_gid, s->share.gid, (uint32_t)s->host_gid);
}

int fs_fstat(int fd, struct stat *st)
{
    return fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

void fs_timeout(const struct fs_server *s, bool covered, uint64_t *sec, uint32_t *nsec)
{
    uint32_t ms = covered ? s->share.watched_ms : s->share.timeout_ms;
    *sec = ms / 1000;
    *nsec = (ms % 1000) * 1000000u;
}

void fs_attr_fill(const struct fs_server *s, struct fuse_attr *a, const struct stat *st)
{
    *a = (struct fuse_attr){
        .ino = st->st_ino,
        .size = (uint64_t)st->st_size,
        .blocks = (uint64_t)st->st_blocks,
        .atime = (uint64_t)st->st_atim.tv_sec,
        .mtime = (uint64_t)st->st_mtim.tv_sec,
        .ctime = (uint64_t)st->st_ctim.tv_sec,
        .atimensec = (uint32_t)st->st_atim.tv_nsec,
        .mtimensec = (uint32_t)st->st_mtim.tv_nsec,
        .ctimensec = (uint32_t)st->st_ctim.tv_nsec,
        .mode = st->st_mode,
        .nlink = (uint32_t)st->st_nlink,
        .uid = swap_id(st->st_uid, (uint32_t)s->host_uid, s->share.uid),
        .gid = swap_id(st->st_gid, (uint32_t)s->host_gid, s->share.gid),
        /* The kernel's new_decode_dev layout: 12 bits of major, 20 of minor. */
        .rdev = (major(st->st_rdev) & 0xfff) << 8 | (minor(st->st_rdev) & 0xff) |
                (minor(st->st_rdev) & ~0xffu) << 12,
        .blksize = (uint32_t)st->st_blksize,
    };
    /* The guest maps large regular files through the DAX window (dax.c) and reads small ones as before. */
    if (s->dax_inode && S_ISREG(st->st_mode) && (uint64_t)st->st_size >= FS_DAX_MIN_SIZE)
        a->flags |= FUSE_ATTR_DAX;
}

void fs_entry_fill(const struct fs_server *s, struct fuse_entry_out *e, uint64_t nodeid,
                   const struct stat *st, unsigned cover)
{
    *e = (struct fuse_entry_out){.nodeid = nodeid};
    fs_timeout(s, cover & FS_COVER_NAME, &e->entry_valid, &e->entry_valid_nsec);
    fs_timeout(s, cover & FS_COVER_ATTR, &e->attr_valid, &e->attr_valid_nsec);
    fs_attr_fill(s, &e->attr, st);
}
