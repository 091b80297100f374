/* Starting and talking to the per-user service (lsl-vmm in service mode). A lock file serialises start-up:
 * the first lsl to take it starts the VM, the others find it running once they get the lock. Nothing here
 * waits without a bound: connects do not block on a full backlog, replies have a deadline, the start-up
 * lock and the boot are waited for a fixed time. */
#include "service.h"

#include "boot.h"

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
#include "fwd.h"
#include "hostshares.h"
#include "io.h"
#include "lock.h"
#include "log.h"
#include "macro.h"
#include "unix_socket.h"
#include "wake_client.h"

#define START_TIMEOUT_S 300 /* the emulated KVM host boots a guest ~10x slower than hardware */
/* Polls while the VM boots and its agent comes up: short, since each one costs little and a boot on
 * hardware is a few hundred ms. */
#define POLL_MS       25
#define AGENT_RETRIES (30000 / POLL_MS)
#define CONNECT_MS    5000 /* a listener whose backlog stays full for this long is not serving */
#define REPLY_MS      5000 /* the whole reply to a control request */
/* Whoever holds the start-up lock boots the VM (START_TIMEOUT_S at most) after letting an idle stop finish
 * (60 s at most). */
#define START_LOCK_S (START_TIMEOUT_S + 90)

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000L};
    nanosleep(&ts, NULL);
}

/* A non-blocking connect: a plain one blocks for as long as the listener's backlog is full. Returns the
 * (non-blocking) fd or -errno. */
static int connect_to(const char *dir, const char *name)
{
    char path[PATH_MAX];
    if (lsl_path_join(path, dir, name) < 0)
        return -ENAMETOOLONG;
    uint64_t deadline = now_ns() + CONNECT_MS * 1000000ull;
    for (;;) {
        int fd = unix_connect(path, true);
        if (fd != -EAGAIN)
            return fd;
        if (now_ns() >= deadline)
            return -ETIMEDOUT;
        sleep_ms(5);
    }
}

int lsl_service_request(const struct lsl_paths *p, const struct lsl_ctl_request *req, char *buf, size_t len,
                        struct lsl_ctl_reply *reply)
{
    char line[LSL_CONTROL_LINE_MAX + 1];
    int ll = lsl_ctl_format(req, line, sizeof(line));
    if (ll < 0)
        return ll;
    _cleanup_close_ int fd = connect_to(p->runtime, LSL_CONTROL_SOCKET);
    if (fd < 0)
        return fd;
    /* A request line always fits in a fresh socket's buffer: this write does not wait. */
    int r = write_full(fd, line, (size_t)ll);
    size_t n = 0;
    uint64_t deadline = now_ns() + REPLY_MS * 1000000ull;
    while (r == 0 && n + 1 < len) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        uint64_t now = now_ns();
        if (now >= deadline) {
            r = -ETIMEDOUT;
            break;
        }
        int pr = poll(&pfd, 1, (int)((deadline - now) / 1000000 + 1));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0) {
            r = -errno;
            break;
        }
        if (pr == 0)
            continue;
        ssize_t got = read(fd, buf + n, len - 1 - n);
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    buf[n] = '\0';
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
        sleep_ms(POLL_MS);
    }
}

int lsl_control(const struct lsl_paths *p, const struct lsl_ctl_request *req, char *value, size_t valuelen,
                char *err, size_t errlen)
{
    char buf[8192];
    struct lsl_ctl_reply reply;
    int r = lsl_service_request(p, req, buf, sizeof(buf), &reply);
    if (r < 0) {
        snprintf(err, errlen, "the VM service did not answer: %s", r == -EPROTO ? reply.error : strerror(-r));
        return r;
    }
    if (!reply.ok) {
        snprintf(err, errlen, "%s", reply.error);
        return -EIO;
    }
    if (value)
        snprintf(value, valuelen, "%s", reply.value);
    return 0;
}

int lsl_disk_attach(const struct lsl_paths *p, const char *id, const char *image, int *slot, char *err,
                    size_t errlen)
{
    struct lsl_ctl_request req = {.verb = LSL_CTL_ATTACH, .id = id, .path = image};
    char value[32], *end;
    int r = lsl_control(p, &req, value, sizeof(value), err, errlen);
    if (r < 0)
        return r;
    long n = strtol(value, &end, 10);
    if (slot)
        *slot = value[0] && !*end && n >= 0 && n < LSL_DISK_SLOTS_MAX ? (int)n : -1;
    return 0;
}

int lsl_disk_detach(const struct lsl_paths *p, const char *id, char *err, size_t errlen)
{
    struct lsl_ctl_request req = {.verb = LSL_CTL_DETACH, .id = id};
    return lsl_control(p, &req, NULL, 0, err, errlen);
}

/* The VM's console log is written by lsl-vmm, which opens it without O_EXCL: made here first, private, it
 * stays private (an older, too open one is fixed too). Best effort: lsl-vmm reports what it cannot open. */
static void private_file(const char *path)
{
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0)
        (void)fchmod(fd, 0600);
}

