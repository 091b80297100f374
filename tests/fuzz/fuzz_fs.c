/* Fuzz target: the virtio-fs FUSE server (vmm/fs/, fs_handle) fed request after request by a hostile guest,
 * against a fresh share per input: a temporary directory holding file (100 bytes), dir/, dir/inner, a symlink
 * link -> /etc/passwd and a FIFO. Each request's bytes and each reply room are split into separately
 * allocated segments of the sizes the input picks, so a read or write past any of them is an ASan report.
 * Checked for every request: fs_handle answers with a length inside the room it was given (or FS_RETRY), and
 * a reply's header has that length and a plausible error; after the input, every descriptor the server
 * opened is closed again and the share's parent directory holds nothing new (nothing escaped the share).
 *
 * Input: byte 0 the share (bit 0 read-only, bit 1 writeback, bit 2 no INIT first, bit 3 readdirplus never,
 * bit 4 tables of 8 nodes and 4 handles, bit 5 the header's len set to the request's length, bit 6 a DAX
 * window of 8 MiB, HAS_INODE_DAX offered, and the window mended after the input as after a vCPU's EFAULT and
 * a host change to a mapped file, bit 7 NO_OPEN_SUPPORT not offered: opens get handles); then records:
 * u16 request length, u16 reply room, u8 segment sizes (low nibble: request segments of 1 << (n % 13) bytes,
 * high nibble: reply segments likewise), then the request's bytes. At most 64 records. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fuse.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs/fs.h"
#include "fuzz.h"

#define MAX_RECORDS 64
#define MAX_SEGS    4200

/* The share is real files in /tmp: no request may make the host allocate much. */
int fallocate(int fd, int mode, off_t offset, off_t len)
{
    if (len > (1 << 20)) {
        errno = ENOSPC;
        return -1;
    }
    return (int)syscall(SYS_fallocate, fd, mode, offset, len);
}

ssize_t copy_file_range(int in, loff_t *off_in, int out, loff_t *off_out, size_t len, unsigned flags)
{
    return syscall(SYS_copy_file_range, in, off_in, out, off_out, len < 65536 ? len : 65536, flags);
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    while (d && readdir(d))
        n++;
    if (d)
        closedir(d);
    return n;
}

static int rm(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static int count_entries(const char *path)
{
    DIR *d = opendir(path);
    int n = 0;
    while (d && readdir(d))
        n++;
    if (d)
        closedir(d);
    return n;
}

/* Splits len bytes of buf into segments of seg bytes, each its own allocation (copied in when out). */
static unsigned split(struct iovec *iov, const uint8_t *src, size_t len, size_t seg)
{
    unsigned n = 0;
    for (size_t off = 0; off < len && n < MAX_SEGS; off += seg) {
        size_t k = len - off < seg ? len - off : seg;
        void *p = malloc(k);
        FUZZ_CHECK(p != NULL);
        if (src)
            memcpy(p, src + off, k);
        else
            memset(p, 0xa5, k);
        iov[n++] = (struct iovec){p, k};
    }
    return n;
}

static void release(struct iovec *iov, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        free(iov[i].iov_base);
}

static void one_request(struct fs_server *s, struct fs_ctx *c, const uint8_t *req, size_t len, size_t room,
                        uint8_t sizes, bool fix_len)
{
    static struct iovec out[MAX_SEGS], in[MAX_SEGS];
    uint8_t *copy = malloc(len ? len : 1);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, req, len);
    if (fix_len && len >= sizeof(struct fuse_in_header)) {
        uint32_t l = (uint32_t)len;
        memcpy(copy, &l, 4);
    }
    unsigned no = split(out, copy, len, (size_t)1 << ((sizes & 15) % 13));
    unsigned ni = split(in, NULL, room, (size_t)1 << ((sizes >> 4) % 13));
    struct fs_req r = {.out = out, .n_out = no, .in = in, .n_in = ni, .start_ns = 0};
    int n = fs_handle(s, c, &r);
    FUZZ_CHECK(n == FS_RETRY || (n >= 0 && (size_t)n <= room));
    if (n >= (int)sizeof(struct fuse_out_header)) {
        struct fuse_out_header oh;
        size_t got = 0;
        for (unsigned i = 0; i < ni && got < sizeof(oh); i++) {
            size_t k = in[i].iov_len < sizeof(oh) - got ? in[i].iov_len : sizeof(oh) - got;
            memcpy((uint8_t *)&oh + got, in[i].iov_base, k);
            got += k;
        }
        FUZZ_CHECK(oh.len == (uint32_t)n);
        FUZZ_CHECK(oh.error <= 0 && oh.error > -4096);
        FUZZ_CHECK(oh.error == 0 || n == (int)sizeof(oh));
    }
    release(out, no);
    release(in, ni);
    free(copy);
}

