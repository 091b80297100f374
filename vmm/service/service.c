/* The service's life around the VM: the idle stop, the clock push after the host slept, and the requests of
 * the control socket. Both ways of stopping go the orderly way: the agent is asked to power off (lsl-init
 * then terminates every process, syncs and unmounts), and only if the guest has not powered off after
 * SHUTDOWN_GRACE_S does the VMM stop it by force. The idle stop first asks the guest what sessions left
 * running (idle.h decides; the question is an ACTIVITY errand on a connection of its own, read without
 * ever blocking the I/O thread). */
#include "service.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "../devices/balloon.h"
#include "../devices/blk_slots.h"
#include "../devices/vsock.h"
#include "activity.h"
#include "agent.h"
#include "control.h"
#include "frame.h"
#include "forward.h"
#include "io.h"
#include "log.h"
#include "macro.h"
#include "idle.h"
#include "interop.h"
#include "pressure.h"
#include "unix_socket.h"
#include "wake_handoff.h"
#include "../core/options.h"

#define SHUTDOWN_GRACE_S  15
#define TICK_S            1
#define FWD_BUSY_AFTER_NS (30ull * 1000000000ull)
/* The OK line, the agent's HELLO and an ACTIVITY_REPLY for every slot, with room to spare. */
#define PROBE_BUF 4096

/* The ACTIVITY question in flight (idle.h asks it). */
struct probe {
    int fd; /* -1: none */
    bool connected;
    bool answered;
    size_t len;
    uint8_t buf[PROBE_BUF];
};

struct service {
    struct vm *vm;
    char *dir;
    struct control *control;
    int timer_fd, agent_fd;
    int idle_timeout_s;
    uint64_t shutdown_at_ns; /* when the orderly shutdown was requested, 0 if not */
    char agent_reply[64];
    size_t agent_reply_len;
    uint32_t agent_errand; /* what agent_fd is for: LSL_SHUTDOWN or LSL_CLOCK */
    /* CLOCK_BOOTTIME - CLOCK_MONOTONIC at the last tick: grows while the host sleeps. */
    int64_t host_slept_ns;
    struct idle idle;
    struct probe probe;
    /* The guest's last answer, for --status. */
    struct lsl_activity activity[LSL_ACTIVITY_MAX];
    size_t nactivity;
    uint64_t activity_at; /* 0: none yet */
    struct fwd *fwd;      /* localhost forwarding */
    const char *waker;    /* lsl-wake, or NULL: at an idle stop the forwarded sockets go to it */
    const struct lsl_fwd_socks *sockets; /* socketForwarding (the options') */
    struct interop *interop;             /* the guest's host commands, NULL when off */
    uint64_t session_seen_ns;            /* the last tick that saw a session */
    /* The balloon: what balloon requests asked for (MiB) and what the host's shortage takes (pressure.h). */
    uint32_t balloon_request_mib;
    uint64_t balloon_pressure;
    uint64_t balloon_oom_seen; /* the device's oom_pages we have adopted */
};

static unsigned sessions(const struct service *s)
{
    /* The system agent's and every distribution's own agent's. */
    if (!s->vm->vsock)
        return 0;
    return vsock_connections_to(s->vm->vsock, LSL_AGENT_PORT, 1) +
           vsock_connections_to(s->vm->vsock, LSL_DISTRO_PORT_BASE, LSL_DISTRO_PORT_SLOTS);
}

static void probe_close(struct service *s);

static void agent_close(struct service *s)
{
    if (s->agent_fd < 0)
        return;
    evloop_del(&s->vm->loop, s->agent_fd);
    close(s->agent_fd);
    s->agent_fd = -1;
}

static void agent_ready(void *opaque, uint32_t events);

/* A connection to the system agent through the VMM's own vsock socket, never waiting (this thread serves
 * that socket): the fd, the guest's answer still to come, or -1. */
static int dial_agent(const struct service *s)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/" LSL_VSOCK_SOCKET, s->dir) >= (int)sizeof(path))
        return -1;
    int fd = hvsock_dial(path, LSL_AGENT_PORT);
    return fd < 0 ? -1 : fd;
}

/* Opens a session to lsl-init's agent for an errand (agent_ready sends it once the guest accepts). The
 * VMM's vsock device serves the socket connected to from this same thread, so the connect must not wait:
 * a full backlog is an errand not run now (a shutdown's grace timer still stops the VM; a clock waits for
 * the next session, which carries the host's time too). */
