/* virtio-fs FUSE server, open-less files (vmm/fs/ops_file.c): what Linux does when INIT offers
 * NO_OPEN_SUPPORT and the share keeps pages (the default): OPEN answers ENOSYS, file requests carry fh 0 and
 * name the file by its nodeid, a close in the guest is one FLUSH and no RELEASE. Checked: INIT no longer
 * offers flock locks or ATOMIC_O_TRUNC; create, write, read, O_APPEND (at the host's end), O_TRUNC as a
 * SETATTR; a file read after its unlink; POSIX locks by owner, let go at FLUSH; every other file request with
 * fh 0; the descriptors a node keeps (for reading; CREATE's for writing) go at FLUSH and with the node; a
 * created file opened O_SYNC is not kept, one opened O_APPEND is kept plain; never a FIFO or a directory
 * opened; invented nodeids; a read-only share; and shares that keep handles (keep_cache=off) still open. */
#include <sys/stat.h>

#include "test_fs_client.h"

static struct fc F;

static void up(bool readonly, bool keep_cache)
{
    struct fs_share sh;
    fs_share_defaults(&sh, "t", "");
    sh.readonly = readonly;
    sh.keep_cache = keep_cache;
    fc_open_share(&F, &sh);
}

/* Descriptors open in this process (the server's are ours). */
static int count_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 4096; fd++)
        n += fcntl(fd, F_GETFD) >= 0;
    return n;
}

static int fc_flush(uint64_t nodeid, uint64_t owner)
{
    struct fuse_flush_in in = {.fh = 0, .lock_owner = owner};
    return fc_call(&F, FUSE_FLUSH, nodeid, &in, sizeof(in), NULL, 0);
}

/* WRITE with the open flags Linux puts in each request. */
static int write_flags(uint64_t nodeid, uint64_t off, const char *text, uint32_t flags)
{
    struct fuse_write_in in = {.fh = 0, .offset = off, .size = (uint32_t)strlen(text), .flags = flags};
    struct fuse_write_out out;
    int r = fc_call_ex(&F, FUSE_WRITE, nodeid, &in, sizeof(in), text, strlen(text), &out, sizeof(out),
                       sizeof(out));
    return r < 0 ? r : (int)out.size;
}

