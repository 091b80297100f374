/* See service_spawn.h. */
#include "service_spawn.h"

#include <signal.h>

extern char **environ;

int service_spawn(pid_t *pid, const char *program, char *const argv[], const posix_spawn_file_actions_t *fa)
{
    posix_spawnattr_t attr;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    int r = posix_spawnattr_init(&attr);
    if (r != 0)
        return r;
    (void)posix_spawnattr_setsigmask(&attr, &none);
    (void)posix_spawnattr_setsigdefault(&attr, &all);
    (void)posix_spawnattr_setflags(&attr,
                                   POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
    r = posix_spawn(pid, program, fa, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    return r;
}
