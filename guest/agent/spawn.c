/* Command start-up for the agent. Everything that can fail before fork (user lookup, pty, pipes) fails in the
 * agent; what can only fail in the child (credentials, cwd, exec) is sent back as
 * {u32 code, u32 errno} over a close-on-exec status socket that stays empty when exec succeeds. The child
 * opens the command's logind session too (it must lead it), and passes the fd that holds it open back over
 * the same socket first. */
#include "spawn.h"
#include "accounts.h"
#include "env_fit.h"
#include "logind.h"
#include "user_manager.h"

#include "agent.h"
#include "child_stdio.h"
#include "frame.h"
#include "unix_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define ENV_ADDED    4 /* variables build_env adds unless the command has them: HOME ... SHELL */

/* Who the command runs as: copied out of getpwnam()'s static storage. */
struct account {
    uid_t uid;
    gid_t gid;
    bool known; /* has a passwd entry (so its groups can be looked up) */
    char name[64], home[PATH_MAX], shell[PATH_MAX];
};

/* Empty user: the agent's own account (root in the guest), with defaults when passwd lacks it, since an
 * initramfs may have no /etc/passwd at all. */
static int resolve_account(const char *user, struct account *a)
{
    struct passwd *pw;

    errno = 0;
    pw = user[0] ? getpwnam(user) : getpwuid(geteuid());
    /* A number that is no user name is a UID (wsl-distribution.conf's defaultUid arrives this way). */
    if (!pw && user[0] && strspn(user, "0123456789") == strlen(user) && strlen(user) < 10)
        pw = getpwuid((uid_t)strtoul(user, NULL, 10));
    if (!pw) {
        if (user[0])
            return -ENOENT;
        *a = (struct account){.uid = geteuid(), .gid = getegid()};
        snprintf(a->name, sizeof(a->name), a->uid == 0 ? "root" : "%u", (unsigned)a->uid);
        snprintf(a->home, sizeof(a->home), "%s", a->uid == 0 ? "/root" : "/");
        snprintf(a->shell, sizeof(a->shell), "/bin/sh");
        return 0;
    }
    *a = (struct account){.uid = pw->pw_uid, .gid = pw->pw_gid, .known = true};
    if (snprintf(a->name, sizeof(a->name), "%s", pw->pw_name) >= (int)sizeof(a->name) ||
        snprintf(a->home, sizeof(a->home), "%s", pw->pw_dir && pw->pw_dir[0] ? pw->pw_dir : "/") >=
            (int)sizeof(a->home) ||
        snprintf(a->shell, sizeof(a->shell), "%s",
                 pw->pw_shell && pw->pw_shell[0] ? pw->pw_shell : "/bin/sh") >= (int)sizeof(a->shell))
        return -ENAMETOOLONG;
    return 0;
}

/* The request's env plus HOME, USER, LOGNAME and SHELL where missing, as a login would set them, and with
 * locales and a terminal this root lacks replaced (env_fit.h). The new strings live in extra (envc + 4
 * slots). */
static char **build_env(const struct lsl_exec_msg *e, const struct account *a, char **extra)
{
    static const char *const names[ENV_ADDED] = {"HOME", "USER", "LOGNAME", "SHELL"};
    const char *values[ENV_ADDED] = {a->home, a->name, a->name, a->shell};
    char **env = calloc((size_t)e->envc + ENV_ADDED + 1, sizeof(char *));
    size_t n = e->envc;

    if (!env)
        return NULL;
    memcpy(env, e->env, (size_t)e->envc * sizeof(char *));
    for (int i = 0; i < ENV_ADDED; i++) {
        if (!values[i] || agent_env_has(e->env, names[i]))
            continue;
        if (asprintf(&extra[i], "%s=%s", names[i], values[i]) < 0) {
            extra[i] = NULL;
            free(env);
            return NULL;
        }
        env[n++] = extra[i];
    }
    if (agent_env_fit("/", a->home, env, extra + ENV_ADDED) < 0) {
        free(env);
        return NULL;
    }
    return env;
}

/* execvp() with PATH taken from the command's environment rather than the agent's. Returns the errno
 * that decides the report: ENOENT when nothing was found, else the most telling failure. */