static char *host_text(const char *rel)
{
    static char buf[256];
    int fd = open(fc_path(&F, rel), O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
    if (fd >= 0)
        close(fd);
    buf[n > 0 ? n : 0] = 0;
    return buf;
}

static void test_init_and_io(void)
{
    up(false, true);
    struct fuse_init_in in = {.major = 7, .minor = 38, .max_readahead = 128 << 10, .flags = FC_ALL};
    struct fuse_init_out out;
    CHECK(fc_call(&F, FUSE_INIT, 0, &in, sizeof(in), &out, sizeof(out)) > 0);
    CHECK_EQ(out.flags & FUSE_FLOCK_LOCKS, 0u);
    CHECK_EQ(out.flags & FUSE_ATOMIC_O_TRUNC, 0u);
    CHECK(out.flags & FUSE_POSIX_LOCKS);
    int fds = count_fds();

    struct fuse_entry_out e;
    uint64_t fh = 99;
    CHECK_EQ(fc_create(&F, 1, "a", O_WRONLY | O_CREAT, 0644, &e, &fh), 0);
    CHECK_EQ(fh, 0);                /* no handle: Linux sends no RELEASE for it */
    CHECK_EQ(count_fds(), fds + 2); /* the node's O_PATH, and CREATE's descriptor for the writes */
    CHECK_EQ(fc_open(&F, e.nodeid, O_RDONLY, NULL), -ENOSYS);
    CHECK_EQ(fc_write(&F, e.nodeid, 0, 0, "hello\n", 6), 6);
    CHECK_EQ(count_fds(), fds + 2);
    CHECK_EQ(fc_flush(e.nodeid, 1), 0);
    CHECK_EQ(count_fds(), fds + 1); /* that open's close: the write descriptor goes */
    CHECK_EQ(strcmp(host_text("a"), "hello\n"), 0);
    char buf[64];
    CHECK_EQ(fc_read(&F, e.nodeid, 0, 0, sizeof(buf), buf), 6);
    CHECK_EQ(memcmp(buf, "hello\n", 6), 0);
    CHECK_EQ(count_fds(), fds + 2); /* the kept read descriptor */
    CHECK_EQ(fc_read(&F, e.nodeid, 0, 1, 4, buf), 4);
    CHECK_EQ(count_fds(), fds + 2); /* the same one again */
    CHECK_EQ(fc_flush(e.nodeid, 1), 0);
    CHECK_EQ(count_fds(), fds + 1); /* a close in the guest: it goes */

    /* O_APPEND appends at the host's end, whatever offset the guest's cached size gave. */
    int hfd = open(fc_path(&F, "a"), O_WRONLY | O_APPEND);
    CHECK_EQ(write(hfd, "host\n", 5), 5);
    close(hfd);
    CHECK_EQ(write_flags(e.nodeid, 6, "guest\n", O_WRONLY | O_APPEND), 6);
    CHECK_EQ(strcmp(host_text("a"), "hello\nhost\nguest\n"), 0);
    CHECK_EQ(write_flags(e.nodeid, 0, "H", O_WRONLY | O_SYNC), 1);
    CHECK_EQ(strcmp(host_text("a"), "Hello\nhost\nguest\n"), 0);

    /* O_TRUNC comes as a SETATTR of size 0 with FATTR_FH and fh 0. */
    struct fuse_setattr_in sa = {.valid = FATTR_SIZE | FATTR_FH, .fh = 0, .size = 0};
    struct fuse_attr a;
    CHECK_EQ(fc_setattr(&F, e.nodeid, &sa, &a), 0);
    CHECK_EQ(a.size, 0);
    struct fuse_getattr_in ga = {.getattr_flags = FUSE_GETATTR_FH, .fh = 0};
    struct fuse_attr_out ao;
    CHECK(fc_call(&F, FUSE_GETATTR, e.nodeid, &ga, sizeof(ga), &ao, sizeof(ao)) > 0);
    CHECK_EQ(ao.attr.size, 0);

    /* The other file requests by nodeid. */
    struct fuse_fallocate_in fa = {.fh = 0, .offset = 0, .length = 8192};
    CHECK_EQ(fc_call(&F, FUSE_FALLOCATE, e.nodeid, &fa, sizeof(fa), NULL, 0), 0);
    struct fuse_fsync_in fs = {.fh = 0};
    CHECK_EQ(fc_call(&F, FUSE_FSYNC, e.nodeid, &fs, sizeof(fs), NULL, 0), 0);
    CHECK_EQ(write_flags(e.nodeid, 0, "copy me", O_WRONLY), 7);
    struct fuse_lseek_in ls = {.fh = 0, .offset = 0, .whence = SEEK_DATA};
    struct fuse_lseek_out lo = {.offset = 1};
    CHECK(fc_call(&F, FUSE_LSEEK, e.nodeid, &ls, sizeof(ls), &lo, sizeof(lo)) > 0);
    CHECK_EQ(lo.offset, 0);
    struct fuse_entry_out e2;
    CHECK_EQ(fc_create(&F, 1, "b", O_WRONLY | O_CREAT, 0644, &e2, NULL), 0);
    struct fuse_copy_file_range_in cr = {.fh_in = 0, .nodeid_out = e2.nodeid, .fh_out = 0, .len = 7};
    struct fuse_write_out wo;
    CHECK(fc_call(&F, FUSE_COPY_FILE_RANGE, e.nodeid, &cr, sizeof(cr), &wo, sizeof(wo)) > 0);
    CHECK_EQ(wo.size, 7);
    CHECK_EQ(strcmp(host_text("b"), "copy me"), 0);
    /* A RELEASE of fh 0 (a file created before Linux learnt opens need no message) is answered. */
    CHECK_EQ(fc_release(&F, e2.nodeid, 0, false, 1), 0);

    /* Created O_APPEND: kept plain, the request's flags say append; created O_SYNC: not kept. */
    struct fuse_entry_out e3, e4;
    CHECK_EQ(fc_create(&F, 1, "c", O_WRONLY | O_CREAT | O_APPEND, 0644, &e3, NULL), 0);
    CHECK_EQ(write_flags(e3.nodeid, 0, "1", O_WRONLY | O_APPEND), 1);
    CHECK_EQ(write_flags(e3.nodeid, 0, "2", O_WRONLY | O_APPEND), 1);
    CHECK_EQ(write_flags(e3.nodeid, 0, "3", O_WRONLY), 1); /* another open's write, at its offset */
    CHECK_EQ(strcmp(host_text("c"), "32"), 0);
    int before = count_fds();
    CHECK_EQ(fc_create(&F, 1, "d", O_WRONLY | O_CREAT | O_SYNC, 0644, &e4, NULL), 0);
    CHECK_EQ(count_fds(), before + 1); /* its node only */
    CHECK_EQ(fc_flush(e3.nodeid, 1), 0);
    fc_forget(&F, e3.nodeid, 1);
    fc_forget(&F, e4.nodeid, 1);

    /* Unlinked on the host while the guest holds it: still its inode. */
    CHECK_EQ(unlink(fc_path(&F, "a")), 0);
    CHECK_EQ(fc_read(&F, e.nodeid, 0, 0, 7, buf), 7);
    CHECK_EQ(memcmp(buf, "copy me", 7), 0);
    /* Forgotten with a read descriptor kept: both go with the node. */
    fc_forget(&F, e.nodeid, 1);
    fc_forget(&F, e2.nodeid, 1);
    CHECK_EQ(count_fds(), fds);
    fc_close(&F);
}

static void test_locks(void)
{
    up(false, true);
    CHECK(fc_init(&F, FC_ALL) > 0);
    fc_write_file(&F, "lk", "0123456789");
    struct fuse_entry_out e;
    CHECK_EQ(fc_lookup(&F, 1, "lk", &e), 0);
    const uint64_t A = 0xa, B = 0xb, END = INT64_MAX;
    CHECK_EQ(fc_lk(&F, FUSE_SETLK, e.nodeid, 0, A, F_WRLCK, 0, 4, 0, NULL), 0);
    CHECK_EQ(fc_lk(&F, FUSE_SETLK, e.nodeid, 0, B, F_WRLCK, 2, 8, 0, NULL), -EAGAIN);
    CHECK_EQ(fc_lk(&F, FUSE_SETLKW, e.nodeid, 0, B, F_WRLCK, 2, 8, 0, NULL), -EINPROGRESS); /* parked */
    struct fuse_file_lock got;
    CHECK_EQ(fc_lk(&F, FUSE_GETLK, e.nodeid, 0, B, F_WRLCK, 0, END, 0, &got), 0);
    CHECK_EQ(got.type, F_WRLCK);
    CHECK_EQ(got.end, 4);
    /* The host sees it; A's close (FLUSH) lets it go. */
    int fd = open(fc_path(&F, "lk"), O_RDWR);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    CHECK_EQ(fcntl(fd, F_OFD_GETLK, &fl), 0);
    CHECK_EQ(fl.l_type, F_WRLCK);
    CHECK_EQ(fc_flush(e.nodeid, A), 0);
    fl = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    CHECK_EQ(fcntl(fd, F_OFD_GETLK, &fl), 0);
    CHECK_EQ(fl.l_type, F_UNLCK);
    close(fd);
    CHECK_EQ(fc_lk(&F, FUSE_SETLK, e.nodeid, 0, B, F_WRLCK, 2, 8, 0, NULL), 0);
    /* flock locks are the guest kernel's own here: not served. */
    CHECK_EQ(fc_lk(&F, FUSE_SETLK, e.nodeid, 0, A, F_WRLCK, 0, END, FUSE_LK_FLOCK, NULL), -EBADF);
    fc_close(&F);
}

static void test_hostile(void)
{
    up(false, true);
    CHECK(fc_init(&F, FC_ALL) > 0);
    CHECK_EQ(mkfifo(fc_path(&F, "fifo"), 0644), 0);
    CHECK_EQ(mkdir(fc_path(&F, "d"), 0755), 0);
    fc_write_file(&F, "f", "inside");
    struct fuse_entry_out ef, ed, ep;
    CHECK_EQ(fc_lookup(&F, 1, "fifo", &ef), 0);
    CHECK_EQ(fc_lookup(&F, 1, "d", &ed), 0);
    CHECK_EQ(fc_lookup(&F, 1, "f", &ep), 0);
    char buf[16];
    int fds = count_fds();
    /* Never a FIFO (it would block) or a directory opened as a file. */
    CHECK_EQ(fc_read(&F, ef.nodeid, 0, 0, sizeof(buf), buf), -EBADF);
    CHECK_EQ(fc_write(&F, ef.nodeid, 0, 0, "x", 1), -EBADF);
    CHECK_EQ(fc_read(&F, ed.nodeid, 0, 0, sizeof(buf), buf), -EBADF);
    CHECK_EQ(fc_read(&F, 1, 0, 0, sizeof(buf), buf), -EBADF);
    CHECK_EQ(fc_lk(&F, FUSE_SETLK, ef.nodeid, 0, 1, F_WRLCK, 0, 1, 0, NULL), -EBADF);
    /* Invented nodeids name nothing. */
    const uint64_t bad[] = {0, ep.nodeid + 1, ep.nodeid ^ (1ull << 32), UINT64_MAX};
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ(fc_read(&F, bad[i], 0, 0, sizeof(buf), buf), -ESTALE);
        CHECK_EQ(fc_write(&F, bad[i], 0, 0, "x", 1), -ESTALE);
        CHECK_EQ(fc_flush(bad[i], 1), -ESTALE);
    }
    /* An fh that was never handed out is still EBADF. */
    CHECK_EQ(fc_read(&F, ep.nodeid, 77, 0, sizeof(buf), buf), -EBADF);
    CHECK_EQ(count_fds(), fds);
    CHECK_EQ(fc_read(&F, ep.nodeid, 0, 0, sizeof(buf), buf), 6);
    fc_close(&F);

    /* A read-only share: every change refused, reading works. */
    up(true, true);
    CHECK(fc_init(&F, FC_ALL) > 0);
    fc_write_file(&F, "r", "ro");
    CHECK_EQ(fc_lookup(&F, 1, "r", &ep), 0);
    CHECK_EQ(fc_write(&F, ep.nodeid, 0, 0, "x", 1), -EROFS);
    struct fuse_fallocate_in fa = {.fh = 0, .length = 10};
    CHECK_EQ(fc_call(&F, FUSE_FALLOCATE, ep.nodeid, &fa, sizeof(fa), NULL, 0), -EROFS);
    struct fuse_setattr_in sa = {.valid = FATTR_SIZE | FATTR_FH, .size = 0};
    CHECK_EQ(fc_setattr(&F, ep.nodeid, &sa, NULL), -EROFS);
    CHECK_EQ(fc_create(&F, 1, "n", O_WRONLY | O_CREAT, 0644, NULL, NULL), -EROFS);
    CHECK_EQ(fc_read(&F, ep.nodeid, 0, 0, sizeof(buf), buf), 2);
    CHECK_EQ(strcmp(host_text("r"), "ro"), 0);
    fc_close(&F);
}

