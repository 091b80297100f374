/* Disks of distributions: found by the serial the host gives the virtio-blk slot, mounted with discard so
 * that deleted files give space back to the host's sparse image. */
#include "distro_tool.h"

#include "distro.h"

#include "fileio.h"
#include "openat2.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

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

/* One look for the disk with that serial and a nonzero size: 0 with "/dev/vdX" in dev, or -ENOENT. */
static int scan_disk(const char *serial, char *dev, size_t devlen)
{
    DIR *d = opendir("/sys/block");
    struct dirent *de;
    int r = -ENOENT;

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
        r = access(dev, F_OK) == 0 ? 0 : -ENOENT;
        break;
    }
    if (d)
        closedir(d);
    return r;
}

int distro_find_disk(const char *serial, char *dev, size_t devlen)
{
    for (int tries = 0; tries < 500; tries++) {
        if (scan_disk(serial, dev, devlen) == 0)
            return 0;
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

/* "/dev/vdX" for the block device dev, from its uevent in sysfs (no udev here to make /dev/block/M:m). */
static int dev_path(dev_t dev, char *out, size_t len)
{
    char path[96], *text = NULL, *name;
    ssize_t n;

    snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/uevent", major(dev), minor(dev));
    if ((n = lsl_read_file(path, &text)) < 0)
        return (int)n;
    name = strstr(text, "DEVNAME=");
    if (name) {
        name += strlen("DEVNAME=");
        name[strcspn(name, "\n")] = '\0';
        snprintf(out, len, "/dev/%s", name);
    }
    free(text);
    return name ? 0 : -ENOENT;
}

/* Waits until no file system holds dev any more. A mount namespace of a stopped distribution, or a session
 * that joined it, can keep its superblock alive after our umount: the host must not swap the disk under
 * it (its last writes would land on the next disk in the slot, and the device's page cache would serve
 * that disk the old one's blocks). A mounted file system claims the device exclusively, so O_EXCL opens
 * only once it is gone; the flush on the way drops whatever is still cached. */
static int release_disk(const char *dev)
{
    for (int tries = 0; tries < 1000; tries++) {
        int fd = open(dev, O_RDONLY | O_EXCL | O_CLOEXEC);

        if (fd >= 0) {
            (void)ioctl(fd, BLKFLSBUF, 0);
            close(fd);
            return 0;
        }
        if (errno != EBUSY)
            return errno == ENOENT || errno == ENXIO ? 0 : -errno; /* gone already: nothing holds it */
        lsl_sleep_ms(10);
    }
    return -EBUSY;
}

int distro_release(const char *serial)
{
    char dev[64];

    return scan_disk(serial, dev, sizeof(dev)) == 0 ? release_disk(dev) : 0;
}

int distro_unmount(const char *target)
{
    char dev[64] = "";
    struct stat st;
    int err = 0;

    if (stat(target, &st) == 0 && major(st.st_dev) != 0)
        (void)dev_path(st.st_dev, dev, sizeof(dev));
    /* A stopped distribution's namespace (holding its copy of the mount) goes away asynchronously. */
    for (int tries = 0; tries < 500; tries++) {
        if (umount2(target, 0) == 0)
            return dev[0] ? release_disk(dev) : 0;
        err = errno;
        if (err != EBUSY)
            break;
        lsl_sleep_ms(10);
    }
    return -err;
}

void distro_print_file(const char *root, const char *path)
{
    char buf[65536]; /* what a config file can sensibly be */
    size_t len = 0;
    ssize_t n = 0;
    int fd = lsl_open_in_root(root, path);

    if (fd < 0)
        return;
    while (len < sizeof(buf) && (n = read(fd, buf + len, sizeof(buf) - len)) > 0)
        len += (size_t)n;
    close(fd);
    if (n < 0 && len == 0)
        return;
    char hdr[LSL_FILE_FRAME_PATH_MAX + 64];
    if (lsl_file_frame_header(hdr, sizeof(hdr), path, len) < 0)
        return;
    fputs(hdr, stdout);
    fwrite(buf, 1, len, stdout);
    printf("\n");
    fflush(stdout);
}
