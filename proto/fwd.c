/* Localhost forwarding's frames and port lists (proto/fwd.h). */
#include "fwd.h"

#include <errno.h>
#include <string.h>

#include "frame.h"
#include "named_list.h"

const char *lsl_fwd_proto_name(uint8_t proto)
{
    return proto == LSL_FWD_TCP ? "tcp" : proto == LSL_FWD_UDP ? "udp" : "?";
}

static bool entry_valid(uint8_t proto, uint8_t family, uint16_t port)
{
    return (proto == LSL_FWD_TCP || proto == LSL_FWD_UDP) && (family == LSL_FWD_V4 || family == LSL_FWD_V6) &&
           port != 0;
}

size_t lsl_fwd_ports_size(const struct lsl_fwd_port *p, size_t n)
{
    size_t len = 4;

    if (n > LSL_FWD_PORTS_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!entry_valid(p[i].proto, p[i].family, p[i].port) ||
            (p[i].distro[0] && !lsl_distro_name_valid(p[i].distro)))
            return 0;
        len += lsl_named_entry_size(p[i].distro, NULL);
    }
    return len;
}

size_t lsl_fwd_ports_encode(const struct lsl_fwd_port *p, size_t n, uint8_t *out, size_t cap)
{
    size_t len = lsl_fwd_ports_size(p, n), pos = 4;

    if (!len || len > cap)
        return 0;
    lsl_put_u32(out, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        uint8_t fixed[LSL_NAMED_FIXED] = {p[i].proto, p[i].family};
        lsl_put_u16(fixed + 2, p[i].port);
        pos += lsl_named_entry_put(out + pos, fixed, p[i].distro, NULL);
    }
    return len;
}

static int port_entry(size_t i, const uint8_t *fixed, const char *name, const char *tail, void *opaque)
{
    struct lsl_fwd_port *out = opaque;

    (void)tail;

    out[i].proto = fixed[0];
    out[i].family = fixed[1];
    out[i].port = lsl_get_u16(fixed + 2);
    memcpy(out[i].distro, name, strlen(name) + 1);
    return entry_valid(out[i].proto, out[i].family, out[i].port) ? 0 : -1;
}

int lsl_fwd_ports_decode(const uint8_t *data, size_t len, struct lsl_fwd_port *out, size_t *n)
{
    long count = lsl_named_list_decode(data, len, LSL_FWD_PORTS_MAX, true, 0, port_entry, out);

    *n = count < 0 ? 0 : (size_t)count;
    return count < 0 ? -EPROTO : 0;
}

void lsl_fwd_open_encode(const struct lsl_fwd_open *o, uint8_t out[4])
{
    out[0] = o->proto;
    out[1] = o->family;
    lsl_put_u16(out + 2, o->port);
}

int lsl_fwd_open_decode(const uint8_t *data, size_t len, struct lsl_fwd_open *o)
{
    if (len != 4)
        return -EPROTO;
    o->proto = data[0];
    o->family = data[1];
    o->port = lsl_get_u16(data + 2);
    return entry_valid(o->proto, o->family, o->port) ? 0 : -EPROTO;
}

static bool unix_path_valid(const char *path, size_t len)
{
    return len > 1 && len <= LSL_FWD_UNIX_PATH_MAX && path[0] == '/' && !memchr(path, '\0', len);
}

size_t lsl_fwd_unix_encode(const struct lsl_fwd_unix *u, uint8_t *out, size_t cap)
{
    size_t nlen = strnlen(u->distro, sizeof(u->distro)), plen = strnlen(u->path, sizeof(u->path));

    if (nlen == sizeof(u->distro) || (nlen && !lsl_distro_name_valid(u->distro)) ||
        !unix_path_valid(u->path, plen) || 1 + nlen + plen > cap)
        return 0;
    out[0] = (uint8_t)nlen;
    memcpy(out + 1, u->distro, nlen);
    memcpy(out + 1 + nlen, u->path, plen);
    return 1 + nlen + plen;
}

int lsl_fwd_unix_decode(const uint8_t *data, size_t len, struct lsl_fwd_unix *u)
{
    if (len < 1 || data[0] > LSL_DISTRO_NAME_MAX || len - 1 < data[0])
        return -EPROTO;
    size_t nlen = data[0], plen = len - 1 - nlen;
    memcpy(u->distro, data + 1, nlen);
    u->distro[nlen] = '\0';
    if ((nlen && (memchr(u->distro, '\0', nlen) || !lsl_distro_name_valid(u->distro))) ||
        !unix_path_valid((const char *)data + 1 + nlen, plen))
        return -EPROTO;
    memcpy(u->path, data + 1 + nlen, plen);
    u->path[plen] = '\0';
    return 0;
}

/* text[0..len) without the blanks around it, into out (cap bytes). Returns its length or -EINVAL. */
static long trimmed(const char *text, size_t len, char *out, size_t cap)
{
    while (len && (*text == ' ' || *text == '\t'))
        text++, len--;
    while (len && (text[len - 1] == ' ' || text[len - 1] == '\t'))
        len--;
    if (len >= cap)
        return -EINVAL;
    memcpy(out, text, len);
    out[len] = '\0';
    return (long)len;
}

