/* virtio-fs's DAX window without a VM (vmm/fs/dax.c): INIT offers it only with a window; large regular files
 * say FUSE_ATTR_DAX; SETUPMAPPING maps a file range where the guest asks (a read mapping never writes the
 * file, a write mapping does); every malformed mapping request fails alone; REMOVEMAPPING and a new session
 * put zeroes back; and a file the host truncated under a mapping is mended, not left to fault. The window is
 * read here as the guest would see it, through the pointer the device gives KVM. */
#include <poll.h>

#include "test_fs_client.h"

#define MIB (1u << 20)

static struct fc F;
static uint8_t *win;

static void up(bool readonly, bool window)
{
    struct fs_share sh;
    fs_share_defaults(&sh, "t", "");
    sh.readonly = readonly;
    fc_open_share(&F, &sh);
    void *base = NULL;
    if (window)
        CHECK_EQ(fs_server_window(F.s, 8 * MIB, &base), 0);
    win = base;
    struct fuse_init_in in = {.major = 7,
                              .minor = 38,
                              .max_readahead = 128 << 10,
                              .flags = FUSE_ASYNC_READ | FUSE_INIT_EXT | FUSE_MAP_ALIGNMENT,
                              .flags2 = (uint32_t)(FUSE_HAS_INODE_DAX >> 32)};
    struct fuse_init_out out;
    CHECK_EQ(fc_call(&F, FUSE_INIT, 0, &in, sizeof(in), &out, sizeof(out)), sizeof(out));
    CHECK_EQ(!!(out.flags & FUSE_MAP_ALIGNMENT), window);
    CHECK_EQ(!!(out.flags2 & (FUSE_HAS_INODE_DAX >> 32)), window);
    CHECK_EQ(out.map_alignment, window ? 21 : 0);
}

/* Writes len bytes at the start of the host file name (opened with extra flags), byte i = i / 4096 + seed:
 * each page its own value. */
static void write_pattern(const char *name, size_t len, uint8_t seed, int flags)
{
    uint8_t *b = malloc(len);
    for (size_t i = 0; i < len; i++)
        b[i] = (uint8_t)(i / 4096 + seed);
    int fd = open(fc_path(&F, name), O_WRONLY | flags, 0644);
    CHECK(fd >= 0);
    CHECK_EQ(pwrite(fd, b, len, 0), (ssize_t)len);
    close(fd);
    free(b);
}

/* A new host file of that pattern, looked up. */
static uint64_t host_file(const char *name, size_t len, uint8_t seed)
{
    write_pattern(name, len, seed, O_CREAT | O_TRUNC);
    struct fuse_entry_out e;
    CHECK_EQ(fc_lookup(&F, 1, name, &e), 0);
    return e.nodeid;
}

static int setup(uint64_t node, uint64_t foff, uint64_t moff, uint64_t len, uint64_t flags)
{
    struct fuse_setupmapping_in in = {
        .fh = ~0ull, .foffset = foff, .len = len, .flags = flags, .moffset = moff};
    return fc_call(&F, FUSE_SETUPMAPPING, node, &in, sizeof(in), NULL, 0);
}

static int removemap(const struct fuse_removemapping_one *one, uint32_t count, uint32_t said)
{
    uint8_t a[sizeof(struct fuse_removemapping_in) + 300 * sizeof(*one)];
    struct fuse_removemapping_in in = {.count = said};
    memcpy(a, &in, sizeof(in));
    memcpy(a + sizeof(in), one, count * sizeof(*one));
    return fc_call(&F, FUSE_REMOVEMAPPING, 1, a, sizeof(in) + count * sizeof(*one), NULL, 0);
}

static bool all(const uint8_t *p, size_t len, uint8_t v)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != v)
            return false;
    return true;
}

static void wait_events(void)
{
    struct pollfd p = {.fd = fs_server_window_fd(F.s), .events = POLLIN};
    CHECK_EQ(poll(&p, 1, 5000), 1);
    fs_server_window_read(F.s);
}

static void test_no_window(void)
{
    up(false, false);
    uint64_t n = host_file("big", 3 * MIB, 1);
    struct fuse_attr a;
    CHECK_EQ(fc_getattr(&F, n, &a), 0);
    CHECK(!(a.flags & FUSE_ATTR_DAX));
    CHECK_EQ(setup(n, 0, 0, 2 * MIB, FUSE_SETUPMAPPING_FLAG_READ), -ENOSYS);
    struct fuse_removemapping_one one = {0, 2 * MIB};
    CHECK_EQ(removemap(&one, 1, 1), -ENOSYS);
    fc_close(&F);
}

static void test_attr_flag(void)
{
    up(false, true);
    uint64_t small = host_file("small", 4096, 0), big = host_file("big", 2 * MIB, 0);
    struct fuse_attr a;
    CHECK_EQ(fc_getattr(&F, small, &a), 0);
    CHECK(!(a.flags & FUSE_ATTR_DAX)); /* a 2 MiB range and a request would not pay for itself */
    CHECK_EQ(fc_getattr(&F, big, &a), 0);
    CHECK(a.flags & FUSE_ATTR_DAX);
    CHECK_EQ(fc_getattr(&F, 1, &a), 0);
    CHECK(!(a.flags & FUSE_ATTR_DAX)); /* directories never */
    fc_close(&F);
}

