/* The network namespaces localhost forwarding serves besides the VM's own: a container's (Docker's, podman's,
 * `unshare -n`'s) inside a distribution. A namespace is known by its nsfs inode and reached through a process
 * in it (/proc/PID/ns/net, checked against the inode each time, so a reused PID cannot redirect a
 * connection); the forwarder holds no fd on it, which would keep a stopped container's namespace alive. */
#ifndef LSL_INIT_FWD_NETNS_H
#define LSL_INIT_FWD_NETNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FWD_NETNS_MAX 64 /* containers with listeners beyond this are not forwarded */

struct fwd_netns {
    uint64_t ino;
    pid_t pid;
};

struct fwd_netns_set {
    int own_fd;       /* the forwarder's own namespace, to return to */
    uint64_t own_ino; /* its inode */
    struct fwd_netns ns[FWD_NETNS_MAX];
    size_t n;
};

/* Opens the forwarder's own namespace. Returns 0 or -errno. */
int fwd_netns_init(struct fwd_netns_set *s);

/* Finds the namespaces there are now (a stat of every process's ns/net). */
void fwd_netns_walk(struct fwd_netns_set *s);

/* Enters namespace ino (the own one is a no-op). Returns 0, or -errno when it is gone (its process exited or
 * the PID now names another namespace). Every fwd_netns_enter that succeeded is followed by fwd_netns_leave
 * before anything else runs. */
int fwd_netns_enter(struct fwd_netns_set *s, uint64_t ino);
void fwd_netns_leave(struct fwd_netns_set *s);

/* socket(2) in namespace ino. Returns the fd or -errno. */
int fwd_netns_socket(struct fwd_netns_set *s, uint64_t ino, int domain, int type);

#endif
