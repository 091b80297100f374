/* virtio-fs FUSE server, POSIX behaviour without a VM: requests as Linux's driver builds them
 * (test_fs_client.h) against a temporary share. INIT negotiation; create, write, read and attributes with
 * ownership mapped; rename over an open file; unlink while open; O_APPEND; truncate; hard and symbolic links;
 * POSIX and flock locks (a blocked SETLKW parks instead of blocking); a sparse file past 4 GiB with
 * SEEK_DATA/HOLE and hole punching; readdir and readdirplus while entries come and go; xattrs; mknod, rename
 * flags, statfs, copy_file_range, tmpfile; and the notification touch and event channel. With opens that keep
 * handles (FC_HANDLES); test_fs_openless.c has the open-less files Linux gets by default. */
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>

#include "test_fs_client.h"
#include "core/options.h"
#include "fs_notify.h"

static struct fc F;

static void setup_share(bool readonly)
{
    struct fs_share sh;
    fs_share_defaults(&sh, "t", "");
    sh.readonly = readonly;
    fc_open_share(&F, &sh);
}

static void up(void)
{
    setup_share(false);
    CHECK(fc_init(&F, FC_HANDLES) > 0);
}

static void test_init(void)
{
    setup_share(false);
    struct fuse_entry_out e;
    CHECK_EQ(fc_lookup(&F, 1, "x", &e), -EIO); /* nothing before INIT */
    struct fuse_init_in in = {.major = 7,
                              .minor = 38,
                              .max_readahead = 65536,
                              .flags = FUSE_ASYNC_READ | FUSE_MAX_PAGES | FUSE_WRITEBACK_CACHE |
                                       FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO | FUSE_POSIX_LOCKS |
                                       FUSE_FLOCK_LOCKS | FUSE_SUBMOUNTS | FUSE_SPLICE_READ | FUSE_DONT_MASK};
    struct fuse_init_out out;
    CHECK_EQ(fc_call(&F, FUSE_INIT, 0, &in, sizeof(in), &out, sizeof(out)), sizeof(out));
    CHECK_EQ(out.major, 7);
    CHECK_EQ(out.max_write, 1u << 20);
    CHECK_EQ(out.max_pages, 256);
    CHECK(out.flags & FUSE_MAX_PAGES);
    CHECK(out.flags & FUSE_POSIX_LOCKS && out.flags & FUSE_FLOCK_LOCKS);
    CHECK(out.flags & FUSE_DO_READDIRPLUS && out.flags & FUSE_READDIRPLUS_AUTO);
    CHECK(!(out.flags & FUSE_WRITEBACK_CACHE)); /* off by default: measured (fuse_ops.c) */
    CHECK(!(out.flags & (FUSE_SPLICE_READ | FUSE_DONT_MASK)));
    CHECK_EQ(out.max_readahead, 65536);
    /* A newer major gets ours alone; an old minor is refused. */
    in.major = 8;
    CHECK_EQ(fc_call(&F, FUSE_INIT, 0, &in, sizeof(in), &out, sizeof(out)), 8);
    CHECK_EQ(out.major, 7);
    in.major = 7, in.minor = 12;
    CHECK_EQ(fc_call(&F, FUSE_INIT, 0, &in, sizeof(in), &out, sizeof(out)), -EPROTO);
    /* Unknown and unimplemented opcodes: ENOSYS. */
    in.minor = 38;
    CHECK(fc_call(&F, FUSE_INIT, 0, &in, sizeof(in), &out, sizeof(out)) > 0);
    CHECK_EQ(fc_call(&F, 7, 1, NULL, 0, NULL, 0), -ENOSYS);
    CHECK_EQ(fc_call(&F, FUSE_BMAP, 1, NULL, 0, NULL, 0), -ENOSYS);
    CHECK_EQ(fc_call(&F, 4096, 1, NULL, 0, NULL, 0), -ENOSYS);
    CHECK_EQ(fc_call(&F, 0xffffffffu, 1, NULL, 0, NULL, 0), -ENOSYS);
    CHECK_EQ(fc_call(&F, FUSE_DESTROY, 0, NULL, 0, NULL, 0), 0);
    CHECK_EQ(fc_lookup(&F, 1, "x", &e), -EIO); /* the session ended */
    fc_close(&F);
}

static void test_create_read_write(void)
{
    up();
    struct fuse_entry_out e;
    uint64_t fh;
    CHECK_EQ(fc_create(&F, 1, "a.txt", O_RDWR | O_CREAT, 0640, &e, &fh), 0);
    CHECK(e.nodeid > 1);
    CHECK_EQ(e.attr.mode, S_IFREG | 0640);
    /* The host user's file shows as the share's user. */
    CHECK_EQ(e.attr.uid, 1000);
    CHECK_EQ(e.attr.gid, 1000);
    static uint8_t buf[3 * PAGE + 100], back[sizeof(buf)];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 13 + 7);
    CHECK_EQ(fc_write(&F, e.nodeid, fh, 10, buf, sizeof(buf)), (int)sizeof(buf));
    CHECK_EQ(fc_read(&F, e.nodeid, fh, 10, sizeof(back), back), (int)sizeof(back));
    CHECK(memcmp(buf, back, sizeof(buf)) == 0);
    /* Reading past the end: short. */
    CHECK_EQ(fc_read(&F, e.nodeid, fh, 10 + sizeof(buf) - 5, 100, back), 5);
    struct fuse_attr a;
    CHECK_EQ(fc_getattr(&F, e.nodeid, &a), 0);
    CHECK_EQ(a.size, 10 + sizeof(buf));
    struct stat st;
    CHECK_EQ(stat(fc_path(&F, "a.txt"), &st), 0);
    CHECK_EQ(st.st_size, 10 + (off_t)sizeof(buf));
    CHECK_EQ(st.st_uid, geteuid()); /* created as the host user */
    CHECK_EQ(a.ino, st.st_ino);
    /* The same file looked up again: the same nodeid. */
    struct fuse_entry_out e2;
    CHECK_EQ(fc_lookup(&F, 1, "a.txt", &e2), 0);
    CHECK_EQ(e2.nodeid, e.nodeid);
    CHECK_EQ(e2.entry_valid, 1);
    /* A name that is not there: a negative entry the guest may cache. */
    CHECK_EQ(fc_lookup(&F, 1, "nope", NULL), -ENOENT);
    CHECK_EQ(fc_release(&F, e.nodeid, fh, false, 1), 0);
    CHECK_EQ(fc_release(&F, e.nodeid, fh, false, 1), -EBADF);
    /* Exclusive create of an existing name. */
    CHECK_EQ(fc_create(&F, 1, "a.txt", O_RDWR | O_CREAT | O_EXCL, 0644, NULL, NULL), -EEXIST);
    /* Large requests: 1 MiB in one WRITE and one READ, 256 pages each. */
    uint8_t *big = malloc(1 << 20), *bigback = malloc(1 << 20);
    for (size_t i = 0; i < (1 << 20); i++)
        big[i] = (uint8_t)(i >> 7);
    CHECK_EQ(fc_open(&F, e.nodeid, O_RDWR, &fh), 0);
    CHECK_EQ(fc_write(&F, e.nodeid, fh, 0, big, 1 << 20), 1 << 20);
    CHECK_EQ(fc_read(&F, e.nodeid, fh, 0, 1 << 20, bigback), 1 << 20);
    CHECK(memcmp(big, bigback, 1 << 20) == 0);
    CHECK_EQ(fc_release(&F, e.nodeid, fh, false, 1), 0);
    free(big);
    free(bigback);
    fc_close(&F);
}

