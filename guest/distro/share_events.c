/* See share_watch.h: the server's event records (proto/fs_notify.h) into actions. What each becomes:
 *   IN_MODIFY, IN_CLOSE_WRITE   touch the file's mtime: IN_MODIFY for its watchers and its directory's
 *   IN_ATTRIB                   touch both times: IN_ATTRIB
 *   IN_CREATE, IN_MOVED_TO      look the name up again (the guest may hold a negative or an older entry for
 *                               it, trusted long: fs_notify.h), and the directory's (its times changed);
 *                               then touch the new name: the directory's watchers hear of it (IN_ATTRIB
 *                               with its name), and stat finds it
 *   IN_DELETE, IN_MOVED_FROM,   the name is gone: look it up again (the guest drops it), and its
 *   IN_DELETE_SELF              directory, then touch the directory (IN_ATTRIB on it: watchers rescan)
 *   IN_Q_OVERFLOW               events were lost: forget what is cached, touch the share's root
 * A record may carry several of these (the server folds a path's events into one record). */
#include "share_watch.h"

#include "fs_notify.h" /* proto/ */

#include <stdbool.h>
#include <string.h>
#include <sys/inotify.h>

static bool path_ok(const char *p)
{
    if (p[0] == '/')
        return false;
    for (const char *c = p; *c;) {
        size_t n = strcspn(c, "/");
        if ((n == 2 && c[0] == '.' && c[1] == '.') || n == 0)
            return false;
        c += n;
        c += *c == '/';
    }
    return true;
}

/* The directory part of path ("" for a name in the root). */
static void dir_of(const char *path, char *dir)
{
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) : 0;

    memcpy(dir, path, dlen);
    dir[dlen] = '\0';
}

int share_watch_batch(const uint8_t *buf, size_t len, share_act_fn *act, void *opaque)
{
    int taken = 0;

    for (size_t pos = 0; pos < len;) {
        struct lsl_fs_event ev;
        char dir[LSL_FS_EVENTS_BUF];

        if (len - pos < sizeof(ev))
            return -1;
        memcpy(&ev, buf + pos, sizeof(ev));
        if (ev.len < sizeof(ev) + 1 || ev.len % 8 || ev.len > len - pos)
            return -1;
        const char *path = (const char *)buf + pos + sizeof(ev);
        size_t plen = strnlen(path, ev.len - sizeof(ev));
        if (plen == ev.len - sizeof(ev) || !path_ok(path))
            return -1;
        pos += ev.len;
        taken++;
        if (ev.mask & IN_Q_OVERFLOW) {
            act("", SHARE_LOST, opaque);
            continue;
        }
        dir_of(path, dir);
        if (ev.mask & (IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF)) {
            act(path, SHARE_REVAL, opaque);
            act(dir, SHARE_REVAL, opaque);
        }
        if (ev.mask & (IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF))
            act(dir, SHARE_TOUCH_ATTRIB, opaque);
        if (ev.mask & (IN_CREATE | IN_MOVED_TO | IN_ATTRIB))
            act(path, SHARE_TOUCH_ATTRIB, opaque);
        else if (ev.mask & (IN_MODIFY | IN_CLOSE_WRITE))
            act(path, SHARE_TOUCH_MTIME, opaque);
    }
    return taken;
}