static void populate(const char *dir)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/file", dir);
    int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    FUZZ_CHECK(fd >= 0);
    static const char text[100] = "the share's one file";
    FUZZ_CHECK(write(fd, text, sizeof(text)) == (ssize_t)sizeof(text));
    close(fd);
    snprintf(p, sizeof(p), "%s/dir", dir);
    FUZZ_CHECK(mkdir(p, 0755) == 0);
    snprintf(p, sizeof(p), "%s/dir/inner", dir);
    FUZZ_CHECK(mkdir(p, 0755) == 0);
    snprintf(p, sizeof(p), "%s/link", dir);
    FUZZ_CHECK(symlink("/etc/passwd", p) == 0);
    snprintf(p, sizeof(p), "%s/fifo", dir);
    FUZZ_CHECK(mkfifo(p, 0644) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char parent[64];
    if (!parent[0]) {
        snprintf(parent, sizeof(parent), "/tmp/lsl-fuzz-fs.XXXXXX");
        FUZZ_CHECK(mkdtemp(parent) != NULL);
    }
    if (size < 1)
        return 0;
    int fds_before = count_fds();
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/share", parent);
    FUZZ_CHECK(mkdir(dir, 0755) == 0);
    populate(dir);
    uint8_t cfg = data[0];
    struct fs_share sh;
    fs_share_defaults(&sh, "fuzz", dir);
    sh.readonly = cfg & 1;
    sh.writeback = cfg & 2;
    sh.readdirplus = cfg & 8 ? FS_READDIRPLUS_NEVER : FS_READDIRPLUS_AUTO;
    if (cfg & 16) {
        sh.max_nodes = 8;
        sh.max_handles = 4;
    }
    struct fs_server *s;
    FUZZ_CHECK(fs_server_new(&sh, &s) == 0);
    void *window = NULL;
    if (cfg & 64)
        FUZZ_CHECK(fs_server_window(s, 8u << 20, &window) == 0);
    struct fs_ctx *c = fs_ctx_new();
    FUZZ_CHECK(c != NULL);
    if (!(cfg & 4)) {
        uint8_t init[sizeof(struct fuse_in_header) + sizeof(struct fuse_init_in)];
        struct fuse_in_header h = {.len = sizeof(init), .opcode = FUSE_INIT, .unique = 1};
        struct fuse_init_in in = {.major = 7,
                                  .minor = 38,
                                  .max_readahead = 1 << 17,
                                  .flags = cfg & 128 ? 0xffffffffu & ~FUSE_NO_OPEN_SUPPORT : 0xffffffffu,
                                  .flags2 = cfg & 64 ? 0xffffffffu : 0};
        memcpy(init, &h, sizeof(h));
        memcpy(init + sizeof(h), &in, sizeof(in));
        one_request(s, c, init, sizeof(init), 16 + sizeof(struct fuse_init_out), 0xcc, false);
    }
    size_t pos = 1;
    for (unsigned rec = 0; rec < MAX_RECORDS && pos + 5 <= size; rec++) {
        uint16_t len, room;
        memcpy(&len, data + pos, 2);
        memcpy(&room, data + pos + 2, 2);
        uint8_t sizes = data[pos + 4];
        pos += 5;
        size_t take = len < size - pos ? len : size - pos;
        one_request(s, c, data + pos, take, room, sizes, cfg & 32);
        pos += take;
    }
    if (window) {
        /* What a vCPU's EFAULT and the watch on mapped files run: whatever the input mapped, and whatever it
         * did to the files since (pages past a file's end that it never shrank stay unreadable, as the guest
         * would stall only itself there: dax.c). */
        fs_server_window_repair(s);
        fs_server_window_read(s);
    }
    fs_server_free(s);
    fs_ctx_free(c);
    FUZZ_CHECK(count_fds() == fds_before);
    nftw(dir, rm, 16, FTW_DEPTH | FTW_PHYS);
    FUZZ_CHECK(count_entries(parent) == 2); /* "." and "..": nothing was made beside the share */
    return 0;
}
