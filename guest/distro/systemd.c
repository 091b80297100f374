/* systemd as a distribution's PID 1 ([boot] systemd, on by default where the distribution has systemd, as in
 * WSL's newer images). lsl's init has set the distribution up (init.c) and then execs systemd in its place,
 * after forking lsl's own part: the distribution's agent (its vsock port) and the [boot] command, in a leaf
 * cgroup of their own (LSL_DISTRO_CGROUP_LEAF: systemd enables controllers below its root only once no
 * process is left in it). What systemd finds is what https://systemd.io/CONTAINER_INTERFACE asks for:
 * $container set, its own writable cgroup2 subtree (the cgroup namespace's root), /run and /dev/shm fresh
 * tmpfs, /proc and /sys mounted. Units that would fight lsl are masked at runtime (/run/systemd/system, the
 * user's files untouched); the agent holds the readiness pipe until systemd reports running or degraded, or
 * for [boot] initTimeout at most (LSL_DISTRO_INIT_TIMEOUT_MS unless set; 0: no wait). lsl-distro stop sends
 * SIGRTMIN+4 (poweroff), which systemd in a container ends by exiting. */
#include "distro_tool.h"

#include "../agent/distro_enter.h"
#include "../agent/activity_scan.h"
#include "../agent/distro_layout.h"
#include "../init/agent_listen.h"
#include "../init/fileio.h"
#include "../init/proctitle.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "distro.h"

/* Units that would fight lsl: gettys on the VM's consoles, waits for a network lsl has up already, network
 * and DNS managers and time sync where lsl does those, and udev (the devices are the VM's, shared by every
 * distribution). Then what only costs start time here (each ~0.7 s under emulation, about a tenth of that
 * on hardware): loading modules (the VM's kernel has what it has built in), the kernel's debug, tracing
 * and config file systems, huge pages, ext4 snapshot scrubbing. Masked by name or template; resolved only
 * while lsl writes resolv.conf. */
static const char *const masked[] = {
    "console-getty.service",
    "container-getty@.service",
    "getty@.service",
    "serial-getty@.service",
    "systemd-networkd-wait-online.service",
    "NetworkManager-wait-online.service",
    "systemd-networkd.service",
    "systemd-networkd.socket",
    "systemd-timesyncd.service",
    "systemd-udevd.service",
    "systemd-udevd-control.socket",
    "systemd-udevd-kernel.socket",
    "systemd-udev-trigger.service",
    "systemd-udev-settle.service",
    "systemd-remount-fs.service", /* lsl mounted the root */
    "modprobe@.service",
    "systemd-modules-load.service",
    "sys-kernel-config.mount",
    "sys-kernel-debug.mount",
    "sys-kernel-tracing.mount",
    "sys-fs-fuse-connections.mount",
    "dev-hugepages.mount",
    "e2scrub_reap.service",
};

/* Generators systemd would run at every start for nothing here (each an exec of a program linked against
 * libsystemd-shared: ~0.2 s under emulation, the five left 1.2 s): lsl mounts the distribution's fstab
 * itself ([automount] mountFsTab), gettys are masked, and there are no partitions, encrypted or verity
 * volumes, hibernation images or boot counting in a distribution's disk. In a container systemd takes its
 * own command line for the kernel's, and lsl gives it no systemd.mask=, systemd.wants= or systemd.run=
 * (the debug and run generators'). A pending offline update (/system-update) would start the distribution
 * as an update that ends by rebooting it, which ends a distribution here: left for the user to run. SysV
 * scripts and rc.local still work. */
static const char *const generators_masked[] = {
    "systemd-debug-generator",          "systemd-run-generator",
    "systemd-system-update-generator",  "systemd-fstab-generator",
    "systemd-getty-generator",          "systemd-gpt-auto-generator",
    "systemd-cryptsetup-generator",     "systemd-veritysetup-generator",
    "systemd-integritysetup-generator", "systemd-hibernate-resume-generator",
    "systemd-bless-boot-generator",
};

bool distro_has_systemd(void)
{
    return access(LSL_SYSTEMD_PATH, X_OK) == 0;
}

