/* With systemd as the distribution's PID 1 (guest/distro/systemd.c) but no logind session to be had
 * (logind.h), a user's commands still get what a login through logind would start for them: the user's
 * manager, user@UID.service, which brings
 * /run/user/UID (user-runtime-dir@UID.service) and `systemctl --user`. Started on the user's first
 * command and left running (as lingering would), bounded so that a systemd in trouble never holds a command
 * back for long; root's commands get none, as a root shell from `su` has none. */
#include "user_manager.h"

#include "distro_enter.h"
#include "../init/fileio.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define START_BOUND_MS 30000

/* systemctl start UNIT, waited for up to START_BOUND_MS. */
static void start_unit(const char *unit)
{
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execl("/bin/systemctl", "systemctl", "start", "--quiet", unit, (char *)NULL);
        _exit(127);
    }
    if (pid > 0)
        (void)lsl_wait_bounded(pid, lsl_now_ms() + START_BOUND_MS, NULL);
}

bool agent_user_runtime(uid_t uid, char *dir, size_t len)
{
    char sock[96], unit[48];
    if (uid == 0 || !lsl_distro_init_is_systemd(1))
        return false;
    snprintf(dir, len, "/run/user/%u", (unsigned)uid);
    snprintf(sock, sizeof(sock), "/run/user/%u/systemd/private", (unsigned)uid);
    if (access(sock, F_OK) < 0) {
        snprintf(unit, sizeof(unit), "user@%u.service", (unsigned)uid);
        start_unit(unit);
    }
    return access(dir, F_OK) == 0;
}
