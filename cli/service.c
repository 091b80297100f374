/* Starting and talking to the per-user service (lsl-vmm in service mode). A lock file serialises start-up:
 * the first lsl to take it starts the VM, the others find it running once they get the lock. */
#include "service.h"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "control.h"
#include "distro.h"
#include "io.h"
#include "log.h"
#include "unix_socket.h"

#define START_TIMEOUT_S 300 /* the emulated KVM host boots a guest ~10x slower than hardware */
/* Polls while the VM boots and its agent comes up: short, since each one costs little and a boot on
 * hardware is a few hundred ms. */
#define POLL_MS       25
#define AGENT_RETRIES (30000 / POLL_MS)

static int connect_to(const char *dir, const char *name)
{
    char path[PATH_MAX];
    if (lsl_path_join(path, dir, name) < 0)
        return -ENAMETOOLONG;
    return unix_connect(path, false);
}

int lsl_service_request(const struct lsl_paths *p, const struct lsl_ctl_request *req, char *buf, size_t len,
                        struct lsl_ctl_reply *reply)
{
    char line[LSL_CONTROL_LINE_MAX + 1];
    int ll = lsl_ctl_format(req, line, sizeof(line));
    if (ll < 0)
        return ll;
    int fd = connect_to(p->runtime, LSL_CONTROL_SOCKET);
    if (fd < 0)
        return fd;
    int r = write_full(fd, line, (size_t)ll);
    size_t n = 0;
    while (r == 0 && n + 1 < len) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int pr = poll(&pfd, 1, 5000);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0) {
            r = pr == 0 ? -ETIMEDOUT : -errno;
            break;
        }
        ssize_t got = read(fd, buf + n, len - 1 - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    buf[n] = '\0';
    close(fd);
    if (r < 0)
        return r;
    return lsl_ctl_reply_parse(buf, reply);
}

int lsl_service_status(const struct lsl_paths *p, char *buf, size_t len, const char **body)
{
    struct lsl_ctl_request req = {.verb = LSL_CTL_STATUS};
    struct lsl_ctl_reply reply;
    int r = lsl_service_request(p, &req, buf, len, &reply);
    if (r < 0)
        return r;
    if (!reply.ok)
        return -EPROTO;
    *body = reply.body;
    return 0;
}

/* The service's state ("running", "starting", "stopping"), or "" when it does not answer. */
static const char *service_state(const struct lsl_paths *p, char *state, size_t len)
{
    char buf[1024];
    const char *body;
    state[0] = '\0';
    if (lsl_service_status(p, buf, sizeof(buf), &body) == 0)
        lsl_ctl_field(body, LSL_CTL_KEY_STATE, state, len);
    return state;
}