static void test_ownership_map(void)
{
    up();
    /* The guest's uid 1000 is the host user; a chown to it changes nothing on the host. */
    fc_write_file(&F, "o", "x");
    struct fuse_entry_out e;
    CHECK_EQ(fc_lookup(&F, 1, "o", &e), 0);
    struct fuse_setattr_in in = {.valid = FATTR_UID | FATTR_GID, .uid = 1000, .gid = 1000};
    struct fuse_attr a;
    CHECK_EQ(fc_setattr(&F, e.nodeid, &in, &a), 0);
    CHECK_EQ(a.uid, 1000);
    struct stat st;
    CHECK_EQ(stat(fc_path(&F, "o"), &st), 0);
    CHECK_EQ(st.st_uid, geteuid());
    /* Another owner is refused by the host unless we are root. */
    in.uid = 4242;
    in.valid = FATTR_UID;
    int r = fc_setattr(&F, e.nodeid, &in, &a);
    CHECK(geteuid() == 0 ? r == 0 : r == -EPERM);
    fc_close(&F);
}

static void test_rename_over_open(void)
{
    up();
    fc_write_file(&F, "a", "AAAA");
    fc_write_file(&F, "b", "BBBBBB");
    struct fuse_entry_out ea, eb;
    CHECK_EQ(fc_lookup(&F, 1, "a", &ea), 0);
    CHECK_EQ(fc_lookup(&F, 1, "b", &eb), 0);
    uint64_t fhb;
    CHECK_EQ(fc_open(&F, eb.nodeid, O_RDONLY, &fhb), 0);
    CHECK_EQ(fc_rename2(&F, 1, "a", 1, "b", 0), 0);
    char buf[16] = {0};
    CHECK_EQ(fc_read(&F, eb.nodeid, fhb, 0, sizeof(buf), buf), 6); /* the open file is the old b */
    CHECK(memcmp(buf, "BBBBBB", 6) == 0);
    struct fuse_entry_out e;
    CHECK_EQ(fc_lookup(&F, 1, "b", &e), 0);
    CHECK_EQ(e.nodeid, ea.nodeid); /* the name is a's inode now */
    struct fuse_attr at;
    CHECK_EQ(fc_getattr(&F, eb.nodeid, &at), 0);
    CHECK_EQ(at.nlink, 0);
    CHECK_EQ(fc_lookup(&F, 1, "a", NULL), -ENOENT);
    /* RENAME_NOREPLACE and RENAME_EXCHANGE. */
    fc_write_file(&F, "c", "C");
    CHECK_EQ(fc_rename2(&F, 1, "c", 1, "b", RENAME_NOREPLACE), -EEXIST);
    CHECK_EQ(fc_rename2(&F, 1, "c", 1, "b", RENAME_EXCHANGE), 0);
    CHECK_EQ(fc_lookup(&F, 1, "c", &e), 0);
    CHECK_EQ(e.nodeid, ea.nodeid);
    CHECK_EQ(fc_rename2(&F, 1, "c", 1, "b", RENAME_NOREPLACE | RENAME_EXCHANGE), -EINVAL);
    CHECK_EQ(fc_rename2(&F, 1, "c", 1, "d", RENAME_WHITEOUT), -EINVAL);
    /* Plain RENAME, into a subdirectory. */
    struct fuse_entry_out d;
    CHECK_EQ(fc_mkdir(&F, 1, "sub", 0755, &d), 0);
    struct fuse_rename_in rin = {.newdir = d.nodeid};
    uint8_t args[64];
    size_t n = fc_args(args, &rin, sizeof(rin), "c", "moved");
    CHECK_EQ(fc_call(&F, FUSE_RENAME, 1, args, n, NULL, 0), 0);
    CHECK(access(fc_path(&F, "sub/moved"), F_OK) == 0);
    CHECK_EQ(fc_release(&F, eb.nodeid, fhb, false, 0), 0);
    fc_close(&F);
}

static void test_unlink_while_open(void)
{
    up();
    struct fuse_entry_out e;
    uint64_t fh;
    CHECK_EQ(fc_create(&F, 1, "gone", O_RDWR | O_CREAT, 0600, &e, &fh), 0);
    CHECK_EQ(fc_write(&F, e.nodeid, fh, 0, "still here", 10), 10);
    CHECK_EQ(fc_name_op(&F, FUSE_UNLINK, 1, "gone"), 0);
    CHECK(access(fc_path(&F, "gone"), F_OK) < 0);
    char buf[16];
    CHECK_EQ(fc_read(&F, e.nodeid, fh, 0, sizeof(buf), buf), 10);
    CHECK(memcmp(buf, "still here", 10) == 0);
    CHECK_EQ(fc_write(&F, e.nodeid, fh, 10, "!", 1), 1);
    struct fuse_attr a;
    CHECK_EQ(fc_getattr(&F, e.nodeid, &a), 0);
    CHECK_EQ(a.nlink, 0);
    CHECK_EQ(a.size, 11);
    CHECK_EQ(fc_name_op(&F, FUSE_UNLINK, 1, "gone"), -ENOENT);
    CHECK_EQ(fc_release(&F, e.nodeid, fh, false, 0), 0);
    fc_forget(&F, e.nodeid, 1);
    CHECK_EQ(fc_getattr(&F, e.nodeid, NULL), -ESTALE); /* forgotten: the nodeid names nothing now */
    fc_close(&F);
}