static void test_map_read_write(void)
{
    up(false, true);
    uint64_t n = host_file("f", 3 * MIB, 7);
    /* File [2, 4) MiB at window [4, 6) MiB, read only: the file's third MiB. */
    CHECK_EQ(setup(n, 2 * MIB, 4 * MIB, 2 * MIB, FUSE_SETUPMAPPING_FLAG_READ), 0);
    CHECK(all(win + 4 * MIB, 4096, (uint8_t)(512 + 7)));
    CHECK(all(win + 5 * MIB - 4096, 4096, (uint8_t)(767 + 7)));
    /* The host's page cache itself: a host write shows at once. */
    int fd = open(fc_path(&F, "f"), O_RDWR);
    CHECK(fd >= 0);
    CHECK_EQ(pwrite(fd, "HOST", 4, 2 * MIB), 4);
    CHECK(memcmp(win + 4 * MIB, "HOST", 4) == 0);
    /* A guest writing to a read mapping changes its own copy, never the file. */
    memcpy(win + 4 * MIB + 8, "GUEST", 5);
    char b[8];
    CHECK_EQ(pread(fd, b, 5, 2 * MIB + 8), 5);
    CHECK(memcmp(b, "GUEST", 5) != 0);
    /* A write mapping (the guest's upgrade of the same range) writes the file. */
    CHECK_EQ(setup(n, 2 * MIB, 4 * MIB, 2 * MIB, FUSE_SETUPMAPPING_FLAG_READ | FUSE_SETUPMAPPING_FLAG_WRITE),
             0);
    CHECK(memcmp(win + 4 * MIB, "HOST", 4) == 0);
    memcpy(win + 4 * MIB + 8, "GUEST", 5);
    CHECK_EQ(pread(fd, b, 5, 2 * MIB + 8), 5);
    CHECK(memcmp(b, "GUEST", 5) == 0);
    /* The upgrade kept the file watched: a host truncate still turns what it took to zeroes. */
    CHECK_EQ(ftruncate(fd, 2 * MIB + 4096), 0);
    wait_events();
    CHECK(memcmp(win + 4 * MIB, "HOST", 4) == 0);
    CHECK(all(win + 4 * MIB + 4096, 2 * MIB - 4096, 0));
    close(fd);
    /* REMOVEMAPPING: zeroes again, the file keeps what was written. */
    struct fuse_removemapping_one one = {4 * MIB, 2 * MIB};
    CHECK_EQ(removemap(&one, 1, 1), 0);
    CHECK(all(win + 4 * MIB, 2 * MIB, 0));
    /* Ranges mapped again, then a new session (the driver's DESTROY or a reset): all zeroes. */
    CHECK_EQ(setup(n, 0, 0, 2 * MIB, FUSE_SETUPMAPPING_FLAG_READ), 0);
    CHECK(all(win, 4096, 7));
    CHECK_EQ(fc_call(&F, FUSE_DESTROY, 0, NULL, 0, NULL, 0), 0);
    CHECK(all(win, 2 * MIB, 0));
    const struct fs_counters *c = fs_server_counters(F.s);
    CHECK_EQ(c->dax_setups, 3);
    CHECK_EQ(c->dax_removes, 1);
    fc_close(&F);
}

