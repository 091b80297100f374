/* The user's systemd manager for a command in a distribution run by systemd, where no logind session could
 * be had for it (logind.h: the distribution has no D-Bus, or logind refused). */
#ifndef LSL_GUEST_USER_MANAGER_H
#define LSL_GUEST_USER_MANAGER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* When systemd is this distribution's PID 1 and uid is not root: starts the user's manager unless it runs,
 * and writes its runtime directory (XDG_RUNTIME_DIR) into dir. False when there is none to give. */
bool agent_user_runtime(uid_t uid, char *dir, size_t len);

#endif
