/* The verbs that run something in a distribution (or with --system, in the VM's system root): lsl with no
 * command (a login shell), `lsl [--] COMMAND LINE` (through the user's shell) and `lsl -e CMD ARGS` (exec'd).
 * The first interactive shell of a distribution installed from a .wsl file runs its first-run setup first,
 * once, as wsl.exe does (not for a launch with a command, never for --import); the first launch of any kind
 * of a distribution with no user of its own makes the user's (own_user.h). */
#include "verbs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "distro_store.h"
#include "distro_vm.h"
#include "env.h"
#include "exitcodes.h"
#include "hostshares.h"
#include "lock.h"
#include "log.h"
#include "macro.h"
#include "own_user.h"
#include "registry.h"
#include "service.h"
#include "session_client.h"

/* A first-run setup is interactive (it may ask for a user name and a password): a second first launch waits
 * that long for it. */
#define FIRST_RUN_WAIT_S 3600

/* What a request takes from the host side: its working directory and environment, seen through where the
 * distribution mounts the host shares, which its start tells (and may change: fit again after one). */
struct host_side {
    const char *cd;       /* --cd, NULL if not given */
    const char *host_cwd; /* where lsl runs, NULL if unknown */
    const char *distro;   /* registered name, NULL for the system root */
    uint32_t flags;       /* the request's flags besides the cwd's */
    char cwd[PATH_MAX];
    char **env;
};

/* Fills req's cwd, flags and env for a distribution that mounts the shares at run->mount_root (run NULL or
 * "": not at all). 0, or -1 after one error line. */
static int fit(const struct lsl_paths *p, struct host_side *h, const struct lsl_distro_run *run,
               struct lsl_exec_request *req)
{
    struct lsl_host_view v;
    char err[PATH_MAX + 128];
    uint32_t flags = h->flags;
    lsl_host_view_load(p, run ? run->mount_root : NULL, &v);
    if (lsl_exec_cwd(&v, h->cd, h->host_cwd, h->cwd, sizeof(h->cwd), &flags, err, sizeof(err)) < 0) {
        log_error("%s", err);
        return -1;
    }
    lsl_env_free(h->env);
    h->env = lsl_guest_env(h->distro, v.env, lsl_host_view_env(&v));
    if (!h->env)
        return -1;
    req->cwd = h->cwd;
    req->flags = flags;
    req->envp = (const char *const *)h->env;
    return 0;
}

/* Runs req in distro (NULL: the system root): straight to the distribution's own agent when its start left
 * a port, else through the system agent, which joins the distribution, starting the VM and then the
 * distribution when they are not running. h (may be NULL) refits req after a start. Returns the command's
 * status or LSL_EXIT_FAILURE after one error line. */
static int exec_in_fds(const struct lsl_paths *p, const struct lsl_distro *d, struct lsl_exec_request *req,
                       bool user_given, struct host_side *h, const int fds[3])
{
    struct lsl_distro_run run = {0};
    if (d) {
        (void)lsl_distro_cached(p, d->name, &run);
        /* -u wins, then wsl.conf's [user] default (read when the distribution started), then the registry's
         * (--manage --set-default-user, or the .wsl file's defaultUid once its first run is done), then root:
         * the ones the start found missing are skipped. */
        if (!user_given)
            req->user = lsl_distro_default_user(&run, d->default_user);
    }
    req->distro = d ? d->name : "";
    bool ensured = false, started = false;
    for (;;) {
        char err[256] = "";
        struct lsl_session_io io = {.fds = {fds[0], fds[1], fds[2]},
                                    .errbuf = err,
                                    .errlen = sizeof(err),
                                    .connect_port = run.port ? run.port : LSL_AGENT_PORT};
        int status = lsl_service_exec(p, req, &io);
        if (status >= 0)
            return status;
        /* Nothing ran: no service, nobody accepted, or the agent went away before the command started. */
        bool gone = status == -ENOTCONN || status == -ECONNREFUSED || (status == -ECONNRESET && !io.started);
        if (run.port && (gone || io.remote_error == LSL_ERR_NO_DISTRO)) {
            run.port = 0; /* the distribution's agent is not there (any more): ask the system's */
            continue;
        }
        if (gone && !ensured) {
            /* No VM, one in its idle shutdown or one still booting: ensure starts one or waits. */
            int fresh = lsl_service_ensure(p);
            if (fresh < 0)
                return LSL_EXIT_FAILURE;
            ensured = true;
            if (fresh && d)
                io.remote_error = LSL_ERR_NO_DISTRO; /* a new VM runs no distribution: start it, no asking */
            else
                continue;
        }
        if (d && io.remote_error == LSL_ERR_NO_DISTRO && !started) {
            if (lsl_distro_start(p, d->name, d->id, d->image, d->default_user, &run) < 0 ||
                (h && fit(p, h, &run, req) < 0))
                return LSL_EXIT_FAILURE;
            if (!user_given)
                req->user = lsl_distro_default_user(&run, d->default_user);
            started = true;
            continue;
        }
        log_error("%s", err[0] ? err : strerror(-status));
        return LSL_EXIT_FAILURE;
    }
}

