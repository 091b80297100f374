/* lsl-init: PID 1 of the lsl guest. Mounts the API file systems, prints the boot marker, optionally mounts
 * and enters the root disk, runs the command from the kernel command line and powers off with its status, or
 * (lsl.agent=1 without a command) serves agent sessions on vsock until asked to power off. */
#include "agent_listen.h"
#include "boot.h"
#include "cmdline.h"
#include "distro_tool.h"
#include "fileio.h"
#include "log.h"
#include "lslpath.h"
#include "lsl_host.h"
#include "mounts.h"
#include "net.h"
#include "poweroff.h"
#include "proctitle.h"
#include "reclaim.h"
#include "swap.h"
#include "root.h"
#include "run.h"
#include "share_watch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* What the kernel command line asks for. */
struct config {
    char *root;               /* lsl.root=, NULL for none */
    bool read_only;           /* lsl.rootflags= */
    char **argv;              /* decoded lsl.cmd=, NULL for none */
    bool agent;               /* lsl.agent=1 */
    enum lsl_reclaim reclaim; /* lsl.reclaim= */
    bool reclaim_given;       /* a one-shot command gets the policy only when asked (benchmarks) */
    char *swap;               /* lsl.swap=, NULL for none */
};

/* Benchmarks time the boot by this line, so it comes right after /proc and before anything slow. */
static void print_boot_marker(void)
{
    char *uptime = NULL;

    if (lsl_read_file("/proc/uptime", &uptime) > 0) {
        uptime[strcspn(uptime, " \n")] = '\0';
        lsl_log_info("%s uptime=%ss", LSL_BOOT_MARKER, uptime);
    } else {
        /* /proc/uptime is this clock; keep the marker even if /proc failed, or the benchmark would hang. */
        struct timespec ts = {0};

        (void)clock_gettime(CLOCK_BOOTTIME, &ts);
        lsl_log_info("%s uptime=%lld.%02lds", LSL_BOOT_MARKER, (long long)ts.tv_sec, ts.tv_nsec / 10000000L);
    }
    free(uptime);
}

/* Reads and validates every lsl.* key before acting on any. Returns 0 or -errno (logged). */
static int load_config(struct config *cfg)
{
    char *cmdline = NULL, *cmd = NULL, *flags = NULL, *agent = NULL, *reclaim = NULL;
    ssize_t n;
    int r;

    n = lsl_read_file("/proc/cmdline", &cmdline);
    if (n < 0)
        return lsl_log_errno((int)n, "cannot read /proc/cmdline: %m");

    r = lsl_cmdline_get(cmdline, LSL_CMDLINE_ROOT, &cfg->root);
    if (r >= 0)
        r = lsl_cmdline_get(cmdline, LSL_CMDLINE_ROOTFLAGS, &flags);
    if (r >= 0)
        r = lsl_cmdline_get(cmdline, LSL_CMDLINE_CMD, &cmd);
    if (r >= 0)
        r = lsl_cmdline_get(cmdline, LSL_CMDLINE_AGENT, &agent);
    if (r >= 0)
        r = lsl_cmdline_get(cmdline, LSL_CMDLINE_RECLAIM, &reclaim);
    if (r >= 0)
        r = lsl_cmdline_get(cmdline, LSL_CMDLINE_SWAP, &cfg->swap);
    if (r < 0) {
        r = lsl_log_errno(r, "cannot parse the kernel command line: %m");
        goto out;
    }

    if (cfg->root && cfg->root[0] == '\0') {
        lsl_log_error("invalid %s: empty device", LSL_CMDLINE_ROOT);
        r = -EINVAL;
        goto out;
    }
    r = lsl_rootflags_parse(flags, &cfg->read_only);
    if (r < 0) {
        lsl_log_error("invalid %s%s: expected ro or rw", LSL_CMDLINE_ROOTFLAGS, flags);
        goto out;
    }
    if (agent && strcmp(agent, "0") != 0 && strcmp(agent, "1") != 0) {
        lsl_log_error("invalid %s%s: expected 0 or 1", LSL_CMDLINE_AGENT, agent);
        r = -EINVAL;
        goto out;
    }
    cfg->agent = agent && strcmp(agent, "1") == 0;
    if (lsl_reclaim_parse(reclaim, &cfg->reclaim) < 0) {
        /* A setting from the user's file: warn and keep the default, never fail the boot over it. */
        lsl_log_info("ignoring %s%s: expected %s, %s or %s", LSL_CMDLINE_RECLAIM, reclaim,
                     LSL_RECLAIM_GRADUAL, LSL_RECLAIM_DROPCACHE, LSL_RECLAIM_DISABLED);
        cfg->reclaim = LSL_RECLAIM_POLICY_GRADUAL;
    }
    cfg->reclaim_given = reclaim != NULL;
    if (cmd) {
        r = lsl_hex_argv_decode(cmd, &cfg->argv);
        if (r == -EINVAL)
            lsl_log_error("invalid %s: expected hex of NUL-terminated arguments", LSL_CMDLINE_CMD);
        else if (r < 0)
            (void)lsl_log_errno(r, "cannot decode %s: %m", LSL_CMDLINE_CMD);
        if (r < 0)
            goto out;
    }
    r = 0;
out:
    free(cmdline);
    free(cmd);
    free(flags);
    free(agent);
    free(reclaim);
    return r;
}

