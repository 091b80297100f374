/* The service's life around the VM: the idle stop, the clock push after the host slept, and the requests of
 * the control socket. Both ways of stopping go the orderly way: the agent is asked to power off (lsl-init
 * then terminates every process, syncs and unmounts), and only if the guest has not powered off after
 * SHUTDOWN_GRACE_S does the VMM stop it by force. */
#include "service.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "../devices/blk_slots.h"
#include "../devices/vsock.h"
#include "agent.h"
#include "control.h"
#include "frame.h"
#include "io.h"
#include "log.h"
#include "macro.h"
#include "unix_socket.h"

#define SHUTDOWN_GRACE_S 15
#define TICK_S           1

struct service {
    struct vm *vm;
    char *dir;
    struct control *control;
    int timer_fd, agent_fd;
    int idle_timeout_s;
    uint64_t idle_since_ns;  /* 0 while sessions are open */
    uint64_t shutdown_at_ns; /* when the orderly shutdown was requested, 0 if not */
    char agent_reply[64];
    size_t agent_reply_len;
    uint32_t agent_errand; /* what agent_fd is for: LSL_SHUTDOWN or LSL_CLOCK */
    /* CLOCK_BOOTTIME - CLOCK_MONOTONIC at the last tick: grows while the host sleeps. */
    int64_t host_slept_ns;
};

static unsigned sessions(const struct service *s)
{
    /* The system agent's and every distribution's own agent's. */
    if (!s->vm->vsock)
        return 0;
    return vsock_connections_to(s->vm->vsock, LSL_AGENT_PORT, 1) +
           vsock_connections_to(s->vm->vsock, LSL_DISTRO_PORT_BASE, LSL_DISTRO_PORT_SLOTS);
}

static void agent_close(struct service *s)
{
    if (s->agent_fd < 0)
        return;
    evloop_del(&s->vm->loop, s->agent_fd);
    close(s->agent_fd);
    s->agent_fd = -1;
}

static void agent_ready(void *opaque, uint32_t events);

/* Opens a session to lsl-init's agent for an errand (agent_ready sends it once the guest accepts). The
 * VMM's vsock device serves the socket connected to from this same thread, so the connect must not wait:
 * a full backlog is an errand not run now (a shutdown's grace timer still stops the VM; a clock waits for
 * the next session, which carries the host's time too). */
static void agent_errand(struct service *s, uint32_t what)
{
    agent_close(s); /* a clock resync still under way gives way */
    char path[4096], line[32];
    if (snprintf(path, sizeof(path), "%s/" LSL_VSOCK_SOCKET, s->dir) >= (int)sizeof(path))
        return;
    int fd = unix_connect(path, true);
    if (fd < 0)
        return;
    int n = snprintf(line, sizeof(line), "CONNECT %u\n", LSL_AGENT_PORT);
    /* A fresh socket's buffer takes the short line at once. */
    if (send(fd, line, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return;
    }
    s->agent_fd = fd;
    s->agent_reply_len = 0;
    s->agent_errand = what;
    if (evloop_add(&s->vm->loop, fd, EPOLLIN, agent_ready, s) < 0) {
        close(fd);
        s->agent_fd = -1;
    }
}

/* Asks lsl-init, through its agent, for an orderly poweroff. */
static void request_guest_shutdown(struct service *s)
{
    if (s->shutdown_at_ns)
        return;
    s->shutdown_at_ns = now_ns();
    agent_errand(s, LSL_SHUTDOWN);
}

/* Sets the guest's clock to the host's (sessions do it too, but the guest's own services should not wait for
 * one after the host slept). */
static void push_guest_clock(struct service *s)
{
    if (!s->shutdown_at_ns && s->vm->boot_marker_ns)
        agent_errand(s, LSL_CLOCK);
}

/* Reads the hybrid-vsock "OK <port>" line, then sends HELLO and the errand (SHUTDOWN, or CLOCK and the end
 * of the session); later input is ignored until the guest closes. */
static void agent_ready(void *opaque, uint32_t events)
{
    struct service *s = opaque;
    if (s->agent_reply_len == sizeof(s->agent_reply)) {
        char sink[256];
        if (read(s->agent_fd, sink, sizeof(sink)) <= 0 || (events & (EPOLLHUP | EPOLLERR)))
            agent_close(s);
        return;
    }
    ssize_t r =
        read(s->agent_fd, s->agent_reply + s->agent_reply_len, sizeof(s->agent_reply) - s->agent_reply_len);
    if (r <= 0) {
        if (r == 0 || errno != EAGAIN)
            agent_close(s);
        return;
    }
    s->agent_reply_len += (size_t)r;
    char *nl = memchr(s->agent_reply, '\n', s->agent_reply_len);
    if (!nl)
        return;
    if (strncmp(s->agent_reply, "OK ", 3) != 0) {
        agent_close(s);
        return;
    }
    uint8_t msg[2 * LSL_FRAME_HDR_SIZE + 8], payload[8];
    lsl_put_u32(payload, LSL_AGENT_VERSION);
    size_t len = lsl_frame_encode(msg, sizeof(msg), LSL_HELLO, payload, 4);
    if (s->agent_errand == LSL_CLOCK) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        lsl_put_u64(payload, (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec);
        len += lsl_frame_encode(msg + len, sizeof(msg) - len, LSL_CLOCK, payload, 8);
    } else {
        len += lsl_frame_encode(msg + len, sizeof(msg) - len, s->agent_errand, NULL, 0);
    }
    if (send(s->agent_fd, msg, len, MSG_NOSIGNAL) != (ssize_t)len) {
        agent_close(s);
        return;
    }
    if (s->agent_errand == LSL_CLOCK)
        shutdown(s->agent_fd, SHUT_WR);          /* the end of a clock-only session */
    s->agent_reply_len = sizeof(s->agent_reply); /* done: drain until the guest goes away */
}

static uint64_t host_rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "re");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void status(struct service *s, FILE *out)
{
    const struct vm *vm = s->vm;
    lsl_ctl_reply_ok(out, NULL);
    lsl_ctl_put(out, LSL_CTL_KEY_VERSION, "%d", LSL_CONTROL_VERSION);
    lsl_ctl_put(out, LSL_CTL_KEY_STATE, "%s",
                s->shutdown_at_ns ? "stopping" : (vm->boot_marker_ns ? "running" : "starting"));
    lsl_ctl_put(out, LSL_CTL_KEY_UPTIME_MS, "%" PRIu64, (now_ns() - vm->start_ns) / 1000000);
    lsl_ctl_put(out, LSL_CTL_KEY_VCPUS, "%u", vm->ncpus);
    lsl_ctl_put(out, LSL_CTL_KEY_MEMORY, "%" PRIu64, vm->mem.total);
    lsl_ctl_put(out, LSL_CTL_KEY_HOST_RSS, "%" PRIu64, host_rss_bytes());
    lsl_ctl_put(out, LSL_CTL_KEY_SESSIONS, "%u", sessions(s));
    lsl_ctl_put(out, LSL_CTL_KEY_IDLE_TIMEOUT_S, "%d", s->idle_timeout_s);
    lsl_ctl_put(out, LSL_CTL_KEY_PID, "%d", (int)getpid());
    lsl_ctl_put(out, LSL_CTL_KEY_DISK_SLOTS, "%u", vm->disk_slots ? vm->disk_slots->n : 0);
    lsl_ctl_put(out, LSL_CTL_KEY_DISKS_ATTACHED, "%u",
                vm->disk_slots ? blk_slots_attached(vm->disk_slots) : 0);
}

