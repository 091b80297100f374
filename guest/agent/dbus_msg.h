/* The D-Bus wire format, as far as the agent speaks it to a distribution's system bus (logind.c): method
 * calls written, and the messages that come back cut out of the stream and read. The bus is the
 * distribution's, whose root may be anyone's: every length and offset read is checked against what arrived.
 * Both byte orders are read; calls are written in ours. */
#ifndef LSL_AGENT_DBUS_MSG_H
#define LSL_AGENT_DBUS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A message is refused beyond this (the specification allows 128 MiB; our replies are a few hundred bytes).
 */
#define DBUS_MSG_MAX (64u * 1024)

enum { DBUS_METHOD_CALL = 1, DBUS_METHOD_RETURN = 2, DBUS_ERROR = 3, DBUS_SIGNAL = 4 };

/* Where a message is written; len past cap marks an overflow, which dbus_call reports. */
struct dbus_buf {
    uint8_t *p;
    size_t len, cap;
};
void dbus_put_u32(struct dbus_buf *b, uint32_t v);
void dbus_put_bool(struct dbus_buf *b, bool v);
void dbus_put_str(struct dbus_buf *b, const char *s); /* "s" and "o" */
/* An empty "a(sv)": its length, and the padding to its (absent) first element. */
void dbus_put_empty_dict(struct dbus_buf *b);

/* A method call with body (signature sig, written with the dbus_put_* above into a buffer of its own) into
 * out: its length, or 0 if it does not fit. */
size_t dbus_call(uint8_t *out, size_t cap, uint32_t serial, const char *dest, const char *path,
                 const char *iface, const char *member, const char *sig, const struct dbus_buf *body);

/* A message read: its header's fields that matter here, and where its body is (inside the buffer given). */
struct dbus_msg {
    uint8_t type;
    bool big_endian;
    uint32_t serial, reply_serial, unix_fds;
    char signature[32]; /* "" without a body */
    char error[128];    /* an error's name */
    const uint8_t *body;
    uint32_t body_len;
};
/* The first message in buf[0..len): its length with *m filled; 0 while it is incomplete; -EBADMSG if it is
 * malformed, -EMSGSIZE if it is larger than DBUS_MSG_MAX (the stream cannot be followed past either). */
ssize_t dbus_msg_parse(const uint8_t *buf, size_t len, struct dbus_msg *m);

/* logind's answer to CreateSession ("soshusub"). */
struct logind_created {
    char id[64], runtime[128], seat[64];
    uint32_t fd_index, uid, vtnr;
    bool existing;
};
/* 0 with *c filled, or -EBADMSG when m is no such answer. */
int dbus_parse_create_session(const struct dbus_msg *m, struct logind_created *c);
/* An error's text (its body's first string), into out ("" if it has none). */
void dbus_error_text(const struct dbus_msg *m, char *out, size_t len);

#endif
