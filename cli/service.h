/* The CLI's side of the per-user service: start it when it is not running (exactly once, even when many
 * lsl start together), ask it for status or shutdown, and open a session stream to the guest's agent. */
#ifndef LSL_CLI_SERVICE_H
#define LSL_CLI_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

#include "paths.h"

/* Starts the VM service unless it runs already; returns once the guest's agent accepts sessions. */
int lsl_service_ensure(const struct lsl_paths *p);
/* Sends one control request; the reply (NUL-terminated) goes into buf. -ECONNREFUSED/-ENOENT: not running. */
int lsl_service_request(const struct lsl_paths *p, const char *req, char *buf, size_t len);
/* A stream to the service's hybrid-vsock socket before its CONNECT line (see lsl_session_io.connect_port):
 * the fd, or -errno when the service is not running. */
int lsl_service_vsock(const struct lsl_paths *p);
/* Opens a stream to the agent through the service's hybrid-vsock socket. Returns the fd or -errno. */
int lsl_service_connect_agent(const struct lsl_paths *p);
/* Asks the service to stop and waits (up to timeout_s) until it is gone. true if it was running. */
int lsl_service_shutdown(const struct lsl_paths *p, int timeout_s, bool *was_running);

#endif
