/* The per-user service's control socket ($XDG_RUNTIME_DIR/lsl/control): the CLI sends one request line, the
 * service answers and closes. Requests are "VERB [ARGS]\n"; a reply's first line is "ok[ VALUE]" or
 * "error MESSAGE", and the replies to status and disks go on with "KEY VALUE" lines. Host-only: lsl and
 * lsl-vmm both build the requests and replies through this file, never from string literals of their own. */
#ifndef LSL_PROTO_CONTROL_H
#define LSL_PROTO_CONTROL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "agent.h" /* LSL_INTEROP_PORT */

/* In the status reply ("version N"): a CLI meeting a service of another version after an upgrade says so
 * instead of misreading it. */
#define LSL_CONTROL_VERSION 1

#define LSL_CONTROL_SOCKET "control" /* in the runtime directory, mode 0600 */
#define LSL_VSOCK_SOCKET   "vsock"   /* the VMM's hybrid-vsock socket, next to it */
/* Where the service listens for interop (agent.h's LSL_INTEROP_PORT): the VMM's vsock device takes a guest
 * connection to host port P to its socket's path + "_P". The CLI looks for it to know whether the VM has
 * interop (it has not with isolated=true). */
#define LSL_CTL_STR_(x)    #x
#define LSL_CTL_STR(x)     LSL_CTL_STR_(x)
#define LSL_INTEROP_SOCKET LSL_VSOCK_SOCKET "_" LSL_CTL_STR(LSL_INTEROP_PORT)
/* The longest idle timeout the service takes (lsl-vmm --idle-timeout S, S up to this either way; about 11.5
 * days): the CLI clamps ~/.lslconfig's vmIdleTimeout to it. */
#define LSL_IDLE_TIMEOUT_MAX_S 1000000
/* A request line, newline included: "attach ID PATH" with a path up to PATH_MAX. */
#define LSL_CONTROL_LINE_MAX (4096 + 64)

enum lsl_ctl_verb {
    LSL_CTL_STATUS,   /* -> ok, then the status keys below */
    LSL_CTL_SHUTDOWN, /* -> ok: the guest powers off the orderly way (or is stopped after a grace period) */
    LSL_CTL_CLOCK,    /* -> ok: the guest's clock is set to the host's now */
    LSL_CTL_ATTACH,   /* ID PATH -> "ok SLOT": the image at PATH (absolute) in a free disk slot, serial ID */
    LSL_CTL_DETACH,   /* ID -> ok */
    LSL_CTL_DISKS,    /* -> ok, then one "SLOT ID PATH" line per attached disk */
    LSL_CTL_BALLOON,  /* MIB -> ok: the guest hands MIB MiB to the balloon (0: takes it all back) */
};
/* The most a balloon request names (MiB, 16 TiB); the service clamps it to the guest's RAM. */
#define LSL_CTL_BALLOON_MAX_MIB (1u << 24)

struct lsl_ctl_request {
    enum lsl_ctl_verb verb;
    const char *id;   /* attach, detach: a disk id (lsl_disk_id_valid) */
    const char *path; /* attach: an absolute path without newlines (it may hold spaces) */
    uint32_t mib;     /* balloon: 0 to LSL_CTL_BALLOON_MAX_MIB, written in plain decimal */
};

/* Writes the request line (newline included) into buf. Returns its length, -EINVAL for arguments the verb
 * does not take or that break the line, or -ENAMETOOLONG. */
int lsl_ctl_format(const struct lsl_ctl_request *r, char *buf, size_t len);
/* Parses one request line (its newline already removed), in place: r's strings point into line. Returns 0,
 * or -EINVAL with *why saying what is wrong (unknown request, usage, invalid id, relative path). */
int lsl_ctl_parse(char *line, struct lsl_ctl_request *r, const char **why);

