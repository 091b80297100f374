/* Shutting the guest down. The exit status leaves the VM through a one-byte I/O port (proto/boot.h) because
 * nothing else survives the poweroff; lsl-vmm exits with it. */
#include "poweroff.h"

#include "boot.h"
#include "log.h"
#include "mounts.h"
#include "root.h"

#include "../distro/distro_tool.h"
#include "../distro/share_watch.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <sys/io.h>
#endif

/* How long processes get to exit after SIGTERM, and after SIGKILL (uninterruptible sleep can delay it). */
#define TERM_GRACE_NS (1000LL * 1000 * 1000)
#define KILL_GRACE_NS (1000LL * 1000 * 1000)

static long long now_ns(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
        return 0; /* cannot fail for CLOCK_MONOTONIC on Linux */
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Reaps children until there are none left (true) or the grace period ends (false). Every process is a
 * descendant of PID 1, so having no children means no user process is left. */
static bool reap_all(long long grace_ns)
{
    long long deadline = now_ns() + grace_ns;
    sigset_t sigchld;

    sigemptyset(&sigchld);
    sigaddset(&sigchld, SIGCHLD);
    for (;;) {
        struct timespec timeout;
        long long left;
        pid_t pid;

        while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
            ;
        if (pid < 0 && errno == ECHILD)
            return true;
        if (pid < 0 && errno != EINTR) {
            (void)lsl_log_errno(errno, "cannot reap processes: %m");
            return false;
        }
        left = deadline - now_ns();
        if (left <= 0)
            return false;
        timeout = (struct timespec){.tv_sec = left / 1000000000LL, .tv_nsec = left % 1000000000LL};
        /* SIGCHLD is blocked in PID 1, so an exit between waitpid() and here stays pending and wakes us. */
        if (sigtimedwait(&sigchld, NULL, &timeout) < 0 && errno != EAGAIN && errno != EINTR) {
            (void)lsl_log_errno(errno, "cannot wait for processes: %m");
            return false;
        }
    }
}

/* kill(-1) reaches every process but PID 1 and kernel threads; ESRCH just means there are none. */
static void kill_all(void)
{
    if (kill(-1, SIGTERM) < 0) {
        if (errno != ESRCH)
            (void)lsl_log_errno(errno, "cannot send SIGTERM to all processes: %m");
    } else {
        (void)kill(-1, SIGCONT); /* stopped processes would sit on the SIGTERM */
    }
    if (reap_all(TERM_GRACE_NS))
        return;
    if (kill(-1, SIGKILL) < 0 && errno != ESRCH)
        (void)lsl_log_errno(errno, "cannot send SIGKILL to all processes: %m");
    if (!reap_all(KILL_GRACE_NS))
        lsl_log_error("some processes did not exit; powering off anyway");
}

/* The distributions' disks (mounted under /run/lsl by lsl-distro) are unmounted one by one, deepest first,
 * so each file system is clean on the host before the VM goes: the lazy unmount of /run would not wait. */
static void unmount_distros(void)
{
    static char targets[64][LSL_MOUNT_PATH_MAX];
    size_t n = lsl_mounts_below("/run/lsl", NULL, targets, 64);

    while (n--)
        if (umount2(targets[n], 0) < 0 && umount2(targets[n], MNT_DETACH) < 0)
            (void)lsl_log_errno(errno, "cannot unmount %s: %m", targets[n]);
}

static void report_status(int status)
{
#if defined(__x86_64__) || defined(__i386__)
    if (ioperm(LSL_EXIT_PORT, 1, 1) < 0) {
        (void)lsl_log_errno(errno, "cannot access the exit status port: %m%s",
                            errno == ENOSYS ? " (the kernel lacks CONFIG_X86_IOPL_IOPERM)" : "");
        return;
    }
    outb((unsigned char)status, LSL_EXIT_PORT);
#else
    (void)status; /* lsl-vmm is x86 only; elsewhere the status is lost and it reports 0 */
#endif
}

_Noreturn void lsl_poweroff(int status)
{
    distro_systemd_stop_all();
    share_watch_end_all();
    kill_all();
    sync();
    unmount_distros();
    lsl_root_unmount();
    sync();
    report_status(status & 0xff);
    if (reboot(RB_POWER_OFF) < 0)
        (void)lsl_log_errno(errno, "cannot power off: %m");
    for (;;)
        pause();
}
