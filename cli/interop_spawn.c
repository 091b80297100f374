/* Host commands for the guest (interop_spawn.h). */
#include "interop_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "child_stdio.h"
#include "frame.h"

extern char **environ;

/* The guest's variables that never reach the host: PATH and the session's own, which are the host's to set
 * (a guest PATH would find nothing; HOME, USER, SHELL... are this user's). */
static bool env_kept_out(const char *entry)
{
    static const char *const names[] = {
        "PATH",   "HOME",  "USER", "LOGNAME",    "SHELL",           "PWD",
        "OLDPWD", "SHLVL", "_",    "LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT"};
    size_t n = strcspn(entry, "=");
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == n && memcmp(entry, names[i], n) == 0)
            return true;
    return false;
}

/* This process's environment with the guest's entries over it (same name: the guest's wins, except for the
 * ones kept out). The array is malloc'd; its strings are borrowed. */
static char **merged_env(const struct lsl_exec_msg *e)
{
    size_t have = 0, n = 0;
    while (environ[have])
        have++;
    char **env = calloc(have + e->envc + 1, sizeof(char *));
    if (!env)
        return NULL;
    for (size_t i = 0; i < have; i++) {
        size_t len = strcspn(environ[i], "=");
        bool over = false;
        for (uint32_t j = 0; j < e->envc && !over; j++)
            over = !env_kept_out(e->env[j]) && strncmp(e->env[j], environ[i], len + 1) == 0;
        if (!over)
            env[n++] = environ[i];
    }
    for (uint32_t j = 0; j < e->envc; j++)
        if (!env_kept_out(e->env[j]))
            env[n++] = e->env[j];
    return env;
}

/* The child: defaults, its own session (the pty as its terminal), stdio, cwd, exec. */
static _Noreturn void run_child(const struct lsl_exec_msg *e, const char *home, const struct lsl_stdio *stdio,
                                char **env, int status_fd)
{
    int err = 0;

    if ((err = lsl_child_defaults()) < 0 || setsid() < 0 || (err = lsl_stdio_ctty(stdio)) < 0 ||
        (err = lsl_stdio_dup(stdio)) < 0)
        lsl_child_fail(status_fd, LSL_ERR_INTERNAL, err < 0 ? -err : errno);
    if (e->cwd[0] && chdir(e->cwd) < 0 && !(e->flags & LSL_EXEC_CWD_OR_HOME))
        lsl_child_fail(status_fd, LSL_ERR_NO_CWD, errno);
    else if ((!e->cwd[0] || (e->flags & LSL_EXEC_CWD_OR_HOME)) && chdir(e->cwd[0] ? e->cwd : home) < 0 &&
             chdir(home) < 0 && chdir("/") < 0)
        lsl_child_fail(status_fd, LSL_ERR_NO_CWD, errno);
    /* PATH is this process's (the guest's is kept out), so execvpe's search is the host's. */
    execvpe(e->argv[0], e->argv, env);
    err = errno;
    lsl_child_fail(status_fd, err == ENOENT || err == ENOTDIR ? LSL_ERR_NOT_FOUND : LSL_ERR_NO_EXEC, err);
}

int lsl_interop_spawn(struct lsl_exec_msg *e, struct lsl_child *c, char *msg, size_t msglen)
{
    struct lsl_stdio stdio = LSL_STDIO_NONE;
    int status[2] = {-1, -1}, err = 0, r;
    uint32_t code = LSL_ERR_INTERNAL;
    /* The service's HOME and SHELL are the user's (lsl needs HOME to start it; NSS is not for a static
     * program). */
    const char *env_home = getenv("HOME"), *env_shell = getenv("SHELL");
    char home[4096], shell[4096];
    char **env = NULL;

    *c = LSL_CHILD_NONE;
    if (e->user[0]) {
        snprintf(msg, msglen, "host commands run as the host user only, not as '%s'", e->user);
        return LSL_ERR_NO_USER;
    }
    snprintf(home, sizeof(home), "%s", env_home && env_home[0] == '/' ? env_home : "/");
    snprintf(shell, sizeof(shell), "%s", env_shell && env_shell[0] == '/' ? env_shell : "/bin/sh");
    if (!e->argv[0][0])
        e->argv[0] = shell;
    if (!(env = merged_env(e))) {
        err = ENOMEM;
        goto fail;
    }
    if ((r = lsl_stdio_open(e, (uid_t)-1, &stdio)) < 0) {
        err = -r;
        goto fail;
    }
    if (pipe2(status, O_CLOEXEC) < 0) {
        err = errno;
        goto fail;
    }
    pid_t pid = fork();
    if (pid < 0) {
        err = errno;
        goto fail;
    }
    if (pid == 0) {
        close(status[0]);
        run_child(e, home, &stdio, env, status[1]);
    }
    close(status[1]);
    status[1] = -1;
    uint8_t got[8];
    ssize_t n;
    while ((n = read(status[0], got, sizeof(got))) < 0 && errno == EINTR)
        ;
    if (n != 0) {
        (void)waitpid(pid, NULL, 0);
        code = n == (ssize_t)sizeof(got) ? lsl_get_u32(got) : LSL_ERR_INTERNAL;
        err = n == (ssize_t)sizeof(got) ? (int)lsl_get_u32(got + 4) : EIO;
        goto fail;
    }
    lsl_stdio_started(&stdio, e, pid, c);
    code = 0;
    goto out;

fail:
    if (code == LSL_ERR_NOT_FOUND && !strchr(e->argv[0], '/'))
        snprintf(msg, msglen, "%s: command not found on the host", e->argv[0]);
    else if (code == LSL_ERR_NO_CWD)
        snprintf(msg, msglen, "cannot change to %s on the host: %s", e->cwd[0] ? e->cwd : home,
                 strerror(err));
    else
        snprintf(msg, msglen, "%s: %s", e->argv[0], strerror(err));
out:
    lsl_stdio_close(&stdio);
    for (int j = 0; j < 2; j++)
        if (status[j] >= 0)
            close(status[j]);
    free(env);
    return (int)code;
}
