/* The guest's API file systems and the console fallback. Everything is mounted before the root disk and
 * later moved into it (root.c), so the command sees the same /dev, /proc, ... with or without a disk. */
#include "mounts.h"

#include "fileio.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

struct api_mount {
    const char *source, *target, *fstype;
    unsigned long flags;
    const char *data;
};

static const struct api_mount proc_mount = {"proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL};
/* devtmpfs gets no options: a second mount shares the kernel's one superblock and would reconfigure it. */
static const struct api_mount dev_mount = {"devtmpfs", "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC, NULL};

static const struct api_mount other_mounts[] = {
    {"sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL},
    /* Each distribution gets a child cgroup here (and its own cgroup namespace over it). nsdelegate makes
     * those namespaces delegation boundaries, as WSL has it and systemd and container runtimes expect; it
     * is a flag of the one cgroup2 hierarchy that only a mount in the initial namespace sets. */
    {"cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, "nsdelegate"},
    {"devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "mode=0620,ptmxmode=0666"},
    {"tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"},
    {"tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"},
    {"tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"},
};

/* What programs expect in /dev but devtmpfs lacks (bash process substitution, "cat /dev/stdin"). */
static const struct {
    const char *target, *path;
} dev_links[] = {
    {"/proc/self/fd", "/dev/fd"},
    {"/proc/self/fd/0", "/dev/stdin"},
    {"/proc/self/fd/1", "/dev/stdout"},
    {"/proc/self/fd/2", "/dev/stderr"},
};

static int mount_api(const struct api_mount *m)
{
    int r = lsl_mkdir_p(m->target, 0755);

    if (r < 0)
        return lsl_log_errno(r, "cannot create %s: %m", m->target);
    /* Already mounted (devtmpfs by the console fallback, or by the kernel): mounting again would stack. */
    if (lsl_is_mountpoint(m->target) > 0)
        return 0;
    if (mount(m->source, m->target, m->fstype, m->flags, m->data) == 0 || errno == EBUSY)
        return 0;
    /* A kernel that does not know the option (nsdelegate before 4.13) still gets the file system. */
    if (errno == EINVAL && strcmp(m->fstype, "cgroup2") == 0 &&
        mount(m->source, m->target, m->fstype, m->flags, NULL) == 0)
        return 0;
    return lsl_log_errno(errno, "cannot mount %s on %s: %m", m->fstype, m->target);
}

static bool fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0 || errno != EBADF;
}

int lsl_console_ensure(void)
{
    int fd, r = 0;

    if (fd_is_open(STDIN_FILENO) && fd_is_open(STDOUT_FILENO) && fd_is_open(STDERR_FILENO))
        return 0;
    (void)mount_api(&dev_mount); /* if it fails, the open below reports the useful error */
    fd = open("/dev/console", O_RDWR | O_NOCTTY);
    if (fd < 0)
        return -errno;
    /* open() took the lowest free descriptor, so fd may itself be one of 0-2; fill the others from it. */
    for (int i = STDIN_FILENO; i <= STDERR_FILENO; i++)
        if (!fd_is_open(i) && dup2(fd, i) < 0 && r == 0)
            r = -errno;
    if (fd > STDERR_FILENO)
        close(fd);
    return r;
}

int lsl_mount_proc(void)
{
    return mount_api(&proc_mount);
}

int lsl_mount_api_filesystems(void)
{
    int r = mount_api(&dev_mount), first = r;

    if (r == 0)
        for (size_t i = 0; i < sizeof(dev_links) / sizeof(dev_links[0]); i++)
            if (symlink(dev_links[i].target, dev_links[i].path) < 0 && errno != EEXIST)
                (void)lsl_log_errno(errno, "cannot create %s: %m", dev_links[i].path);

    for (size_t i = 0; i < sizeof(other_mounts) / sizeof(other_mounts[0]); i++) {
        r = mount_api(&other_mounts[i]);
        if (r < 0 && first == 0)
            first = r;
    }
    return first;
}

static bool below(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && path[n] == '/';
}

size_t lsl_mounts_below(const char *prefix, const char *skip, char (*out)[LSL_MOUNT_PATH_MAX], size_t max)
{
    char line[4096], target[LSL_MOUNT_PATH_MAX];
    size_t n = 0;
    FILE *f = fopen("/proc/self/mounts", "re");

    if (!f)
        return 0;
    while (n < max && fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%*s %511s", target) != 1 || !below(target, prefix))
            continue;
        if (skip && (strcmp(target, skip) == 0 || below(target, skip)))
            continue;
        memcpy(out[n++], target, sizeof(target));
    }
    fclose(f);
    return n;
}