int main(int argc, char **argv)
{
    struct config cfg = {0};
    int status = 0;

    lsl_proctitle_init(argc, argv);
    /* The same binary, installed in the system root as lsl-distro, manages the distributions. */
    const char *self = argc > 0 ? strrchr(argv[0], '/') : NULL;
    if (argc > 0 && strcmp(self ? self + 1 : argv[0], "lsl-distro") == 0)
        return lsl_distro_main(argc, argv);
    if (argc > 0 && strcmp(self ? self + 1 : argv[0], LSL_LSLPATH_TOOL) == 0)
        return lsl_lslpath_main(argc, argv);
    if (argc > 0 && strcmp(self ? self + 1 : argv[0], "lsl-fswatch") == 0)
        return lsl_fswatch_main(argc, argv);
    if (argc > 0 && strcmp(self ? self + 1 : argv[0], LSL_HOST_TOOL) == 0)
        return lsl_host_main(argc, argv);
    if (argc > 0 && strcmp(self ? self + 1 : argv[0], LSL_HOST_OPEN_TOOL) == 0)
        return lsl_host_open_main(argc, argv);

    /* kill(-1, ...) at shutdown would take down a whole host: refuse to be anything but the guest's init. */
    if (getpid() != 1) {
        lsl_log_error("must run as PID 1 (it is the init of the lsl guest)");
        return 1;
    }

    (void)lsl_console_ensure();
    (void)lsl_signals_block();
    /* A failed mount is logged where it happens; carry on, the command may not need that file system. */
    (void)lsl_mount_proc();
    print_boot_marker();
    (void)lsl_mount_api_filesystems();

    if (load_config(&cfg) < 0) {
        status = LSL_INIT_EXIT_SETUP;
        goto shutdown;
    }
    /* Before any command or distribution: they share this network namespace. A failure is logged and the
     * rest goes on without the network. */
    (void)lsl_net_setup();
    if (cfg.root && (lsl_root_mount(cfg.root, cfg.read_only) < 0 || lsl_root_enter() < 0)) {
        status = LSL_INIT_EXIT_SETUP;
        goto shutdown;
    }
    /* Before anything runs that could need it; a failure is logged and the guest goes on without swap. */
    if (cfg.swap && *cfg.swap && (!cfg.root || strcmp(cfg.swap, cfg.root) != 0))
        (void)lsl_swap_start(cfg.swap);
    lsl_compaction_quiet();
    /* A command keeps the one-shot behaviour (run it, power off) even with lsl.agent=1. */
    if (cfg.argv) {
        if (cfg.reclaim_given)
            (void)lsl_reclaim_start(cfg.reclaim);
        status = lsl_run_command(cfg.argv);
    } else if (cfg.agent) {
        (void)lsl_reclaim_start(cfg.reclaim); /* the service's VM: memory flows back to the host */
        status = lsl_agent_serve();
    }

shutdown:
    free(cfg.argv);
    free(cfg.root);
    free(cfg.swap);
    lsl_poweroff(status);
}
