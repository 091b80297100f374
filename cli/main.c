/* lsl: run Linux commands in the per-user VM, with wsl.exe's habits. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../proto/agent.h"
#include "args.h"
#include "env.h"
#include "exitcodes.h"
#include "log.h"
#include "paths.h"
#include "service.h"
#include "session.h"

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

static unsigned long long field(const char *reply, const char *name)
{
    char key[64];
    snprintf(key, sizeof(key), "\n%s ", name);
    char *copy = NULL;
    if (asprintf(&copy, "\n%s", reply) < 0)
        return 0;
    const char *p = strstr(copy, key);
    unsigned long long v = p ? strtoull(p + strlen(key), NULL, 10) : 0;
    free(copy);
    return v;
}

static int do_status(const struct lsl_paths *p)
{
    char reply[1024];
    if (lsl_service_request(p, "status", reply, sizeof(reply)) < 0) {
        printf("State:        stopped\n");
        return 0;
    }
    const char *state = strstr(reply, "state ");
    char st[32] = "unknown";
    if (state)
        sscanf(state + 6, "%31s", st);
    printf("State:        %s\n", st);
    printf("Uptime:       ");
    print_duration(field(reply, "uptime_ms"));
    printf("vCPUs:        %llu\n", field(reply, "vcpus"));
    printf("Memory:       %llu MiB guest, %llu MiB resident on the host\n", field(reply, "memory_bytes") >> 20,
           field(reply, "host_rss_bytes") >> 20);
    printf("Sessions:     %llu\n", field(reply, "sessions"));
    long long idle = (long long)field(reply, "idle_timeout_s");
    if (strstr(reply, "idle_timeout_s -"))
        printf("Idle timeout: never\n");
    else
        printf("Idle timeout: %llds\n", idle);
    printf("Service PID:  %llu\n", field(reply, "pid"));
    return 0;
}

static int do_shutdown(const struct lsl_paths *p)
{
    bool was;
    return lsl_service_shutdown(p, 60, &was) < 0 ? LSL_EXIT_FAILURE : 0;
}

static int do_run(const struct lsl_paths *p, const struct lsl_args *a)
{
    if (a->distro) {
        lsl_log_error("there is no distribution '%s' (lsl runs one built-in root until distributions arrive)",
                      a->distro);
        return LSL_EXIT_FAILURE;
    }
    /* An empty argv[0] asks the agent for the user's login shell from the guest's passwd. */
    const char *login_argv[] = {"", NULL};
    const char *shell_argv[] = {"", "-c", a->shell_line, NULL};
    struct lsl_exec_request req = {.user = a->user};
    switch (a->action) {
    case LSL_ACT_LOGIN:
        req.argv = login_argv;
        req.flags = LSL_EXEC_LOGIN;
        break;
    case LSL_ACT_SHELL:
        req.argv = shell_argv;
        break;
    default:
        req.argv = (const char *const *)a->argv;
        break;
    }
    req.cwd = a->cd && strcmp(a->cd, "~") != 0 ? a->cd : "";
    char **env = lsl_guest_env();
    if (!env)
        return LSL_EXIT_FAILURE;
    req.envp = (const char *const *)env;

    int r = lsl_service_ensure(p);
    if (r < 0) {
        lsl_env_free(env);
        return LSL_EXIT_FAILURE;
    }
    int fd = lsl_service_connect_agent(p);
    if (fd < 0) {
        lsl_env_free(env);
        lsl_log_errno(-fd, "cannot reach the agent in the VM");
        return LSL_EXIT_FAILURE;
    }
    char err[256] = "";
    struct lsl_session_io io = {.fds = {0, 1, 2}, .errbuf = err, .errlen = sizeof(err)};
    int status = lsl_session_exec(fd, &req, &io);
    close(fd);
    lsl_env_free(env);
    if (status < 0) {
        lsl_log_error("%s", err[0] ? err : strerror(-status));
        return LSL_EXIT_FAILURE;
    }
    return status;
}

int main(int argc, char **argv)
{
    struct lsl_args a;
    char err[256];
    if (lsl_args_parse(argc, argv, &a, err, sizeof(err)) < 0) {
        lsl_log_error("%s", err[0] ? err : "out of memory");
        return LSL_EXIT_FAILURE;
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
        if (a.action == LSL_ACT_STATUS)
            code = do_status(&p);
        else if (a.action == LSL_ACT_SHUTDOWN)
            code = do_shutdown(&p);
        else
            code = do_run(&p, &a);
        break;
    }
    lsl_args_free(&a);
    return code;
}