/* Reply lines, for the service. */
void lsl_ctl_reply_ok(FILE *out, const char *value_fmt, ...) __attribute__((format(printf, 2, 3)));
void lsl_ctl_reply_error(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Keys of the status reply. */
#define LSL_CTL_KEY_VERSION        "version"
#define LSL_CTL_KEY_STATE          "state" /* starting, running, stopping */
#define LSL_CTL_KEY_UPTIME_MS      "uptime_ms"
#define LSL_CTL_KEY_VCPUS          "vcpus"
#define LSL_CTL_KEY_MEMORY         "memory_bytes"
#define LSL_CTL_KEY_HOST_RSS       "host_rss_bytes"
#define LSL_CTL_KEY_SESSIONS       "sessions"
#define LSL_CTL_KEY_IDLE_TIMEOUT_S "idle_timeout_s" /* -1: never */
/* What keeps the VM from its idle stop: "never" (no idle timeout), "sessions" (open ones, or host clients of
 * a forwarded socket: the sessions key tells them apart), "processes" (that sessions left behind in a
 * distribution), "idle" (nothing: the stop comes in idle_stop_in_ms). */
#define LSL_CTL_KEY_IDLE_REASON  "idle_reason"
#define LSL_CTL_KEY_IDLE_STOP_IN "idle_stop_in_ms" /* -1: not counting down */
/* The guest's last count of the processes left running, "NAME=N:KEEP:WHAT ..." per running distribution
 * ("" when none runs), and how old it is (processes_age_ms; -1 without a count yet). KEEP is its [boot]
 * keepAlive when set (keep: it keeps the VM up whatever runs; never: what runs in it does not; "" unset);
 * WHAT names those processes, comma-separated (proto/activity.h: services or command names, "" for none). */
#define LSL_CTL_KEY_PROCESSES      "processes"
#define LSL_CTL_KEY_PROCESSES_AGE  "processes_age_ms"
#define LSL_CTL_KEY_PID            "pid"
#define LSL_CTL_KEY_DISK_SLOTS     "disk_slots"
#define LSL_CTL_KEY_DISKS_ATTACHED "disks_attached"
/* The forwarded guest ports, "PROTO/FAMILY/PORT/DISTRO/STATE ..." (tcp|udp, 4|6, the port, the distribution
 * or "-", listening|in-use|denied|error: the host socket, or why there is none); "" when none. */
#define LSL_CTL_KEY_FORWARDS "forwards"
/* Socket forwarding: "HOSTPATH|DISTRO|GUESTPATH|STATE ..." (DISTRO "-": any running one; blanks, '|', '%'
 * and newlines in paths written %XX; STATE listening, in-use, error or stopped: the VM is not up). */
#define LSL_CTL_KEY_SOCKETS "sockets"
/* Interop: how many host commands the guest has had run (lsl-host), -1 when the VM has none (isolated). */
#define LSL_CTL_KEY_INTEROP "interop_commands"
/* What the guest says of its memory (virtio-balloon statistics, bytes) and how old that is (-1: nothing yet;
 * a status request asks for fresh numbers when they are older than a second), what the VM has given back to
 * the host so far (free page reporting, bytes), and the host CPU time the VM used (ms, all threads). */
#define LSL_CTL_KEY_GUEST_TOTAL     "guest_total_bytes"
#define LSL_CTL_KEY_GUEST_AVAILABLE "guest_available_bytes"
#define LSL_CTL_KEY_GUEST_FREE      "guest_free_bytes"
#define LSL_CTL_KEY_GUEST_CACHE     "guest_cache_bytes"
#define LSL_CTL_KEY_GUEST_AGE       "guest_stats_age_ms"
#define LSL_CTL_KEY_GIVEN_BACK      "given_back_bytes"
#define LSL_CTL_KEY_CPU_MS          "cpu_time_ms"
/* The balloon: what the host asks the guest to hold in it (a sweep's pages aside; less what the guest took
 * back when it ran out) and what it holds (bytes, a sweep's included), and why: "request" (a balloon
 * request), "pressure" (the host ran short of memory), "sweep" (only memory the guest freed, taken at once
 * rather than at the guest's reporting pace: vmm/devices/balloon.c), "none". */
#define LSL_CTL_KEY_BALLOON_TARGET "balloon_target_bytes"
#define LSL_CTL_KEY_BALLOON_HELD   "balloon_bytes"
#define LSL_CTL_KEY_BALLOON_WHY    "balloon_reason"
/* One "KEY VALUE" line of a reply body. */
void lsl_ctl_put(FILE *out, const char *key, const char *value_fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A reply as the client reads it: parsed in place. */
struct lsl_ctl_reply {
    bool ok;
    const char *value; /* after "ok ", "" when none */
    const char *error; /* after "error " */
    const char *body;  /* the lines after the first, "" when none */
};
/* Returns 0, or -EPROTO when the first line is neither ok nor error (a service of another version). */
int lsl_ctl_reply_parse(char *text, struct lsl_ctl_reply *r);
/* The value of KEY in a reply body, copied into out (truncated to len). Returns true if the key is there. */
bool lsl_ctl_field(const char *body, const char *key, char *out, size_t len);
/* The same as a signed number; false if missing or not a number. */
bool lsl_ctl_field_i64(const char *body, const char *key, int64_t *v);

#endif