static void test_append_truncate(void)
{
    up();
    fc_write_file(&F, "log", "one\n");
    struct fuse_entry_out e;
    CHECK_EQ(fc_lookup(&F, 1, "log", &e), 0);
    uint64_t fh;
    CHECK_EQ(fc_open(&F, e.nodeid, O_WRONLY | O_APPEND, &fh), 0);
    /* The kernel sends its idea of the end; the host appends at the real one (another writer was first). */
    fc_write_file(&F, "log2", "");
    int fd = open(fc_path(&F, "log"), O_WRONLY | O_APPEND);
    CHECK(write(fd, "host\n", 5) == 5);
    close(fd);
    CHECK_EQ(fc_write(&F, e.nodeid, fh, 4, "two\n", 4), 4);
    char buf[64] = {0};
    fd = open(fc_path(&F, "log"), O_RDONLY);
    CHECK_EQ(read(fd, buf, sizeof(buf)), 13);
    close(fd);
    CHECK(strcmp(buf, "one\nhost\ntwo\n") == 0);
    CHECK_EQ(fc_release(&F, e.nodeid, fh, false, 0), 0);
    /* Truncate: shrink through the path, grow through a handle; O_TRUNC at open. */
    struct fuse_setattr_in in = {.valid = FATTR_SIZE, .size = 3};
    struct fuse_attr a;
    CHECK_EQ(fc_setattr(&F, e.nodeid, &in, &a), 0);
    CHECK_EQ(a.size, 3);
    CHECK_EQ(fc_open(&F, e.nodeid, O_RDWR, &fh), 0);
    in = (struct fuse_setattr_in){.valid = FATTR_SIZE | FATTR_FH, .fh = fh, .size = 8192};
    CHECK_EQ(fc_setattr(&F, e.nodeid, &in, &a), 0);
    CHECK_EQ(a.size, 8192);
    static char zero[8192], rd[8192];
    CHECK_EQ(fc_read(&F, e.nodeid, fh, 3, 8189, rd), 8189);
    CHECK(memcmp(rd, zero, 8189) == 0);
    CHECK_EQ(fc_release(&F, e.nodeid, fh, false, 0), 0);
    CHECK_EQ(fc_open(&F, e.nodeid, O_RDWR | O_TRUNC, &fh), 0);
    CHECK_EQ(fc_getattr(&F, e.nodeid, &a), 0);
    CHECK_EQ(a.size, 0);
    CHECK_EQ(fc_release(&F, e.nodeid, fh, false, 0), 0);
    /* Times and mode. */
    in = (struct fuse_setattr_in){.valid = FATTR_MTIME | FATTR_ATIME | FATTR_MODE,
                                  .mtime = 1000000,
                                  .mtimensec = 5,
                                  .atime = 2000000,
                                  .mode = 04755};
    CHECK_EQ(fc_setattr(&F, e.nodeid, &in, &a), 0);
    CHECK_EQ(a.mtime, 1000000);
    CHECK_EQ(a.mtimensec, 5);
    CHECK_EQ(a.mode, S_IFREG | 0755); /* setuid never reaches the host */
    in = (struct fuse_setattr_in){.valid = FATTR_MTIME, .mtime = 1, .mtimensec = 1000000000};
    CHECK_EQ(fc_setattr(&F, e.nodeid, &in, &a), -EINVAL);
    fc_close(&F);
}

static void test_links(void)
{
    up();
    fc_write_file(&F, "f", "content");
    struct fuse_entry_out e, l;
    CHECK_EQ(fc_lookup(&F, 1, "f", &e), 0);
    struct fuse_link_in lin = {.oldnodeid = e.nodeid};
    uint8_t a[64];
    size_t n = fc_args(a, &lin, sizeof(lin), "hard", NULL);
    CHECK(fc_call(&F, FUSE_LINK, 1, a, n, &l, sizeof(l)) > 0);
    CHECK_EQ(l.nodeid, e.nodeid);
    CHECK_EQ(l.attr.nlink, 2);
    struct stat st1, st2;
    CHECK(stat(fc_path(&F, "f"), &st1) == 0 && stat(fc_path(&F, "hard"), &st2) == 0);
    CHECK_EQ(st1.st_ino, st2.st_ino);
    /* A directory cannot be hard-linked. */
    struct fuse_entry_out d;
    CHECK_EQ(fc_mkdir(&F, 1, "d", 0700, &d), 0);
    lin.oldnodeid = d.nodeid;
    n = fc_args(a, &lin, sizeof(lin), "dlink", NULL);
    CHECK_EQ(fc_call(&F, FUSE_LINK, 1, a, n, &l, sizeof(l)), -EPERM);
    /* Symbolic links: stored as given, read back, never followed by the host. */
    n = fc_args(a, NULL, 0, "sym", "f");
    struct fuse_entry_out s;
    CHECK(fc_call(&F, FUSE_SYMLINK, 1, a, n, &s, sizeof(s)) > 0);
    CHECK(S_ISLNK(s.attr.mode));
    char target[64] = {0};
    CHECK_EQ(fc_call(&F, FUSE_READLINK, s.nodeid, NULL, 0, target, sizeof(target)), 1);
    CHECK_EQ(target[0], 'f');
    CHECK_EQ(fc_call(&F, FUSE_READLINK, e.nodeid, NULL, 0, target, sizeof(target)), -EINVAL);
    /* A hard link of the symlink itself. */
    lin.oldnodeid = s.nodeid;
    n = fc_args(a, &lin, sizeof(lin), "sym2", NULL);
    CHECK(fc_call(&F, FUSE_LINK, 1, a, n, &l, sizeof(l)) > 0);
    CHECK(lstat(fc_path(&F, "sym2"), &st1) == 0 && S_ISLNK(st1.st_mode));
    CHECK_EQ(fc_name_op(&F, FUSE_RMDIR, 1, "d"), 0);
    CHECK_EQ(fc_name_op(&F, FUSE_RMDIR, 1, "f"), -ENOTDIR);
    fc_close(&F);
}

static void test_locks(void)
{
    up();
    fc_write_file(&F, "lk", "0123456789");
    struct fuse_entry_out e;
    CHECK_EQ(fc_lookup(&F, 1, "lk", &e), 0);
    uint64_t fh1, fh2, fh3;
    CHECK_EQ(fc_open(&F, e.nodeid, O_RDWR, &fh1), 0);
    CHECK_EQ(fc_open(&F, e.nodeid, O_RDWR, &fh2), 0);
    CHECK_EQ(fc_open(&F, e.nodeid, O_RDONLY, &fh3), 0);
    const uint64_t A = 0xa, B = 0xb, END = INT64_MAX;
    /* POSIX: A write-locks 0-4; B is refused; A again through another open is not its own conflict. */
    CHECK_EQ(fc_lk(&F, FUSE_SETLK, e.nodeid, fh1, A, F_WRLCK, 0, 4, 0, NULL), 0);
    CHECK_EQ(fc_lk(&F, FUSE_SETLK, e.nodeid, fh2, B, F_WRLCK, 2, 8, 0, NULL), -EAGAIN);
    CHECK_EQ(fc_lk(&F, FUSE_SETLK, e.nodeid, fh2, A, F_WRLCK, 3, 6, 0, NULL), 0);
    CHECK_EQ(fc_lk(&F, FUSE_SETLK, e.nodeid, fh2, B, F_RDLCK, 7, END, 0, NULL), 0);
    struct fuse_file_lock got;
    CHECK_EQ(fc_lk(&F, FUSE_GETLK, e.nodeid, fh2, B, F_WRLCK, 0, END, 0, &got), 0);
    CHECK_EQ(got.type, F_WRLCK);
    CHECK_EQ(got.start, 0);
    CHECK_EQ(got.end, 6);
    /* A host process sees the guest's lock too. */
    int fd = open(fc_path(&F, "lk"), O_RDWR);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    CHECK_EQ(fcntl(fd, F_OFD_GETLK, &fl), 0);
    CHECK_EQ(fl.l_type, F_WRLCK);
    close(fd);
    /* SETLKW that must wait does not block: it is handed back to wait. */
    CHECK_EQ(fc_lk(&F, FUSE_SETLKW, e.nodeid, fh2, B, F_WRLCK, 0, 0, 0, NULL), -EINPROGRESS);
    CHECK_EQ(F.last_len, FS_RETRY);
    /* close() by A (FLUSH with its owner) lets its locks go: B gets it now. */
    struct fuse_flush_in fin = {.fh = fh1, .lock_owner = A};
    CHECK_EQ(fc_call(&F, FUSE_FLUSH, e.nodeid, &fin, sizeof(fin), NULL, 0), 0);
    CHECK_EQ(fc_lk(&F, FUSE_SETLKW, e.nodeid, fh2, B, F_WRLCK, 0, 0, 0, NULL), 0);
    CHECK_EQ(fc_lk(&F, FUSE_SETLK, e.nodeid, fh2, B, F_UNLCK, 0, END, 0, NULL), 0);
    CHECK_EQ(fc_lk(&F, FUSE_SETLK, e.nodeid, fh1, A, F_WRLCK, 0, END, 0, NULL), 0);
    /* Nonsense ranges and types. */
    CHECK_EQ(fc_lk(&F, FUSE_SETLK, e.nodeid, fh1, A, F_WRLCK, 5, 4, 0, NULL), -EINVAL);
    CHECK_EQ(fc_lk(&F, FUSE_SETLK, e.nodeid, fh1, A, 77, 0, 4, 0, NULL), -EINVAL);
    CHECK_EQ(fc_lk(&F, FUSE_SETLK, e.nodeid, 0x12345, A, F_WRLCK, 0, 4, 0, NULL), -EBADF);
    CHECK_EQ(fc_release(&F, e.nodeid, fh1, false, A), 0);
    /* flock: per open file. */
    CHECK_EQ(fc_lk(&F, FUSE_SETLK, e.nodeid, fh2, 0, F_WRLCK, 0, END, FUSE_LK_FLOCK, NULL), 0);
    CHECK_EQ(fc_lk(&F, FUSE_SETLK, e.nodeid, fh3, 0, F_RDLCK, 0, END, FUSE_LK_FLOCK, NULL), -EAGAIN);
    CHECK_EQ(fc_lk(&F, FUSE_SETLKW, e.nodeid, fh3, 0, F_RDLCK, 0, END, FUSE_LK_FLOCK, NULL), -EINPROGRESS);
    CHECK_EQ(fc_release(&F, e.nodeid, fh2, false, 0), 0); /* closing it unlocks */
    CHECK_EQ(fc_lk(&F, FUSE_SETLKW, e.nodeid, fh3, 0, F_RDLCK, 0, END, FUSE_LK_FLOCK, NULL), 0);
    CHECK_EQ(fc_release(&F, e.nodeid, fh3, false, 0), 0);
    fc_close(&F);
}

