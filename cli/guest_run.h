/* Commands in the VM's system root, where lsl-distro manages the distributions: the building block of
 * --import, --export, starting and stopping a distribution. The service must be running. What the guest
 * answers is held in memory only up to a fixed size, so a hostile guest cannot make lsl grow. */
#ifndef LSL_CLI_GUEST_RUN_H
#define LSL_CLI_GUEST_RUN_H

#include <stddef.h>

#include "paths.h"

/* The most stdout kept in memory: lsl-distro's answers are a few config files of at most 64 KiB each, or a
 * list of names. More is no true answer. */
#define LSL_GUEST_OUT_MAX (1u << 20)
/* How much of the end of stderr is kept: its last line is what is reported. */
#define LSL_GUEST_ERR_KEEP (4u << 10)

/* Runs argv in the system root (or in the running distribution distro, when not NULL) as root, stdin from
 * in_fd (-1: empty), stdout to out_fd (-1: kept in memory when out is not NULL, else discarded). Kept
 * stdout comes back in *out (malloc'd, NUL-terminated, binary-safe: *out_len bytes before the NUL, out_len
 * may be NULL); more than LSL_GUEST_OUT_MAX bytes of it fail the call with -EMSGSIZE. The last line of what
 * the command wrote to stderr goes to err. Returns the command's exit status (*out is set only for 0), or
 * -errno when the session itself failed (err says why). */
int lsl_guest_run(const struct lsl_paths *p, const char *distro, const char *const *argv, int in_fd,
                  int out_fd, char **out, size_t *out_len, char *err, size_t errlen);

#endif
