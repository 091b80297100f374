/* Byte and datagram relays of a forwarded connection (proto/fwd_pump.h). */
#include "fwd_pump.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"

int lsl_pump_init(struct lsl_pump *p, int a, int b)
{
    memset(p, 0, sizeof(*p));
    p->fd[0] = a;
    p->fd[1] = b;
    for (int i = 0; i < 2; i++) {
        p->readable[i] = p->writable[i] = true;
        p->dir[i].buf = malloc(LSL_PUMP_BUF);
        if (!p->dir[i].buf) {
            lsl_pump_free(p);
            return -ENOMEM;
        }
    }
    return 0;
}

void lsl_pump_free(struct lsl_pump *p)
{
    for (int i = 0; i < 2; i++) {
        free(p->dir[i].buf);
        p->dir[i].buf = NULL;
    }
}

int lsl_pump_preload(struct lsl_pump *p, int from, const uint8_t *data, size_t len)
{
    struct lsl_pump_dir *d = &p->dir[from];

    if (len > LSL_PUMP_BUF - d->end)
        return -ENOBUFS;
    memcpy(d->buf + d->end, data, len);
    d->end += len;
    return 0;
}

/* One direction as far as it goes. Returns 1 if anything moved, 0 if not, -errno on failure. */
static int pump_dir(struct lsl_pump *p, int i)
{
    struct lsl_pump_dir *d = &p->dir[i];
    int src = p->fd[i], dst = p->fd[1 - i], moved = 0;

    for (;;) {
        if (d->start < d->end && p->writable[1 - i]) {
            ssize_t n = send(dst, d->buf + d->start, d->end - d->start, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                p->writable[1 - i] = false;
            } else if (n < 0) {
                return -errno;
            } else {
                d->start += (size_t)n;
                moved = 1;
                if (d->start == d->end)
                    d->start = d->end = 0;
                continue;
            }
        }
        if (!d->eof && d->end < LSL_PUMP_BUF && p->readable[i]) {
            ssize_t n = recv(src, d->buf + d->end, LSL_PUMP_BUF - d->end, MSG_DONTWAIT);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                p->readable[i] = false;
            } else if (n < 0) {
                return -errno;
            } else {
                if (n == 0)
                    d->eof = true;
                d->end += (size_t)n;
                moved = 1;
                continue;
            }
        }
        break;
    }
    if (d->eof && !d->shut && d->start == d->end) {
        /* The other side may already be gone: its own direction reports that. */
        (void)shutdown(dst, SHUT_WR);
        d->shut = true;
        moved = 1;
    }
    return moved;
}

int lsl_pump_run(struct lsl_pump *p)
{
    int r0, r1;

    do {
        if ((r0 = pump_dir(p, 0)) < 0)
            return r0;
        if ((r1 = pump_dir(p, 1)) < 0)
            return r1;
    } while (r0 || r1);
    return p->dir[0].shut && p->dir[1].shut ? 0 : 1;
}

int lsl_dgram_stream_init(struct lsl_dgram_stream *s)
{
    memset(s, 0, sizeof(*s));
    s->in = malloc(LSL_FRAME_HDR_SIZE + LSL_FWD_DGRAM_MAX);
    s->out = malloc(LSL_DGRAM_QUEUE);
    if (!s->in || !s->out) {
        lsl_dgram_stream_free(s);
        return -ENOMEM;
    }
    return 0;
}

void lsl_dgram_stream_free(struct lsl_dgram_stream *s)
{
    free(s->in);
    free(s->out);
    s->in = s->out = NULL;
}

bool lsl_dgram_stream_put(struct lsl_dgram_stream *s, const void *data, size_t len)
{
    size_t need = LSL_FRAME_HDR_SIZE + len;

    if (len > LSL_FWD_DGRAM_MAX) {
        s->dropped++;
        return false;
    }
    if (LSL_DGRAM_QUEUE - s->out_end < need && s->out_start) {
        memmove(s->out, s->out + s->out_start, s->out_end - s->out_start);
        s->out_end -= s->out_start;
        s->out_start = 0;
    }
    if (LSL_DGRAM_QUEUE - s->out_end < need) {
        s->dropped++;
        return false;
    }
    s->out_end += lsl_frame_encode(s->out + s->out_end, need, LSL_FWD_DGRAM, data, len);
    return true;
}

int lsl_dgram_stream_flush(struct lsl_dgram_stream *s, int fd)
{
    while (s->out_start < s->out_end) {
        ssize_t n = send(fd, s->out + s->out_start, s->out_end - s->out_start, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        s->out_start += (size_t)n;
    }
    s->out_start = s->out_end = 0;
    return 0;
}

/* Delivers the whole frames in s->in and keeps the rest. */
static int deliver_frames(struct lsl_dgram_stream *s, void (*deliver)(void *, const uint8_t *, size_t),
                          void *opaque)
{
    size_t pos = 0;

    for (;;) {
        uint32_t type, plen;
        const uint8_t *payload;
        long n = lsl_fwd_frame_peek(s->in + pos, s->in_len - pos, LSL_FWD_DGRAM_MAX, &type, &payload, &plen);
        if (n < 0 || (n > 0 && type != LSL_FWD_DGRAM))
            return -EPROTO;
        if (n == 0)
            break;
        deliver(opaque, payload, plen);
        pos += (size_t)n;
    }
    memmove(s->in, s->in + pos, s->in_len - pos);
    s->in_len -= pos;
    return 1;
}

int lsl_dgram_stream_feed(struct lsl_dgram_stream *s, const uint8_t *data, size_t len,
                          void (*deliver)(void *opaque, const uint8_t *data, size_t len), void *opaque)
{
    const size_t cap = LSL_FRAME_HDR_SIZE + LSL_FWD_DGRAM_MAX;

    while (len) {
        size_t n = cap - s->in_len < len ? cap - s->in_len : len;
        memcpy(s->in + s->in_len, data, n);
        s->in_len += n;
        data += n;
        len -= n;
        if (deliver_frames(s, deliver, opaque) < 0)
            return -EPROTO;
    }
    return 1;
}

int lsl_dgram_stream_read(struct lsl_dgram_stream *s, int fd,
                          void (*deliver)(void *opaque, const uint8_t *data, size_t len), void *opaque)
{
    const size_t cap = LSL_FRAME_HDR_SIZE + LSL_FWD_DGRAM_MAX;

    for (;;) {
        /* The buffer holds the longest frame, and deliver_frames leaves less than one whole frame. */
        ssize_t n = recv(fd, s->in + s->in_len, cap - s->in_len, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -errno;
        if (n == 0)
            return 0;
        s->in_len += (size_t)n;
        if (deliver_frames(s, deliver, opaque) < 0)
            return -EPROTO;
    }
}
