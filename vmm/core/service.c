/* The service's control socket and idle shutdown. Both stop the guest the orderly way: the agent is asked to
 * power off (lsl-init then terminates every process, syncs and unmounts), and only if the guest has not
 * powered off after SHUTDOWN_GRACE_S does the VMM stop it by force. */
#include "service.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../../proto/agent.h"
#include "../devices/blk_slots.h"
#include "../devices/vsock.h"
#include "../util/unix_socket.h"
#include "../util/util.h"

#define SHUTDOWN_GRACE_S 15
#define TICK_S           1
#define REQUEST_MAX      (4096 + 64) /* "attach ID PATH" with a path up to PATH_MAX */

struct service {
    struct vm *vm;
    char *dir;
    int listen_fd, timer_fd, agent_fd;
    int idle_timeout_s;
    uint64_t idle_since_ns;  /* 0 while sessions are open */
    uint64_t shutdown_at_ns; /* when the orderly shutdown was requested, 0 if not */
    char agent_reply[64];
    size_t agent_reply_len;
    uint32_t agent_errand; /* what agent_fd is for: LSL_SHUTDOWN or LSL_CLOCK */
    int64_t
        host_slept_ns; /* CLOCK_BOOTTIME - CLOCK_MONOTONIC at the last tick: grows while the host sleeps */
};

static unsigned sessions(const struct service *s)
{
    /* The system agent's and every distribution's own agent's. */
    if (!s->vm->vsock)
        return 0;
    return vsock_connections_to(s->vm->vsock, LSL_AGENT_PORT, 1) +
           vsock_connections_to(s->vm->vsock, LSL_DISTRO_PORT_BASE, LSL_DISTRO_PORT_SLOTS);
}

static void agent_ready(void *opaque, uint32_t events);

static void agent_close(struct service *s);