int lsl_fwd_sock_parse(const char *text, struct lsl_fwd_sock *s)
{
    const char *eq = strchr(text, '='), *guest = text, *colon;

    memset(s, 0, sizeof(*s));
    if (!eq)
        return -EINVAL;
    /* A name before the guest path: "NAME:/path" (names hold no '/' or ':'). */
    colon = memchr(text, ':', (size_t)(eq - text));
    if (colon) {
        if (trimmed(text, (size_t)(colon - text), s->guest.distro, sizeof(s->guest.distro)) <= 0 ||
            !lsl_distro_name_valid(s->guest.distro))
            return -EINVAL;
        guest = colon + 1;
    }
    long g = trimmed(guest, (size_t)(eq - guest), s->guest.path, sizeof(s->guest.path));
    long h = trimmed(eq + 1, strlen(eq + 1), s->host, sizeof(s->host));
    if (g < 0 || !unix_path_valid(s->guest.path, (size_t)g) || h <= 0 || strchr(s->host, '='))
        return -EINVAL;
    return 0;
}

int lsl_fwd_socks_add(struct lsl_fwd_socks *list, const char *text)
{
    struct lsl_fwd_sock *s = &list->s[list->n];

    if (list->n == LSL_FWD_SOCKS_MAX || lsl_fwd_sock_parse(text, s) < 0)
        return -EINVAL;
    for (size_t i = 0; i < list->n; i++)
        if (!strcmp(list->s[i].host, s->host))
            return -EINVAL;
    list->n++;
    return 0;
}

int lsl_fwd_socks_parse(const char *text, struct lsl_fwd_socks *list)
{
    char one[LSL_FWD_HOST_PATH_MAX + LSL_FWD_UNIX_PATH_MAX + LSL_DISTRO_NAME_MAX + 16];

    list->n = 0;
    for (const char *s = text;;) {
        const char *end = strchr(s, ';');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        long t = trimmed(s, len, one, sizeof(one));
        if (t < 0 || (t > 0 && lsl_fwd_socks_add(list, one) < 0))
            return -EINVAL;
        if (!end)
            return 0;
        s = end + 1;
    }
}

long lsl_fwd_frame_peek(const uint8_t *buf, size_t len, uint32_t max, uint32_t *type, const uint8_t **payload,
                        uint32_t *plen)
{
    if (len < LSL_FRAME_HDR_SIZE)
        return 0;
    uint32_t n = lsl_get_u32(buf + 4);
    if (n > max)
        return -EPROTO;
    if (len - LSL_FRAME_HDR_SIZE < n)
        return 0;
    *type = lsl_get_u32(buf);
    *payload = buf + LSL_FRAME_HDR_SIZE;
    *plen = n;
    return (long)(LSL_FRAME_HDR_SIZE + n);
}

long lsl_fwd_handshake_parse(const uint8_t *buf, size_t len, bool expect_opened, uint32_t *err)
{
    const uint8_t *nl = memchr(buf, '\n', len < LSL_FWD_LINE_MAX ? len : LSL_FWD_LINE_MAX);
    size_t line;
    uint32_t type, plen;
    const uint8_t *payload;
    long n;

    if (!nl)
        return len >= LSL_FWD_LINE_MAX ? -EPROTO : 0;
    line = (size_t)(nl - buf) + 1;
    if (line < 4 || memcmp(buf, "OK ", 3) != 0)
        return -EPROTO;
    for (size_t i = 3; i < line - 1; i++)
        if (buf[i] < '0' || buf[i] > '9')
            return -EPROTO;
    *err = 0;
    if (!expect_opened)
        return (long)line;
    n = lsl_fwd_frame_peek(buf + line, len - line, 4, &type, &payload, &plen);
    if (n <= 0)
        return n;
    if (type != LSL_FWD_OPENED || plen != 4)
        return -EPROTO;
    *err = lsl_get_u32(payload);
    return (long)line + n;
}

/* A decimal port 1..65535 at *s, which is advanced past it. */
static int parse_port(const char **s, unsigned *out)
{
    unsigned v = 0;
    const char *p = *s;

    if (*p < '0' || *p > '9')
        return -EINVAL;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (unsigned)(*p++ - '0');
        if (v > 65535)
            return -EINVAL;
    }
    if (v == 0)
        return -EINVAL;
    *s = p;
    *out = v;
    return 0;
}

static const char *skip_blanks(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

int lsl_fwd_portset_parse(const char *text, struct lsl_fwd_portset *set)
{
    const char *s = skip_blanks(text);

    memset(set, 0, sizeof(*set));
    if (!*s)
        return 0;
    for (;;) {
        unsigned lo, hi;

        s = skip_blanks(s);
        if (parse_port(&s, &lo) < 0)
            return -EINVAL;
        hi = lo;
        s = skip_blanks(s);
        if (*s == '-') {
            s = skip_blanks(s + 1);
            if (parse_port(&s, &hi) < 0 || hi < lo)
                return -EINVAL;
            s = skip_blanks(s);
        }
        for (unsigned p = lo; p <= hi; p++)
            set->bits[p / 64] |= 1ull << (p % 64);
        if (!*s)
            return 0;
        if (*s++ != ',')
            return -EINVAL;
    }
}

bool lsl_fwd_portset_has(const struct lsl_fwd_portset *set, uint16_t port)
{
    return set->bits[port / 64] >> (port % 64) & 1;
}

void lsl_fwd_policy_init(struct lsl_fwd_policy *p)
{
    memset(p, 0, sizeof(*p));
    p->enabled = true;
    p->allow_all = true;
}

bool lsl_fwd_policy_allows(const struct lsl_fwd_policy *p, uint16_t port)
{
    return p->enabled && port && (p->allow_all || lsl_fwd_portset_has(&p->allow, port)) &&
           !lsl_fwd_portset_has(&p->deny, port);
}