static void test_sparse_big(void)
{
    up();
    struct fuse_entry_out e;
    uint64_t fh;
    CHECK_EQ(fc_create(&F, 1, "sparse", O_RDWR | O_CREAT, 0644, &e, &fh), 0);
    const uint64_t five_g = 5ull << 30;
    CHECK_EQ(fc_write(&F, e.nodeid, fh, five_g, "end", 3), 3);
    struct fuse_attr a;
    CHECK_EQ(fc_getattr(&F, e.nodeid, &a), 0);
    CHECK_EQ(a.size, five_g + 3);
    CHECK(a.blocks < 1024); /* sparse on the host */
    char buf[PAGE];
    CHECK_EQ(fc_read(&F, e.nodeid, fh, 1ull << 30, sizeof(buf), buf), (int)sizeof(buf));
    static const char zero[PAGE];
    CHECK(memcmp(buf, zero, sizeof(buf)) == 0);
    CHECK_EQ(fc_read(&F, e.nodeid, fh, five_g, 16, buf), 3);
    CHECK(memcmp(buf, "end", 3) == 0);
    struct fuse_lseek_in lin = {.fh = fh, .offset = 0, .whence = SEEK_DATA};
    struct fuse_lseek_out lout;
    CHECK(fc_call(&F, FUSE_LSEEK, e.nodeid, &lin, sizeof(lin), &lout, sizeof(lout)) > 0);
    CHECK(lout.offset > (4ull << 30) && lout.offset <= five_g);
    lin.whence = SEEK_HOLE;
    CHECK(fc_call(&F, FUSE_LSEEK, e.nodeid, &lin, sizeof(lin), &lout, sizeof(lout)) > 0);
    CHECK_EQ(lout.offset, 0);
    lin.whence = SEEK_SET;
    CHECK_EQ(fc_call(&F, FUSE_LSEEK, e.nodeid, &lin, sizeof(lin), &lout, sizeof(lout)), -EINVAL);
    /* Punch the data away again; fallocate a range. */
    struct fuse_fallocate_in fin = {.fh = fh,
                                    .offset = five_g - PAGE,
                                    .length = 2 * PAGE,
                                    .mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE};
    CHECK_EQ(fc_call(&F, FUSE_FALLOCATE, e.nodeid, &fin, sizeof(fin), NULL, 0), 0);
    CHECK_EQ(fc_read(&F, e.nodeid, fh, five_g, 16, buf), 3);
    CHECK(memcmp(buf, zero, 3) == 0);
    fin = (struct fuse_fallocate_in){.fh = fh, .offset = 0, .length = PAGE, .mode = 0};
    CHECK_EQ(fc_call(&F, FUSE_FALLOCATE, e.nodeid, &fin, sizeof(fin), NULL, 0), 0);
    fin.mode = 0x1000;
    CHECK_EQ(fc_call(&F, FUSE_FALLOCATE, e.nodeid, &fin, sizeof(fin), NULL, 0), -EOPNOTSUPP);
    fin = (struct fuse_fallocate_in){.fh = fh, .offset = INT64_MAX, .length = 2};
    CHECK_EQ(fc_call(&F, FUSE_FALLOCATE, e.nodeid, &fin, sizeof(fin), NULL, 0), -EINVAL);
    /* fsync and copy_file_range. */
    struct fuse_fsync_in sin = {.fh = fh, .fsync_flags = FUSE_FSYNC_FDATASYNC};
    CHECK_EQ(fc_call(&F, FUSE_FSYNC, e.nodeid, &sin, sizeof(sin), NULL, 0), 0);
    CHECK_EQ(fc_write(&F, e.nodeid, fh, 100, "copy me", 7), 7);
    struct fuse_entry_out e2;
    uint64_t fh2;
    CHECK_EQ(fc_create(&F, 1, "copy", O_RDWR | O_CREAT, 0644, &e2, &fh2), 0);
    struct fuse_copy_file_range_in cin = {
        .fh_in = fh, .off_in = 100, .nodeid_out = e2.nodeid, .fh_out = fh2, .off_out = 1, .len = 7};
    struct fuse_write_out wout;
    CHECK(fc_call(&F, FUSE_COPY_FILE_RANGE, e.nodeid, &cin, sizeof(cin), &wout, sizeof(wout)) > 0);
    CHECK_EQ(wout.size, 7);
    CHECK_EQ(fc_read(&F, e2.nodeid, fh2, 0, 16, buf), 8);
    CHECK(memcmp(buf, "\0copy me", 8) == 0);
    cin.flags = 1;
    CHECK_EQ(fc_call(&F, FUSE_COPY_FILE_RANGE, e.nodeid, &cin, sizeof(cin), &wout, sizeof(wout)), -EINVAL);
    CHECK_EQ(fc_release(&F, e.nodeid, fh, false, 0), 0);
    CHECK_EQ(fc_release(&F, e2.nodeid, fh2, false, 0), 0);
    fc_close(&F);
}

/* Lists a directory the way the kernel does (a READDIR per reply, continuing from the last offset), with
 * change() run between the replies; counts how often each of the names f000..f299 appears. */