/* Opens a session to lsl-init's agent for an errand (agent_ready sends it once the guest accepts). */
static void agent_errand(struct service *s, uint32_t what)
{
    agent_close(s); /* a clock resync still under way gives way */
    char path[4096];
    snprintf(path, sizeof(path), "%s/vsock", s->dir);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || strlen(path) >= sizeof(sa.sun_path)) {
        if (fd >= 0)
            close(fd);
        return; /* a shutdown's grace timer stops the VM; a clock waits for the next session */
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    char line[32];
    int n = snprintf(line, sizeof(line), "CONNECT %u\n", LSL_AGENT_PORT);
    /* The vsock device serves this socket from this same thread: connect() and a short write complete
     * without it, the reply arrives through the event loop. */
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || send(fd, line, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
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

static void agent_close(struct service *s)
{
    if (s->agent_fd < 0)
        return;
    evloop_del(&s->vm->loop, s->agent_fd);
    close(s->agent_fd);
    s->agent_fd = -1;
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
    struct {
        struct lsl_frame_hdr h1;
        uint32_t version;
        struct lsl_frame_hdr h2;
        uint64_t clock;
    } __attribute__((packed)) msg = {{htole32(LSL_HELLO), htole32(4)}, htole32(LSL_AGENT_VERSION), {0, 0}, 0};
    size_t len = sizeof(msg) - sizeof(msg.clock);
    msg.h2.type = htole32(s->agent_errand);
    if (s->agent_errand == LSL_CLOCK) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        msg.h2.len = htole32(sizeof(msg.clock));
        msg.clock = htole64((uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec);
        len = sizeof(msg);
    }
    if (send(s->agent_fd, &msg, len, MSG_NOSIGNAL) != (ssize_t)len) {
        agent_close(s);
        return;
    }
    if (s->agent_errand == LSL_CLOCK)
        shutdown(s->agent_fd, SHUT_WR);          /* the end of a clock-only session */
    s->agent_reply_len = sizeof(s->agent_reply); /* done: drain until the guest goes away */
}

static void reply(int fd, const char *text)
{
    size_t len = strlen(text);
    while (len) {
        ssize_t w = send(fd, text, len, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        text += w;
        len -= (size_t)w;
    }
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

/* Disk slot requests (attach, detach, disks); false if req is not one. */
static bool disk_request(struct service *s, int fd, const char *req)
{
    static struct blk_slots none; /* without --disk-slots the requests still get their error or empty reply */
    struct blk_slots *slots = s->vm->disk_slots ? s->vm->disk_slots : &none;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out) {
        reply(fd, "error out of memory\n");
        return true;
    }
    bool handled = blk_slots_request(slots, req, out);
    if (fclose(out) == 0 && handled)
        reply(fd, text);
    else if (handled)
        reply(fd, "error out of memory\n");
    free(text);
    return handled;
}

static void handle_request(struct service *s, int fd, const char *req)
{
    char buf[512];
    if (strcmp(req, SERVICE_REQ_STATUS) == 0) {
        const struct vm *vm = s->vm;
        snprintf(buf, sizeof(buf),
                 "state %s\nuptime_ms %" PRIu64 "\nvcpus %u\nmemory_bytes %" PRIu64
                 "\nhost_rss_bytes %" PRIu64
                 "\nsessions %u\nidle_timeout_s %d\npid %d\ndisk_slots %u\ndisks_attached %u\n",
                 s->shutdown_at_ns ? "stopping" : (vm->boot_marker_ns ? "running" : "starting"),
                 (now_ns() - vm->start_ns) / 1000000, vm->ncpus, vm->mem.total, host_rss_bytes(), sessions(s),
                 s->idle_timeout_s, (int)getpid(), vm->disk_slots ? vm->disk_slots->n : 0,
                 vm->disk_slots ? blk_slots_attached(vm->disk_slots) : 0);
        reply(fd, buf);
    } else if (strcmp(req, SERVICE_REQ_SHUTDOWN) == 0) {
        request_guest_shutdown(s);
        reply(fd, "ok\n");
    } else if (strcmp(req, SERVICE_REQ_CLOCK) == 0) {
        push_guest_clock(s);
        reply(fd, "ok\n");
    } else if (!disk_request(s, fd, req)) {
        reply(fd, "error unknown request\n");
    }
}

/* Reads one request line. The loop thread waits for it, so a client gets 1 s in all to send it. */
static bool read_request(int fd, char *req, size_t size)
{
    uint64_t deadline = now_ns() + 1000000000ull;
    size_t n = 0;
    while (n < size - 1) {
        uint64_t now = now_ns();
        if (now >= deadline)
            break;
        uint64_t left_us = (deadline - now) / 1000 + 1;
        struct timeval tv = {.tv_sec = (time_t)(left_us / 1000000),
                             .tv_usec = (suseconds_t)(left_us % 1000000)};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        ssize_t r = read(fd, req + n, size - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break; /* EOF ends the line too; at the deadline what came is the request, as before */
        req[n + (size_t)r] = '\0';
        bool line_done = strpbrk(req + n, "\r\n") != NULL;
        n += (size_t)r;
        if (line_done)
            break;
    }
    req[n] = '\0';
    if (n == size - 1 && !strpbrk(req, "\r\n")) {
        reply(fd, "error request too long\n");
        return false;
    }
    req[strcspn(req, "\r\n")] = '\0';
    return n > 0;
}

/* Control clients send one line; a client that does not is dropped rather than waited for. */
static void on_control(void *opaque, uint32_t events)
{
    struct service *s = opaque;
    (void)events;
    for (;;) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            return;
        char req[REQUEST_MAX];
        if (read_request(fd, req, sizeof(req)))
            handle_request(s, fd, req);
        close(fd);
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
    if (s->listen_fd >= 0) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/control", s->dir);
        unlink(path);
        close(s->listen_fd);
    }
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
    s->listen_fd = s->timer_fd = s->agent_fd = -1;
    s->idle_timeout_s = idle_timeout_s;
    s->dir = strdup(dir);
    int r = s->dir ? vm_own_device(vm, s, service_free) : -ENOMEM;
    if (r < 0) {
        service_free(s);
        return r;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/control", dir);
    s->listen_fd = unix_listen(path, 64);
    if (s->listen_fd < 0)
        return log_errno(-s->listen_fd, "cannot listen on %s", path);
    s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    struct itimerspec its = {.it_interval = {.tv_sec = TICK_S}, .it_value = {.tv_sec = TICK_S}};
    if (s->timer_fd < 0 || timerfd_settime(s->timer_fd, 0, &its, NULL) < 0)
        return log_errno(errno, "timerfd");
    if ((r = evloop_add(&vm->loop, s->listen_fd, EPOLLIN, on_control, s)) < 0 ||
        (r = evloop_add(&vm->loop, s->timer_fd, EPOLLIN, on_tick, s)) < 0)
        return log_errno(-r, "epoll");
    return 0;
}