void distro_systemd_stop_all(void)
{
    pid_t pids[64];
    size_t n = 0;
    DIR *d = opendir(LSL_DISTROS_DIR);
    struct dirent *de;
    while (d && n < sizeof(pids) / sizeof(pids[0]) && (de = readdir(d))) {
        pid_t pid = de->d_name[0] == '.' ? -1 : lsl_distro_init_pid(de->d_name);
        if (pid > 0 && lsl_distro_init_is_systemd(pid) && kill(pid, SIGRTMIN + 4) == 0)
            pids[n++] = pid;
    }
    if (d)
        closedir(d);
    for (long long deadline = lsl_now_ms() + LSL_SYSTEMD_STOP_MS; n && lsl_now_ms() < deadline;) {
        while (waitpid(-1, NULL, WNOHANG) > 0) /* they are our children now: gone only once reaped */
            ;
        size_t alive = 0;
        for (size_t i = 0; i < n; i++)
            if (kill(pids[i], 0) == 0)
                pids[alive++] = pids[i];
        n = alive;
        if (n)
            lsl_sleep_ms(20);
    }
}

/* /run is a fresh tmpfs (init.c): nothing of the user's is overwritten here. */
static void runtime_config(const struct distro_start *s)
{
    char path[256];
    (void)mkdir("/run/systemd", 0755);
    (void)mkdir("/run/systemd/system", 0755);
    for (size_t i = 0; i < sizeof(masked) / sizeof(masked[0]); i++) {
        snprintf(path, sizeof(path), "/run/systemd/system/%s", masked[i]);
        (void)symlink("/dev/null", path);
    }
    if (s->resolv)
        (void)symlink("/dev/null", "/run/systemd/system/systemd-resolved.service");
    (void)mkdir("/run/systemd/system-generators", 0755);
    for (size_t i = 0; i < sizeof(generators_masked) / sizeof(generators_masked[0]); i++) {
        snprintf(path, sizeof(path), "/run/systemd/system-generators/%s", generators_masked[i]);
        (void)symlink("/dev/null", path);
    }
    /* A stop must not hang on a unit's 90 s default; "00-" so the distribution's own drop-ins win. */
    (void)mkdir("/run/systemd/system.conf.d", 0755);
    (void)lsl_write_file("/run/systemd/system.conf.d/00-lsl.conf",
                         "# Written by lsl at start: stops within the bound lsl-distro stop waits.\n"
                         "[Manager]\nDefaultTimeoutStopSec=" LSL_SYSTEMD_STOP_UNIT_S "s\n");
}

static void join_leaf(void)
{
    char self[16];
    int n = snprintf(self, sizeof(self), "%d", (int)getpid());
    (void)mkdir("/sys/fs/cgroup/" LSL_DISTRO_CGROUP_LEAF, 0755);
    int fd = open("/sys/fs/cgroup/" LSL_DISTRO_CGROUP_LEAF "/cgroup.procs", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)!write(fd, self, (size_t)n);
        close(fd);
    }
}

/* systemctl with args, bounded by the deadline; what it printed in out ("" if nothing), at most len - 1
 * bytes: a word or a few lines, which fit the pipe, so waiting first cannot block the writer. */
static void systemctl_out(const char *const *args, long long deadline, char *out, size_t len)
{
    int p[2];
    out[0] = '\0';
    if (pipe2(p, O_CLOEXEC) < 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        dup2(p[1], 1);
        char *argv[8] = {"systemctl"};
        for (size_t i = 0; args[i] && i + 2 < sizeof(argv) / sizeof(argv[0]); i++)
            argv[i + 1] = (char *)args[i];
        execv("/bin/systemctl", argv);
        _exit(127);
    }
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        return;
    }
    (void)lsl_wait_bounded(pid, deadline, NULL);
    (void)fcntl(p[0], F_SETFL, O_NONBLOCK);
    ssize_t r = read(p[0], out, len - 1);
    out[r > 0 ? (size_t)r : 0] = '\0';
    close(p[0]);
}

static void system_state(long long deadline, bool wait, char *state, size_t len)
{
    const char *const args[] = {"is-system-running", wait ? "--wait" : NULL, NULL};
    systemctl_out(args, deadline, state, len);
    state[strcspn(state, "\n")] = '\0';
}

