/* One host directory shared with the guest (lsl-vmm --share TAG=HOSTDIR[,OPTION...]): what it is, its tag,
 * and the cache and ownership policy of its FUSE server. Parsed by a pure function so it can be tested. */
#ifndef LSL_FS_SHARE_H
#define LSL_FS_SHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* virtio 1.2, 5.11.4: the tag the guest mounts by (mount -t virtiofs TAG DIR), at most 36 bytes. */
#define FS_TAG_MAX 36

/* The guest's owner of what the host user owns: the distribution's default user (WSL's is uid 1000). */
#define FS_DEFAULT_UID 1000
#define FS_DEFAULT_GID 1000
/* How long the guest may trust a name or attributes it was told, and so the bound on how late it sees a
 * change made on the host side: chosen by measurement (bench/fsbench.py, numbers in vmm/fs/fuse_ops.c). */
#define FS_DEFAULT_TIMEOUT_MS 1000
/* The same for what a host inotify watch covers while the guest's change helper runs (watch.c): the helper
 * revalidates each changed name at once, so this only bounds the harm if it stopped unannounced. */
#define FS_DEFAULT_WATCHED_MS (600u * 1000)
/* Worker threads per share serving the request queue besides its dispatcher (fs.c says why, measured). */
#define FS_DEFAULT_THREADS 0
#define FS_THREADS_MAX     16
/* The DAX window (dax.c): its size by default in MiB (0: none) and the most a share may ask for. The guest
 * maps it in 2 MiB ranges and pays 64 bytes of its memory per 4 KiB of window for the pages' metadata. */
#define FS_DEFAULT_DAX_MIB 0
#define FS_DAX_MIB_MAX     (64u << 10)

enum fs_readdirplus {
    FS_READDIRPLUS_AUTO,   /* the kernel decides per directory (the first read of it, and ls -l) */
    FS_READDIRPLUS_ALWAYS, /* every listing brings the attributes of its entries */
    FS_READDIRPLUS_NEVER,
};

struct fs_share {
    char tag[FS_TAG_MAX + 1];
    const char *path; /* the host directory, as given */
    bool readonly;    /* every request that would change something fails with EROFS */
    uint32_t uid, gid;
    uint32_t timeout_ms; /* entry and attribute timeout; 0: the guest asks every time */
    uint32_t watched_ms; /* the timeout of what host watches cover (watch.c); 0: timeout_ms for all */
    bool writeback;      /* FUSE_WRITEBACK_CACHE: the guest's page cache holds writes and sends them late */
    bool keep_cache;     /* FOPEN_KEEP_CACHE: an open keeps what the guest cached of a file or listing */
    enum fs_readdirplus readdirplus;
    unsigned threads; /* workers besides the dispatcher (0: the dispatcher serves requests itself) */
    bool xdev;        /* follow host mounts below the root (a share of / needs /home); off: stay on its fs */
    uint32_t dax_mib; /* the DAX window in MiB (even: the guest maps 2 MiB ranges); 0: no window */
    /* Table bounds: 0 takes the defaults (inodes.c, handles.c). Tests set small ones. */
    unsigned max_nodes, max_handles;
};

/* Fills a share with the defaults for the tag and path given. */
void fs_share_defaults(struct fs_share *s, const char *tag, const char *path);
/* Parses
 * "TAG=HOSTDIR[,ro|rw][,uid=N][,gid=N][,timeout=MS][,watched=MS][,writeback=on|off][,keep_cache=on|off]
 * [,readdirplus=auto|always|never][,threads=N][,xdev=on|off][,dax=MIB]". Options are taken off the end, so a
 * path may hold commas as long as what follows its last one is not an option. arg is modified in place and
 * s->path points into it. Returns 0, or -EINVAL with a one-line reason in err. */
int fs_share_parse(char *arg, struct fs_share *s, char *err, size_t errlen);

#endif
