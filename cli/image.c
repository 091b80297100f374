/* See image.h. mke2fs, e2fsck and resize2fs work on image files as any user; the sparse copy uses
 * SEEK_DATA/SEEK_HOLE so an almost empty 256 GiB image copies in milliseconds. Images are made 0600: a
 * distribution's disk holds its users' files, /etc/shadow included. */
#include "image.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"

/* Runs a program with stderr going to /dev/null and stdout to out_fd (or /dev/null when it is -1); returns
 * its exit status or -errno. */
static int run_to(char *const argv[], int out_fd)
{
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(out_fd >= 0 ? out_fd : null, 1);
            dup2(null, 2);
        }
        signal(SIGPIPE, SIG_DFL);
        /* e2fsprogs live in sbin, which an ordinary user's PATH may lack. */
        const char *path = getenv("PATH");
        char buf[4096];
        snprintf(buf, sizeof(buf), "%s:/usr/sbin:/sbin", path ? path : "/usr/bin:/bin");
        setenv("PATH", buf, 1);
        execvp(argv[0], argv);
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) < 0)
        return -errno;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int run_quiet(char *const argv[])
{
    return run_to(argv, -1);
}

/* The smallest size resize2fs can shrink the file system in path to (its estimate, in bytes), or 0. */
static uint64_t image_min_size(const char *path)
{
    char out[512] = "", *p;
    uint8_t sb[4];
    uint64_t blocks;
    int fd = open(path, O_RDONLY | O_CLOEXEC), pipefd[2];
    /* ext4's superblock at 1024: s_log_block_size at 24 (block size 1024 << it, little-endian). */
    bool ok = fd >= 0 && pread(fd, sb, sizeof(sb), 1024 + 24) == (ssize_t)sizeof(sb);
    if (fd >= 0)
        close(fd);
    uint32_t log_bs = sb[0] | (uint32_t)sb[1] << 8 | (uint32_t)sb[2] << 16 | (uint32_t)sb[3] << 24;
    if (!ok || log_bs > 6 || pipe2(pipefd, O_CLOEXEC) < 0)
        return 0;
    char *argv[] = {"resize2fs", "-P", (char *)path, NULL};
    int r = run_to(argv, pipefd[1]); /* a few short lines: they fit the pipe */
    close(pipefd[1]);
    ssize_t n = r == 0 ? read(pipefd[0], out, sizeof(out) - 1) : -1;
    close(pipefd[0]);
    if (n <= 0)
        return 0;
    out[n] = 0;
    if (!(p = strstr(out, "minimum size of the filesystem:")) ||
        sscanf(strchr(p, ':') + 1, "%" SCNu64, &blocks) != 1)
        return 0;
    return blocks << (10 + log_bs);
}

int lsl_image_create(const char *path, uint64_t size, const char *label)
{
    char sz[32], lbl[17];
    snprintf(sz, sizeof(sz), "%" PRIu64 "k", size / 1024);
    snprintf(lbl, sizeof(lbl), "%s", label);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return log_errno(errno, "cannot create %s", path);
    close(fd);
    /* Lazy inode tables and journal: the file stays sparse; the guest mounts with noinit_itable. */
    char *argv[] = {
        "mke2fs",     "-q", "-F", "-t", "ext4", "-L", lbl, "-E", "lazy_itable_init=1,lazy_journal_init=1",
        (char *)path, sz,   NULL};
    int r = run_quiet(argv);
    if (r != 0) {
        unlink(path);
        log_error("cannot create the file system in %s (mke2fs %s; is e2fsprogs installed?)", path,
                  r == 127 ? "not found" : "failed");
        return -EIO;
    }
    return 0;
}

int lsl_image_is_ext4(const char *path)
{
    unsigned char magic[2];
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    /* The superblock sits at byte 1024; its magic 0xEF53 at offset 56 in it. */
    ssize_t n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? pread(fd, magic, 2, 1024 + 56) : -1;
    return n == 2 && magic[0] == 0x53 && magic[1] == 0xef;
}