void service_request(struct service *s, const struct lsl_ctl_request *r, FILE *out)
{
    static struct blk_slots none; /* without --disk-slots the requests still get their error or empty reply */
    switch (r->verb) {
    case LSL_CTL_STATUS:
        status(s, out);
        break;
    case LSL_CTL_SHUTDOWN:
        request_guest_shutdown(s);
        lsl_ctl_reply_ok(out, NULL);
        break;
    case LSL_CTL_CLOCK:
        push_guest_clock(s);
        lsl_ctl_reply_ok(out, NULL);
        break;
    default:
        if (!blk_slots_request(s->vm->disk_slots ? s->vm->disk_slots : &none, r, out))
            lsl_ctl_reply_error(out, "unknown request");
        break;
    }
}

static void on_tick(void *opaque, uint32_t events)
{
    struct service *s = opaque;
    uint64_t expirations;
    (void)events;
    if (read(s->timer_fd, &expirations, sizeof(expirations)) < 0)
        return;
    uint64_t now = now_ns();
    control_tick(s->control, now);
    /* Time the host spent asleep shows as CLOCK_BOOTTIME running ahead of CLOCK_MONOTONIC; kvm-clock did not
     * count it, so the guest's clock is behind by as much. */
    struct timespec boot, mono;
    clock_gettime(CLOCK_BOOTTIME, &boot);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    int64_t slept = ((int64_t)boot.tv_sec - mono.tv_sec) * 1000000000LL + (boot.tv_nsec - mono.tv_nsec);
    if (slept - s->host_slept_ns > 1000000000LL && s->host_slept_ns)
        push_guest_clock(s);
    s->host_slept_ns = slept;
    if (s->shutdown_at_ns) {
        if (now - s->shutdown_at_ns > SHUTDOWN_GRACE_S * 1000000000ull)
            vm_request_stop(s->vm, VM_STOP_POWEROFF, "the guest did not power off within %d s; stopped it",
                            SHUTDOWN_GRACE_S);
        return;
    }
    if (s->idle_timeout_s < 0 || !s->vm->boot_marker_ns)
        return;
    if (sessions(s)) {
        s->idle_since_ns = 0;
        return;
    }
    if (!s->idle_since_ns)
        s->idle_since_ns = now;
    if (now - s->idle_since_ns >= (uint64_t)s->idle_timeout_s * 1000000000ull)
        request_guest_shutdown(s);
}

static void service_free(void *p)
{
    struct service *s = p;
    control_free(s->control);
    if (s->timer_fd >= 0)
        close(s->timer_fd);
    if (s->agent_fd >= 0)
        close(s->agent_fd);
    free(s->dir);
    free(s);
}

int service_create(struct vm *vm, const char *dir, int idle_timeout_s)
{
    struct service *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->vm = vm;
    s->timer_fd = s->agent_fd = -1;
    s->idle_timeout_s = idle_timeout_s;
    s->dir = strdup(dir);
    int r = s->dir ? vm_own_device(vm, s, service_free) : -ENOMEM;
    if (r < 0) {
        service_free(s);
        return r;
    }
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/" LSL_CONTROL_SOCKET, dir) >= (int)sizeof(path)) {
        log_error("--service directory path too long");
        return -ENAMETOOLONG;
    }
    if ((r = control_create(vm, s, path, &s->control)) < 0)
        return r;
    s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    struct itimerspec its = {.it_interval = {.tv_sec = TICK_S}, .it_value = {.tv_sec = TICK_S}};
    if (s->timer_fd < 0 || timerfd_settime(s->timer_fd, 0, &its, NULL) < 0)
        return log_errno(errno, "timerfd");
    if ((r = evloop_add(&vm->loop, s->timer_fd, EPOLLIN, on_tick, s)) < 0)
        return log_errno(-r, "epoll");
    return 0;
}