/* exec_in_fds with lsl's own stdin, stdout and stderr. */
static int exec_in(const struct lsl_paths *p, const struct lsl_distro *d, struct lsl_exec_request *req,
                   bool user_given, struct host_side *h)
{
    return exec_in_fds(p, d, req, user_given, h, (const int[3]){0, 1, 2});
}

/* Whether d has a first-run setup still to do: its .wsl file's [oobe] command, or only a defaultUid to make
 * the default user (WSL's OOBE sets that even without a command). Only --install records either. */
static bool oobe_due(const struct lsl_distro *d)
{
    return !d->oobe_done && ((d->oobe_command && d->oobe_command[0]) || d->default_uid >= 0);
}

static bool own_user_due(const struct lsl_distro *d)
{
    return d->new_user && d->new_user[0];
}

/* What a launch has to do first: the OOBE on an interactive one, the user's own user on any. */
static bool first_run_due(const struct lsl_distro *d, bool interactive)
{
    return (interactive && oobe_due(d)) || own_user_due(d);
}

/* Makes u in d unless its wsl.conf names a default user (known once it started, which this does), as root,
 * stdin not the command's (its input is the command's), output on stderr. 1 made (or there), 0 not needed,
 * -1 failed after one error line: the next launch tries again. */
static int make_own_user(const struct lsl_paths *p, const struct lsl_distro *d, char **env,
                         const struct lsl_own_user *u)
{
    _cleanup_close_ int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    const int fds[3] = {null, 2, 2};
    struct lsl_distro_run run = {0};
    if (null < 0)
        return log_errno(errno, "/dev/null"), -1;
    if (lsl_distro_cached(p, d->name, &run) < 0) {
        const char *argv[] = {"/bin/sh", "-c", ":", NULL};
        struct lsl_exec_request req = {.argv = argv, .envp = (const char *const *)env, .user = "0"};
        if (exec_in_fds(p, d, &req, true, NULL, fds) != 0)
            return -1;
        (void)lsl_distro_cached(p, d->name, &run);
    }
    if (run.user[0])
        return 0;
    char nums[2][16];
    const char *argv[9];
    lsl_own_user_command(u, d->name, nums, argv);
    struct lsl_exec_request req = {.argv = argv, .envp = (const char *const *)env, .user = "0"};
    int status = exec_in_fds(p, d, &req, true, NULL, fds);
    if (status != 0) {
        log_error(
            "%s: your user %s could not be made (exit %d): this runs as root, the next launch tries again",
            d->name, u->name, status);
        return -1;
    }
    return 1;
}

/* The first interactive launch of a distribution from a .wsl file runs its OOBE command (as root, on this
 * terminal); when it succeeds, its defaultUid becomes the default user and it never runs again. The first
 * launch of one with no user of its own makes the user's, the default user from then on (a failure is
 * only a warning: the command runs, as root). Two first launches at once: the second waits for the first's
 * setup under a per-distribution lock, then finds it done in the registry. */