static void list_counting(uint32_t opcode, uint64_t dir, int counts[300], void (*change)(int round))
{
    uint64_t fh, off = 0;
    CHECK_EQ(fc_opendir(&F, dir, &fh), 0);
    static uint8_t buf[2048];
    for (int round = 0; round < 1000; round++) {
        struct fuse_read_in in = {.fh = fh, .offset = off, .size = sizeof(buf)};
        int n = fc_call(&F, opcode, dir, &in, sizeof(in), buf, sizeof(buf));
        CHECK(n >= 0);
        if (n <= 0)
            break;
        for (int pos = 0; pos < n;) {
            bool plus = opcode == FUSE_READDIRPLUS;
            struct fuse_dirent *d;
            struct fuse_entry_out *e = NULL;
            if (plus) {
                struct fuse_direntplus *p = (struct fuse_direntplus *)(buf + pos);
                e = &p->entry_out;
                d = &p->dirent;
                pos += FUSE_DIRENTPLUS_SIZE(p);
            } else {
                d = (struct fuse_dirent *)(buf + pos);
                pos += FUSE_DIRENT_SIZE(d);
            }
            char name[256] = {0};
            memcpy(name, d->name, d->namelen < 255 ? d->namelen : 255);
            off = d->off;
            int k;
            if (sscanf(name, "f%03d", &k) == 1 && k >= 0 && k < 300 && d->namelen == 4)
                counts[k]++;
            if (e && e->nodeid) {
                CHECK(strcmp(name, ".") != 0 && strcmp(name, "..") != 0);
                CHECK_EQ(e->attr.ino, d->ino);
                fc_forget(&F, e->nodeid, 1);
            }
        }
        if (change)
            change(round);
    }
    CHECK_EQ(fc_release(&F, dir, fh, true, 0), 0);
}

static void churn(int round)
{
    /* Others come and go while the listing runs; f000..f299 stay. */
    char name[32];
    snprintf(name, sizeof(name), "tmp%03d", round);
    fc_write_file(&F, name, "x");
    if (round > 2) {
        snprintf(name, sizeof(name), "tmp%03d", round - 2);
        unlink(fc_path(&F, name));
    }
}

static void test_readdir_changing(void)
{
    up();
    for (int i = 0; i < 300; i++) {
        char name[16];
        snprintf(name, sizeof(name), "f%03d", i);
        fc_write_file(&F, name, "");
    }
    static int counts[300];
    memset(counts, 0, sizeof(counts));
    list_counting(FUSE_READDIR, 1, counts, churn);
    for (int i = 0; i < 300; i++)
        CHECK_EQ(counts[i], 1);
    memset(counts, 0, sizeof(counts));
    list_counting(FUSE_READDIRPLUS, 1, counts, churn);
    for (int i = 0; i < 300; i++)
        CHECK_EQ(counts[i], 1);
    unsigned nodes, nmax, handles, hmax;
    fs_server_usage(F.s, &nodes, &nmax, &handles, &hmax);
    CHECK_EQ(nodes, 1); /* readdirplus's lookups were all forgotten */
    CHECK_EQ(handles, 0);
    /* A file handle is no directory handle and the other way round. */
    uint64_t dfh;
    CHECK_EQ(fc_opendir(&F, 1, &dfh), 0);
    char b[64];
    CHECK_EQ(fc_read(&F, 1, dfh, 0, sizeof(b), b), -EBADF);
    struct fuse_entry_out e;
    CHECK_EQ(fc_lookup(&F, 1, "f001", &e), 0);
    CHECK_EQ(fc_opendir(&F, e.nodeid, NULL), -ENOTDIR);
    CHECK_EQ(fc_open(&F, 1, O_RDONLY, NULL), -EISDIR);
    struct fuse_fsync_in sin = {.fh = dfh};
    CHECK_EQ(fc_call(&F, FUSE_FSYNCDIR, 1, &sin, sizeof(sin), NULL, 0), 0);
    CHECK_EQ(fc_release(&F, 1, dfh, false, 0), -EBADF);
    CHECK_EQ(fc_release(&F, 1, dfh, true, 0), 0);
    fc_close(&F);
}

/* OPENDIR lets the guest keep a listing only once the directory has been still for a second (a change in the
 * same timestamp tick would not move the mtime the guest checks), and never with keep_cache=off. */
static uint32_t opendir_flags(uint64_t dir)
{
    struct fuse_open_in in = {.flags = O_RDONLY};
    struct fuse_open_out out = {0};
    CHECK_EQ(fc_call(&F, FUSE_OPENDIR, dir, &in, sizeof(in), &out, sizeof(out)), (int)sizeof(out));
    CHECK_EQ(fc_release(&F, dir, out.fh, true, 0), 0);
    return out.open_flags;
}

static void test_dir_cache(void)
{
    up();
    CHECK_EQ(mkdir(fc_path(&F, "d"), 0755), 0);
    struct fuse_entry_out e;
    CHECK_EQ(fc_lookup(&F, 1, "d", &e), 0);
    CHECK_EQ(opendir_flags(e.nodeid), 0u); /* just made */
    usleep(1100 * 1000);
    CHECK_EQ(opendir_flags(e.nodeid), (uint32_t)(FOPEN_CACHE_DIR | FOPEN_KEEP_CACHE));
    fc_write_file(&F, "d/new", "x"); /* changed: not kept, so the guest reads it anew */
    CHECK_EQ(opendir_flags(e.nodeid), 0u);
    /* A stamp in the future is not still either. */
    struct timespec later[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = time(NULL) + 3600}};
    CHECK_EQ(utimensat(AT_FDCWD, fc_path(&F, "d"), later, 0), 0);
    usleep(1100 * 1000);
    CHECK_EQ(opendir_flags(e.nodeid), 0u);
    fc_close(&F);
}

static void test_xattrs(void)
{
    up();
    fc_write_file(&F, "x", "");
    struct fuse_entry_out e;
    CHECK_EQ(fc_lookup(&F, 1, "x", &e), 0);
    uint8_t a[256];
    struct fuse_setxattr_in sin = {.size = 5};
    size_t n = fc_args(a, &sin, FUSE_COMPAT_SETXATTR_IN_SIZE, "user.lsl", NULL);
    memcpy(a + n, "hello", 5);
    int r = fc_call(&F, FUSE_SETXATTR, e.nodeid, a, n + 5, NULL, 0);
    if (r == -EOPNOTSUPP) { /* a /tmp without user xattrs */
        printf("note: no user xattrs on /tmp, skipping the xattr checks\n");
        fc_close(&F);
        return;
    }
    CHECK_EQ(r, 0);
    char v[16] = {0};
    CHECK_EQ(getxattr(fc_path(&F, "x"), "user.lsl", v, sizeof(v)), 5);
    struct fuse_getxattr_in gin = {.size = 0};
    n = fc_args(a, &gin, sizeof(gin), "user.lsl", NULL);
    struct fuse_getxattr_out gout;
    CHECK_EQ(fc_call(&F, FUSE_GETXATTR, e.nodeid, a, n, &gout, sizeof(gout)), (int)sizeof(gout));
    CHECK_EQ(gout.size, 5);
    gin.size = 64;
    n = fc_args(a, &gin, sizeof(gin), "user.lsl", NULL);
    CHECK_EQ(fc_call(&F, FUSE_GETXATTR, e.nodeid, a, n, v, 64), 5);
    CHECK(memcmp(v, "hello", 5) == 0);
    gin.size = 2;
    n = fc_args(a, &gin, sizeof(gin), "user.lsl", NULL);
    CHECK_EQ(fc_call(&F, FUSE_GETXATTR, e.nodeid, a, n, v, 2), -ERANGE);
    char list[256] = {0};
    gin.size = sizeof(list);
    CHECK(fc_call(&F, FUSE_LISTXATTR, e.nodeid, &gin, sizeof(gin), list, sizeof(list)) >= 9);
    bool found = false;
    for (char *p = list; *p; p += strlen(p) + 1)
        found |= strcmp(p, "user.lsl") == 0;
    CHECK(found);
    sin.flags = XATTR_CREATE;
    n = fc_args(a, &sin, FUSE_COMPAT_SETXATTR_IN_SIZE, "user.lsl", NULL);
    memcpy(a + n, "again", 5);
    CHECK_EQ(fc_call(&F, FUSE_SETXATTR, e.nodeid, a, n + 5, NULL, 0), -EEXIST);
    CHECK_EQ(fc_name_op(&F, FUSE_REMOVEXATTR, e.nodeid, "user.lsl"), 0);
    n = fc_args(a, &gin, sizeof(gin), "user.lsl", NULL);
    CHECK_EQ(fc_call(&F, FUSE_GETXATTR, e.nodeid, a, n, v, 64), -ENODATA);
    fc_close(&F);
}

