/* Opening a distribution's own files (its passwd, group, wsl.conf) from outside it: every path is resolved
 * inside the distribution's root with openat2's RESOLVE_IN_ROOT, so a symlink there cannot point the reader
 * elsewhere. musl has no openat2 wrapper or header yet; the ABI is stable. */
#ifndef LSL_GUEST_OPENAT2_H
#define LSL_GUEST_OPENAT2_H

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#define LSL_RESOLVE_IN_ROOT       0x10
#define LSL_RESOLVE_NO_MAGICLINKS 0x02

/* openat2(root, path, flags, resolve): root a directory path, path taken as relative to it. Returns the fd or
 * -errno. */
static inline int lsl_openat2_in(const char *root, const char *path, unsigned long long flags,
                                 unsigned long long resolve)
{
    struct {
        unsigned long long flags, mode, resolve;
    } how = {.flags = flags, .resolve = resolve};
    int dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC), fd, err;

    if (dfd < 0)
        return -errno;
    while (*path == '/')
        path++;
    fd = (int)syscall(SYS_openat2, dfd, path, &how, sizeof(how));
    err = errno;
    close(dfd);
    return fd < 0 ? -err : fd;
}

/* An O_PATH fd on root/path (any file type), resolved inside root and through no /proc magic link. Returns
 * the fd or -errno. */
static inline int lsl_open_path_in_root(const char *root, const char *path)
{
    return lsl_openat2_in(root, path, O_PATH | O_CLOEXEC, LSL_RESOLVE_IN_ROOT | LSL_RESOLVE_NO_MAGICLINKS);
}

/* Opens root/path read-only, resolved inside root, and only if it is a regular file (a device node or a FIFO
 * planted in its place could be anything or hang the reader: opened non-blocking, then refused).
 * Returns the fd or -errno (-EINVAL: not a regular file). */
static inline int lsl_open_in_root(const char *root, const char *path)
{
    struct stat st;
    int fd = lsl_openat2_in(root, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, LSL_RESOLVE_IN_ROOT);

    if (fd < 0)
        return fd;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -EINVAL;
    }
    return fd;
}

#endif