static int exec_search(const char *file, char *const argv[], char *const env[])
{
    const char *path = DEFAULT_PATH;
    char buf[PATH_MAX];
    int err = ENOENT;

    if (file[0] == '\0')
        return ENOENT; /* as execvp(): not a search for "dir/" */
    if (strchr(file, '/')) {
        execve(file, argv, env);
        return errno;
    }
    for (char *const *p = env; *p; p++)
        if (strncmp(*p, "PATH=", 5) == 0)
            path = *p + 5;
    while (*path) {
        size_t dlen = strcspn(path, ":");

        if (dlen + 1 + strlen(file) + 1 <= sizeof(buf)) {
            /* An empty entry means the current directory, as in execvp(). */
            snprintf(buf, sizeof(buf), "%.*s%s%s", (int)dlen, path, dlen ? "/" : "", file);
            execve(buf, argv, env);
            if (errno == EACCES)
                err = EACCES; /* keep looking, but report "not executable" if nothing else works */
            else if (errno != ENOENT && errno != ENOTDIR)
                return errno;
        }
        path += dlen;
        if (*path == ':')
            path++;
    }
    return err;
}

/* env plus NAME=VALUE for each names[i] it lacks (values[i] NULL: none), in a new array; env if that fails
 * (the child's: it execs or exits soon). */
static char *const *env_plus(char *const env[], const char *const names[], const char *const values[],
                             size_t n)
{
    size_t have = 0;
    while (env[have])
        have++;
    char **out = calloc(have + n + 1, sizeof(char *));
    if (!out)
        return env;
    memcpy(out, env, have * sizeof(char *));
    for (size_t i = 0; i < n; i++)
        if (values[i] && !agent_env_has(env, names[i]) &&
            asprintf(&out[have], "%s=%s", names[i], values[i]) >= 0)
            have++;
    return out;
}

/* What a login gives a user who is not root where systemd is PID 1 (logind.h): for a command on a terminal
 * (a shell, as login's), a logind session led by this child, its fd passed to the agent, which holds it
 * while the command runs, and the variables pam_systemd sets. A command without a terminal (a script's,
 * a pipe's), or one where logind is missing or refused (logged where the agent logs: stdio is not the
 * command's yet), gets the user's manager alone (user_manager.h): a session costs logind a transient scope
 * per command, 1.0 s of a warm 1.3 s `lsl -u USER -e true` emulated, and scripts run many. env unchanged
 * for root, or without systemd. */
static char *const *login_session(const struct account *a, int slave, char *const env[], int status_fd)
{
    static const char *const names[] = {"XDG_RUNTIME_DIR", "XDG_SESSION_ID", "XDG_SESSION_TYPE",
                                        "XDG_SESSION_CLASS"};
    const char *values[4] = {NULL};
    struct logind_created s;
    char why[256], tty[64], runtime[64];
    if (a->uid == 0)
        return env;
    bool term = slave >= 0 && ttyname_r(slave, tty, sizeof(tty)) == 0 && strncmp(tty, "/dev/", 5) == 0;
    if (term && agent_logind_usable()) {
        int fd = agent_logind_session(a->uid, tty + 5, &s, why, sizeof(why));
        int sent = fd >= 0 ? unix_send_fd(status_fd, "S", 1, fd) : 0; /* a one-byte message carrying it */
        if (sent < 0) {
            snprintf(why, sizeof(why), "cannot pass its fd on: %s", strerror(-sent));
            close(fd); /* the session ends with it: the manager alone, below */
            fd = -1;
        }
        if (fd >= 0) {
            close(fd);
            values[0] = s.runtime;
            values[1] = s.id;
            values[2] = "tty";
            values[3] = "user";
            return env_plus(env, names, values, 4);
        }
        fprintf(stderr, "lsl agent: no logind session for %s: %s\n", a->name, why);
    }
    if (agent_user_runtime(a->uid, runtime, sizeof(runtime)))
        values[0] = runtime;
    return env_plus(env, names, values, 1);
}

/* The child: new session, controlling tty, stdio, credentials, cwd, exec. Never returns. groups: the
 * supplementary groups to take when switching users (ngroups of them). */
