/* The guest's API file systems (/proc, /sys, /dev and below, /run, /tmp) and the console fallback. */
#ifndef LSL_INIT_MOUNTS_H
#define LSL_INIT_MOUNTS_H

#include <stddef.h>

/* Makes sure fds 0, 1 and 2 are open, on /dev/console (mounting devtmpfs to reach it) if the kernel could
 * not open it for us. Returns 0 or -errno; it cannot log when the console is what is missing. */
int lsl_console_ensure(void);

/* Mounts proc on /proc (first, because the boot marker and the command line need it). Returns 0 or -errno. */
int lsl_mount_proc(void);

/* Mounts the remaining API file systems; each failure is logged and the others are still tried, since a
 * command can often run without one of them. Returns 0 or the first -errno. */
int lsl_mount_api_filesystems(void);

/* Mount points strictly below PREFIX/ in /proc/self/mounts order (parents before children), skipping those
 * below SKIP/ and SKIP itself when SKIP is not NULL. Fills at most MAX entries and returns their number;
 * longer paths are left out, since nothing we mount needs them. */
#define LSL_MOUNT_PATH_MAX 512
size_t lsl_mounts_below(const char *prefix, const char *skip, char (*out)[LSL_MOUNT_PATH_MAX], size_t max);

#endif