static void test_misc_ops(void)
{
    up();
    struct fuse_entry_out e;
    /* mknod: a FIFO and a regular file; never a device. */
    struct fuse_mknod_in min = {.mode = S_IFIFO | 0644};
    uint8_t a[128];
    size_t n = fc_args(a, &min, sizeof(min), "fifo", NULL);
    CHECK(fc_call(&F, FUSE_MKNOD, 1, a, n, &e, sizeof(e)) > 0);
    CHECK(S_ISFIFO(e.attr.mode));
    CHECK_EQ(fc_open(&F, e.nodeid, O_RDONLY, NULL), -EACCES); /* a FIFO is never opened on the host */
    min.mode = S_IFREG | 04755;
    n = fc_args(a, &min, sizeof(min), "reg", NULL);
    CHECK(fc_call(&F, FUSE_MKNOD, 1, a, n, &e, sizeof(e)) > 0);
    CHECK_EQ(e.attr.mode, S_IFREG | 0755);
    min.mode = S_IFCHR | 0600;
    min.rdev = 0x0103; /* 1:3, /dev/null */
    n = fc_args(a, &min, sizeof(min), "null", NULL);
    CHECK_EQ(fc_call(&F, FUSE_MKNOD, 1, a, n, &e, sizeof(e)), -EPERM);
    min.mode = S_IFBLK | 0600;
    CHECK_EQ(fc_call(&F, FUSE_MKNOD, 1, a, n, &e, sizeof(e)), -EPERM);
    /* statfs, syncfs, access. */
    struct fuse_statfs_out sf;
    CHECK_EQ(fc_call(&F, FUSE_STATFS, 1, NULL, 0, &sf, sizeof(sf)), (int)sizeof(sf));
    CHECK(sf.st.bsize > 0 && sf.st.namelen >= 255);
    struct fuse_syncfs_in syn = {0};
    CHECK_EQ(fc_call(&F, FUSE_SYNCFS, 1, &syn, sizeof(syn), NULL, 0), 0);
    struct fuse_access_in acc = {.mask = R_OK | X_OK};
    CHECK_EQ(fc_call(&F, FUSE_ACCESS, 1, &acc, sizeof(acc), NULL, 0), 0);
    /* TMPFILE: an unnamed file, linked in afterwards. */
    struct fuse_create_in cin = {.flags = O_RDWR, .mode = S_IFREG | 0600};
    n = fc_args(a, &cin, sizeof(cin), "tmp", NULL);
    uint8_t out[sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out)];
    int r = fc_call(&F, FUSE_TMPFILE, 1, a, n, out, sizeof(out));
    CHECK(r > 0 || r == -EOPNOTSUPP);
    if (r > 0) {
        memcpy(&e, out, sizeof(e));
        struct fuse_open_out o;
        memcpy(&o, out + sizeof(e), sizeof(o));
        CHECK_EQ(e.attr.nlink, 0);
        CHECK_EQ(fc_write(&F, e.nodeid, o.fh, 0, "tmp", 3), 3);
        struct fuse_link_in lin = {.oldnodeid = e.nodeid};
        n = fc_args(a, &lin, sizeof(lin), "named", NULL);
        CHECK(fc_call(&F, FUSE_LINK, 1, a, n, &e, sizeof(e)) > 0);
        CHECK_EQ(e.attr.nlink, 1);
        CHECK_EQ(fc_release(&F, e.nodeid, o.fh, false, 0), 0);
    }
    /* Subdirectories; "." and ".." inside the share. */
    struct fuse_entry_out d, dd;
    CHECK_EQ(fc_mkdir(&F, 1, "dir", 0775, &d), 0);
    CHECK_EQ(d.attr.mode, S_IFDIR | 0775);
    struct fuse_setattr_in sa = {.valid = FATTR_MODE, .mode = 06775};
    struct fuse_attr da;
    CHECK_EQ(fc_setattr(&F, d.nodeid, &sa, &da), 0);
    CHECK_EQ(da.mode, S_IFDIR | 02775); /* setgid stays on directories (group inheritance), setuid goes */
    CHECK_EQ(fc_mkdir(&F, d.nodeid, "inner", 0755, &dd), 0);
    CHECK_EQ(fc_lookup(&F, dd.nodeid, "..", &e), 0);
    CHECK_EQ(e.nodeid, d.nodeid);
    CHECK_EQ(fc_lookup(&F, d.nodeid, ".", &e), 0);
    CHECK_EQ(e.nodeid, d.nodeid);
    CHECK_EQ(fc_mkdir(&F, d.nodeid, "inner", 0755, NULL), -EEXIST);
    CHECK_EQ(fc_mkdir(&F, d.nodeid, "..", 0755, NULL), -EEXIST);
    CHECK_EQ(fc_name_op(&F, FUSE_RMDIR, 1, "dir"), -ENOTEMPTY);
    fc_close(&F);
}

/* The notification touch answers with the file's attributes and changes nothing; the event channel reports
 * a host change in a directory the guest listed. */