int lsl_image_copy(const char *src, const char *dest)
{
    _cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC), out = -1;
    int r = 0;
    bool kernel_copy = true;
    struct stat st;
    if (in < 0 || fstat(in, &st) < 0)
        return log_errno(errno, "cannot open %s", src);
    out = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0)
        return log_errno(errno, "cannot create %s", dest);
    if (ftruncate(out, st.st_size) < 0) {
        r = log_errno(errno, "cannot size %s", dest);
        goto out;
    }
    for (off_t pos = 0; pos < st.st_size;) {
        off_t data = lseek(in, pos, SEEK_DATA);
        if (data < 0)
            break; /* ENXIO: only a hole is left */
        off_t hole = lseek(in, data, SEEK_HOLE);
        if (hole < 0)
            hole = st.st_size;
        for (off_t off = data; off < hole;) {
            /* copy_file_range may reflink or copy in the kernel; the offsets keep the holes where they were.
             * Across file systems it may refuse: then plain reads and writes. */
            off_t o_in = off, o_out = off;
            ssize_t n = kernel_copy ? copy_file_range(in, &o_in, out, &o_out, (size_t)(hole - off), 0) : -1;
            if (n < 0 && kernel_copy &&
                (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
                kernel_copy = false;
                continue;
            }
            if (!kernel_copy) {
                static char buf[1 << 20];
                size_t want = (size_t)(hole - off) < sizeof(buf) ? (size_t)(hole - off) : sizeof(buf);
                n = pread(in, buf, want, off);
                if (n > 0 && pwrite(out, buf, (size_t)n, off) != n)
                    n = -1;
            }
            if (n <= 0) {
                r = log_errno(n < 0 ? errno : EIO, "cannot copy %s to %s", src, dest);
                goto out;
            }
            off += n;
        }
        pos = hole;
    }
    if (fsync(out) < 0)
        r = log_errno(errno, "cannot write %s", dest);
out:
    if (r < 0)
        unlink(dest); /* ours: created above with O_EXCL */
    return r;
}

int lsl_image_resize(const char *path, uint64_t size)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return log_errno(errno, "cannot open %s", path);
    char sz[32];
    snprintf(sz, sizeof(sz), "%" PRIu64 "k", size / 1024);
    /* resize2fs insists on a freshly checked file system; -p repairs only what is safe unattended. */
    char *fsck[] = {"e2fsck", "-f", "-p", (char *)path, NULL};
    int r = run_quiet(fsck);
    if (r != 0 && r != 1) {
        log_error("the file system in %s has errors e2fsck cannot fix unattended (e2fsck exit %d)", path, r);
        return -EIO;
    }
    uint64_t min = size < (uint64_t)st.st_size ? image_min_size(path) : 0;
    if (size < min) {
        log_error("cannot shrink to %" PRIu64 " MB: the files need %" PRIu64 " MB (disk too small for them)",
                  size / 1000000, (min + 999999) / 1000000);
        return -ENOSPC;
    }
    if (size > (uint64_t)st.st_size && truncate(path, (off_t)size) < 0)
        return log_errno(errno, "cannot grow %s", path);
    char *resize[] = {"resize2fs", (char *)path, sz, NULL};
    if ((r = run_quiet(resize)) != 0) {
        if (size > (uint64_t)st.st_size)
            (void)truncate(path, st.st_size);
        log_error("cannot resize the file system in %s to %s (too small for its files?)", path, sz);
        return -EIO;
    }
    if (size < (uint64_t)st.st_size && truncate(path, (off_t)size) < 0)
        return log_errno(errno, "cannot shrink %s", path);
    return 0;
}

void lsl_image_make_private(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == getuid() && (st.st_mode & 077))
        (void)chmod(path, st.st_mode & 0700);
}