/* The units whose start jobs are running (what the boot waits for), as "a, b, c", at most len - 1 bytes. */
static void starting_units(char *units, size_t len)
{
    char jobs[4096];
    const char *const args[] = {"list-jobs", "--no-legend", "--no-pager", "--plain", NULL};
    systemctl_out(args, lsl_now_ms() + 5000, jobs, sizeof(jobs));
    units[0] = '\0';
    size_t used = 0;
    int shown = 0;
    for (char *save = NULL, *line = strtok_r(jobs, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char unit[128], type[32], state[32];
        /* "JOB UNIT TYPE STATE"; a job of type start that is running, not one waiting its turn */
        if (sscanf(line, "%*s %127s %31s %31s", unit, type, state) != 3 || strcmp(type, "start") != 0 ||
            strcmp(state, "running") != 0)
            continue;
        int n = snprintf(units + used, len - used, "%s%s", shown ? ", " : "", shown < 3 ? unit : "...");
        if (n < 0 || (size_t)n >= len - used)
            break;
        used += (size_t)n;
        if (++shown > 3)
            break;
    }
}

/* Waits until systemd reports running or degraded, timeout_ms at most; what else it found is a warning on
 * the readiness pipe: a failed state, or after the timeout what the boot is still doing. */
static void wait_for_boot(int timeout_ms, int ready)
{
    char state[64] = "", msg[200];
    long long deadline = lsl_now_ms() + timeout_ms;

    /* Until systemd listens (its private socket), systemctl would only say it cannot connect. */
    while (access("/run/systemd/private", F_OK) < 0 && lsl_now_ms() < deadline)
        lsl_sleep_ms(20);
    while (lsl_now_ms() < deadline) {
        system_state(deadline, true, state, sizeof(state));
        if (strcmp(state, "running") == 0 || strcmp(state, "degraded") == 0)
            break;
        if (strcmp(state, "starting") != 0 && strcmp(state, "initializing") != 0 && state[0])
            break; /* maintenance, stopping, offline: waiting longer changes nothing */
        lsl_sleep_ms(100);
    }
    bool up = strcmp(state, "running") == 0 || strcmp(state, "degraded") == 0;
    bool timed_out = !up && lsl_now_ms() >= deadline;
    char units[96] = "";
    if (timed_out) {
        /* The waiting systemctl was cut short: what the boot is doing now, asked without waiting (it may
         * just have finished). A manager not listening yet is still initializing (systemctl would only
         * say it cannot connect). */
        if (access("/run/systemd/private", F_OK) < 0) {
            snprintf(state, sizeof(state), "initializing");
        } else {
            system_state(lsl_now_ms() + 5000, false, state, sizeof(state));
            starting_units(units, sizeof(units));
        }
    }
    if (strcmp(state, "running") == 0)
        return;
    if (strcmp(state, "starting") == 0 || strcmp(state, "initializing") == 0)
        snprintf(msg, sizeof(msg), "systemd is still %s after %g s%s%s%s; going on", state,
                 timeout_ms / 1000.0, units[0] ? " (starting " : "", units, units[0] ? ")" : "");
    else if (strcmp(state, "degraded") == 0)
        snprintf(msg, sizeof(msg), "systemd is degraded (systemctl --failed says which units failed)");
    else if (timed_out)
        snprintf(msg, sizeof(msg), "systemd is %s after %g s; going on", state[0] ? state : "not answering",
                 timeout_ms / 1000.0);
    else
        snprintf(msg, sizeof(msg), "systemd is %s", state[0] ? state : "not answering");
    distro_report(ready, 'W', msg);
}

/* The agent's side, a child of PID 1 before it becomes systemd: waits for systemd ([boot] initTimeout), ends
 * the setup (the readiness pipe), runs the [boot] command and serves the distribution's port until told to
 * stop. */
static _Noreturn void agent_side(const struct distro_start *s, int ready, int listener)
{
    join_leaf();
    lsl_proctitle_set(LSL_DISTRO_AGENT_COMM);
    if (s->init_timeout_ms > 0)
        wait_for_boot(s->init_timeout_ms, ready);
    close(ready);
    if (s->boot && s->boot[0])
        distro_run_boot_command(s->boot);
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    if (listener >= 0)
        (void)lsl_agent_serve_on(listener, s->name, &stop);
    else
        (void)sigwaitinfo(&stop, NULL);
    _exit(0);
}

_Noreturn void distro_exec_systemd(const struct distro_start *s, int ready, int listener)
{
    runtime_config(s);
    pid_t pid = fork();
    if (pid < 0)
        distro_fail(ready, "fork", errno);
    if (pid == 0)
        agent_side(s, ready, listener);
    if (listener >= 0)
        close(listener);
    /* systemd starts from a clean slate: no signal blocked or ignored, its documented environment only. */
    sigset_t none;
    sigemptyset(&none);
    for (int sig = 1; sig < NSIG; sig++)
        signal(sig, SIG_DFL);
    char *const argv[] = {"/lib/systemd/systemd", "--show-status=no", NULL};
    char *const envp[] = {"container=" LSL_SYSTEMD_CONTAINER,
                          "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL};
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(LSL_SYSTEMD_PATH, argv, envp);
    int err = errno;
    kill(pid, SIGKILL);
    distro_fail(ready, "cannot start systemd", err);
}
