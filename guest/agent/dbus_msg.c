/* See dbus_msg.h. Offsets are the message's (the body starts 8-aligned, so its own offsets align alike). */
#include "dbus_msg.h"

#include <errno.h>
#include <string.h>

static void put(struct dbus_buf *b, const void *src, size_t n)
{
    if (b->len <= b->cap && n <= b->cap - b->len)
        memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void pad(struct dbus_buf *b, size_t align)
{
    static const uint8_t zero[8];
    put(b, zero, (align - b->len % align) % align);
}

static void put_u8(struct dbus_buf *b, uint8_t v)
{
    put(b, &v, 1);
}

void dbus_put_u32(struct dbus_buf *b, uint32_t v)
{
    uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    pad(b, 4);
    put(b, le, 4);
}

void dbus_put_bool(struct dbus_buf *b, bool v)
{
    dbus_put_u32(b, v);
}

void dbus_put_str(struct dbus_buf *b, const char *s)
{
    dbus_put_u32(b, (uint32_t)strlen(s));
    put(b, s, strlen(s) + 1);
}

static void put_sig(struct dbus_buf *b, const char *s)
{
    put_u8(b, (uint8_t)strlen(s));
    put(b, s, strlen(s) + 1);
}

void dbus_put_empty_dict(struct dbus_buf *b)
{
    dbus_put_u32(b, 0);
    pad(b, 8);
}

/* A header field: its code, then a variant of the one-letter type t. */
static void put_field(struct dbus_buf *b, uint8_t code, char t, const char *v)
{
    char sig[2] = {t, '\0'};
    pad(b, 8);
    put_u8(b, code);
    put_sig(b, sig);
    if (t == 'g')
        put_sig(b, v);
    else
        dbus_put_str(b, v);
}

size_t dbus_call(uint8_t *out, size_t cap, uint32_t serial, const char *dest, const char *path,
                 const char *iface, const char *member, const char *sig, const struct dbus_buf *body)
{
    struct dbus_buf b = {.p = out, .cap = cap};
    size_t body_len = body ? body->len : 0;
    if (body && body->len > body->cap)
        return 0;
    put(&b, (const uint8_t[]){'l', DBUS_METHOD_CALL, 0, 1}, 4);
    dbus_put_u32(&b, (uint32_t)body_len);
    dbus_put_u32(&b, serial);
    dbus_put_u32(&b, 0); /* the fields' length, filled in below */
    put_field(&b, 1, 'o', path);
    if (iface)
        put_field(&b, 2, 's', iface);
    put_field(&b, 3, 's', member);
    if (dest)
        put_field(&b, 6, 's', dest);
    if (sig && sig[0])
        put_field(&b, 8, 'g', sig);
    size_t fields = b.len - 16;
    pad(&b, 8);
    if (body)
        put(&b, body->p, body->len);
    if (b.len > cap)
        return 0;
    struct dbus_buf at = {.p = out + 12, .cap = 4};
    dbus_put_u32(&at, (uint32_t)fields);
    return b.len;
}

/* Reading: a failed step marks the reader bad, and every later step fails too. */
struct rd {
    const uint8_t *p;
    size_t len, pos;
    bool be, bad;
};

static bool rd_align(struct rd *r, size_t align)
{
    size_t n = (align - r->pos % align) % align;
    if (r->bad || n > r->len - r->pos)
        return !(r->bad = true);
    r->pos += n;
    return true;
}

static uint32_t get_u32(const uint8_t *p, bool be)
{
    return be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
              : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint32_t rd_u32(struct rd *r)
{
    if (!rd_align(r, 4) || r->len - r->pos < 4)
        return r->bad = true, 0;
    r->pos += 4;
    return get_u32(r->p + r->pos - 4, r->be);
}

static uint8_t rd_u8(struct rd *r)
{
    if (r->bad || r->pos >= r->len)
        return r->bad = true, 0;
    return r->p[r->pos++];
}

/* n bytes and their terminating NUL at the reader's position, with no NUL inside; copied into out (when
 * given): whole, or cut at outlen - 1 when cut is true, else the reader goes bad. */
static void rd_text(struct rd *r, size_t n, char *out, size_t outlen, bool cut)
{
    if (r->bad || n >= r->len - r->pos || r->p[r->pos + n] != '\0' || memchr(r->p + r->pos, '\0', n)) {
        r->bad = true;
        return;
    }
    if (out) {
        if (n >= outlen && !cut) {
            r->bad = true;
            return;
        }
        size_t k = n < outlen ? n : outlen - 1;
        memcpy(out, r->p + r->pos, k);
        out[k] = '\0';
    }
    r->pos += n + 1;
}

static void rd_str(struct rd *r, char *out, size_t outlen, bool cut)
{
    uint32_t n = rd_u32(r);
    rd_text(r, n, out, outlen, cut);
}

static void rd_sig(struct rd *r, char *out, size_t outlen)
{
    uint8_t n = rd_u8(r);
    rd_text(r, n, out, outlen, false);
}

ssize_t dbus_msg_parse(const uint8_t *buf, size_t len, struct dbus_msg *m)
{
    if (len < 16)
        return 0;
    bool be = buf[0] == 'B';
    if ((buf[0] != 'l' && !be) || buf[3] != 1)
        return -EBADMSG;
    uint32_t body_len = get_u32(buf + 4, be), fields_len = get_u32(buf + 12, be);
    if (body_len > DBUS_MSG_MAX || fields_len > DBUS_MSG_MAX)
        return -EMSGSIZE;
    size_t fields_end = 16 + (size_t)fields_len, body = (fields_end + 7) & ~(size_t)7,
           total = body + body_len;
    if (total > DBUS_MSG_MAX)
        return -EMSGSIZE;
    if (len < total)
        return 0;
    *m = (struct dbus_msg){.type = buf[1], .big_endian = be, .serial = get_u32(buf + 8, be)};
    struct rd r = {.p = buf, .len = fields_end, .pos = 16, .be = be};
    while (r.pos < fields_end && !r.bad) {
        char sig[4];
        rd_align(&r, 8);
        uint8_t code = rd_u8(&r);
        rd_sig(&r, sig, sizeof(sig));
        if (r.bad || strlen(sig) != 1)
            return -EBADMSG;
        switch (sig[0]) {
        case 'u': {
            uint32_t v = rd_u32(&r);
            if (code == 5)
                m->reply_serial = v;
            else if (code == 9)
                m->unix_fds = v;
            break;
        }
        case 's':
        case 'o':
            if (code == 4)
                rd_str(&r, m->error, sizeof(m->error), true);
            else
                rd_str(&r, NULL, 0, false);
            break;
        case 'g':
            if (code == 8)
                rd_sig(&r, m->signature, sizeof(m->signature));
            else
                rd_sig(&r, NULL, 0);
            break;
        default:
            return -EBADMSG; /* no header field the specification names has another type */
        }
    }
    if (r.bad || r.pos != fields_end || m->serial == 0)
        return -EBADMSG;
    m->body = buf + body;
    m->body_len = body_len;
    return (ssize_t)total;
}

int dbus_parse_create_session(const struct dbus_msg *m, struct logind_created *c)
{
    if (m->type != DBUS_METHOD_RETURN || strcmp(m->signature, "soshusub") != 0)
        return -EBADMSG;
    struct rd r = {.p = m->body, .len = m->body_len, .be = m->big_endian};
    *c = (struct logind_created){0};
    rd_str(&r, c->id, sizeof(c->id), false);
    rd_str(&r, NULL, 0, false);
    rd_str(&r, c->runtime, sizeof(c->runtime), false);
    c->fd_index = rd_u32(&r);
    c->uid = rd_u32(&r);
    rd_str(&r, c->seat, sizeof(c->seat), false);
    c->vtnr = rd_u32(&r);
    uint32_t existing = rd_u32(&r);
    if (r.bad || r.pos != r.len || existing > 1)
        return -EBADMSG;
    c->existing = existing;
    return 0;
}

void dbus_error_text(const struct dbus_msg *m, char *out, size_t len)
{
    struct rd r = {.p = m->body, .len = m->body_len, .be = m->big_endian};
    out[0] = '\0';
    if (m->signature[0] == 's')
        rd_str(&r, out, len, true);
    if (r.bad)
        out[0] = '\0';
}
