/* lsl-vmm's command line: parsed into a plain struct by a pure function so it can be unit-tested. */
#ifndef LSL_OPTIONS_H
#define LSL_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "distro.h"
#include "fwd.h"
#include "../fs/share.h"

#define VMM_MAX_DISKS      8
#define VMM_MAX_DISK_SLOTS LSL_DISK_SLOTS_MAX
/* virtio-mmio has room for 32 devices; rng, vsock and the balloon take three. */
#define VMM_MAX_DISKS_TOTAL 29
#define VMM_DEFAULT_MEMORY  (512ull << 20)
#define VMM_MIN_MEMORY      (64ull << 20)
#define VMM_DEFAULT_CID     3
#define VMM_DEFAULT_CMDLINE "console=ttyS0 quiet panic=-1"
#define VMM_MAX_SHARES      8 /* --share: virtio-fs devices */

struct vmm_disk {
    const char *path;
    bool readonly;
};

struct vmm_options {
    const char *kernel;
    const char *initrd;
    const char *cmdline; /* replaces VMM_DEFAULT_CMDLINE */
    const char *append;  /* added after everything lsl-vmm generates */
    uint64_t memory;
    unsigned cpus;
    struct vmm_disk disks[VMM_MAX_DISKS];
    unsigned ndisks;
    unsigned disk_slots; /* empty drives after the disks, filled at run time over the control socket */
    const char *root;    /* guest block device lsl-init mounts as / (e.g. /dev/vda) */
    const char *console_log;
    bool console; /* copy the guest console to our stdout */
    bool stats;   /* print timings and device counters at exit */
    const char *kvm_dev;
    const char *vsock; /* unix socket path for the virtio-vsock device; NULL: no device */
    uint64_t cid;      /* the guest's vsock CID */
    bool net;          /* virtio-net with the libslirp NAT */
    struct fs_share shares[VMM_MAX_SHARES]; /* --share: host directories as virtio-fs */
    unsigned nshares;
    const char *service;           /* service mode: runtime directory for the control and vsock sockets */
    int idle_timeout;              /* service mode: seconds without sessions before poweroff; < 0 never */
    struct lsl_fwd_policy forward; /* service mode: which guest listeners reach the host's localhost */
    struct lsl_fwd_socks sockets;  /* service mode: guest unix sockets at host paths (--forward-socket) */
    const char *interop;           /* service mode: the program serving the guest's host commands, or NULL */
    int socket_fds[LSL_FWD_SOCKS_MAX]; /* service mode: --forward-socket listeners handed over (--socket-fd)
                                        */
    unsigned nsocket_fds;
    const char *waker; /* service mode: lsl-wake, which holds the listeners after an idle stop; or NULL */
    int log_level;     /* --log: enum log_level, or -1 (LSL_LOG's, or warn) */
    char **command;    /* argv for lsl-init to run, NULL-terminated; NULL when none */
    bool help, version;
};

/* Parses argv into opts. On error returns -EINVAL with a one-line message in err. Does not touch files. */
int vmm_options_parse(int argc, char **argv, struct vmm_options *opts, char *err, unsigned errlen);
void vmm_options_usage(FILE *f);

#endif