static void agent_errand(struct service *s, uint32_t what)
{
    agent_close(s); /* a clock resync still under way gives way */
    int fd = dial_agent(s);
    if (fd < 0)
        return;
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
    probe_close(s);
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
    uint8_t msg[2 * LSL_FRAME_HDR_SIZE + 4 + 8],
        payload[8]; /* HELLO(version), then CLOCK(ns) or the errand */
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

/* The question's own connection counts while it is open (the VMM stops counting a connection once its host
 * side has closed: vsock_connections_to), so it is taken off then. */
static unsigned sessions_besides_probe(const struct service *s)
{
    unsigned n = sessions(s);
    return s->probe.fd >= 0 && n ? n - 1 : n;
}

/* What holds the VM up as a session does, for the idle stop: sessions, and host clients of a forwarded
 * socket (a `docker build` from the host runs in dockerd, whose idle self does not count: activity_scan.c).
 */
static unsigned holders(const struct service *s)
{
    return sessions_besides_probe(s) + fwd_unix_relays(s->fwd);
}

static void probe_close(struct service *s)
{
    if (s->probe.fd < 0)
        return;
    evloop_del(&s->vm->loop, s->probe.fd);
    close(s->probe.fd);
    s->probe.fd = -1;
}

static void probe_ready(void *opaque, uint32_t events);
static void idle_act(struct service *s, enum idle_do what);

/* Asks the system agent what runs in the distributions: HELLO and ACTIVITY once the guest accepts (see
 * probe_ready). Like agent_errand, the connect never waits; a failed one is a question without an answer. */
static void probe_start(struct service *s)
{
    probe_close(s);
    s->probe.connected = s->probe.answered = false;
    s->probe.len = 0;
    int fd = dial_agent(s);
    if (fd < 0)
        return;
    if (evloop_add(&s->vm->loop, fd, EPOLLIN, probe_ready, s) < 0) {
        close(fd);
        return;
    }
    s->probe.fd = fd;
}

/* The reply frames in the buffer: the agent's HELLO, then ACTIVITY_REPLY (kept), or ERROR (an agent that does
 * not know the question). Returns false for anything that breaks the protocol. */
static bool probe_frames(struct service *s)
{
    struct probe *pr = &s->probe;
    size_t pos = 0;
    bool ok = true;
    while (ok && pr->len - pos >= LSL_FRAME_HDR_SIZE) {
        uint32_t type = lsl_get_u32(pr->buf + pos), len = lsl_get_u32(pr->buf + pos + 4);
        if (len > sizeof(pr->buf) - LSL_FRAME_HDR_SIZE) {
            ok = false;
            break;
        }
        if (pr->len - pos - LSL_FRAME_HDR_SIZE < len)
            break; /* the rest comes later */
        const uint8_t *data = pr->buf + pos + LSL_FRAME_HDR_SIZE;
        if (type == LSL_ACTIVITY_REPLY && !pr->answered) {
            /* Decoded aside: a malformed answer must not wipe the last good one --status shows. */
            struct lsl_activity got[LSL_ACTIVITY_MAX];
            size_t n;
            ok = lsl_activity_decode(data, len, got, &n) == 0;
            if (ok) {
                memcpy(s->activity, got, n * sizeof(got[0]));
                s->nactivity = n;
            }
            pr->answered = ok;
        } else if (type != LSL_HELLO) {
            ok = false; /* ERROR, or anything else: no answer */
        }
        pos += LSL_FRAME_HDR_SIZE + len;
    }
    memmove(pr->buf, pr->buf + pos, pr->len - pos);
    pr->len -= pos;
    return ok;
}

/* The question is over: the guest answered and closed its side (it lingers until we close ours, so the VMM
 * still counts the connection, which is taken off), closed without an answer (refused, or gone: nothing is
 * taken off, so a session is never missed), broke the protocol, or the deadline passed. */
static void probe_done(struct service *s, bool eof)
{
    unsigned n =
        (eof && !s->probe.answered ? sessions(s) : sessions_besides_probe(s)) + fwd_unix_relays(s->fwd);
    bool ok = s->probe.answered;
    uint64_t now = now_ns(), total = 0;
    probe_close(s);
    if (ok) {
        s->activity_at = now;
        for (size_t i = 0; i < s->nactivity; i++)
            total += lsl_activity_holding(&s->activity[i]);
    }
    log_debug("activity: %s, %" PRIu64 " processes left running, %u sessions", ok ? "answered" : "no answer",
              total, n);
    idle_act(s, idle_answer(&s->idle, now, n, ok, total));
}

static void probe_ready(void *opaque, uint32_t events)
{
    struct service *s = opaque;
    struct probe *pr = &s->probe;
    (void)events;
    for (;;) {
        if (pr->len == sizeof(pr->buf)) {
            probe_done(s, false); /* more than any answer holds */
            return;
        }
        ssize_t r = read(pr->fd, pr->buf + pr->len, sizeof(pr->buf) - pr->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN)
            return;
        if (r <= 0) {
            probe_done(s, true); /* the end, or a reset: the connection is gone or going */
            return;
        }
        pr->len += (size_t)r;
        if (!pr->connected) {
            uint8_t *nl = memchr(pr->buf, '\n', pr->len);
            if (!nl)
                continue;
            if (pr->len < 3 || memcmp(pr->buf, "OK ", 3) != 0) {
                probe_done(s, false);
                return;
            }
            size_t line = (size_t)(nl - pr->buf) + 1;
            memmove(pr->buf, pr->buf + line, pr->len - line);
            pr->len -= line;
            pr->connected = true;
            uint8_t msg[2 * LSL_FRAME_HDR_SIZE + 4], version[4];
            lsl_put_u32(version, LSL_AGENT_VERSION);
            size_t len = lsl_frame_encode(msg, sizeof(msg), LSL_HELLO, version, 4);
            len += lsl_frame_encode(msg + len, sizeof(msg) - len, LSL_ACTIVITY, NULL, 0);
            /* A fresh connection's buffer takes the two short frames at once. */
            if (send(pr->fd, msg, len, MSG_NOSIGNAL) != (ssize_t)len) {
                probe_done(s, false);
                return;
            }
        }
        if (!probe_frames(s)) {
            probe_done(s, false);
            return;
        }
    }
}

/* At an idle stop the forwarded sockets stay, held by lsl-wake, and their next client starts the VM (and the
 * distributions that ran now) again: proto/wake.h. Without lsl-wake they go with the VM. */
static void hand_to_waker(struct service *s)
{
    int fds[LSL_FWD_SOCKS_MAX];
    const char *resume[LSL_ACTIVITY_MAX];
    size_t n = fwd_socks_listeners(s->fwd, fds, LSL_FWD_SOCKS_MAX), nresume = 0;
    if (!s->waker || !n)
        return;
    for (size_t i = 0; s->activity_at && i < s->nactivity; i++)
        resume[nresume++] = s->activity[i].name;
    /* A socket of a named distribution starts that one too (the guest's answer may predate its start). */
    for (size_t i = 0; i < s->sockets->n && nresume < LSL_ACTIVITY_MAX; i++) {
        const char *name = s->sockets->s[i].guest.distro;
        bool have = !name[0];
        for (size_t j = 0; j < nresume && !have; j++)
            have = strcmp(resume[j], name) == 0;
        if (!have)
            resume[nresume++] = name;
    }
    if (wake_handoff(s->dir, s->waker, fds, n, resume, nresume) == 0)
        fwd_socks_forget(s->fwd);
}

static void idle_act(struct service *s, enum idle_do what)
{
    if (what == IDLE_ASK) {
        probe_start(s);
    } else if (what == IDLE_STOP) {
        log_info("idle for %d s: no session, nothing left running in a distribution; stopping the VM",
                 s->idle_timeout_s);
        request_guest_shutdown(s);
        hand_to_waker(s);
    }
}

static const char *const reason_names[] = {
    [IDLE_REASON_NEVER] = "never",
    [IDLE_REASON_SESSIONS] = "sessions",
    [IDLE_REASON_PROCESSES] = "processes",
    [IDLE_REASON_COUNTING] = "idle",
};

static void status_activity(struct service *s, FILE *out, unsigned n)
{
    uint64_t now = now_ns();
    lsl_ctl_put(out, LSL_CTL_KEY_IDLE_REASON, "%s", reason_names[idle_reason(&s->idle, n)]);
    lsl_ctl_put(out, LSL_CTL_KEY_IDLE_STOP_IN, "%" PRId64, idle_left_ms(&s->idle, now, n));
    fputs(LSL_CTL_KEY_PROCESSES " ", out);
    /* NAME=PROCESSES:KEEP:WHAT (proto/control.h); what is made of lsl_activity_what_char bytes. */
    for (size_t i = 0; s->activity_at && i < s->nactivity; i++)
        fprintf(out, "%s%s=%" PRIu32 ":%s:%s", i ? " " : "", s->activity[i].name, s->activity[i].processes,
                s->activity[i].keep == LSL_KEEP_ALWAYS  ? "keep"
                : s->activity[i].keep == LSL_KEEP_NEVER ? "never"
                                                        : "",
                s->activity[i].what);
    fputc('\n', out);
    lsl_ctl_put(out, LSL_CTL_KEY_PROCESSES_AGE, "%" PRId64,
                s->activity_at ? (int64_t)((now - s->activity_at) / 1000000) : (int64_t)-1);
    /* A fresh count for the next --status (the CLI asks again for a moment): one question, not polling. */
    if (!s->shutdown_at_ns && s->vm->boot_marker_ns && s->probe.fd < 0 && !s->idle.asked &&
        (!s->activity_at || now - s->activity_at >= IDLE_RECHECK_NS)) {
        probe_start(s);
        if (s->probe.fd >= 0)
            idle_asked(&s->idle, now);
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

/* The CPU time of our threads. getrusage misses time in guest mode where the host counts it by ticks
 * (nested under TCG: vCPU threads at 50 % show ~0); the scheduler's runtime of each live thread does not. */
static uint64_t cpu_time_ms(void)
{
    uint64_t ns = 0, t;
    struct rusage ru;
    DIR *d = opendir("/proc/self/task");
    for (struct dirent *e; d && (e = readdir(d));) {
        char path[64];
        FILE *f;
        snprintf(path, sizeof(path), "/proc/self/task/%.16s/schedstat", e->d_name);
        if (e->d_name[0] != '.' && (f = fopen(path, "re"))) {
            if (fscanf(f, "%" SCNu64, &t) == 1)
                ns += t;
            fclose(f);
        }
    }
    if (d)
        closedir(d);
    uint64_t ms = ns / 1000000; /* threads that ended are only in getrusage's numbers */
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        ms = MAX(ms, (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
                         (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000);
    return ms;
}

/* The guest's memory as its balloon driver last told it, asking for fresh numbers when they are old (they
 * come within milliseconds: the next status request has them), what free page reporting gave back, what the
 * balloon holds and why, and
 * the CPU time of every thread of ours (vCPUs included). */
static void status_memory(const struct service *s, FILE *out)
{
    const struct vm *vm = s->vm;
    struct balloon_info b;
    balloon_info(vm->balloon, &b);
    if (!b.stats_valid || b.stats_age_ns > 1000000000ull)
        balloon_request_stats(vm->balloon);
    if (b.stats_valid) {
        lsl_ctl_put(out, LSL_CTL_KEY_GUEST_TOTAL, "%" PRIu64, b.mem_total);
        lsl_ctl_put(out, LSL_CTL_KEY_GUEST_AVAILABLE, "%" PRIu64, b.mem_available);
        lsl_ctl_put(out, LSL_CTL_KEY_GUEST_FREE, "%" PRIu64, b.mem_free);
        lsl_ctl_put(out, LSL_CTL_KEY_GUEST_CACHE, "%" PRIu64, b.disk_caches);
    }
    lsl_ctl_put(out, LSL_CTL_KEY_GUEST_AGE, "%lld",
                b.stats_valid ? (long long)(b.stats_age_ns / 1000000) : -1LL);
    lsl_ctl_put(out, LSL_CTL_KEY_GIVEN_BACK, "%" PRIu64, b.reported_bytes + b.inflated_pages * 4096);
    lsl_ctl_put(out, LSL_CTL_KEY_BALLOON_TARGET, "%" PRIu64, (uint64_t)b.base_pages * 4096);
    lsl_ctl_put(out, LSL_CTL_KEY_BALLOON_HELD, "%" PRIu64, (uint64_t)b.actual_pages * 4096);
    lsl_ctl_put(out, LSL_CTL_KEY_BALLOON_WHY, "%s",
                s->balloon_pressure > ((uint64_t)s->balloon_request_mib << 20) ? "pressure"
                : s->balloon_request_mib                                       ? "request"
                : b.sweep_pages                                                ? "sweep"
                                                                               : "none");
    lsl_ctl_put(out, LSL_CTL_KEY_CPU_MS, "%" PRIu64, cpu_time_ms());
}

/* The balloon's target: the larger of what was asked and what the host's shortage takes. */
static void balloon_apply(struct service *s)
{
    uint64_t bytes = MAX((uint64_t)s->balloon_request_mib << 20, s->balloon_pressure);
    balloon_set_target(s->vm->balloon, (uint32_t)MIN(bytes / 4096, UINT32_MAX));
}

/* The host's MemTotal and MemAvailable (bytes); false if unreadable. */
static bool host_memory(uint64_t *total, uint64_t *available)
{
    char line[128];
    unsigned long long kib;
    int found = 0;
    FILE *f = fopen("/proc/meminfo", "re");
    while (f && found < 2 && fgets(line, sizeof(line), f)) {
        if (sscanf(line, "MemTotal: %llu kB", &kib) == 1 && ++found)
            *total = (uint64_t)kib << 10;
        else if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1 && ++found)
            *available = (uint64_t)kib << 10;
    }
    if (f)
        fclose(f);
    return found == 2;
}

/* Each tick: what the guest took back when it ran out is its own, and the host short of memory takes guest
 * memory through the balloon (pressure.h). */
static void pressure_tick(struct service *s)
{
    struct balloon_info b;
    balloon_info(s->vm->balloon, &b);
    if (b.oom_pages != s->balloon_oom_seen) {
        /* The guest ran out and took pages back (balloon.c): what we wish for is no more than it left us. */
        uint64_t left = (uint64_t)b.base_pages * 4096;
        log_info("the guest needed %" PRIu64 " MiB of the balloon back: it holds %" PRIu64 " MiB now",
                 ((b.oom_pages - s->balloon_oom_seen) * 4096) >> 20, left >> 20);
        s->balloon_oom_seen = b.oom_pages;
        s->balloon_request_mib = (uint32_t)MIN((uint64_t)s->balloon_request_mib, left >> 20);
        s->balloon_pressure = MIN(s->balloon_pressure, left);
    }
    struct pressure_in in = {.target = s->balloon_pressure};
    if (!host_memory(&in.host_total, &in.host_available))
        return;
    in.guest_known = b.stats_valid && b.stats_age_ns < 3000000000ull;
    in.guest_total = b.mem_total;
    in.guest_available = b.mem_available;
    uint64_t next = pressure_target(&in);
    if (in.host_available < in.host_total / 1000 * PRESSURE_LOW_PERMILLE && b.stats_age_ns >= 1000000000ull)
        balloon_request_stats(s->vm->balloon); /* fresh numbers for the next step */
    if (next == s->balloon_pressure)
        return;
    if (!s->balloon_pressure || !next)
        log_info("the host %s: the balloon %s", next ? "is short of memory" : "has memory again",
                 next ? "takes guest memory, a step a second" : "gives the guest its memory back");
    s->balloon_pressure = next;
    balloon_apply(s);
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
    status_memory(s, out);
    unsigned n = sessions_besides_probe(s);
    lsl_ctl_put(out, LSL_CTL_KEY_SESSIONS, "%u", n);
    lsl_ctl_put(out, LSL_CTL_KEY_IDLE_TIMEOUT_S, "%d", s->idle_timeout_s);
    lsl_ctl_put(out, LSL_CTL_KEY_PID, "%d", (int)getpid());
    lsl_ctl_put(out, LSL_CTL_KEY_DISK_SLOTS, "%u", vm->disk_slots ? vm->disk_slots->n : 0);
    lsl_ctl_put(out, LSL_CTL_KEY_DISKS_ATTACHED, "%u",
                vm->disk_slots ? blk_slots_attached(vm->disk_slots) : 0);
    fwd_status(s->fwd, out);
    fwd_socks_check(s->fwd); /* "checking" now, the answer for the CLI's next ask (it asks again) */
    fwd_socks_status(s->fwd, out);
    lsl_ctl_put(out, LSL_CTL_KEY_INTEROP, "%lld", s->interop ? (long long)interop_served(s->interop) : -1LL);
    /* Last: the list of distributions is the one long line, and short readers only want the keys above. */
    status_activity(s, out, holders(s));
}

/* One parsed request of the control socket (control.c), its whole reply written to out. */
static void serve_request(void *opaque, const struct lsl_ctl_request *r, FILE *out)
{
    struct service *s = opaque;
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
    case LSL_CTL_BALLOON:
        s->balloon_request_mib = r->mib;
        balloon_apply(s);
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
    /* Forwarding scans fast while sessions are open and a while after (a server they started may still be
     * coming up); the guest's agent speeds it up by itself when a command starts. */
    unsigned open_sessions = sessions_besides_probe(s);
    if (open_sessions)
        s->session_seen_ns = now;
    fwd_tick(s->fwd, now, s->vm->boot_marker_ns && !s->shutdown_at_ns,
             open_sessions || (s->session_seen_ns && now - s->session_seen_ns < FWD_BUSY_AFTER_NS));
    if (s->shutdown_at_ns) {
        if (now - s->shutdown_at_ns > SHUTDOWN_GRACE_S * 1000000000ull)
            vm_request_stop(s->vm, VM_STOP_POWEROFF, "the guest did not power off within %d s; stopped it",
                            SHUTDOWN_GRACE_S);
        return;
    }
    if (!s->vm->boot_marker_ns)
        return;
    pressure_tick(s);
    /* A question whose connection the guest keeps open past its deadline: what it answered counts. */
    if (s->probe.fd >= 0 && s->idle.asked && now - s->idle.asked >= IDLE_ANSWER_NS) {
        probe_done(s, false);
        if (s->shutdown_at_ns)
            return;
    }
    idle_act(s, idle_tick(&s->idle, now, holders(s)));
}

static void service_free(void *p)
{
    struct service *s = p;
    control_free(s->control);
    fwd_free(s->fwd);
    interop_free(s->interop);
    if (s->timer_fd >= 0)
        close(s->timer_fd);
    if (s->agent_fd >= 0)
        close(s->agent_fd);
    if (s->probe.fd >= 0)
        close(s->probe.fd);
    free(s->dir);
    free(s);
}

int service_create(struct vm *vm, const struct vmm_options *o)
{
    const char *dir = o->service;
    int idle_timeout_s = o->idle_timeout;
    struct service *s = calloc(1, sizeof(*s));
    if (!s)
        return log_errno(ENOMEM, "service");
    s->vm = vm;
    s->waker = o->waker;
    s->sockets = &o->sockets;
    s->timer_fd = s->agent_fd = s->probe.fd = -1;
    s->idle_timeout_s = idle_timeout_s;
    idle_init(&s->idle, idle_timeout_s);
    s->dir = strdup(dir);
    int r = s->dir ? vm_own_device(vm, s, service_free) : log_errno(ENOMEM, "service");
    if (r < 0) {
        service_free(s);
        return r;
    }
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/" LSL_CONTROL_SOCKET, dir) >= (int)sizeof(path)) {
        log_error("--service directory path too long");
        return -ENAMETOOLONG;
    }
    if ((r = control_create(&vm->loop, path, serve_request, s, &s->control)) < 0)
        return r;
    if (snprintf(path, sizeof(path), "%s/" LSL_VSOCK_SOCKET, dir) >= (int)sizeof(path))
        return -ENAMETOOLONG;
    if ((r = fwd_create(&vm->loop, path, &o->forward, &o->sockets, o->socket_fds, o->nsocket_fds, &s->fwd)) <
        0)
        return r;
    if (o->interop && (r = interop_create(&vm->loop, dir, o->interop, &s->interop)) < 0)
        return r;
    s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    struct itimerspec its = {.it_interval = {.tv_sec = TICK_S}, .it_value = {.tv_sec = TICK_S}};
    if (s->timer_fd < 0 || timerfd_settime(s->timer_fd, 0, &its, NULL) < 0)
        return log_errno(errno, "timerfd");
    if ((r = evloop_add(&vm->loop, s->timer_fd, EPOLLIN, on_tick, s)) < 0)
        return log_errno(-r, "epoll");
    return 0;
}