static _Noreturn void run_child(const struct lsl_exec_msg *e, const struct account *a, const gid_t *groups,
                                size_t ngroups, const struct lsl_stdio *stdio, char *const argv[],
                                char *const *env, int status_fd)
{
    int err = lsl_child_defaults();

    if (err < 0)
        lsl_child_fail(status_fd, LSL_ERR_INTERNAL, -err);

    /* Its own session, so SIGNAL and a hang-up reach the whole group and not the agent. */
    if (setsid() < 0 || (err = lsl_stdio_ctty(stdio)) < 0)
        lsl_child_fail(status_fd, LSL_ERR_INTERNAL, err < 0 ? -err : errno);
    env = login_session(a, stdio->slave, env, status_fd); /* before the dups: it logs on the agent's stderr */
    if ((err = lsl_stdio_dup(stdio)) < 0)
        lsl_child_fail(status_fd, LSL_ERR_INTERNAL, -err);

    if (geteuid() == 0) {
        if (setgroups(ngroups, groups) < 0 || setgid(a->gid) < 0 || setuid(a->uid) < 0)
            lsl_child_fail(status_fd, LSL_ERR_INTERNAL, errno);
    } else if (a->uid != geteuid()) {
        lsl_child_fail(status_fd, LSL_ERR_INTERNAL, EPERM); /* only root can switch users */
    }

    if (strncmp(e->cwd, "~/", 2) == 0) { /* below the user's home, which only this side knows */
        if (chdir(a->home) < 0 || chdir(e->cwd + 2) < 0)
            lsl_child_fail(status_fd, LSL_ERR_NO_CWD, errno);
    } else if (e->cwd[0] && !(e->flags & LSL_EXEC_CWD_OR_HOME)) {
        if (chdir(e->cwd) < 0)
            lsl_child_fail(status_fd, LSL_ERR_NO_CWD, errno);
    } else if (e->cwd[0] && chdir(e->cwd) == 0) {
        /* lsl's guess of the directory, and it exists */
    } else if (chdir(a->home) < 0 && chdir("/") < 0) { /* like login: a missing home means "/" */
        lsl_child_fail(status_fd, LSL_ERR_NO_CWD, errno);
    }

    err = exec_search(e->argv[0], argv, env);
    lsl_child_fail(status_fd, err == ENOENT || err == ENOTDIR ? LSL_ERR_NOT_FOUND : LSL_ERR_NO_EXEC, err);
}

/* Reads the child's status socket: 0 when exec happened (EOF), else the reported code and errno. A logind
 * session's fd may come first (login_session): into *session. */
static uint32_t read_child_status(int fd, int *err, int *session)
{
    for (;;) {
        uint8_t msg[8];
        int got;
        size_t ngot;
        ssize_t n = unix_recv_fds(fd, msg, sizeof(msg), &got, 1, &ngot);
        if (ngot && *session < 0 && n == 1)
            *session = got;
        else if (ngot)
            close(got);
        if (n == 0)
            return 0;
        if (n == 1 && *session >= 0)
            continue;
        if (n != (ssize_t)sizeof(msg)) {
            *err = n < 0 ? (int)-n : EIO;
            return LSL_ERR_INTERNAL;
        }
        *err = (int)lsl_get_u32(msg + 4);
        return lsl_get_u32(msg);
    }
}

static void describe_failure(const struct lsl_exec_msg *e, uint32_t code, int err, char *msg, size_t msglen)
{
    switch (code) {
    case LSL_ERR_NOT_FOUND:
        if (!strchr(e->argv[0], '/'))
            snprintf(msg, msglen, "%s: command not found", e->argv[0]);
        else
            snprintf(msg, msglen, "%s: %s", e->argv[0], strerror(err));
        break;
    case LSL_ERR_NO_EXEC:
        snprintf(msg, msglen, "%s: %s", e->argv[0], strerror(err));
        break;
    case LSL_ERR_NO_CWD:
        snprintf(msg, msglen, "cannot change to %s: %s", e->cwd[0] ? e->cwd : "the home directory",
                 strerror(err));
        break;
    default:
        snprintf(msg, msglen, "cannot start %s: %s", e->argv[0], strerror(err));
        break;
    }
}