static void test_notify(void)
{
    up();
    fc_write_file(&F, "watched", "v1");
    struct fuse_entry_out e;
    CHECK_EQ(fc_lookup(&F, 1, "watched", &e), 0);
    struct stat before, after;
    CHECK_EQ(stat(fc_path(&F, "watched"), &before), 0);
    struct fuse_setattr_in in = {.valid = FATTR_MTIME, .mtime = 0, .mtimensec = LSL_FS_TOUCH_NSEC};
    struct fuse_attr a;
    CHECK_EQ(fc_setattr(&F, e.nodeid, &in, &a), 0);
    CHECK_EQ(stat(fc_path(&F, "watched"), &after), 0);
    CHECK_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
    CHECK_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
    CHECK_EQ(after.st_ctim.tv_nsec, before.st_ctim.tv_nsec);
    CHECK_EQ(a.mtime, (uint64_t)before.st_mtim.tv_sec);
    CHECK_EQ(a.size, 2);
    /* Events: the first request turns watching on and waits (parks). */
    uint64_t dfh;
    CHECK_EQ(fc_opendir(&F, 1, &dfh), 0);
    struct fuse_ioctl_in ioc = {.fh = dfh,
                                .flags = FUSE_IOCTL_DIR,
                                .cmd = (uint32_t)LSL_FS_IOC_EVENTS,
                                .out_size = LSL_FS_EVENTS_BUF};
    static uint8_t buf[sizeof(struct fuse_ioctl_out) + LSL_FS_EVENTS_BUF];
    CHECK_EQ(fc_call(&F, FUSE_IOCTL, 1, &ioc, sizeof(ioc), buf, sizeof(buf)), -EINPROGRESS);
    int ifd = fs_server_watch_fd(F.s);
    CHECK(ifd >= 0);
    /* Another process's changes are events; the server's own (the guest's, through it) are not. */
    pid_t pid = fork();
    if (pid == 0) {
        fc_write_file(&F, "watched", "v2, longer");
        fc_write_file(&F, "new", "n");
        _exit(0);
    }
    CHECK(pid > 0 && waitpid(pid, NULL, 0) == pid);
    fc_write_file(&F, "own", "o");
    usleep(1000);
    fs_server_watch_read(F.s);
    CHECK(fs_server_events_waiting(F.s));
    int n = fc_call(&F, FUSE_IOCTL, 1, &ioc, sizeof(ioc), buf, sizeof(buf));
    CHECK(n > (int)sizeof(struct fuse_ioctl_out));
    struct fuse_ioctl_out io;
    memcpy(&io, buf, sizeof(io));
    CHECK_EQ(io.result, n - (int)sizeof(io));
    bool modified = false, created = false, own = false;
    for (int pos = sizeof(io); pos < n;) {
        struct lsl_fs_event *ev = (struct lsl_fs_event *)(buf + pos);
        CHECK(ev->len >= sizeof(*ev) && ev->len % 8 == 0);
        modified |= strcmp(ev->path, "watched") == 0 && (ev->mask & (IN_MODIFY | IN_CLOSE_WRITE));
        created |= strcmp(ev->path, "new") == 0 && (ev->mask & IN_CREATE);
        own |= strcmp(ev->path, "own") == 0;
        pos += (int)ev->len;
    }
    CHECK(modified);
    CHECK(created);
    CHECK(!own);
    /* Only the root's directory handle asks; other commands are ENOTTY. */
    ioc.cmd = 0x5401;
    CHECK_EQ(fc_call(&F, FUSE_IOCTL, 1, &ioc, sizeof(ioc), buf, sizeof(buf)), -ENOTTY);
    /* The long wait parks too; the end answers it when the device next reads the watch (the eventfd makes
     * that now), and every call after it, with ESHUTDOWN. */
    ioc.cmd = (uint32_t)LSL_FS_IOC_EVENTS_IDLE;
    CHECK_EQ(fc_call(&F, FUSE_IOCTL, 1, &ioc, sizeof(ioc), buf, sizeof(buf)), -EINPROGRESS);
    CHECK(!fs_server_events_waiting(F.s));
    struct fuse_ioctl_in end = {.fh = dfh, .flags = FUSE_IOCTL_DIR, .cmd = (uint32_t)LSL_FS_IOC_EVENTS_END};
    CHECK_EQ(fc_call(&F, FUSE_IOCTL, 1, &end, sizeof(end), buf, sizeof(buf)),
             (int)sizeof(struct fuse_ioctl_out));
    memcpy(&io, buf, sizeof(io));
    CHECK_EQ(io.result, 0);
    struct pollfd pw = {.fd = ifd, .events = POLLIN};
    CHECK_EQ(poll(&pw, 1, 0), 1);
    fs_server_watch_read(F.s);
    CHECK(fs_server_events_waiting(F.s));
    CHECK_EQ(poll(&pw, 1, 0), 0);
    CHECK_EQ(fc_call(&F, FUSE_IOCTL, 1, &ioc, sizeof(ioc), buf, sizeof(buf)), -ESHUTDOWN);
    ioc.cmd = (uint32_t)LSL_FS_IOC_EVENTS;
    CHECK_EQ(fc_call(&F, FUSE_IOCTL, 1, &ioc, sizeof(ioc), buf, sizeof(buf)), -ESHUTDOWN);
    /* Until the device is reset: a new session (a re-probed driver) may ask again. */
    fs_server_reset(F.s);
    CHECK(fc_init(&F, FC_HANDLES) > 0);
    CHECK_EQ(fc_opendir(&F, 1, &dfh), 0);
    ioc.fh = dfh;
    CHECK_EQ(fc_call(&F, FUSE_IOCTL, 1, &ioc, sizeof(ioc), buf, sizeof(buf)), -EINPROGRESS);
    CHECK_EQ(fc_release(&F, 1, dfh, true, 0), 0);
    fc_close(&F);
}

/* How long the guest may keep what it is told (watch.c): the share's timeout until a helper reads events,
 * then watched_ms for names in watched directories and for the attributes of single-link files found there
 * and of watched directories; never for the root's attributes or a file with a second link; the timeout
 * again once the helper has been silent for its call's wait and 2 s, or has been told to end. */
static uint64_t attr_valid(uint64_t nodeid)
{
    struct fuse_getattr_in in = {0};
    struct fuse_attr_out out;
    CHECK(fc_call(&F, FUSE_GETATTR, nodeid, &in, sizeof(in), &out, sizeof(out)) > 0);
    return out.attr_valid;
}

