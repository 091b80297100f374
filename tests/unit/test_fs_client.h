/* A fake FUSE client for the virtio-fs unit tests: builds each request as Linux's virtio-fs driver lays it
 * out (virtio_fs_enqueue_req: the in header, the arguments in one buffer, data in page-sized segments; the
 * reply room as out header, argument buffer, pages) and hands it to fs_handle, against a temporary share.
 * Every reply is checked for what the driver relies on: the unique matches, the header's length is the
 * used length. */
#ifndef LSL_TEST_FS_CLIENT_H
#define LSL_TEST_FS_CLIENT_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fuse.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "fs/fs.h"
#include "io.h"

#define PAGE 4096u

struct fc {
    struct fs_server *s;
    struct fs_ctx *c;
    uint64_t unique;
    char dir[64];
    int last_len; /* fs_handle's result for the last call */
};

__attribute__((unused)) static int fc_rm(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

/* A share of a fresh temporary directory, with the given policy tweaks applied by the caller to sh. */
__attribute__((unused)) static void fc_open_share(struct fc *f, struct fs_share *sh)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/lsl-fs-test.XXXXXX");
    CHECK(mkdtemp(f->dir) != NULL);
    sh->path = f->dir;
    CHECK_EQ(fs_server_new(sh, &f->s), 0);
    f->c = fs_ctx_new();
    f->unique = 100;
}

