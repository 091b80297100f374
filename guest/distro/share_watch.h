/* Host changes as guest inotify events: the guest half of proto/fs_notify.h. One small daemon per host share,
 * started when lsl-distro first mounts the share for the VM, asks the share's server for host changes and
 * turns each into a touch of the guest path in every running distribution, which raises IN_MODIFY / IN_ATTRIB
 * for the guest's watchers there (webpack, nodemon, `cargo watch`, editors). share_events.c reads the
 * records, share_watch.c is the daemon. */
#ifndef LSL_DISTRO_SHARE_WATCH_H
#define LSL_DISTRO_SHARE_WATCH_H

#include <stddef.h>
#include <stdint.h>

/* Starts the daemon for the share mounted at dir, detached (reparented to PID 1, in the system's PID
 * namespace, so no distribution counts it as its activity). Best effort: a failure only means no events. */
void share_watch_spawn(const char *dir);

/* What one batch of records asks: calls touch(path, attrib, opaque) for each path to touch, in order. A
 * record that breaks the contract (length, alignment, no NUL, an absolute path or a ".." component) ends
 * the batch. Returns the number of records taken, or -1 when one was malformed. */
int share_watch_batch(const uint8_t *buf, size_t len,
                      void (*touch)(const char *path, int attrib, void *opaque), void *opaque);

#endif
