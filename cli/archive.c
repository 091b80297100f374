/* See archive.h. */
#include "archive.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io.h"
#include "macro.h"

#define HEAD 512 /* a tar header, and more than every compression magic */

const char *lsl_archive_detect(const unsigned char *h, size_t len)
{
    if (len >= 2 && h[0] == 0x1f && h[1] == 0x8b)
        return "gz";
    if (len >= 6 && memcmp(h,
                           "\xfd"
                           "7zXZ\0",
                           6) == 0)
        return "xz";
    if (len >= 4 && memcmp(h, "\x28\xb5\x2f\xfd", 4) == 0)
        return "zst";
    if (len >= 3 && memcmp(h, "BZh", 3) == 0)
        return "bz2";
    /* ustar and GNU tar both put "ustar" at 257; pre-POSIX v7 archives are not worth guessing at. */
    if (len >= 262 && memcmp(h + 257, "ustar", 5) == 0)
        return "tar";
    return NULL;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

const char *lsl_archive_format_for(const char *format, const char *file)
{
    static const struct {
        const char *name, *fmt;
    } map[] = {{"tar", "tar"},   {"tar.gz", "gz"},   {"tgz", "gz"},   {"gz", "gz"},       {"wsl", "gz"},
               {"tar.xz", "xz"}, {"txz", "xz"},      {"xz", "xz"},    {"tar.zst", "zst"}, {"tzst", "zst"},
               {"zst", "zst"},   {"tar.bz2", "bz2"}, {"tbz2", "bz2"}, {"bz2", "bz2"}};
    for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
        if (format && strcmp(format, map[i].name) == 0)
            return map[i].fmt;
        if (!format && file) {
            char dot[16] = ".";
            strncat(dot, map[i].name, sizeof(dot) - 2);
            if (ends_with(file, dot))
                return map[i].fmt;
        }
    }
    return format ? NULL : "tar";
}

int lsl_archive_open(const char *file, const char **format, pid_t *feeder)
{
    unsigned char head[HEAD];
    _cleanup_close_ int fd =
        strcmp(file, "-") == 0 ? fcntl(0, F_DUPFD_CLOEXEC, 3) : open(file, O_RDONLY | O_CLOEXEC);
    *format = NULL;
    *feeder = 0;
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (S_ISDIR(st.st_mode))
        return -EISDIR;
    ssize_t n = read_full(fd, head, sizeof(head));
    if (n < 0)
        return (int)n;
    *format = lsl_archive_detect(head, (size_t)n);
    if (!*format)
        return -EMEDIUMTYPE;
    if (S_ISREG(st.st_mode) && lseek(fd, 0, SEEK_SET) == 0)
        return TAKE_FD(fd);
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        return -e;
    }
    if (pid == 0) {
        /* The replay: what we read, then the rest as it comes (a reader that stops early ends us). */
        signal(SIGPIPE, SIG_DFL);
        close(p[0]);
        static unsigned char buf[1 << 16];
        if (write_full(p[1], head, (size_t)n) < 0)
            _exit(1);
        for (;;) {
            ssize_t r = read(fd, buf, sizeof(buf)); /* passed on as it comes, not a whole buffer at a time */
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                _exit(r < 0);
            if (write_full(p[1], buf, (size_t)r) < 0)
                _exit(1);
        }
    }
    close(p[1]);
    *feeder = pid;
    return p[0];
}

void lsl_archive_close(int fd, pid_t feeder)
{
    if (fd >= 0)
        close(fd);
    if (feeder > 0) {
        kill(feeder, SIGTERM);
        waitpid(feeder, NULL, 0);
    }
}
