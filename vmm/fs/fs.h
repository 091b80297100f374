/* The FUSE server behind lsl-vmm's virtio-fs device: one host directory shared with the guest, served from
 * fds under that root (never string paths), with every request from the hostile guest validated. The device
 * (vmm/devices/fs.c) hands it requests as the virtqueue delivered them; the unit tests and the fuzz target
 * call fs_handle the same way. */
#ifndef LSL_FS_H
#define LSL_FS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "share.h"

struct fs_server;
struct fs_ctx;

/* One request as the driver queued it: device-readable segments (the FUSE request), then device-writable
 * ones (room for the reply). start_ns is when the device first saw it (a waiting request keeps it). */
struct fs_req {
    const struct iovec *out;
    unsigned n_out;
    const struct iovec *in;
    unsigned n_in;
    uint64_t start_ns;
    uint64_t retry_at_ns; /* set by a request that returns FS_RETRY and knows when it is next due (the
                           * event channel: its deadline, since host events wake it sooner); 0: back off */
};

/* What fs_handle returns besides a reply length (>= 0: bytes written into the in segments). */
#define FS_RETRY (-1) /* the request waits (a blocking lock, the event channel): handle it again later */

struct fs_counters {
    uint64_t ops[64];       /* requests by opcode (FUSE opcodes < 64) */
    uint64_t unknown;       /* unknown opcodes, answered ENOSYS */
    uint64_t malformed;     /* requests the guest got wrong: short, lengths past the buffer, bad names */
    uint64_t no_reply_room; /* requests without room for a reply header: returned with nothing written */
    uint64_t enfile;        /* LOOKUPs refused because the node table was full */
    uint64_t escapes;       /* lookups that would have left the share (".." past the root, procfs) */
    uint64_t dax_setups, dax_removes, dax_repairs; /* DAX window ranges mapped, unmapped, mended (dax.c) */
};

/* Opens the share's root and prepares the tables (the guest cannot change what is shared: the root is
 * resolved once, here, from the host's path). Returns 0 or -errno with one line logged. */
int fs_server_new(const struct fs_share *share, struct fs_server **out);
void fs_server_free(struct fs_server *s);
/* Ends the FUSE session: every node but the root and every handle is released (the driver reset the
 * device, or sent DESTROY). Safe while other threads still finish requests. */
void fs_server_reset(struct fs_server *s);

/* Per-thread scratch (argument copies, reply buffers); one per thread that calls fs_handle. */
struct fs_ctx *fs_ctx_new(void);
void fs_ctx_free(struct fs_ctx *c);

/* Serves one request. Returns the reply length written into req->in (0 for requests without a reply such
 * as FORGET, or when the guest left no room for one), or FS_RETRY. Never fails otherwise: whatever the
 * guest sent, the answer is an error reply. Thread-safe. */
int fs_handle(struct fs_server *s, struct fs_ctx *c, struct fs_req *req);

/* The DAX window (dax.c): size bytes (a multiple of 2 MiB) of host memory, made here and returned in *base,
 * for the device to give the guest as its shared memory region. fs_server_window_repair: called when KVM
 * could not map part of it (KVM_RUN's EFAULT); puts zeroes where a mapped file has no pages any more and
 * returns how many ranges it mended. */
int fs_server_window(struct fs_server *s, uint64_t size, void **base);
unsigned fs_server_window_repair(struct fs_server *s);
/* An inotify fd on the files the window maps (-1 without a window): when readable, fs_server_window_read
 * mends what a host truncate took from under the guest, before it touches it. */
int fs_server_window_fd(struct fs_server *s);
void fs_server_window_read(struct fs_server *s);

/* Host change notification (watch.c): an inotify fd the caller polls (-1 before a guest asked for events)
 * and what to call when it is readable. fs_events_waiting: a request parked on the event channel can go. */
int fs_server_watch_fd(struct fs_server *s);
void fs_server_watch_read(struct fs_server *s);
bool fs_server_events_waiting(struct fs_server *s);

const struct fs_counters *fs_server_counters(const struct fs_server *s);
/* Nodes and handles live now, and the most the tables take. */
void fs_server_usage(const struct fs_server *s, unsigned *nodes, unsigned *nodes_max, unsigned *handles,
                     unsigned *handles_max);

#endif