static void test_trust(void)
{
    up();
    fc_write_file(&F, "solo", "1");
    fc_write_file(&F, "linked", "2");
    CHECK_EQ(mkdir(fc_path(&F, "d"), 0755), 0);
    const uint64_t shorter = FS_DEFAULT_TIMEOUT_MS / 1000, longer = FS_DEFAULT_WATCHED_MS / 1000;
    struct fuse_entry_out e;
    CHECK_EQ(fc_lookup(&F, 1, "solo", &e), 0);
    CHECK(e.entry_valid == shorter && e.attr_valid == shorter); /* nobody reads events yet */
    uint64_t dfh;
    CHECK_EQ(fc_opendir(&F, 1, &dfh), 0);
    struct fuse_ioctl_in ioc = {.fh = dfh,
                                .flags = FUSE_IOCTL_DIR,
                                .cmd = (uint32_t)LSL_FS_IOC_EVENTS,
                                .out_size = LSL_FS_EVENTS_BUF};
    static uint8_t buf[sizeof(struct fuse_ioctl_out) + LSL_FS_EVENTS_BUF];
    CHECK_EQ(fc_call(&F, FUSE_IOCTL, 1, &ioc, sizeof(ioc), buf, sizeof(buf)), -EINPROGRESS);
    CHECK_EQ(fc_lookup(&F, 1, "solo", &e), 0);
    CHECK(e.entry_valid == longer && e.attr_valid == longer);
    CHECK_EQ(attr_valid(e.nodeid), longer);
    CHECK_EQ(link(fc_path(&F, "linked"), fc_path(&F, "link2")), 0);
    CHECK_EQ(fc_lookup(&F, 1, "linked", &e), 0);
    CHECK(e.entry_valid == longer && e.attr_valid == shorter); /* it may change through link2 unseen */
    CHECK_EQ(attr_valid(e.nodeid), shorter);
    CHECK_EQ(fc_lookup(&F, 1, "d", &e), 0);
    uint64_t d = e.nodeid;
    CHECK(e.entry_valid == longer && e.attr_valid == longer); /* watched itself now */
    CHECK_EQ(fc_lookup(&F, 1, "absent", &e), -ENOENT);
    CHECK_EQ(e.entry_valid, longer);
    CHECK_EQ(attr_valid(1), shorter); /* the root: no name the helper could look up again */
    fc_write_file(&F, "d/inner", "3");
    CHECK_EQ(fc_lookup(&F, d, "inner", &e), 0);
    CHECK(e.entry_valid == longer && e.attr_valid == longer);
    /* The helper gone quiet for longer than its call's wait (1 s) and 2 s: nothing is trusted long. */
    usleep(3100 * 1000);
    CHECK_EQ(fc_lookup(&F, 1, "solo", &e), 0);
    CHECK(e.entry_valid == shorter && e.attr_valid == shorter);
    /* A call with the long wait (30 s) keeps the trust as long; the guest powering off ends it at once. */
    ioc.cmd = (uint32_t)LSL_FS_IOC_EVENTS_IDLE;
    CHECK_EQ(fc_call(&F, FUSE_IOCTL, 1, &ioc, sizeof(ioc), buf, sizeof(buf)), -EINPROGRESS);
    usleep(3100 * 1000);
    CHECK_EQ(fc_lookup(&F, 1, "solo", &e), 0);
    CHECK(e.entry_valid == longer && e.attr_valid == longer);
    struct fuse_ioctl_in end = {.fh = dfh, .flags = FUSE_IOCTL_DIR, .cmd = (uint32_t)LSL_FS_IOC_EVENTS_END};
    CHECK(fc_call(&F, FUSE_IOCTL, 1, &end, sizeof(end), buf, sizeof(buf)) > 0);
    CHECK_EQ(fc_lookup(&F, 1, "solo", &e), 0);
    CHECK(e.entry_valid == shorter && e.attr_valid == shorter);
    CHECK_EQ(fc_release(&F, 1, dfh, true, 0), 0);
    fc_close(&F);
    /* watched=0: the timeout for everything, helper or not. */
    struct fs_share sh;
    fs_share_defaults(&sh, "t", "");
    sh.watched_ms = 0;
    fc_open_share(&F, &sh);
    CHECK(fc_init(&F, FC_HANDLES) > 0);
    fc_write_file(&F, "solo", "1");
    CHECK_EQ(fc_opendir(&F, 1, &dfh), 0);
    ioc.fh = dfh;
    CHECK_EQ(fc_call(&F, FUSE_IOCTL, 1, &ioc, sizeof(ioc), buf, sizeof(buf)), -EINPROGRESS);
    CHECK_EQ(fc_lookup(&F, 1, "solo", &e), 0);
    CHECK(e.entry_valid == shorter && e.attr_valid == shorter);
    CHECK_EQ(fc_release(&F, 1, dfh, true, 0), 0);
    fc_close(&F);
}

/* lsl-vmm --share: the tag, the path, options taken off the end. */
static void test_share_parse(void)
{
    char err[256];
    struct fs_share sh;
    char a1[] = "host=/home/u";
    CHECK_EQ(fs_share_parse(a1, &sh, err, sizeof(err)), 0);
    CHECK(strcmp(sh.tag, "host") == 0 && strcmp(sh.path, "/home/u") == 0);
    CHECK(!sh.readonly && sh.uid == 1000 && sh.gid == 1000 && sh.timeout_ms == FS_DEFAULT_TIMEOUT_MS);
    CHECK(sh.xdev && sh.keep_cache && !sh.writeback && sh.threads == FS_DEFAULT_THREADS &&
          sh.dax_mib == FS_DEFAULT_DAX_MIB);
    char a2[] = "x=/a,b/"
                "c,ro,uid=1001,gid=0,timeout=0,watched=5000,writeback=on,keep_cache=off,readdirplus=never,"
                "threads=4,xdev=off,dax=256";
    CHECK_EQ(fs_share_parse(a2, &sh, err, sizeof(err)), 0);
    CHECK(strcmp(sh.path, "/a,b/c") == 0); /* a comma before a non-option stays in the path */
    CHECK(sh.readonly && sh.uid == 1001 && sh.gid == 0 && sh.timeout_ms == 0 && sh.watched_ms == 5000 &&
          sh.writeback && !sh.keep_cache);
    CHECK(sh.readdirplus == FS_READDIRPLUS_NEVER && sh.threads == 4 && !sh.xdev && sh.dax_mib == 256);
    const char *bad[] = {"noequals",
                         "=/x",
                         "a b=/x",
                         "t/x=/x",
                         "0123456789012345678901234567890123456=/x",
                         "t=",
                         "t=,ro",
                         "t=/x,uid=-1",
                         "t=/x,uid=4294967295",
                         "t=/x,timeout=abc",
                         "t=/x,threads=17",
                         "t=/x,writeback=maybe",
                         "t=/x,readdirplus=sometimes",
                         "t=/x,dax=3",
                         "t=/x,dax=65538",
                         "t=/x,dax=1G"};
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char buf[128];
        snprintf(buf, sizeof(buf), "%s", bad[i]);
        err[0] = '\0';
        CHECK_EQ(fs_share_parse(buf, &sh, err, sizeof(err)), -EINVAL);
        CHECK(err[0] != '\0');
    }
    char t36[] = "012345678901234567890123456789012345=/x";
    CHECK_EQ(fs_share_parse(t36, &sh, err, sizeof(err)), 0);
    /* Through lsl-vmm's option parser: several shares, a tag only once. */
    char k[] = "--kernel", kv[] = "/k", s1[] = "--share", v1[] = "a=/x", s2[] = "--share", v2[] = "b=/y,ro",
         s3[] = "--share", v3[] = "a=/z";
    char *argv[] = {(char *)"lsl-vmm", k, kv, s1, v1, s2, v2, NULL};
    struct vmm_options o;
    CHECK_EQ(vmm_options_parse(7, argv, &o, err, sizeof(err)), 0);
    CHECK_EQ(o.nshares, 2);
    CHECK(o.shares[1].readonly && strcmp(o.shares[1].path, "/y") == 0);
    char *argv2[] = {(char *)"lsl-vmm", k, kv, s1, v1, s3, v3, NULL};
    snprintf(v1, sizeof(v1), "a=/x");
    CHECK_EQ(vmm_options_parse(7, argv2, &o, err, sizeof(err)), -EINVAL);
    CHECK(strstr(err, "twice") != NULL);
}

int main(void)
{
    RUN(test_share_parse);
    RUN(test_init);
    RUN(test_create_read_write);
    RUN(test_ownership_map);
    RUN(test_rename_over_open);
    RUN(test_unlink_while_open);
    RUN(test_append_truncate);
    RUN(test_links);
    RUN(test_locks);
    RUN(test_sparse_big);
    RUN(test_readdir_changing);
    RUN(test_dir_cache);
    RUN(test_xattrs);
    RUN(test_misc_ops);
    RUN(test_notify);
    RUN(test_trust);
    return CHECK_DONE();
}
