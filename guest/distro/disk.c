/* Disks of distributions: found by the serial the host gives the virtio-blk slot, mounted with discard so
 * that deleted files give space back to the host's sparse image. */
#include "distro.h"

#include "fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* musl has no openat2 wrapper or header yet; the ABI is stable. */
struct lsl_open_how {
    unsigned long long flags, mode, resolve;
};
#define LSL_RESOLVE_IN_ROOT 0x10
#ifndef SYS_openat2
#define SYS_openat2 437
#endif

static int read_small(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return -errno;
    n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return -EIO;
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

int distro_find_disk(const char *serial, char *dev, size_t devlen)
{
    for (int tries = 0; tries < 500; tries++) {
        DIR *d = opendir("/sys/block");
        struct dirent *de;

        while (d && (de = readdir(d))) {
            char path[300], buf[64];

            if (strncmp(de->d_name, "vd", 2) != 0)
                continue;
            snprintf(path, sizeof(path), "/sys/block/%s/serial", de->d_name);
            if (read_small(path, buf, sizeof(buf)) < 0 || strcmp(buf, serial) != 0)
                continue;
            snprintf(path, sizeof(path), "/sys/block/%s/size", de->d_name);
            if (read_small(path, buf, sizeof(buf)) < 0 || strtoull(buf, NULL, 10) == 0)
                continue;
            snprintf(dev, devlen, "/dev/%s", de->d_name);
            closedir(d);
            if (access(dev, F_OK) == 0)
                return 0;
            d = NULL;
            break;
        }
        if (d)
            closedir(d);
        lsl_sleep_ms(10);
    }
    return -ENOENT;
}

int distro_mount_disk(const char *dev, const char *target)
{
    /* The image is a sparse file, so its inode tables read as zeroes: no lazy init thread writing them. */
    if (mount(dev, target, "ext4", MS_NOATIME, "discard,noinit_itable") < 0)
        return -errno;
    return 0;
}

int distro_unmount(const char *target)
{
    int err = 0;

    /* A stopped distribution's namespace (holding its copy of the mount) goes away asynchronously. */
    for (int tries = 0; tries < 500; tries++) {
        if (umount2(target, 0) == 0)
            return 0;
        err = errno;
        if (err != EBUSY)
            break;
        lsl_sleep_ms(10);
    }
    return -err;
}

void distro_print_file(const char *root, const char *path)
{
    struct lsl_open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
                               .resolve = LSL_RESOLVE_IN_ROOT};
    char buf[65536];
    struct stat st;
    size_t len = 0;
    ssize_t n = 0;
    int dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC), fd;

    if (dfd < 0)
        return;
    fd = (int)syscall(SYS_openat2, dfd, path[0] == '/' ? path + 1 : path, &how, sizeof(how));
    close(dfd);
    if (fd < 0)
        return;
    /* Only a regular file (a device node could be anything), and only what a config file can sensibly be. */
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return;
    }
    while (len < sizeof(buf) && (n = read(fd, buf + len, sizeof(buf) - len)) > 0)
        len += (size_t)n;
    close(fd);
    if (n < 0 && len == 0)
        return;
    printf("@@lsl-file %s %zu\n", path, len);
    fwrite(buf, 1, len, stdout);
    printf("\n");
    fflush(stdout);
}
