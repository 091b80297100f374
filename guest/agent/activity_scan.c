/* See activity.h. A process belongs to a namespace when its /proc/PID/ns/pid names the same namespace as
 * the init's ("pid:[INODE]"); a PID namespace's processes are all visible in the system's /proc. */
#include "activity_scan.h"

#include "distro_enter.h"
#include "distro_layout.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "pid:[4026531836]" of PID's namespace into buf; returns 0 or -errno. */
static int pid_ns(int proc, const char *pid, char *buf, size_t len)
{
    char path[300];
    ssize_t n;

    snprintf(path, sizeof(path), "%s/ns/pid", pid);
    n = readlinkat(proc, path, buf, len - 1);
    if (n < 0)
        return -errno;
    buf[n] = '\0';
    return 0;
}

/* State, parent and command name of PID from its stat line ("PID (COMM) S PPID ..."); the name may hold
 * spaces and parentheses, so it ends at the last ')'. Returns 0 or -errno. */
static int pid_stat(int proc, const char *pid, char *state, long *ppid, char *comm, size_t commlen)
{
    char path[300], buf[512], *open_paren, *close_paren;
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "%s/stat", pid);
    fd = openat(proc, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -EIO;
    buf[n] = '\0';
    open_paren = strchr(buf, '(');
    close_paren = strrchr(buf, ')');
    if (!open_paren || !close_paren || close_paren < open_paren ||
        sscanf(close_paren + 1, " %c %ld", state, ppid) != 2)
        return -EIO;
    snprintf(comm, commlen, "%.*s", (int)(close_paren - open_paren - 1), open_paren + 1);
    return 0;
}

int agent_activity_count(int proc, const pid_t *inits, size_t n, uint32_t *counts)
{
    char(*ns)[64] = calloc(n ? n : 1, sizeof(*ns));
    int dfd = -1;
    DIR *d;
    struct dirent *de;

    if (!ns)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        char pid[16];

        counts[i] = 0;
        snprintf(pid, sizeof(pid), "%d", (int)inits[i]);
        if (pid_ns(proc, pid, ns[i], sizeof(ns[i])) < 0)
            ns[i][0] = '\0';
    }
    dfd = dup(proc);
    d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        int err = errno;

        if (dfd >= 0)
            close(dfd);
        free(ns);
        return -err;
    }
    rewinddir(d);
    while ((de = readdir(d))) {
        char link[64], comm[64], state;
        long ppid;
        size_t i;

        if (strspn(de->d_name, "0123456789") != strlen(de->d_name) ||
            pid_ns(proc, de->d_name, link, sizeof(link)) < 0)
            continue;
        for (i = 0; i < n && (!ns[i][0] || strcmp(ns[i], link) != 0); i++)
            ;
        if (i == n || atol(de->d_name) == (long)inits[i])
            continue;
        /* Gone meanwhile, or a zombie its parent has not reaped yet: not running. */
        if (pid_stat(proc, de->d_name, &state, &ppid, comm, sizeof(comm)) < 0 || state == 'Z' || state == 'X')
            continue;
        if (ppid == (long)inits[i] && strcmp(comm, LSL_SESSION_COMM) == 0)
            continue;
        counts[i]++;
    }
    closedir(d);
    free(ns);
    return 0;
}

int agent_activity(struct lsl_activity out[LSL_ACTIVITY_MAX])
{
    pid_t inits[LSL_ACTIVITY_MAX];
    uint32_t counts[LSL_ACTIVITY_MAX];
    DIR *d = opendir(LSL_DISTROS_DIR);
    struct dirent *de;
    size_t n = 0;
    int proc, r;

    if (!d)
        return errno == ENOENT ? 0 : -errno; /* no distribution has started yet */
    while (n < LSL_ACTIVITY_MAX && (de = readdir(d))) {
        pid_t pid;

        if (de->d_name[0] == '.' || strlen(de->d_name) > LSL_DISTRO_NAME_MAX ||
            (pid = lsl_distro_init_pid(de->d_name)) <= 0)
            continue;
        snprintf(out[n].name, sizeof(out[n].name), "%s", de->d_name);
        inits[n++] = pid;
    }
    closedir(d);
    proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (proc < 0)
        return -errno;
    r = agent_activity_count(proc, inits, n, counts);
    close(proc);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n; i++)
        out[i].processes = counts[i];
    return (int)n;
}
