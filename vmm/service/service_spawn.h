/* How the service starts programs (interop's lsl-interop, the idle stop's lsl-wake): posix_spawn (vfork:
 * nothing of the guest's memory is copied or shared copy-on-write, and an exec failure is reported), default
 * signals and an empty mask whatever the VMM's threads block or handle, a session of their own. None is
 * waited for: interop's are reaped by the kernel (interop.c sets SIGCHLD's SA_NOCLDWAIT), lsl-wake outlives
 * the service. */
#ifndef LSL_SERVICE_SERVICE_SPAWN_H
#define LSL_SERVICE_SERVICE_SPAWN_H

#include <spawn.h>
#include <sys/types.h>

/* program with argv and the VMM's environment; fa may be NULL. Returns 0 (the child in *pid) or an errno. */
int service_spawn(pid_t *pid, const char *program, char *const argv[], const posix_spawn_file_actions_t *fa);

#endif
