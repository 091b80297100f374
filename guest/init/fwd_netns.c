/* See fwd_netns.h. */
#include "fwd_netns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

int fwd_netns_init(struct fwd_netns_set *s)
{
    struct stat st;

    memset(s, 0, sizeof(*s));
    s->own_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (s->own_fd < 0)
        return -errno;
    if (fstat(s->own_fd, &st) < 0)
        return -errno;
    s->own_ino = st.st_ino;
    return 0;
}

void fwd_netns_walk(struct fwd_netns_set *s)
{
    DIR *proc = opendir("/proc");
    struct dirent *de;

    s->n = 0;
    if (!proc)
        return;
    while ((de = readdir(proc)) && s->n < FWD_NETNS_MAX) {
        char path[300];
        struct stat st;
        bool known = false;

        if (de->d_name[0] < '1' || de->d_name[0] > '9' ||
            strspn(de->d_name, "0123456789") != strlen(de->d_name))
            continue;
        snprintf(path, sizeof(path), "/proc/%s/ns/net", de->d_name);
        if (stat(path, &st) < 0 || st.st_ino == s->own_ino)
            continue; /* gone, a kernel thread, or the VM's own */
        for (size_t i = 0; i < s->n && !known; i++)
            known = s->ns[i].ino == st.st_ino;
        if (!known)
            s->ns[s->n++] = (struct fwd_netns){.ino = st.st_ino, .pid = (pid_t)atoi(de->d_name)};
    }
    closedir(proc);
}

int fwd_netns_enter(struct fwd_netns_set *s, uint64_t ino)
{
    char path[64];
    struct stat st;
    pid_t pid = 0;
    int fd, r = 0;

    if (ino == s->own_ino)
        return 0;
    for (size_t i = 0; i < s->n && !pid; i++)
        if (s->ns[i].ino == ino)
            pid = s->ns[i].pid;
    if (!pid)
        return -ENOENT;
    snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0 || st.st_ino != ino)
        r = -ESRCH; /* the PID lives on in another namespace */
    else if (setns(fd, CLONE_NEWNET) < 0)
        r = -errno;
    close(fd);
    return r;
}

void fwd_netns_leave(struct fwd_netns_set *s)
{
    /* Cannot fail for the namespace this process started in (root, held open). */
    (void)setns(s->own_fd, CLONE_NEWNET);
}

int fwd_netns_socket(struct fwd_netns_set *s, uint64_t ino, int domain, int type)
{
    int r = fwd_netns_enter(s, ino), fd;

    if (r < 0)
        return r;
    fd = socket(domain, type, 0);
    r = fd < 0 ? -errno : fd;
    if (ino != s->own_ino)
        fwd_netns_leave(s);
    return r;
}
