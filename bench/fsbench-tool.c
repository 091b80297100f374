/* The timing half of bench/fsbench.py, one static binary run unchanged on the emulated host, in lsl's guest
 * and in QEMU's guest, so the three measure the same code. Prints "RESULT name value unit" lines.
 *
 *   fsbench-tool write FILE MIB   sequential write in 1 MiB writes, then fsync (MB/s)
 *   fsbench-tool read FILE NAME   sequential read in 1 MiB reads (MB/s), reported as NAME
 *   fsbench-tool small DIR N      N files of 1 KiB: create+write, stat, read, unlink (seconds per phase)
 *   fsbench-tool time NAME CMD... runs CMD with stdout to /dev/null (seconds)
 *   fsbench-tool drop             sync and drop the page, dentry and inode caches (needs root)
 *   fsbench-tool touch MIB        writes MIB of anonymous memory and frees it: a guest whose RAM the host has
 *                                 already backed, as after a while of use (lsl-vmm and QEMU both map it
 * lazily) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1u << 20)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int die(const char *what, const char *arg)
{
    fprintf(stderr, "fsbench-tool: %s %s: %s\n", what, arg, strerror(errno));
    return 1;
}

static int seq_write(const char *path, long mib)
{
    char *buf = malloc(CHUNK);
    if (!buf)
        return die("malloc", "");
    for (unsigned i = 0; i < CHUNK; i++)
        buf[i] = (char)(i * 7 + 3);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return die("open", path);
    double t0 = now();
    for (long i = 0; i < mib; i++) {
        size_t done = 0;
        while (done < CHUNK) {
            ssize_t n = write(fd, buf + done, CHUNK - done);
            if (n <= 0)
                return die("write", path);
            done += (size_t)n;
        }
    }
    if (fsync(fd) < 0)
        return die("fsync", path);
    close(fd);
    double t = now() - t0;
    printf("RESULT seq_write %.1f MB/s\n", (double)mib * CHUNK / 1e6 / t);
    free(buf);
    return 0;
}

static int seq_read(const char *path, const char *name)
{
    char *buf = malloc(CHUNK);
    int fd = open(path, O_RDONLY);
    if (!buf || fd < 0)
        return die("open", path);
    double t0 = now();
    unsigned long long total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0)
            return die("read", path);
        if (n == 0)
            break;
        total += (unsigned long long)n;
    }
    double t = now() - t0;
    close(fd);
    printf("RESULT %s %.1f MB/s\n", name, (double)total / 1e6 / t);
    free(buf);
    return 0;
}

static int small_files(const char *dir, long n)
{
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return die("mkdir", dir);
    char path[4096], data[1024];
    memset(data, 'x', sizeof(data));
    struct stat st;
    double t[5];
    t[0] = now();
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/f%06ld", dir, i);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0 || write(fd, data, sizeof(data)) != (ssize_t)sizeof(data) || close(fd) < 0)
            return die("create", path);
    }
    t[1] = now();
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/f%06ld", dir, i);
        if (stat(path, &st) < 0 || st.st_size != (off_t)sizeof(data))
            return die("stat", path);
    }
    t[2] = now();
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/f%06ld", dir, i);
        int fd = open(path, O_RDONLY);
        if (fd < 0 || read(fd, data, sizeof(data)) != (ssize_t)sizeof(data) || close(fd) < 0)
            return die("read", path);
    }
    t[3] = now();
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/f%06ld", dir, i);
        if (unlink(path) < 0)
            return die("unlink", path);
    }
    t[4] = now();
    rmdir(dir);
    const char *phase[] = {"small_create", "small_stat", "small_read", "small_unlink"};
    for (int i = 0; i < 4; i++)
        printf("RESULT %s %.3f s\n", phase[i], t[i + 1] - t[i]);
    return 0;
}

static int time_cmd(const char *name, char **argv)
{
    double t0 = now();
    pid_t pid = fork();
    if (pid < 0)
        return die("fork", name);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, 1);
        execvp(argv[0], argv);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0)
        return die("wait", name);
    double t = now() - t0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "fsbench-tool: %s: %s failed (status %d)\n", name, argv[0], status);
        return 1;
    }
    printf("RESULT %s %.3f s\n", name, t);
    return 0;
}

static int drop(void)
{
    sync();
    int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
    if (fd < 0 || write(fd, "3\n", 2) != 2)
        return die("drop_caches", "");
    close(fd);
    return 0;
}

static int touch(long mib)
{
    size_t len = (size_t)mib << 20;
    char *p = malloc(len);
    if (!p)
        return die("malloc", "touch");
    memset(p, 1, len);
    free(p);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 4 && strcmp(argv[1], "write") == 0)
        return seq_write(argv[2], atol(argv[3]));
    if (argc >= 4 && strcmp(argv[1], "read") == 0)
        return seq_read(argv[2], argv[3]);
    if (argc >= 4 && strcmp(argv[1], "small") == 0)
        return small_files(argv[2], atol(argv[3]));
    if (argc >= 4 && strcmp(argv[1], "time") == 0)
        return time_cmd(argv[2], argv + 3);
    if (argc >= 2 && strcmp(argv[1], "drop") == 0)
        return drop();
    if (argc >= 3 && strcmp(argv[1], "touch") == 0)
        return touch(atol(argv[2]));
    fprintf(stderr,
            "usage: fsbench-tool write FILE MIB | read FILE NAME | small DIR N | time NAME CMD... | drop\n");
    return 2;
}
