/* The ACTIVITY_REPLY payload of proto/agent.h: what keeps each running distribution busy besides open
 * sessions, so that the host's idle stop spares a VM whose distributions still run something a session left
 * behind (`setsid -f`, `cmd &`), and `lsl --status` can say what. One encoder for the guest's agent, one
 * decoder for the service.
 *
 * Wire layout (little-endian), a named list (named_list.h) with tails: u32 count (<= LSL_ACTIVITY_MAX), then
 * count entries of
 *   u32 processes   bits 0-29: processes in the distribution's PID namespace other than its init and lsl's
 *                   own session processes (its agent's spare and the relays of open sessions, which the host
 *                   already counts as vsock connections; at most LSL_ACTIVITY_PROCESSES_MAX); bits 30-31: its
 *                   [boot] keepAlive (enum lsl_keep_alive; 3 is malformed)
 *   u8  name_len    1..LSL_DISTRO_NAME_MAX
 *   name_len bytes  the distribution's name (lsl_distro_name_valid)
 *   u8  what_len    0..LSL_ACTIVITY_WHAT_MAX
 *   what_len bytes  what those processes are: systemd units or command names, comma-separated, each byte
 *                   lsl_activity_what_char (the guest makes any other '_')
 * and nothing after the last entry. */
#ifndef LSL_PROTO_ACTIVITY_H
#define LSL_PROTO_ACTIVITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "distro.h"

/* At most one distribution per disk slot runs. */
#define LSL_ACTIVITY_MAX LSL_DISK_SLOTS_MAX

#define LSL_ACTIVITY_PROCESSES_MAX 0x3fffffffu

/* [boot] keepAlive (proto/distro.h LSL_DISTRO_KEY_KEEP_ALIVE). */
enum lsl_keep_alive {
    LSL_KEEP_AUTO = 0,   /* what runs in the distribution keeps the VM up */
    LSL_KEEP_ALWAYS = 1, /* the VM stays up while the distribution runs */
    LSL_KEEP_NEVER = 2,  /* nothing in it keeps the VM up (its sessions still do) */
};

#define LSL_ACTIVITY_WHAT_MAX 96

struct lsl_activity {
    char name[LSL_DISTRO_NAME_MAX + 1];
    uint32_t processes;                   /* capped at LSL_ACTIVITY_PROCESSES_MAX by the encoder */
    uint8_t keep;                         /* enum lsl_keep_alive */
    char what[LSL_ACTIVITY_WHAT_MAX + 1]; /* "docker.service,containerd.service", "sleep", "" */
};

/* The largest payload: every entry with the longest name and what. */
#define LSL_ACTIVITY_REPLY_MAX                                                                               \
    (4 + LSL_ACTIVITY_MAX * (4 + 1 + LSL_DISTRO_NAME_MAX + 1 + LSL_ACTIVITY_WHAT_MAX))

/* A byte a what may hold: letters, digits and . _ - @ + \ , (unit names, their escapes, the separator):
 * nothing the status line's own separators (space, '=', ':') or a terminal would read. */
bool lsl_activity_what_char(char c);

/* What the entry counts for the idle stop: its processes, at least 1 with LSL_KEEP_ALWAYS, 0 with
 * LSL_KEEP_NEVER. */
uint32_t lsl_activity_holding(const struct lsl_activity *a);

/* The encoded size of n entries, or 0 when they cannot be sent (n > LSL_ACTIVITY_MAX, an invalid name). */
size_t lsl_activity_size(const struct lsl_activity *a, size_t n);
/* Encodes n entries into out (cap bytes). Returns the encoded length, or 0 as lsl_activity_size does or
 * when it does not fit. */
size_t lsl_activity_encode(const struct lsl_activity *a, size_t n, uint8_t *out, size_t cap);
/* Decodes a received payload into out (room for LSL_ACTIVITY_MAX entries), *n the number of entries.
 * Returns 0, or -EPROTO for anything malformed (too many entries, a bad name, what or length, truncation,
 * trailing bytes). */
int lsl_activity_decode(const uint8_t *data, size_t len, struct lsl_activity out[LSL_ACTIVITY_MAX],
                        size_t *n);

#endif
