/* Service mode of lsl-vmm: the per-user background VM. A control socket answers `status`, `shutdown` and the
 * disk slot requests; an idle timer powers the guest off when no session has been open for the configured
 * time. */
#ifndef LSL_SERVICE_H
#define LSL_SERVICE_H

#include "vm.h"

/* Listens on DIR/control (mode 0600). idle_timeout_s < 0 disables the idle shutdown. */
int service_create(struct vm *vm, const char *dir, int idle_timeout_s);

/* Control socket requests (one line each, one reply, then the server closes). */
#define SERVICE_REQ_STATUS   "status"
#define SERVICE_REQ_SHUTDOWN "shutdown"
#define SERVICE_REQ_CLOCK    "clock" /* set the guest's clock to the host's now */
/* And the disk slot requests (lsl-vmm --disk-slots; devices/blk_slots.c): "attach ID PATH" -> "ok SLOT";
 * "detach ID" -> "ok"; "disks" -> one "SLOT ID PATH" line per attached disk. Failures answer one line,
 * "error MESSAGE". */

#endif