static void test_bad_requests(void)
{
    up(false, true);
    uint64_t n = host_file("f", 3 * MIB, 1);
    const uint64_t R = FUSE_SETUPMAPPING_FLAG_READ;
    CHECK_EQ(setup(n, 0, 4096, 2 * MIB, R), -EINVAL);                  /* window offset not 2 MiB aligned */
    CHECK_EQ(setup(n, 4096, 0, 2 * MIB, R), -EINVAL);                  /* file offset not aligned */
    CHECK_EQ(setup(n, 0, 0, 4096, R), -EINVAL);                        /* length not whole ranges */
    CHECK_EQ(setup(n, 0, 0, 0, R), -EINVAL);                           /* nothing */
    CHECK_EQ(setup(n, 0, 6 * MIB, 4 * MIB, R), -EINVAL);               /* past the window's end */
    CHECK_EQ(setup(n, 0, 8 * MIB, 2 * MIB, R), -EINVAL);               /* at it */
    CHECK_EQ(setup(n, 0, ~0ull - MIB + 1, 2 * MIB, R), -EINVAL);       /* wrapping */
    CHECK_EQ(setup(n, 0x7fffffffffe00000ull, 0, 4 * MIB, R), -EINVAL); /* past the largest file offset */
    CHECK_EQ(setup(n, 0, 0, 2 * MIB, R | 4), -EINVAL);                 /* a flag nobody defined */
    CHECK_EQ(setup(1, 0, 0, 2 * MIB, R), -EINVAL);                     /* a directory */
    CHECK_EQ(setup(n + 1, 0, 0, 2 * MIB, R), -ESTALE);                 /* a node the guest made up */
    CHECK_EQ(fc_call(&F, FUSE_SETUPMAPPING, n, "x", 1, NULL, 0), -EINVAL); /* short */
    struct fuse_removemapping_one one[300];
    for (unsigned i = 0; i < 300; i++)
        one[i] = (struct fuse_removemapping_one){0, 2 * MIB};
    CHECK_EQ(removemap(one, 0, 0), -EINVAL);
    CHECK_EQ(removemap(one, 257, 257), -EINVAL); /* more than a page of entries */
    CHECK_EQ(removemap(one, 1, 2), -EINVAL);     /* says more than it sent */
    CHECK_EQ(fc_call(&F, FUSE_REMOVEMAPPING, 1, "x", 1, NULL, 0), -EINVAL);
    /* One bad entry fails the whole list, before anything is unmapped. */
    CHECK_EQ(setup(n, 0, 0, 2 * MIB, R), 0);
    one[1] = (struct fuse_removemapping_one){4096, 2 * MIB};
    CHECK_EQ(removemap(one, 2, 2), -EINVAL);
    CHECK(all(win, 4096, 1));
    CHECK_EQ(removemap(one, 1, 1), 0);
    CHECK(all(win, 4096, 0));
    fc_close(&F);
    /* A read-only share maps for reading only. */
    up(true, true);
    n = host_file("f", 3 * MIB, 1);
    CHECK_EQ(setup(n, 0, 0, 2 * MIB, R | FUSE_SETUPMAPPING_FLAG_WRITE), -EROFS);
    CHECK_EQ(setup(n, 0, 0, 2 * MIB, R), 0);
    CHECK(all(win, 4096, 1));
    fc_close(&F);
}

static void test_truncated_under_mapping(void)
{
    up(false, true);
    uint64_t n = host_file("f", 3 * MIB, 3);
    /* File [2, 4) MiB: its last MiB is past the file's end (the guest never reads there: its size says so).
     */
    CHECK_EQ(setup(n, 2 * MIB, 0, 2 * MIB, FUSE_SETUPMAPPING_FLAG_READ | FUSE_SETUPMAPPING_FLAG_WRITE), 0);
    CHECK_EQ(setup(n, 0, 2 * MIB, 2 * MIB, FUSE_SETUPMAPPING_FLAG_READ), 0);
    CHECK_EQ(fs_server_window_repair(F.s), 0); /* a file that did not shrink lost nothing */
    CHECK(all(win, 4096, (uint8_t)(512 + 3)));
    /* The host truncates it: both mappings lose pages. The watch on the file mends them before the guest
     * touches them (KVM would stall the vCPU there rather than tell us); reading them is safe. */
    CHECK_EQ(truncate(fc_path(&F, "f"), 4096 + 100), 0);
    wait_events();
    CHECK_EQ(fs_server_window_repair(F.s), 0);
    CHECK(all(win, 2 * MIB, 0));
    CHECK(all(win + 2 * MIB, 4096, 3));
    CHECK(all(win + 2 * MIB + 4096, 100, 4));
    CHECK(all(win + 2 * MIB + 4096 + 100, 4096 - 100, 0)); /* the last page's tail, as mmap shows it */
    CHECK(all(win + 2 * MIB + 8192, 2 * MIB - 8192, 0));
    CHECK_EQ(fs_server_counters(F.s)->dax_repairs, 2);
    /* The host writes it again (an editor's truncate and rewrite): the window is the file again. */
    write_pattern("f", 3 * MIB, 9, 0);
    wait_events();
    CHECK(all(win, 4096, (uint8_t)(512 + 9)));
    CHECK(all(win + MIB - 4096, 4096, (uint8_t)(767 + 9)));
    CHECK(all(win + 2 * MIB + 4096, 4096, 10));
    CHECK(all(win + 4 * MIB - 4096, 4096, (uint8_t)(511 + 9)));
    /* Shrunk once more, then the guest writes past the old end itself: what it reads back through its
     * mapping right after its WRITE is what it wrote, not the zeroes (no event is waited for). */
    CHECK_EQ(truncate(fc_path(&F, "f"), 4096), 0);
    wait_events();
    CHECK(all(win + 2 * MIB + 4096, 4096, 0));
    uint64_t fh = 0;
    CHECK_EQ(fc_open(&F, n, O_RDWR, &fh), 0);
    uint8_t data[8192];
    memset(data, 0x5a, sizeof(data));
    CHECK_EQ(fc_write(&F, n, fh, 4096, data, sizeof(data)), (int)sizeof(data));
    CHECK(all(win + 2 * MIB + 4096, 8192, 0x5a));
    CHECK(all(win + 2 * MIB, 4096, 9));
    CHECK_EQ(fc_release(&F, n, fh, false, 0), 0);
    fc_close(&F);
}

int main(void)
{
    RUN(test_no_window);
    RUN(test_attr_flag);
    RUN(test_map_read_write);
    RUN(test_bad_requests);
    RUN(test_truncated_under_mapping);
    return CHECK_DONE();
}
