/* Small file-system helpers for lsl-init (see fileio.h). They report -errno and leave logging to the caller,
 * which knows what the file was for. */
#include "fileio.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int lsl_write_file(const char *path, const char *text)
{
    size_t len = strlen(text);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);

    if (fd < 0)
        return -errno;
    if (write(fd, text, len) != (ssize_t)len) {
        close(fd);
        return -EIO;
    }
    return close(fd) < 0 ? -errno : 0;
}

ssize_t lsl_read_file(const char *path, char **contents_out)
{
    size_t cap = 1024, len = 0;
    char *buf;
    int fd, err;

    *contents_out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    buf = malloc(cap);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    for (;;) {
        ssize_t n;

        if (cap - len < 2) { /* keep room for the terminating NUL */
            char *bigger;

            if (cap > SSIZE_MAX / 2) {
                err = EFBIG;
                goto fail;
            }
            bigger = realloc(buf, cap * 2);
            if (!bigger) {
                err = ENOMEM;
                goto fail;
            }
            buf = bigger;
            cap *= 2;
        }
        n = read(fd, buf + len, cap - len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            err = errno;
            goto fail;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    *contents_out = buf;
    return (ssize_t)len;

fail:
    free(buf);
    close(fd);
    return -err;
}

int lsl_mkdir_p(const char *path, mode_t mode)
{
    char *copy;
    int r = 0;

    if (path[0] == '\0')
        return -ENOENT;
    copy = strdup(path);
    if (!copy)
        return -ENOMEM;
    /* Walk the components left to right, creating each prefix; the loop's last pass creates path itself. */
    for (char *p = copy + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;

        *p = '\0';
        if (mkdir(copy, mode) < 0 && errno != EEXIST) {
            r = -errno;
            break;
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
    free(copy);
    return r;
}

int lsl_is_mountpoint(const char *path)
{
    struct stat st, parent_st;
    char *parent;
    int r;

    if (lstat(path, &st) < 0)
        return -errno;
    if (asprintf(&parent, "%s/..", path) < 0)
        return -ENOMEM;
    r = stat(parent, &parent_st);
    if (r < 0)
        r = -errno;
    free(parent);
    if (r < 0)
        return r;
    if (st.st_dev != parent_st.st_dev)
        return 1;
    /* "/" is its own parent: it is always a mount root. */
    return st.st_ino == parent_st.st_ino;
}

void lsl_sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    (void)nanosleep(&ts, NULL);
}

long long lsl_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool lsl_wait_bounded(pid_t pid, long long deadline, int *status)
{
    int st = 0;
    pid_t r;

    while ((r = waitpid(pid, &st, WNOHANG)) == 0 && lsl_now_ms() <= deadline)
        lsl_sleep_ms(10);
    if (r == 0) {
        kill(pid, SIGKILL);
        (void)waitpid(pid, &st, 0);
    }
    if (status)
        *status = st;
    return r == pid;
}
