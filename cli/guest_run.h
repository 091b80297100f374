/* Commands in the VM's system root, where lsl-distro manages the distributions: the building block of
 * --import, --export, starting and stopping a distribution. The service must be running. */
#ifndef LSL_CLI_GUEST_RUN_H
#define LSL_CLI_GUEST_RUN_H

#include <stddef.h>

#include "paths.h"

/* Runs argv in the system root (or in the running distribution distro, when not NULL) as root, stdin from
 * in_fd (-1: empty), stdout to out_fd (-1: captured into *out, malloc'd and NUL-terminated, when out is not
 * NULL; else discarded). stderr is captured: its last line goes to err. Returns the command's exit status,
 * or -errno when the session itself failed (err says why). */
int lsl_guest_run(const struct lsl_paths *p, const char *distro, const char *const *argv, int in_fd,
                  int out_fd, char **out, char *err, size_t errlen);

/* Sends a control request to the service and checks for an "ok" reply; its value goes to value (may be
 * NULL), an error reply's message to err. Returns 0 or -errno. */
struct lsl_ctl_request;
int lsl_control(const struct lsl_paths *p, const struct lsl_ctl_request *req, char *value, size_t valuelen,
                char *err, size_t errlen);
/* The disk slot requests: attach puts the image in a slot (its number in *slot, may be NULL), detach takes
 * it out. Return 0 or -errno with the reason in err. */
int lsl_disk_attach(const struct lsl_paths *p, const char *id, const char *image, int *slot, char *err,
                    size_t errlen);
int lsl_disk_detach(const struct lsl_paths *p, const char *id, char *err, size_t errlen);

#endif
