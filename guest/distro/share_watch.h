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

/* The guest powers off: each share's helper is told to go (LSL_FS_IOC_EVENTS_END on every share root
 * mounted in our namespace), as its waiting call would otherwise keep it from dying for up to half a
 * minute. */
void share_watch_end_all(void);

/* lsl-fswatch DIR: the daemon in the foreground, for the share mounted at DIR in the caller's namespace only
 * (a guest without distributions: the file benchmark's). */
int lsl_fswatch_main(int argc, char **argv);

/* What the daemon does for a path (relative to the share's root, "" the root itself). */
enum share_act {
    SHARE_REVAL,        /* look the name up again now: the host changed what it names (fs_notify.h) */
    SHARE_TOUCH_MTIME,  /* the notification touch raising IN_MODIFY */
    SHARE_TOUCH_ATTRIB, /* the same raising IN_ATTRIB */
    SHARE_LOST,         /* events were lost: drop every cached name, then IN_ATTRIB on the root */
};
typedef void share_act_fn(const char *path, enum share_act act, void *opaque);

/* What one batch of records asks: calls act for each path, in order. A record that breaks the contract
 * (length, alignment, no NUL, an absolute path or a ".." component) ends the batch. Returns the number of
 * records taken, or -1 when one was malformed. */
int share_watch_batch(const uint8_t *buf, size_t len, share_act_fn *act, void *opaque);

#endif