/* keep_cache=off: each open says whether to drop the guest's pages, so opens keep their handles. */
static void test_handles_kept(void)
{
    up(false, false);
    struct fuse_init_in in = {.major = 7, .minor = 38, .max_readahead = 128 << 10, .flags = FC_ALL};
    struct fuse_init_out out;
    CHECK(fc_call(&F, FUSE_INIT, 0, &in, sizeof(in), &out, sizeof(out)) > 0);
    CHECK(out.flags & FUSE_FLOCK_LOCKS);
    fc_write_file(&F, "f", "data");
    struct fuse_entry_out e;
    CHECK_EQ(fc_lookup(&F, 1, "f", &e), 0);
    uint64_t fh = 0;
    CHECK_EQ(fc_open(&F, e.nodeid, O_RDONLY, &fh), 0);
    CHECK(fh != 0);
    char buf[8];
    CHECK_EQ(fc_read(&F, e.nodeid, 0, 0, sizeof(buf), buf), -EBADF);
    CHECK_EQ(fc_read(&F, e.nodeid, fh, 0, sizeof(buf), buf), 4);
    CHECK_EQ(fc_release(&F, e.nodeid, fh, false, 1), 0);
    fc_close(&F);
}

int main(void)
{
    RUN(test_init_and_io);
    RUN(test_locks);
    RUN(test_hostile);
    RUN(test_handles_kept);
    return CHECK_DONE();
}
