/* See wake_handoff.h. lsl-wake is the service's child only for a moment: the service exits once the guest
 * is off, and lsl-wake lives on in a session of its own, its output the service log's. */
#include "wake_handoff.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fwd.h"
#include "log.h"
#include "service_spawn.h"
#include "unix_socket.h"
#include "wake.h"

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
    /* Started as service_spawn.h starts the service's programs; the fds go across for the moment of the
     * spawn (this thread is the only one that starts programs). */
    pid_t pid;
    (void)fcntl(wake, F_SETFD, 0);
    for (size_t i = 0; i < n; i++)
        (void)fcntl(fds[i], F_SETFD, 0);
    int err = service_spawn(&pid, program, (char *const *)argv, NULL);
    for (size_t i = 0; i < n; i++)
        (void)fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    close(wake);
    if (err) {
        unlink(path);
        return log_errno(err, "starting %s", program);
    }
    log_info("idle stop: %zu forwarded socket%s wait%s in lsl-wake (pid %d); a client starts the VM again", n,
             n == 1 ? "" : "s", n == 1 ? "s" : "", (int)pid);
    return 0;
}
