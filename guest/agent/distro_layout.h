/* Where the running distributions live in the guest's system root, shared by the agent (which joins them)
 * and lsl-distro (which starts and stops them). Everything is under /run: a tmpfs, gone with the VM. */
#ifndef LSL_GUEST_DISTRO_LAYOUT_H
#define LSL_GUEST_DISTRO_LAYOUT_H

#include <stdbool.h>
#include <string.h>

#define LSL_DISTROS_DIR      "/run/lsl/distros" /* NAME/root: the mounted disk */
#define LSL_DISTRO_INIT_FILE "init"             /* NAME/init: "PID STARTTIME" of its PID 1, written last */
/* NAME/keepalive: its [boot] keepAlive for the idle stop, one digit of enum lsl_keep_alive
 * (proto/activity.h), written at each start */
#define LSL_DISTRO_KEEP_ALIVE_FILE "keepalive"
/* NAME/umask: its [filesystem] umask, octal, written at each start: what a session joining it from outside
 * takes (its PID 1's own may be systemd's, not the distribution's) */
#define LSL_DISTRO_UMASK_FILE "umask"
#define LSL_SHARED_DIR        "/run/lsl/shared"    /* one tmpfs, bind-mounted into every distribution */
#define LSL_SHARED_MOUNT      "/mnt/lsl"           /* ... here, like WSL's /mnt/wsl */
#define LSL_CGROUP_DIR        "/sys/fs/cgroup/lsl" /* one child cgroup per distribution */
/* Below a distribution's cgroup, lsl's own processes there (its agent, sessions) when systemd is its PID 1:
 * systemd enables controllers in its root only once no process is left in it. */
#define LSL_DISTRO_CGROUP_LEAF "lsl"

/* systemd as a distribution's PID 1 (guest/distro/systemd.c): the binary, $container, the stop timeout
 * each unit gets (DefaultTimeoutStopSec), and how long lsl-distro stop waits for all of it. */
#define LSL_SYSTEMD_PATH        "/lib/systemd/systemd"
#define LSL_SYSTEMD_CONTAINER   "lsl"
#define LSL_SYSTEMD_STOP_UNIT_S "10"
#define LSL_SYSTEMD_STOP_MS     30000

#endif
