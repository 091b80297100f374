/* lsl: run Linux commands in the per-user VM, with wsl.exe's habits. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "control.h"
#include "args.h"
#include "env.h"
#include "exitcodes.h"
#include "log.h"
#include "paths.h"
#include "service.h"
#include "session.h"
#include "distro_vm.h"
#include "manage.h"
#include "registry.h"

#ifndef LSL_VERSION
#define LSL_VERSION "dev"
#endif

static void print_duration(uint64_t ms)
{
    uint64_t s = ms / 1000;
    if (s >= 3600)
        printf("%lluh %llum %llus\n", (unsigned long long)(s / 3600), (unsigned long long)(s / 60 % 60),
               (unsigned long long)(s % 60));
    else if (s >= 60)
        printf("%llum %llus\n", (unsigned long long)(s / 60), (unsigned long long)(s % 60));
    else
        printf("%.1fs\n", (double)ms / 1000);
}

static long long field(const char *body, const char *key)
{
    int64_t v = 0;
    (void)lsl_ctl_field_i64(body, key, &v);
    return v;
}

static int do_status(const struct lsl_paths *p)
{
    char buf[2048], state[32] = "unknown";
    const char *body;
    int r = lsl_service_status(p, buf, sizeof(buf), &body);
    if (r == -EPROTO) {
        log_error("the VM service answers in another lsl version's words: lsl --shutdown --force stops it");
        return LSL_EXIT_FAILURE;
    }
    if (r < 0) {
        printf("State:        stopped\n");
        return 0;
    }
    if (field(body, LSL_CTL_KEY_VERSION) != LSL_CONTROL_VERSION)
        log_warn("the VM service is from another lsl version (lsl --shutdown restarts it)");
    lsl_ctl_field(body, LSL_CTL_KEY_STATE, state, sizeof(state));
    printf("State:        %s\n", state);
    printf("Uptime:       ");
    print_duration((uint64_t)field(body, LSL_CTL_KEY_UPTIME_MS));
    printf("vCPUs:        %lld\n", field(body, LSL_CTL_KEY_VCPUS));
    printf("Memory:       %lld MiB guest, %lld MiB resident on the host\n",
           field(body, LSL_CTL_KEY_MEMORY) >> 20, field(body, LSL_CTL_KEY_HOST_RSS) >> 20);
    printf("Sessions:     %lld\n", field(body, LSL_CTL_KEY_SESSIONS));
    long long idle = field(body, LSL_CTL_KEY_IDLE_TIMEOUT_S);
    if (idle < 0)
        printf("Idle timeout: never\n");
    else
        printf("Idle timeout: %llds\n", idle);
    printf("Service PID:  %lld\n", field(body, LSL_CTL_KEY_PID));
    return 0;
}

static int do_shutdown(const struct lsl_paths *p, bool force)
{
    bool was;
    int r = force ? lsl_service_kill(p, 10, &was) : lsl_service_shutdown(p, 60, &was);
    return r < 0 ? LSL_EXIT_FAILURE : 0;
}

/* Runs req in distro (NULL: the system root): straight to the distribution's own agent when its start left
 * a port, else through the system agent, which joins the distribution, starting the VM and then the
 * distribution when they are not running. Returns the command's status or LSL_EXIT_FAILURE after one error
 * line. */
static int exec_in(const struct lsl_paths *p, const struct lsl_distro *d, struct lsl_exec_request *req,
                   bool user_given)
{
    struct lsl_distro_run run = {0};
    if (d) {
        (void)lsl_distro_cached(p, d->name, &run);
        /* -u wins, then wsl.conf's [user] default (read when the distribution started), then the registry's
         * (--manage --set-default-user, or the .wsl file's defaultUid once its first run is done). */
        if (!user_given)
            req->user = run.user[0] ? run.user : d->default_user ? d->default_user : "";
    }
    req->distro = d ? d->name : "";
    bool ensured = false, started = false;
    for (;;) {
        char err[256] = "";
        struct lsl_session_io io = {.fds = {0, 1, 2},
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
            if (lsl_distro_start(p, d->name, d->id, d->image, &run) < 0)
                return LSL_EXIT_FAILURE;
            if (!user_given && run.user[0])
                req->user = run.user;
            started = true;
            continue;
        }
        log_error("%s", err[0] ? err : strerror(-status));
        return LSL_EXIT_FAILURE;
    }
}

/* The first launch of a distribution from a .wsl file runs its OOBE command (as root, on this terminal);
 * when it succeeds, its defaultUid becomes the default user and it never runs again. */
