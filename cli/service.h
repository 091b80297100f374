/* The CLI's side of the per-user service: start it when it is not running (exactly once, even when many
 * lsl start together), ask it for status, shutdown or disk slots, and open a session stream to the guest's
 * agent. Every wait here is bounded: a service that hangs costs a timeout, never a hung lsl. */
#ifndef LSL_CLI_SERVICE_H
#define LSL_CLI_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

#include "paths.h"
#include "session_client.h"

/* Starts the VM service unless it runs already; returns once the guest's agent accepts sessions: 1 if this
 * call started the VM (so no distribution runs in it yet), 0 if it was running, or a negative errno. */
int lsl_service_ensure(const struct lsl_paths *p);
/* Sends one control request (proto/control.h) and reads the whole reply into buf, parsed in place into
 * *reply. Returns 0 (reply->ok says whether it was done, reply->error why not), -ECONNREFUSED/-ENOENT when
 * no service runs, -EPROTO for a reply of another lsl version, -ETIMEDOUT or another -errno. */
struct lsl_ctl_request;
struct lsl_ctl_reply;
int lsl_service_request(const struct lsl_paths *p, const struct lsl_ctl_request *req, char *buf, size_t len,
                        struct lsl_ctl_reply *reply);
/* lsl_service_request, then checks for an "ok" reply: its value goes to value (may be NULL), the reason of
 * anything else to err. Returns 0 or -errno. */
int lsl_control(const struct lsl_paths *p, const struct lsl_ctl_request *req, char *value, size_t valuelen,
                char *err, size_t errlen);
/* The disk slot requests: attach puts the image in a slot (its number in *slot, may be NULL), detach takes
 * it out. Return 0 or -errno with the reason in err. */
int lsl_disk_attach(const struct lsl_paths *p, const char *id, const char *image, int *slot, char *err,
                    size_t errlen);
int lsl_disk_detach(const struct lsl_paths *p, const char *id, char *err, size_t errlen);
/* The status reply's "KEY VALUE" lines (read them with lsl_ctl_field), in buf. Returns 0 or -errno as above.
 */
int lsl_service_status(const struct lsl_paths *p, char *buf, size_t len, const char **body);
/* Runs req through the service's hybrid-vsock socket on guest port io->connect_port (must be set):
 * lsl_session_exec over a fresh stream, retried for a while when the system agent (LSL_AGENT_PORT) refuses,
 * as it does for a moment after boot. Returns what lsl_session_exec does, or -ENOTCONN (reason in
 * io->errbuf, io->started false) when the service's socket cannot be reached. */
int lsl_service_exec(const struct lsl_paths *p, const struct lsl_exec_request *req,
                     struct lsl_session_io *io);
/* Asks the service to stop and waits (up to timeout_s) until it is gone. true if it was running. */
int lsl_service_shutdown(const struct lsl_paths *p, int timeout_s, bool *was_running);
/* --shutdown --force: SIGKILL to the process that listens on the control socket (found by SO_PEERCRED, so a
 * service that no longer answers is killed too), then waits up to timeout_s for it to be gone. The guest gets
 * no chance to sync: what it had not written to its disks is lost, as with a power cut. */
int lsl_service_kill(const struct lsl_paths *p, int timeout_s, bool *was_running);

#endif