int lsl_service_exec(const struct lsl_paths *p, const struct lsl_exec_request *req, struct lsl_session_io *io)
{
    for (int i = 0;; i++) {
        int fd = connect_to(p->runtime, LSL_VSOCK_SOCKET);
        if (fd < 0) {
            if (io->errbuf && io->errlen)
                snprintf(io->errbuf, io->errlen, "cannot reach the VM: %s", strerror(-fd));
            io->started = false;
            return -ENOTCONN;
        }
        int status = lsl_session_exec(fd, req, io);
        close(fd);
        /* lsl-init prints its boot marker before the agent listens: a refusal right after start-up means
         * "not yet", so retry for a while before calling it a failure. */
        if (status != -ECONNREFUSED || io->connect_port != LSL_AGENT_PORT || i == AGENT_RETRIES)
            return status;
        struct timespec ts = {.tv_nsec = POLL_MS * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* Starts lsl-vmm --service detached from this terminal and session (double fork), logging to the state dir.
 */
static int spawn_service(const struct lsl_paths *p)
{
    char disk[PATH_MAX + 8], log[PATH_MAX], console[PATH_MAX], idle[24];
    int r;
    /* The system root is never written: the build's image serves every user, read-only. */
    snprintf(disk, sizeof(disk), "%s,ro", p->rootfs);
    if ((r = lsl_path_join(log, p->state, "service.log")) < 0 ||
        (r = lsl_path_join(console, p->state, "console.log")) < 0)
        return r;
    /* ~/.lslconfig with the LSL_* environment over it. */
    struct lsl_config c;
    lsl_config_load_user(&c);
    char cpus[16], mem[32], slots[16];
    long long idle_s = c.vm_idle_timeout_ms < 0 ? -1 : (c.vm_idle_timeout_ms + 999) / 1000;
    snprintf(idle, sizeof(idle), "%lld", idle_s);
    snprintf(cpus, sizeof(cpus), "%u", c.processors);
    snprintf(mem, sizeof(mem), "%lluM", (unsigned long long)(c.memory >> 20));
    snprintf(slots, sizeof(slots), "%d", LSL_SERVICE_DISK_SLOTS);
    const char *argv[24] = {p->vmm,
                            "--service",
                            p->runtime,
                            "--idle-timeout",
                            idle,
                            "--kernel",
                            c.kernel ? c.kernel : p->kernel,
                            "--initrd",
                            p->initrd,
                            "--disk",
                            disk,
                            "--root",
                            "/dev/vda",
                            "--console-log",
                            console,
                            "--cpus",
                            cpus,
                            "--memory",
                            mem,
                            "--disk-slots",
                            slots};
    int argc = 21;
    if (c.kernel_cmdline && *c.kernel_cmdline) {
        argv[argc++] = "--append";
        argv[argc++] = c.kernel_cmdline;
    }
    argv[argc] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return log_errno(errno, "fork");
    if (pid == 0) {
        setsid();
        if (fork() != 0)
            _exit(0);
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        int out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (null < 0 || out < 0)
            _exit(1);
        dup2(null, 0);
        dup2(out, 1);
        dup2(out, 2);
        signal(SIGPIPE, SIG_DFL);
        setenv("LSL_LOG", "info", 0); /* the service log records what the VM did (disks in and out) */
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    lsl_config_free(&c);
    int st;
    waitpid(pid, &st, 0);
    return 0;
}

static bool agent_ready(const struct lsl_paths *p)
{
    char state[32];
    return strcmp(service_state(p, state, sizeof(state)), "running") == 0;
}

int lsl_service_ensure(const struct lsl_paths *p)
{
    if (agent_ready(p))
        return 0;
    char lock_path[PATH_MAX];
    int r = lsl_path_join(lock_path, p->runtime, "lock");
    if (r < 0)
        return r;
    int lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0)
        return log_errno(errno, "cannot open %s", lock_path);
    if (flock(lock, LOCK_EX) < 0) {
        close(lock);
        return log_errno(errno, "cannot lock %s", lock_path);
    }
    char state[32];
    /* Another lsl may have started it while we waited for the lock, or it is still booting. */
    bool running = service_state(p, state, sizeof(state))[0] != '\0';
    if (running && strcmp(state, "stopping") == 0) {
        bool was;
        lsl_service_shutdown(p, 60, &was); /* let an idle shutdown finish before starting anew */
        running = false;
    }
    if (!running) {
        struct lsl_config c;
        lsl_config_load_user(&c);
        const char *kernel = c.kernel ? c.kernel : p->kernel;
        if (access(kernel, R_OK) < 0)
            r = log_errno(errno, "no guest kernel at %s (run make, or set kernel in ~/.lslconfig)", kernel);
        lsl_config_free(&c);
        if (r < 0)
            goto out;
    }
    if (!running && (r = spawn_service(p)) < 0)
        goto out;
    r = -ETIMEDOUT;
    for (int i = 0; i < START_TIMEOUT_S * 1000 / POLL_MS; i++) {
        if (agent_ready(p)) {
            r = running ? 0 : 1;
            break;
        }
        struct timespec ts = {.tv_nsec = POLL_MS * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (r < 0)
        log_error("the VM did not start within %d s; see %s/service.log", START_TIMEOUT_S, p->state);
out:
    flock(lock, LOCK_UN);
    close(lock);
    return r;
}

/* Waits up to timeout_s for the service to be gone: process pid (if known, else its control socket). */
static bool wait_gone(const struct lsl_paths *p, pid_t pid, int timeout_s)
{
    char state[32];
    for (int i = 0; i < timeout_s * 100; i++) {
        if (pid > 0 ? kill(pid, 0) < 0 && errno == ESRCH : service_state(p, state, sizeof(state))[0] == '\0')
            return true;
        struct timespec ts = {.tv_nsec = 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return false;
}

int lsl_service_kill(const struct lsl_paths *p, int timeout_s, bool *was_running)
{
    *was_running = false;
    int fd = connect_to(p->runtime, LSL_CONTROL_SOCKET);
    if (fd < 0)
        return 0;
    struct ucred cred;
    socklen_t len = sizeof(cred);
    int r = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len);
    close(fd);
    if (r < 0)
        return log_errno(errno, "cannot tell which process serves %s/" LSL_CONTROL_SOCKET, p->runtime);
    /* The runtime directory is ours alone (0700), but a pid from a socket is checked before a SIGKILL. */
    if (cred.pid <= 0 || cred.uid != getuid()) {
        log_error("%s/" LSL_CONTROL_SOCKET " is served by pid %d of uid %u, not by this user's service",
                  p->runtime, (int)cred.pid, (unsigned)cred.uid);
        return -EPERM;
    }
    *was_running = true;
    if (kill(cred.pid, SIGKILL) < 0 && errno != ESRCH)
        return log_errno(errno, "cannot kill the VM service (pid %d)", (int)cred.pid);
    if (wait_gone(p, cred.pid, timeout_s))
        return 0;
    log_error("the VM service (pid %d) is still there %d s after SIGKILL", (int)cred.pid, timeout_s);
    return -ETIMEDOUT;
}

int lsl_service_shutdown(const struct lsl_paths *p, int timeout_s, bool *was_running)
{
    char buf[1024];
    const char *body;
    struct lsl_ctl_request req = {.verb = LSL_CTL_SHUTDOWN};
    struct lsl_ctl_reply reply;
    int64_t pid = 0;
    *was_running = false;
    if (lsl_service_status(p, buf, sizeof(buf), &body) < 0)
        return 0;
    *was_running = true;
    (void)lsl_ctl_field_i64(body, LSL_CTL_KEY_PID, &pid);
    if (lsl_service_request(p, &req, buf, sizeof(buf), &reply) < 0)
        return 0;
    if (wait_gone(p, (pid_t)pid, timeout_s))
        return 0;
    log_error("the VM did not stop within %d s", timeout_s);
    return -ETIMEDOUT;
}
