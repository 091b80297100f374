/* See share_watch.h: the server's event records (proto/fs_notify.h) into touches. What each becomes:
 *   IN_MODIFY, IN_CLOSE_WRITE   touch the file's mtime: IN_MODIFY for its watchers and its directory's
 *   IN_ATTRIB                   touch both times: IN_ATTRIB
 *   IN_CREATE, IN_MOVED_TO      touch the new name: the directory's watchers hear of it (IN_ATTRIB with its
 *                               name), and stat finds it; the daemon retries a few rounds while the guest may
 *                               still hold a negative entry for the name (up to the share's timeout)
 *   IN_DELETE, IN_MOVED_FROM,   the name is gone: touch its directory (IN_ATTRIB on the directory: watchers
 *   IN_DELETE_SELF              rescan it)
 *   IN_Q_OVERFLOW               events were lost: touch the share's root */
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

int share_watch_batch(const uint8_t *buf, size_t len,
                      void (*touch)(const char *path, int attrib, void *opaque), void *opaque)
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
            touch("", 1, opaque);
            continue;
        }
        if (ev.mask & (IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF)) {
            const char *slash = strrchr(path, '/');
            size_t dlen = slash ? (size_t)(slash - path) : 0;
            memcpy(dir, path, dlen);
            dir[dlen] = '\0';
            touch(dir, 1, opaque);
        }
        if (ev.mask & (IN_CREATE | IN_MOVED_TO | IN_ATTRIB))
            touch(path, 1, opaque);
        else if (ev.mask & (IN_MODIFY | IN_CLOSE_WRITE))
            touch(path, 0, opaque);
    }
    return taken;
}
