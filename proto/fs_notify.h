/* The host-change notification contract between lsl-vmm's virtio-fs server (vmm/fs/watch.c) and the helper in
 * the guest (guest/distro/share_watch.c).
 *
 * Linux's virtio-fs driver has no notification queue (6.1: hiprio and request queues only), and the FUSE
 * notifications (FUSE_NOTIFY_INVAL_*) reach the kernel only through /dev/fuse, so the server cannot tell the
 * guest kernel anything on its own. Instead:
 *   1. Events: a guest helper opens the share's root directory and calls ioctl(fd, LSL_FS_IOC_EVENTS, buf).
 *      The call waits up to LSL_FS_EVENTS_WAIT_MS for host changes under the share and returns the number of
 *      bytes of lsl_fs_event records in buf (0: none yet; call again). LSL_FS_IOC_EVENTS_IDLE is the same
 *      call waiting up to LSL_FS_EVENTS_IDLE_MS: the helper's call when it has nothing to try again, so an
 *      idle guest is woken twice a minute instead of every second (each wake-up of an idle VM costs the
 *      host). A process waiting in a FUSE request cannot be killed, so the guest ends the wait when it
 *      powers off: LSL_FS_IOC_EVENTS_END answers the waiting call, and every later one, with ESHUTDOWN (the
 *      helper exits on it) and ends the long trust of item 3. The first call turns watching on: the
 *      server then watches (fanotify, or inotify) each directory the guest lists or looks names up in, as
 *      long as the guest holds it; changes the guest made through the server are not reported. A path's
 * events close together come as one record, their masks or-ed.
 *   2. Touch: for each event the helper calls utimensat on the guest path with the sentinel times below. The
 *      server changes nothing on the host and answers with the file's current attributes, so the guest
 *      refreshes its cached size and times (dropping stale pages when they changed) and its VFS raises
 *      IN_MODIFY (atime omitted, mtime the sentinel) or IN_ATTRIB (both the sentinel) for the guest's
 *      inotify/fanotify watchers of the file and of its directory.
 *   3. Revalidation: for a created, removed or renamed name the helper first makes the guest look the name
 *      (and its directory) up again: open(path, O_CREAT | O_EXCL) on a read-only clone of the mount forces a
 *      fresh LOOKUP whatever the guest cached and creates nothing. Because of it the server may tell the
 *      guest to trust names in the directories it watches, and single-link files' attributes, for minutes
 *      instead of a second (vmm/fs/watch.c): the guest asks nothing while nothing changes and still sees a
 *      host change as soon as the helper has it. Only while the helper keeps asking for events; events lost
 *      (IN_Q_OVERFLOW) make it drop the guest's cached names. */
#ifndef LSL_FS_NOTIFY_H
#define LSL_FS_NOTIFY_H

#include <stdint.h>
#include <sys/ioctl.h>

#define LSL_FS_EVENTS_BUF      16376 /* _IOC_SIZE holds 14 bits */
#define LSL_FS_IOC_EVENTS      _IOR('L', 0x46, char[LSL_FS_EVENTS_BUF])
#define LSL_FS_IOC_EVENTS_IDLE _IOR('L', 0x47, char[LSL_FS_EVENTS_BUF])
#define LSL_FS_IOC_EVENTS_END  _IO('L', 0x48)
#define LSL_FS_EVENTS_WAIT_MS  1000  /* names to try again: the guest's short negative entries expire */
#define LSL_FS_EVENTS_IDLE_MS  30000 /* nothing to try again */

/* One record: len bytes (8-aligned) in all, the inotify mask (IN_MODIFY, IN_ATTRIB, IN_CREATE, IN_DELETE,
 * IN_MOVED_FROM, IN_MOVED_TO, IN_CLOSE_WRITE, IN_DELETE_SELF, IN_ISDIR, or IN_Q_OVERFLOW alone: events were
 * lost, rescan), then the path relative to the share's root, NUL-terminated ("" for the root). */
struct lsl_fs_event {
    uint32_t len;
    uint32_t mask;
    char path[];
};

/* The touch: tv_sec 0 and this tv_nsec, for mtime (IN_MODIFY) or for both times (IN_ATTRIB). */
#define LSL_FS_TOUCH_NSEC 987654321u

#endif