static int first_launch(const struct lsl_paths *p, struct lsl_distro *d, char **env)
{
    if (!d->oobe_command || !d->oobe_command[0] || d->oobe_done)
        return 0;
    const char *argv[] = {"/bin/sh", "-c", d->oobe_command, NULL};
    struct lsl_exec_request req = {.argv = argv, .envp = (const char *const *)env, .user = "0"};
    int status = exec_in(p, d, &req, true);
    if (status != 0) {
        log_error("the first-run setup of %s failed (exit %d); it runs again next time", d->name, status);
        return LSL_EXIT_FAILURE;
    }
    struct lsl_registry reg;
    if (lsl_registry_open(&reg, p->state, LSL_REGISTRY_WRITE) < 0)
        return LSL_EXIT_FAILURE;
    struct lsl_distro *rd = lsl_registry_find(&reg, d->name);
    int r = 0;
    if (rd) {
        rd->oobe_done = true;
        if (rd->default_uid >= 0 && (!rd->default_user || !rd->default_user[0])) {
            char uid[16], *copy;
            snprintf(uid, sizeof(uid), "%d", rd->default_uid);
            if ((copy = strdup(uid))) {
                free(rd->default_user);
                rd->default_user = copy;
            }
        }
        r = lsl_registry_save(&reg);
        /* This run goes on with the new default user too. */
        char *copy = r == 0 && rd->default_user ? strdup(rd->default_user) : NULL;
        if (copy) {
            free(d->default_user);
            d->default_user = copy;
        }
    }
    lsl_registry_close(&reg);
    return r < 0 ? LSL_EXIT_FAILURE : 0;
}

static int do_run(const struct lsl_paths *p, const struct lsl_args *a)
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
    req.cwd = a->cd && strcmp(a->cd, "~") != 0 ? a->cd : "";

    struct lsl_registry reg;
    struct lsl_distro *d = NULL;
    bool have_reg = false;
    if (!a->system) {
        if (lsl_registry_open(&reg, p->state, LSL_REGISTRY_READ) < 0)
            return LSL_EXIT_FAILURE;
        have_reg = true;
        const struct lsl_distro *def = lsl_registry_default(&reg);
        const char *name = a->distro ? a->distro : def ? def->name : NULL;
        d = name ? lsl_registry_find(&reg, name) : NULL;
        if (!d) {
            if (name)
                log_error("there is no distribution '%s' (lsl --list shows them)", name);
            else
                log_error("no distribution is installed: lsl --install installs one (lsl --list --online)");
            lsl_registry_close(&reg);
            return LSL_EXIT_FAILURE;
        }
    }
    char **env = lsl_guest_env();
    int status = LSL_EXIT_FAILURE;
    if (!env)
        goto out;
    req.envp = (const char *const *)env;
    /* No status round trip to the service first: exec_in starts what is not running. */
    if (d && d->oobe_command && d->oobe_command[0] && !d->oobe_done &&
        (status = first_launch(p, d, env)) != 0)
        goto out;
    status = exec_in(p, d, &req, a->user != NULL);
out:
    if (env)
        lsl_env_free(env);
    if (have_reg)
        lsl_registry_close(&reg);
    return status;
}

static int dispatch(const struct lsl_paths *p, struct lsl_args *a)
{
    int rc;
    switch (a->action) {
    case LSL_ACT_STATUS:
        return do_status(p);
    case LSL_ACT_SHUTDOWN:
        return do_shutdown(p, a->force);
    case LSL_ACT_IMPORT:
        return lsl_cmd_import(p, a->name, a->dir, a->file, a->vhd);
    case LSL_ACT_EXPORT:
        return lsl_cmd_export(p, a);
    case LSL_ACT_UNREGISTER:
        return lsl_cmd_unregister(p, a->name);
    case LSL_ACT_SET_DEFAULT:
        return lsl_cmd_set_default(p, a->name);
    case LSL_ACT_LIST:
        return lsl_cmd_list(p, a);
    case LSL_ACT_TERMINATE:
        return lsl_cmd_terminate(p, a->name);
    case LSL_ACT_MANAGE:
        return lsl_cmd_manage(p, a);
    case LSL_ACT_INSTALL:
        rc = lsl_cmd_install(p, a);
        if (rc || a->no_launch || a->download_only)
            return rc;
        /* Like wsl --install: straight into the new distribution (its first-run setup, then a shell). */
        a->action = LSL_ACT_LOGIN;
        a->distro = a->new_name ? a->new_name : a->name[0] ? a->name : NULL;
        return do_run(p, a);
    default:
        return do_run(p, a);
    }
}

int main(int argc, char **argv)
{
    struct lsl_args a;
    char err[256];
    log_init("lsl");
    if (lsl_args_parse(argc, argv, &a, err, sizeof(err)) < 0) {
        log_error("%s", err[0] ? err : "out of memory");
        return a.action >= LSL_ACT_INSTALL ? LSL_EXIT_USAGE : LSL_EXIT_FAILURE;
    }
    int code;
    struct lsl_paths p;
    switch (a.action) {
    case LSL_ACT_HELP:
        lsl_usage(stdout);
        code = 0;
        break;
    case LSL_ACT_VERSION:
        printf("lsl %s\n", LSL_VERSION);
        code = 0;
        break;
    default:
        if (lsl_paths_init(&p) < 0) {
            code = LSL_EXIT_FAILURE;
            break;
        }
        code = dispatch(&p, &a);
        break;
    }
    lsl_args_free(&a);
    return code;
}