__attribute__((unused)) static void fc_close(struct fc *f)
{
    fs_server_free(f->s);
    fs_ctx_free(f->c);
    nftw(f->dir, fc_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static char *fc_path(struct fc *f, const char *rel)
{
    static char buf[4][512];
    static int i;
    char *p = buf[i++ % 4];
    snprintf(p, 512, "%s/%s", f->dir, rel);
    return p;
}

/* The raw call: segments as the driver makes them. Returns the reply's error (negative) or its payload
 * length; the payload goes to reply (at most rsize bytes). data goes in page-sized pieces after the args. */
__attribute__((unused)) static int fc_call_ex(struct fc *f, uint32_t opcode, uint64_t nodeid,
                                              const void *args, size_t alen, const void *data, size_t dlen,
                                              void *reply, size_t rsize, size_t argout)
{
    struct iovec out[1 + 1 + 300], in[1 + 1 + 300];
    unsigned no = 0, ni = 0;
    struct fuse_in_header h = {.len = (uint32_t)(sizeof(h) + alen + dlen),
                               .opcode = opcode,
                               .unique = ++f->unique,
                               .nodeid = nodeid,
                               .uid = 1000,
                               .gid = 1000,
                               .pid = 42};
    out[no++] = (struct iovec){&h, sizeof(h)};
    /* Separate allocations of the exact sizes: a read or write past any of them is an ASan report. */
    void *abuf = alen ? malloc(alen) : NULL;
    if (alen) {
        memcpy(abuf, args, alen);
        out[no++] = (struct iovec){abuf, alen};
    }
    for (size_t off = 0; off < dlen; off += PAGE)
        out[no++] = (struct iovec){(uint8_t *)data + off, dlen - off < PAGE ? dlen - off : PAGE};
    struct fuse_out_header oh;
    memset(&oh, 0xee, sizeof(oh));
    in[ni++] = (struct iovec){&oh, sizeof(oh)};
    /* The reply room: a fixed-size argument buffer (argout), then pages for the rest. */
    uint8_t *rbuf = rsize ? malloc(rsize) : NULL;
    if (rsize)
        memset(rbuf, 0xdd, rsize);
    size_t first = argout < rsize ? argout : rsize;
    if (first)
        in[ni++] = (struct iovec){rbuf, first};
    for (size_t off = first; off < rsize; off += PAGE)
        in[ni++] = (struct iovec){rbuf + off, rsize - off < PAGE ? rsize - off : PAGE};
    struct fs_req req = {.out = out, .n_out = no, .in = in, .n_in = ni, .start_ns = now_ns()};
    int len = fs_handle(f->s, f->c, &req);
    f->last_len = len;
    int ret;
    if (len == FS_RETRY) {
        ret = -EINPROGRESS;
    } else if (len == 0) {
        ret = 0; /* no reply (FORGET) */
    } else {
        CHECK_EQ(oh.unique, h.unique);
        CHECK_EQ(oh.len, (uint32_t)len);
        CHECK(oh.error <= 0);
        if (oh.error)
            CHECK_EQ(oh.len, sizeof(oh));
        ret = oh.error ? oh.error : (int)(oh.len - sizeof(oh));
        if (!oh.error && reply && rsize)
            memcpy(reply, rbuf, (size_t)ret < rsize ? (size_t)ret : rsize);
    }
    free(abuf);
    free(rbuf);
    return ret;
}

__attribute__((unused)) static int fc_call(struct fc *f, uint32_t opcode, uint64_t nodeid, const void *args,
                                           size_t alen, void *reply, size_t rsize)
{
    return fc_call_ex(f, opcode, nodeid, args, alen, NULL, 0, reply, rsize, rsize);
}

/* INIT flags: everything Linux offers (with NO_OPEN_SUPPORT: files are open-less unless the share says
 * otherwise), and everything but that (each open gets a handle, as with keep_cache=off or writeback). */
#define FC_ALL     0xffffffffu
#define FC_HANDLES (0xffffffffu & ~(uint32_t)FUSE_NO_OPEN_SUPPORT)

__attribute__((unused)) static int fc_init(struct fc *f, uint32_t flags)
{
    struct fuse_init_in in = {.major = 7, .minor = 38, .max_readahead = 128 << 10, .flags = flags};
    struct fuse_init_out out;
    return fc_call(f, FUSE_INIT, 0, &in, sizeof(in), &out, sizeof(out));
}

/* "name\0" after a fixed struct, as the driver's argument buffer holds them. */
__attribute__((unused)) static size_t fc_args(uint8_t *buf, const void *fixed, size_t flen, const char *n1,
                                              const char *n2)
{
    size_t len = 0;
    if (flen)
        memcpy(buf, fixed, flen);
    len += flen;
    if (n1) {
        memcpy(buf + len, n1, strlen(n1) + 1);
        len += strlen(n1) + 1;
    }
    if (n2) {
        memcpy(buf + len, n2, strlen(n2) + 1);
        len += strlen(n2) + 1;
    }
    return len;
}

__attribute__((unused)) static int fc_lookup(struct fc *f, uint64_t dir, const char *name,
                                             struct fuse_entry_out *e)
{
    uint8_t a[512];
    size_t n = fc_args(a, NULL, 0, name, NULL);
    struct fuse_entry_out tmp;
    int r = fc_call(f, FUSE_LOOKUP, dir, a, n, e ? e : &tmp, sizeof(*e));
    if (r > 0 && (e ? e : &tmp)->nodeid == 0)
        return -ENOENT; /* a negative entry */
    return r < 0 ? r : 0;
}

__attribute__((unused)) static void fc_forget(struct fc *f, uint64_t nodeid, uint64_t n)
{
    struct fuse_forget_in in = {.nlookup = n};
    CHECK_EQ(fc_call(f, FUSE_FORGET, nodeid, &in, sizeof(in), NULL, 0), 0);
}

__attribute__((unused)) static int fc_getattr(struct fc *f, uint64_t nodeid, struct fuse_attr *a)
{
    struct fuse_getattr_in in = {0};
    struct fuse_attr_out out;
    int r = fc_call(f, FUSE_GETATTR, nodeid, &in, sizeof(in), &out, sizeof(out));
    if (r >= 0 && a)
        *a = out.attr;
    return r < 0 ? r : 0;
}

__attribute__((unused)) static int fc_create(struct fc *f, uint64_t dir, const char *name, uint32_t flags,
                                             uint32_t mode, struct fuse_entry_out *e, uint64_t *fh)
{
    struct fuse_create_in in = {.flags = flags, .mode = S_IFREG | mode, .umask = 022};
    uint8_t a[512];
    size_t n = fc_args(a, &in, sizeof(in), name, NULL);
    uint8_t out[sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out)];
    int r = fc_call(f, FUSE_CREATE, dir, a, n, out, sizeof(out));
    if (r >= 0) {
        if (e)
            memcpy(e, out, sizeof(*e));
        struct fuse_open_out o;
        memcpy(&o, out + sizeof(struct fuse_entry_out), sizeof(o));
        if (fh)
            *fh = o.fh;
    }
    return r < 0 ? r : 0;
}

__attribute__((unused)) static int fc_open(struct fc *f, uint64_t nodeid, uint32_t flags, uint64_t *fh)
{
    struct fuse_open_in in = {.flags = flags};
    struct fuse_open_out out;
    int r = fc_call(f, FUSE_OPEN, nodeid, &in, sizeof(in), &out, sizeof(out));
    if (r >= 0 && fh)
        *fh = out.fh;
    return r < 0 ? r : 0;
}

__attribute__((unused)) static int fc_opendir(struct fc *f, uint64_t nodeid, uint64_t *fh)
{
    struct fuse_open_in in = {.flags = O_RDONLY};
    struct fuse_open_out out;
    int r = fc_call(f, FUSE_OPENDIR, nodeid, &in, sizeof(in), &out, sizeof(out));
    if (r >= 0 && fh)
        *fh = out.fh;
    return r < 0 ? r : 0;
}

__attribute__((unused)) static int fc_release(struct fc *f, uint64_t nodeid, uint64_t fh, bool dir,
                                              uint64_t owner)
{
    struct fuse_release_in in = {.fh = fh, .release_flags = FUSE_RELEASE_FLUSH, .lock_owner = owner};
    return fc_call(f, dir ? FUSE_RELEASEDIR : FUSE_RELEASE, nodeid, &in, sizeof(in), NULL, 0);
}

/* READ into buf (size bytes of page segments); returns bytes read or -errno. */
__attribute__((unused)) static int fc_read(struct fc *f, uint64_t nodeid, uint64_t fh, uint64_t off,
                                           uint32_t size, void *buf)
{
    struct fuse_read_in in = {.fh = fh, .offset = off, .size = size};
    return fc_call_ex(f, FUSE_READ, nodeid, &in, sizeof(in), NULL, 0, buf, size, 0);
}

__attribute__((unused)) static int fc_write(struct fc *f, uint64_t nodeid, uint64_t fh, uint64_t off,
                                            const void *data, uint32_t size)
{
    struct fuse_write_in in = {.fh = fh, .offset = off, .size = size};
    struct fuse_write_out out;
    int r = fc_call_ex(f, FUSE_WRITE, nodeid, &in, sizeof(in), data, size, &out, sizeof(out), sizeof(out));
    return r < 0 ? r : (int)out.size;
}

__attribute__((unused)) static int fc_name_op(struct fc *f, uint32_t opcode, uint64_t dir, const char *name)
{
    uint8_t a[512];
    size_t n = fc_args(a, NULL, 0, name, NULL);
    return fc_call(f, opcode, dir, a, n, NULL, 0);
}

__attribute__((unused)) static int fc_mkdir(struct fc *f, uint64_t dir, const char *name, uint32_t mode,
                                            struct fuse_entry_out *e)
{
    struct fuse_mkdir_in in = {.mode = mode, .umask = 022};
    uint8_t a[512];
    size_t n = fc_args(a, &in, sizeof(in), name, NULL);
    struct fuse_entry_out tmp;
    int r = fc_call(f, FUSE_MKDIR, dir, a, n, e ? e : &tmp, sizeof(tmp));
    return r < 0 ? r : 0;
}

__attribute__((unused)) static int fc_rename2(struct fc *f, uint64_t olddir, const char *oldname,
                                              uint64_t newdir, const char *newname, uint32_t flags)
{
    struct fuse_rename2_in in = {.newdir = newdir, .flags = flags};
    uint8_t a[1024];
    size_t n = fc_args(a, &in, sizeof(in), oldname, newname);
    return fc_call(f, FUSE_RENAME2, olddir, a, n, NULL, 0);
}

__attribute__((unused)) static int fc_setattr(struct fc *f, uint64_t nodeid, struct fuse_setattr_in *in,
                                              struct fuse_attr *a)
{
    struct fuse_attr_out out;
    int r = fc_call(f, FUSE_SETATTR, nodeid, in, sizeof(*in), &out, sizeof(out));
    if (r >= 0 && a)
        *a = out.attr;
    return r < 0 ? r : 0;
}

__attribute__((unused)) static int fc_lk(struct fc *f, uint32_t opcode, uint64_t nodeid, uint64_t fh,
                                         uint64_t owner, uint32_t type, uint64_t start, uint64_t end,
                                         uint32_t lk_flags, struct fuse_file_lock *got)
{
    struct fuse_lk_in in = {
        .fh = fh, .owner = owner, .lk = {.start = start, .end = end, .type = type}, .lk_flags = lk_flags};
    struct fuse_lk_out out;
    int r = fc_call(f, opcode, nodeid, &in, sizeof(in), &out, opcode == FUSE_GETLK ? sizeof(out) : 0);
    if (r >= 0 && got)
        *got = out.lk;
    return r < 0 ? r : 0;
}

/* Host-side helpers. */
__attribute__((unused)) static void fc_write_file(struct fc *f, const char *rel, const char *text)
{
    int fd = open(fc_path(f, rel), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    CHECK(fd >= 0);
    CHECK(write_full(fd, text, strlen(text)) == 0);
    close(fd);
}

__attribute__((unused)) static long rss_kib(void)
{
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (fp && fgets(line, sizeof(line), fp))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    if (fp)
        fclose(fp);
    return kib;
}

#endif
