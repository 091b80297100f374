/* See wake_handoff.h. lsl-wake is the service's child only for a moment: the service exits once the guest
 * is off, and lsl-wake lives on in a session of its own, its output the service log's. */
#include "wake_handoff.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fwd.h"
#include "log.h"
#include "unix_socket.h"
#include "wake.h"

extern char **environ;

int wake_handoff(const char *dir, const char *program, const int *fds, size_t n, const char *const *resume,
                 size_t nresume)
{
    char path[4096];
    if (n > LSL_FWD_SOCKS_MAX || nresume > LSL_WAKE_RESUME_MAX)
        return -EINVAL;
    if (snprintf(path, sizeof(path), "%s/" LSL_WAKE_SOCKET, dir) >= (int)sizeof(path))
        return log_errno(ENAMETOOLONG, "the wake socket");
    /* Made here, before the guest powers off: an lsl that starts the VM next finds it as soon as the
     * service is gone, and takes the listeners from it. */
    int wake = unix_listen(path, 8);
    if (wake < 0)
        return log_errno(-wake, "the wake socket %s", path);
    char nums[1 + LSL_FWD_SOCKS_MAX][16];
    const char *argv[1 + 2 + 2 * LSL_FWD_SOCKS_MAX + 2 * LSL_WAKE_RESUME_MAX + 1];
    size_t argc = 0;
    argv[argc++] = program;
    snprintf(nums[0], sizeof(nums[0]), "%d", wake);
    argv[argc++] = LSL_WAKE_OPT_WAKE;
    argv[argc++] = nums[0];
    for (size_t i = 0; i < n; i++) {
        snprintf(nums[1 + i], sizeof(nums[1 + i]), "%d", fds[i]);
        argv[argc++] = LSL_WAKE_OPT_SOCKET;
        argv[argc++] = nums[1 + i];
    }
    for (size_t i = 0; i < nresume; i++) {
        argv[argc++] = LSL_WAKE_OPT_RESUME;
        argv[argc++] = resume[i];
    }
    argv[argc] = NULL;
    /* posix_spawn, as for interop (interop.c): vfork, an exec failure reported, no signal of ours blocked
     * or handled in it, a session of its own. The fds go across for the moment of the spawn (this thread
     * is the only one that starts programs). */
    posix_spawnattr_t attr;
    sigset_t none, all;
    pid_t pid;
    sigemptyset(&none);
    sigfillset(&all);
    int err = posix_spawnattr_init(&attr);
    if (err == 0) {
        (void)posix_spawnattr_setsigmask(&attr, &none);
        (void)posix_spawnattr_setsigdefault(&attr, &all);
        (void)posix_spawnattr_setflags(&attr,
                                       POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
        (void)fcntl(wake, F_SETFD, 0);
        for (size_t i = 0; i < n; i++)
            (void)fcntl(fds[i], F_SETFD, 0);
        err = posix_spawn(&pid, program, NULL, &attr, (char *const *)argv, environ);
        for (size_t i = 0; i < n; i++)
            (void)fcntl(fds[i], F_SETFD, FD_CLOEXEC);
        posix_spawnattr_destroy(&attr);
    }
    close(wake);
    if (err) {
        unlink(path);
        return log_errno(err, "starting %s", program);
    }
    log_info("idle stop: %zu forwarded socket%s wait%s in lsl-wake (pid %d); a client starts the VM again", n,
             n == 1 ? "" : "s", n == 1 ? "s" : "", (int)pid);
    return 0;
}