int agent_spawn(struct lsl_exec_msg *e, struct lsl_child *c, char *msg, size_t msglen)
{
    struct account *acct = malloc(sizeof(*acct));
    char **extra = calloc((size_t)e->envc + ENV_ADDED, sizeof(char *)), **env = NULL, **argv = NULL,
         *login_arg0 = NULL;
    gid_t *groups = NULL;
    long ngroups = 0;
    struct lsl_stdio stdio = LSL_STDIO_NONE;
    int status[2] = {-1, -1}, err = 0, session = -1, r;
    uint32_t code = LSL_ERR_INTERNAL;
    pid_t pid;

    *c = LSL_CHILD_NONE;
    if (!acct || !extra) {
        err = ENOMEM;
        goto fail;
    }
    r = resolve_account(e->user, acct);
    if (r < 0) {
        if (r == -ENOENT) {
            snprintf(msg, msglen, "unknown user %s", e->user);
            code = LSL_ERR_NO_USER;
            goto out;
        }
        err = -r;
        goto fail;
    }

    /* The groups come from this root's /etc/group (the distribution's: the agent has entered it) rather
     * than initgroups(), which musl stops at 32 groups; the kernel takes LSL_NGROUPS_MAX. */
    if (geteuid() == 0 && acct->known && (ngroups = agent_groups_load(acct->name, acct->gid, &groups)) < 0) {
        snprintf(msg, msglen, "cannot read the groups of %s from /etc/group: %s", acct->name,
                 strerror((int)-ngroups));
        ngroups = 0;
        goto out;
    }

    /* The client cannot know the guest user's shell: an empty program name stands for it. */
    if (!e->argv[0][0])
        e->argv[0] = acct->shell;

    env = build_env(e, acct, extra);
    argv = calloc((size_t)e->argc + 1, sizeof(char *));
    if (!env || !argv) {
        err = ENOMEM;
        goto fail;
    }
    memcpy(argv, e->argv, (size_t)e->argc * sizeof(char *));
    if (e->flags & LSL_EXEC_LOGIN) {
        /* What login and sshd do: "-" and the program's base name, e.g. "-bash". */
        const char *base = strrchr(e->argv[0], '/');

        if (asprintf(&login_arg0, "-%s", base ? base + 1 : e->argv[0]) < 0) {
            login_arg0 = NULL;
            err = ENOMEM;
            goto fail;
        }
        argv[0] = login_arg0;
    }

    if ((r = lsl_stdio_open(e, geteuid() == 0 ? acct->uid : (uid_t)-1, &stdio)) < 0) {
        err = -r;
        goto fail;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, status) < 0) {
        err = errno;
        goto fail;
    }

    pid = fork();
    if (pid < 0) {
        err = errno;
        goto fail;
    }
    if (pid == 0) {
        close(status[0]);
        run_child(e, acct, groups, (size_t)ngroups, &stdio, argv, env, status[1]);
    }
    close(status[1]);
    status[1] = -1;
    code = read_child_status(status[0], &err, &session);
    if (code != 0) {
        (void)waitpid(pid, NULL, 0);
        goto fail;
    }

    /* Started: keep the agent's ends, drop the child's. */
    lsl_stdio_started(&stdio, e, pid, c);
    c->hold = session; /* the logind session lasts as long as the command */
    session = -1;
    goto out;

fail:
    describe_failure(e, code, err, msg, msglen);
out:
    lsl_stdio_close(&stdio);
    for (int j = 0; j < 2; j++)
        if (status[j] >= 0)
            close(status[j]);
    if (session >= 0)
        close(session);
    for (size_t i = 0; extra && i < (size_t)e->envc + ENV_ADDED; i++)
        free(extra[i]);
    free(extra);
    free(groups);
    free(login_arg0);
    free(argv);
    free(env);
    free(acct);
    return c->pid > 0 ? 0 : (int)code;
}

int (*agent_spawn_fn)(struct lsl_exec_msg *e, struct lsl_child *c, char *msg, size_t msglen) = agent_spawn;