static int first_launch(const struct lsl_paths *p, struct lsl_distro *d, char **env, bool interactive)
{
    char lock[PATH_MAX];
    int rc = lsl_store_lock_path(p, d, "oobe", lock, sizeof(lock));
    if (rc)
        return rc;
    _cleanup_close_ int fd = lsl_lock_take(lock, 0);
    if (fd == -ETIMEDOUT) {
        fprintf(stderr, "lsl: %s: waiting for its first-run setup, under way in another lsl\n", d->name);
        fd = lsl_lock_take(lock, FIRST_RUN_WAIT_S);
    }
    if (fd < 0) {
        log_errno(-fd, "cannot wait for the first-run setup of %s (%s)", d->name, lock);
        return LSL_EXIT_FAILURE;
    }
    /* Under the lock, the registry says whether another launch did it meanwhile. */
    bool oobe = false;
    struct lsl_own_user u = {.uid = -1, .gid = -1};
    {
        _cleanup_(lsl_registry_closep) struct lsl_registry reg = {0};
        if ((rc = lsl_store_open(p, &reg, false)))
            return rc;
        struct lsl_distro *now = lsl_registry_find(&reg, d->name);
        if (!now || !first_run_due(now, interactive)) {
            if (now && now->default_user)
                (void)lsl_store_set_str(&d->default_user, now->default_user);
            return 0;
        }
        oobe = interactive && oobe_due(now);
        if (own_user_due(now))
            u = (struct lsl_own_user){.uid = now->new_uid, .gid = now->new_gid};
        if (own_user_due(now) && lsl_user_name_valid(now->new_user))
            snprintf(u.name, sizeof(u.name), "%s", now->new_user);
    }
    if (oobe && d->oobe_command && d->oobe_command[0]) {
        const char *argv[] = {"/bin/sh", "-c", d->oobe_command, NULL};
        struct lsl_exec_request req = {.argv = argv, .envp = (const char *const *)env, .user = "0"};
        int status = exec_in(p, d, &req, true, NULL);
        if (status != 0) {
            log_error("the first-run setup of %s failed (exit %d); it runs again next time", d->name, status);
            return LSL_EXIT_FAILURE;
        }
    }
    int made = u.name[0] ? make_own_user(p, d, env, &u) : 0;
    _cleanup_(lsl_registry_closep) struct lsl_registry reg = {0};
    if (lsl_store_open(p, &reg, true))
        return LSL_EXIT_FAILURE;
    struct lsl_distro *rd = lsl_registry_find(&reg, d->name);
    if (!rd)
        return 0;                        /* unregistered meanwhile */
    if (made >= 0 && own_user_due(rd)) { /* made, or wsl.conf's [user] default stands: never again */
        (void)lsl_store_set_str(&rd->new_user, "");
        if (made > 0 && (!rd->default_user || !rd->default_user[0]))
            (void)lsl_store_set_str(&rd->default_user, u.name);
    }
    if (oobe)
        rd->oobe_done = true;
    if (oobe && rd->default_uid >= 0 && (!rd->default_user || !rd->default_user[0])) {
        char uid[16];
        snprintf(uid, sizeof(uid), "%d", rd->default_uid);
        (void)lsl_store_set_str(&rd->default_user, uid);
    }
    if (lsl_store_commit(&reg))
        return LSL_EXIT_FAILURE;
    /* This run goes on with the new default user too. */
    if (rd->default_user)
        (void)lsl_store_set_str(&d->default_user, rd->default_user);
    return 0;
}

/* The default distribution (or -d NAME) from the registry, in reg: NULL after one error line. */
static struct lsl_distro *pick(const struct lsl_paths *p, const struct lsl_args *a, struct lsl_registry *reg)
{
    if (lsl_store_open(p, reg, false))
        return NULL;
    const struct lsl_distro *def = lsl_registry_default(reg);
    const char *name = a->distro ? a->distro : def ? def->name : NULL;
    struct lsl_distro *d = name ? lsl_registry_find(reg, name) : NULL;
    if (!d && name)
        log_error("there is no distribution '%s' (lsl --list shows them)", name);
    else if (!d)
        log_error("no distribution is installed: lsl --install installs one (lsl --list --online)");
    return d;
}

int lsl_verb_run(const struct lsl_paths *p, struct lsl_args *a)
{
    /* An empty argv[0] asks the agent for the user's login shell from the guest's passwd. */
    const char *login_argv[] = {"", NULL};
    const char *shell_argv[] = {"", "-c", a->shell_line, NULL};
    struct lsl_exec_request req = {.user = a->user};
    switch (a->action) {
    case LSL_ACT_LOGIN:
        req.argv = login_argv;
        req.flags = a->shell_type == LSL_SHELL_NONE ? 0 : LSL_EXEC_LOGIN;
        break;
    case LSL_ACT_SHELL:
        req.argv = shell_argv;
        req.flags = a->shell_type == LSL_SHELL_LOGIN ? LSL_EXEC_LOGIN : 0;
        break;
    default:
        req.argv = (const char *const *)a->argv;
        break;
    }

    _cleanup_(lsl_registry_closep) struct lsl_registry reg = {0};
    struct lsl_distro *d = NULL;
    if (!a->system && !(d = pick(p, a, &reg)))
        return LSL_EXIT_FAILURE;
    char host_cwd[PATH_MAX];
    struct host_side h = {.cd = a->cd,
                          .host_cwd = getcwd(host_cwd, sizeof(host_cwd)),
                          .distro = d ? d->name : NULL,
                          .flags = req.flags};
    struct lsl_distro_run run = {0};
    if (d)
        (void)lsl_distro_cached(p, d->name, &run);
    /* No status round trip to the service first: exec_in starts what is not running. */
    int status = fit(p, &h, &run, &req) < 0 ? LSL_EXIT_FAILURE : 0;
    if (status == 0 && d && first_run_due(d, a->action == LSL_ACT_LOGIN)) {
        status = first_launch(p, d, h.env, a->action == LSL_ACT_LOGIN);
        /* Its setup started the distribution, whose start told where it mounts the host shares: fitted
         * again, the command starts in the host directory's place, not in the home (exec_in refits only
         * after a start of its own). */
        if (status == 0 && lsl_distro_cached(p, d->name, &run) == 0 && fit(p, &h, &run, &req) < 0)
            status = LSL_EXIT_FAILURE;
    }
    if (status == 0)
        status = exec_in(p, d, &req, a->user != NULL, &h);
    lsl_env_free(h.env);
    return status;
}