/* swap=: the guest's swap area, a sparse file emptied first (what an earlier VM swapped out is nothing to
 * keep, and nothing of it may be read back). False, said once, if it cannot be: the VM runs without swap. */
static bool prepare_swap(const char *path, uint64_t size)
{
    struct stat st;
    _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || fchmod(fd, 0600) < 0 ||
        ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)size) < 0) {
        log_msg(LOG_WARN, "cannot use %s as the swap file (%s); the VM runs without swap", path,
                fd >= 0 && !S_ISREG(st.st_mode) ? "not a regular file" : strerror(errno));
        return false;
    }
    return true;
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
    snprintf(idle, sizeof(idle), "%lld", lsl_config_idle_timeout_s(&c));
    snprintf(cpus, sizeof(cpus), "%u", c.processors);
    snprintf(mem, sizeof(mem), "%lluM", (unsigned long long)(c.memory >> 20));
    snprintf(slots, sizeof(slots), "%d", LSL_SERVICE_DISK_SLOTS);
    /* 21 fixed words, the swap disk, --append, a --share per host share (hostshares.h), a --forward-socket
     * per forwarded socket (socketForwarding) and a --socket-fd per listener lsl-wake held, --waker, up to 5
     * for localhost forwarding's settings, --interop and --log. */
    const char *argv[21 + 2 + 2 + 2 * LSL_HOSTSHARES_MAX + 4 * LSL_FWD_SOCKS_MAX + 2 + 5 + 2 + 2 + 1] = {
        p->vmm,
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
    /* The swap file is the second disk, /dev/vdb, after the system root. */
    char swap[PATH_MAX];
    uint64_t swap_size = lsl_config_swap_bytes(&c);
    if (swap_size && (c.swap_file ? snprintf(swap, sizeof(swap), "%s", c.swap_file) >= (int)sizeof(swap)
                                  : lsl_path_join(swap, p->state, "swap.img") < 0))
        swap_size = 0;
    if (swap_size && prepare_swap(swap, swap_size)) {
        argv[argc++] = "--disk";
        argv[argc++] = swap;
    } else {
        swap_size = 0;
    }
    /* autoMemoryReclaim and swap go to lsl-init; the user's kernelCommandLine after them (a key given twice
     * there wins, as the kernel's last one does). */
    _cleanup_free_ char *append = NULL;
    if (asprintf(&append, LSL_CMDLINE_RECLAIM "%s%s%s%s%s", c.memory_reclaim, swap_size ? " " : "",
                 swap_size ? LSL_CMDLINE_SWAP "/dev/vdb" : "",
                 c.kernel_cmdline && *c.kernel_cmdline ? " " : "",
                 c.kernel_cmdline ? c.kernel_cmdline : "") < 0) {
        lsl_config_free(&c);
        return log_errno(ENOMEM, "lsl-vmm's command line");
    }
    argv[argc++] = "--append";
    argv[argc++] = append;
    char shares[LSL_HOSTSHARES_MAX][LSL_HOSTSHARE_NAME_MAX + LSL_HOSTSHARE_PATH_MAX + 48];
    if (c.isolated)
        c.shares.n = 0; /* and no --interop below; recorded so (lsl_hostshares_record) */
    for (size_t i = 0; i < c.shares.n; i++) {
        /* The tag is the share's name; the host user's files belong to hostShareOwner in the guest. */
        snprintf(shares[i], sizeof(shares[i]), "%s=%s,uid=%u,gid=%u,dax=%llu", c.shares.s[i].name,
                 c.shares.s[i].host, c.share_uid, c.share_gid, (unsigned long long)(c.share_dax >> 20));
        argv[argc++] = "--share";
        argv[argc++] = shares[i];
    }
    /* localhostForwarding and its port lists (proto/fwd.h). */
    if (!c.localhost_forwarding)
        argv[argc++] = "--no-localhost-forwarding";
    if (c.forward_ports) {
        argv[argc++] = "--forward-ports";
        argv[argc++] = c.forward_ports;
    }
    if (c.forward_exclude) {
        argv[argc++] = "--forward-exclude";
        argv[argc++] = c.forward_exclude;
    }
    /* socketForwarding: a relative host path is under the runtime directory (docker.sock: Docker's socket
     * at $XDG_RUNTIME_DIR/lsl/docker.sock). */
    char socks[LSL_FWD_SOCKS_MAX][LSL_DISTRO_NAME_MAX + LSL_FWD_UNIX_PATH_MAX + PATH_MAX + 4];
    for (size_t i = 0; i < c.sockets.n; i++) {
        const struct lsl_fwd_sock *k = &c.sockets.s[i];
        char host[PATH_MAX];
        if (k->host[0] == '/')
            snprintf(host, sizeof(host), "%s", k->host);
        else if (lsl_path_join(host, p->runtime, k->host) < 0)
            host[0] = '\0';
        if (!host[0] || strlen(host) > LSL_FWD_HOST_PATH_MAX) {
            log_warn("socketForwarding: host path %s/%s is too long for a socket (left out)", p->runtime,
                     k->host);
            continue;
        }
        snprintf(socks[i], sizeof(socks[i]), "%s%s%s=%s", k->guest.distro, k->guest.distro[0] ? ":" : "",
                 k->guest.path, host);
        argv[argc++] = "--forward-socket";
        argv[argc++] = socks[i];
    }
    /* Socket wake (proto/wake.h): the listeners lsl-wake held since the last idle stop, with the clients that
     * wait in them, go to the new service; and the next idle stop hands them to lsl-wake again. */
    int held[LSL_FWD_SOCKS_MAX];
    char held_num[LSL_FWD_SOCKS_MAX][16], waker[PATH_MAX];
    int nheld = lsl_wake_take(p, held, LSL_FWD_SOCKS_MAX);
    for (int i = 0; i < nheld; i++) {
        snprintf(held_num[i], sizeof(held_num[i]), "%d", held[i]);
        argv[argc++] = "--socket-fd";
        argv[argc++] = held_num[i];
    }
    if (c.sockets.n && lsl_own_path(LSL_OWN_WAKE, waker, sizeof(waker)) == 0 && access(waker, X_OK) == 0) {
        argv[argc++] = "--waker";
        argv[argc++] = waker;
    }
    /* Interop: the guest's host commands, served by lsl-interop (a distribution's wsl.conf can still say no
     * for itself). */
    char interop[PATH_MAX];
    const char *interop_env = getenv("LSL_INTEROP");
    if (interop_env && *interop_env)
        snprintf(interop, sizeof(interop), "%s", interop_env);
    else if (lsl_own_path(LSL_OWN_INTEROP, interop, sizeof(interop)) < 0)
        interop[0] = '\0';
    if (!c.isolated && interop[0] == '/' && access(interop, X_OK) == 0) {
        argv[argc++] = "--interop";
        argv[argc++] = interop;
    }
    /* The service log records what the VM did (disks in and out): info, unless LSL_LOG says otherwise. An
     * option, not LSL_LOG in the service's environment: its host commands (interop) inherit that. */
    if (log_level_parse(getenv("LSL_LOG")) < 0) {
        argv[argc++] = "--log";
        argv[argc++] = "info";
    }
    argv[argc] = NULL;
    /* What the CLI translates paths through from now on, whatever ~/.lslconfig says later. */
    (void)lsl_hostshares_record(p, &c);
    private_file(console);
    pid_t pid = fork();
    if (pid < 0) {
        for (int i = 0; i < nheld; i++)
            close(held[i]); /* the next start binds the paths anew */
        lsl_config_free(&c);
        return log_errno(errno, "fork");
    }
    if (pid == 0) {
        setsid();
        if (fork() != 0)
            _exit(0);
        for (int i = 0; i < nheld; i++)
            (void)fcntl(held[i], F_SETFD, 0);
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        int out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (null < 0 || out < 0 || fchmod(out, 0600) < 0)
            _exit(1);
        dup2(null, 0);
        dup2(out, 1);
        dup2(out, 2);
        signal(SIGPIPE, SIG_DFL);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < nheld; i++)
        close(held[i]);
    lsl_config_free(&c);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) /* the first child exits at once */
        ;
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
    _cleanup_close_ int lock = lsl_lock_take(lock_path, START_LOCK_S);
    if (lock == -ETIMEDOUT) {
        log_error("another lsl has been starting the VM for %d s; see %s/service.log", START_LOCK_S,
                  p->state);
        return lock;
    }
    if (lock < 0)
        return log_errno(-lock, "cannot lock %s", lock_path);
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
            return r;
    }
    if (!running && (r = spawn_service(p)) < 0)
        return r;
    /* Bounded by the clock, not by a count of polls: each status request may take its own while. */
    uint64_t deadline = now_ns() + START_TIMEOUT_S * 1000000000ull;
    while (!agent_ready(p)) {
        if (now_ns() >= deadline) {
            log_error("the VM did not start within %d s; see %s/service.log", START_TIMEOUT_S, p->state);
            return -ETIMEDOUT;
        }
        sleep_ms(POLL_MS);
    }
    return running ? 0 : 1; /* closing the lock file lets the next lsl in */
}

/* Waits up to timeout_s for the service to be gone: process pid (if known, else its control socket). */
static bool wait_gone(const struct lsl_paths *p, pid_t pid, int timeout_s)
{
    char state[32];
    uint64_t deadline = now_ns() + (uint64_t)timeout_s * 1000000000ull;
    do {
        if (pid > 0 ? kill(pid, 0) < 0 && errno == ESRCH : service_state(p, state, sizeof(state))[0] == '\0')
            return true;
        sleep_ms(10);
    } while (now_ns() < deadline);
    return false;
}

int lsl_service_kill(const struct lsl_paths *p, int timeout_s, bool *was_running)
{
    *was_running = false;
    struct ucred cred;
    socklen_t len = sizeof(cred);
    int r;
    {
        _cleanup_close_ int fd = connect_to(p->runtime, LSL_CONTROL_SOCKET);
        if (fd < 0)
            return 0;
        r = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ? -errno : 0;
    }
    if (r < 0)
        return log_errno(-r, "cannot tell which process serves %s/" LSL_CONTROL_SOCKET, p->runtime);
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
