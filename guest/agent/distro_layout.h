/* Where the running distributions live in the guest's system root, shared by the agent (which joins them)
 * and lsl-distro (which starts and stops them). Everything is under /run: a tmpfs, gone with the VM. */
#ifndef LSL_GUEST_DISTRO_LAYOUT_H
#define LSL_GUEST_DISTRO_LAYOUT_H

#include <stdbool.h>
#include <string.h>

#define LSL_DISTROS_DIR  "/run/lsl/distros"   /* NAME/root: the mounted disk; NAME/init: "PID STARTTIME" */
#define LSL_SHARED_DIR   "/run/lsl/shared"    /* one tmpfs, bind-mounted into every distribution */
#define LSL_SHARED_MOUNT "/mnt/lsl"           /* ... here, like WSL's /mnt/wsl */
#define LSL_CGROUP_DIR   "/sys/fs/cgroup/lsl" /* one child cgroup per distribution */

#endif
