/* See distro_enter.h. The init record holds the process start time next to the PID, so a PID that was
 * reused after the distribution stopped is never joined. */
#include "distro_enter.h"

#include "agent.h"
#include "distro.h"
#include "distro_layout.h"
#include "../init/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Field 22 of /proc/PID/stat, after the parenthesised command name (which may hold spaces). */
int lsl_proc_start_time(pid_t pid, unsigned long long *out)
{
    char path[64], buf[1024], *p;
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -EIO;
    buf[n] = '\0';
    p = strrchr(buf, ')');
    if (!p)
        return -EIO;
    p++;
    for (int field = 3; field < 22; field++) {
        p = strchr(p + 1, ' ');
        if (!p)
            return -EIO;
    }
    *out = strtoull(p + 1, NULL, 10);
    return 0;
}

/* Every record helper checks the name itself: one that is no distribution name ("..", "a/b") never
 * becomes a path, whatever its caller checked. */
static int record_path(const char *name, const char *record, char *path, size_t len)
{
    if (!lsl_distro_name_valid(name))
        return -EINVAL;
    int n = snprintf(path, len, "%s/%s/%s", LSL_DISTROS_DIR, name, record);
    return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

int lsl_distro_record_put(const char *name, const char *record, const char *text)
{
    char path[PATH_MAX];
    int r = record_path(name, record, path, sizeof(path));
    return r < 0 ? r : lsl_write_file(path, text);
}

int lsl_distro_record_drop(const char *name, const char *record)
{
    char path[PATH_MAX];
    int r = record_path(name, record, path, sizeof(path));
    return r < 0 ? r : unlink(path) < 0 ? -errno : 0;
}

ssize_t lsl_distro_record_get(const char *name, const char *record, char *buf, size_t len)
{
    char path[PATH_MAX];
    int r = record_path(name, record, path, sizeof(path));
    if (r < 0)
        return r;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, len - 1);
    r = errno;
    close(fd);
    if (n < 0)
        return -r;
    buf[n] = '\0';
    return n ? n : -ENODATA;
}

pid_t lsl_distro_init_pid(const char *name)
{
    char buf[64];
    unsigned long long want, have;
    int pid;

    if (lsl_distro_record_get(name, LSL_DISTRO_INIT_FILE, buf, sizeof(buf)) < 0)
        return -ESRCH;
    if (sscanf(buf, "%d %llu", &pid, &want) != 2 || pid <= 1)
        return -ESRCH;
    if (lsl_proc_start_time(pid, &have) < 0 || have != want)
        return -ESRCH;
    return pid;
}

/* The distribution's [filesystem] umask, as lsl-distro start recorded it; -1 when it cannot be read. */
static int recorded_umask(const char *name)
{
    char buf[16];
    unsigned mask;

    if (lsl_distro_record_get(name, LSL_DISTRO_UMASK_FILE, buf, sizeof(buf)) < 0)
        return -1;
    return sscanf(buf, "%o", &mask) == 1 && mask <= 0777 ? (int)mask : -1;
}

/* Writes our PID into NAME's cgroup (its leaf for lsl's processes, where systemd runs it); a guest without
 * cgroup2 mounted simply has none. */
static int join_cgroup(const char *name)
{
    char path[192], pid[16];
    int fd, n;

    snprintf(path, sizeof(path), "%s/%s/" LSL_DISTRO_CGROUP_LEAF "/cgroup.procs", LSL_CGROUP_DIR, name);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        snprintf(path, sizeof(path), "%s/%s/cgroup.procs", LSL_CGROUP_DIR, name);
        fd = open(path, O_WRONLY | O_CLOEXEC);
    }
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    n = snprintf(pid, sizeof(pid), "%d", (int)getpid());
    if (write(fd, pid, (size_t)n) != n) {
        int err = errno;

        close(fd);
        return -err;
    }
    close(fd);
    return 0;
}

int agent_distro_enter(const char *name, char *msg, size_t msglen)
{
    /* The mount namespace goes last: joining it changes the root, and /proc below is the system's. */
    static const struct {
        const char *ns;
        int type;
    } order[] = {{"cgroup", CLONE_NEWCGROUP},
                 {"ipc", CLONE_NEWIPC},
                 {"uts", CLONE_NEWUTS},
                 {"pid", CLONE_NEWPID},
                 {"mnt", CLONE_NEWNS}};
    int fds[sizeof(order) / sizeof(order[0])];
    size_t i, n = sizeof(order) / sizeof(order[0]);
    pid_t pid = lsl_distro_init_pid(name);
    int r, mask;

    if (pid == -EINVAL) {
        snprintf(msg, msglen, "invalid distribution name '%s'", name);
        return LSL_ERR_NO_DISTRO;
    }
    if (pid < 0) {
        snprintf(msg, msglen, "distribution %s is not running", name);
        return LSL_ERR_NO_DISTRO;
    }
    mask = recorded_umask(name); /* read here: /run below is the system's until the mount namespace changes */
    /* Open them all first, so a distribution that stops meanwhile leaves us where we were. */
    for (i = 0; i < n; i++) {
        char path[64];

        snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, order[i].ns);
        fds[i] = open(path, O_RDONLY | O_CLOEXEC);
        if (fds[i] < 0) {
            r = errno;
            while (i--)
                close(fds[i]);
            snprintf(msg, msglen, "distribution %s is not running (%s)", name, strerror(r));
            return LSL_ERR_NO_DISTRO;
        }
    }
    /* The namespace's own root is the initramfs the guest booted from; the distribution's init sits in a
     * pivot_root below it, so its root directory is taken from the process, as nsenter --root does. */
    char root_path[64];
    snprintf(root_path, sizeof(root_path), "/proc/%d/root", (int)pid);
    int root = open(root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) {
        r = errno;
        for (i = 0; i < n; i++)
            close(fds[i]);
        snprintf(msg, msglen, "distribution %s is not running (%s)", name, strerror(r));
        return LSL_ERR_NO_DISTRO;
    }
    r = join_cgroup(name);
    for (i = 0; i < n && r == 0; i++)
        if (setns(fds[i], order[i].type) < 0)
            r = -errno;
    if (r < 0)
        snprintf(msg, msglen, "cannot join distribution %s (%s namespace): %s", name,
                 i ? order[i - 1].ns : "cgroup", strerror(-r));
    for (i = 0; i < n; i++)
        close(fds[i]);
    if (r == 0 && (fchdir(root) < 0 || chroot(".") < 0 || chdir("/") < 0)) {
        r = -errno;
        snprintf(msg, msglen, "cannot enter the root of distribution %s: %s", name, strerror(-r));
    }
    close(root);
    /* The distribution's umask ([filesystem] umask) is its commands' too. */
    if (r == 0 && mask >= 0)
        umask((mode_t)mask);
    return r < 0 ? LSL_ERR_INTERNAL : 0;
}

bool lsl_distro_init_is_systemd(pid_t pid)
{
    char path[64], comm[32] = "";
    snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
    FILE *f = fopen(path, "re");
    if (f) {
        if (!fgets(comm, sizeof(comm), f))
            comm[0] = '\0';
        fclose(f);
    }
    return strcmp(comm, "systemd\n") == 0;
}
