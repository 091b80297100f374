/* The CLI's side of socket wake (proto/wake.h): what lsl-wake holds while the VM is down. */
#ifndef LSL_CLI_WAKE_CLIENT_H
#define LSL_CLI_WAKE_CLIENT_H

#include <stddef.h>

#include "paths.h"

/* Takes the listeners lsl-wake holds (it exits then): up to max fds into fds (close-on-exec; any beyond max
 * are closed). Returns how many, 0 when no lsl-wake waits, or -errno (one warning line: the service binds
 * the paths anew). */
int lsl_wake_take(const struct lsl_paths *p, int *fds, size_t max);
/* lsl --shutdown: takes them and closes them, each path removed once nothing listens there. Returns how
 * many there were. */
int lsl_wake_release(const struct lsl_paths *p);
/* The host paths lsl-wake holds, one per line, into buf: 1, or 0 when no lsl-wake waits. */
int lsl_wake_list(const struct lsl_paths *p, char *buf, size_t len);

#endif
