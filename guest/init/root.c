/* The root disk: mount, chroot, and a clean unmount at shutdown. PID 1 keeps a descriptor of the initramfs
 * root so that it can leave the chroot at shutdown: a mount that is PID 1's root can never be released. */
#include "root.h"

#include "fileio.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Moved from the initramfs into the root disk; /dev carries /dev/pts and /dev/shm along. */
static const char *const moved_mounts[] = {"/proc", "/sys", "/dev", "/run", "/tmp"};

static bool root_mounted;
static bool root_read_only;
static int initramfs_root_fd = -1;

/* virtio-blk probes while the kernel boots, but the node can appear in devtmpfs slightly after init runs. */
static void wait_for_device(const char *device)
{
    const struct timespec step = {.tv_sec = 0, .tv_nsec = 10L * 1000 * 1000};

    for (int i = 0; i < 200; i++) {
        if (access(device, F_OK) == 0 || errno != ENOENT)
            return;
        (void)nanosleep(&step, NULL);
    }
}

int lsl_root_mount(const char *device, bool read_only)
{
    int r;

    wait_for_device(device);
    r = lsl_mkdir_p(LSL_ROOT_DIR, 0755);
    if (r < 0)
        return lsl_log_errno(r, "cannot create %s: %m", LSL_ROOT_DIR);
    if (mount(device, LSL_ROOT_DIR, "ext4", read_only ? MS_RDONLY : 0, NULL) < 0)
        return lsl_log_errno(errno, "cannot mount %s: %m", device);
    root_mounted = true;
    root_read_only = read_only;
    return 0;
}

/* Moves one API mount into the root disk. Not fatal: the command may well run without it. */
static void move_into_root(const char *path)
{
    char *target;
    int r;

    if (lsl_is_mountpoint(path) <= 0) /* it failed to mount earlier, and that was reported then */
        return;
    if (asprintf(&target, "%s%s", LSL_ROOT_DIR, path) < 0) {
        (void)lsl_log_errno(ENOMEM, "cannot move %s into the root disk: %m", path);
        return;
    }
    r = lsl_mkdir_p(target, 0755);
    if (r < 0)
        (void)lsl_log_errno(r, "cannot create %s on the root disk: %m", path);
    else if (mount(path, target, NULL, MS_MOVE, NULL) < 0)
        (void)lsl_log_errno(errno, "cannot move %s into the root disk: %m", path);
    free(target);
}

int lsl_root_enter(void)
{
    for (size_t i = 0; i < sizeof(moved_mounts) / sizeof(moved_mounts[0]); i++)
        move_into_root(moved_mounts[i]);

    initramfs_root_fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (initramfs_root_fd < 0)
        return lsl_log_errno(errno, "cannot open the initramfs root: %m");
    if (chroot(LSL_ROOT_DIR) < 0)
        return lsl_log_errno(errno, "cannot chroot into %s: %m", LSL_ROOT_DIR);
    if (chdir("/") < 0)
        return lsl_log_errno(errno, "cannot chdir to / on the root disk: %m");
    return 0;
}

static bool in_chroot(void)
{
    return initramfs_root_fd >= 0;
}

void lsl_root_unmount(void)
{
    if (!root_mounted)
        return;

    if (in_chroot()) {
        if (fchdir(initramfs_root_fd) < 0 || chroot(".") < 0 || chdir("/") < 0) {
            /* Still inside: the best left is a read-only remount, which makes ext4 clean too. */
            (void)lsl_log_errno(errno, "cannot leave the root disk: %m");
            if (!root_read_only && mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0)
                (void)lsl_log_errno(errno, "cannot remount the root disk read-only: %m");
            return;
        }
        close(initramfs_root_fd);
        initramfs_root_fd = -1;
    }

    /* Our own API mounts go lazily (nothing needs them any more); then a plain unmount, which only fails if
     * the command left mounts or busy files behind. */
    for (size_t i = 0; i < sizeof(moved_mounts) / sizeof(moved_mounts[0]); i++) {
        char *path;

        if (asprintf(&path, "%s%s", LSL_ROOT_DIR, moved_mounts[i]) < 0)
            continue;
        if (lsl_is_mountpoint(path) > 0 && umount2(path, MNT_DETACH) < 0)
            (void)lsl_log_errno(errno, "cannot unmount %s: %m", path);
        free(path);
    }
    if (umount2(LSL_ROOT_DIR, 0) == 0)
        return;
    if (errno != EBUSY) {
        (void)lsl_log_errno(errno, "cannot unmount the root disk: %m");
        return;
    }
    if (!root_read_only && mount(NULL, LSL_ROOT_DIR, NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0)
        (void)lsl_log_errno(errno, "cannot remount the busy root disk read-only: %m");
    if (umount2(LSL_ROOT_DIR, MNT_DETACH) < 0)
        (void)lsl_log_errno(errno, "cannot detach the root disk: %m");
}
