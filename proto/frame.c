/* Frame codec for proto/agent.h: every length from the wire is checked against LSL_FRAME_MAX before it is
 * used, and fields are read with memcpy in little-endian order, so payloads need no alignment. */
#include "frame.h"

#include <endian.h>
#include <stdbool.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READER_CAP (LSL_FRAME_HDR_SIZE + LSL_FRAME_MAX)

uint32_t lsl_get_u32(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v));
    return le32toh(v);
}

uint64_t lsl_get_u64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return le64toh(v);
}

uint16_t lsl_get_u16(const uint8_t *p)
{
    uint16_t v;

    memcpy(&v, p, sizeof(v));
    return le16toh(v);
}

void lsl_put_u32(uint8_t *p, uint32_t v)
{
    v = htole32(v);
    memcpy(p, &v, sizeof(v));
}

void lsl_put_u64(uint8_t *p, uint64_t v)
{
    v = htole64(v);
    memcpy(p, &v, sizeof(v));
}

void lsl_put_u16(uint8_t *p, uint16_t v)
{
    v = htole16(v);
    memcpy(p, &v, sizeof(v));
}

int lsl_frame_reader_init(struct lsl_frame_reader *r)
{
    *r = (struct lsl_frame_reader){.buf = malloc(READER_CAP)};
    return r->buf ? 0 : -ENOMEM;
}

void lsl_frame_reader_free(struct lsl_frame_reader *r)
{
    free(r->buf);
    *r = (struct lsl_frame_reader){0};
}

ssize_t lsl_frame_fill(struct lsl_frame_reader *r, int fd)
{
    ssize_t n;

    /* Move the partial frame to the front: a whole frame then always fits in READER_CAP. */
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->end == READER_CAP)
        return -ENOBUFS; /* cannot happen: lsl_frame_next() takes or rejects any full header */
    do
        n = read(fd, r->buf + r->end, READER_CAP - r->end);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    r->end += (size_t)n;
    return n;
}

int lsl_frame_next(struct lsl_frame_reader *r, struct lsl_frame *f)
{
    size_t avail = r->end - r->start;
    uint32_t len;

    if (avail < LSL_FRAME_HDR_SIZE)
        return 0;
    len = lsl_get_u32(r->buf + r->start + 4);
    if (len > LSL_FRAME_MAX)
        return -EPROTO;
    if (avail - LSL_FRAME_HDR_SIZE < len)
        return 0;
    f->type = lsl_get_u32(r->buf + r->start);
    f->len = len;
    f->data = r->buf + r->start + LSL_FRAME_HDR_SIZE;
    r->start += LSL_FRAME_HDR_SIZE + len;
    return 1;
}

void lsl_frame_writer_free(struct lsl_frame_writer *w)
{
    free(w->buf);
    *w = (struct lsl_frame_writer){0};
}

/* Makes room for need more bytes at the end of the queue. */
static int writer_room(struct lsl_frame_writer *w, size_t need)
{
    size_t cap;
    uint8_t *buf;

    if (w->start == w->end)
        w->start = w->end = 0;
    if (w->cap - w->end >= need)
        return 0;
    if (w->start > 0) { /* reuse the written part before growing */
        memmove(w->buf, w->buf + w->start, w->end - w->start);
        w->end -= w->start;
        w->start = 0;
        if (w->cap - w->end >= need)
            return 0;
    }
    cap = w->cap ? w->cap : 4096;
    while (cap - w->end < need)
        cap *= 2;
    buf = realloc(w->buf, cap);
    if (!buf)
        return -ENOMEM;
    w->buf = buf;
    w->cap = cap;
    return 0;
}

uint8_t *lsl_frame_reserve(struct lsl_frame_writer *w, size_t max)
{
    if (max > LSL_FRAME_MAX || writer_room(w, LSL_FRAME_HDR_SIZE + max) < 0)
        return NULL;
    return w->buf + w->end + LSL_FRAME_HDR_SIZE;
}

void lsl_frame_commit(struct lsl_frame_writer *w, uint32_t type, size_t n)
{
    lsl_put_u32(w->buf + w->end, type);
    lsl_put_u32(w->buf + w->end + 4, (uint32_t)n);
    w->end += LSL_FRAME_HDR_SIZE + n;
}

int lsl_frame_put(struct lsl_frame_writer *w, uint32_t type, const void *data, size_t len)
{
    uint8_t *p;

    if (len > LSL_FRAME_MAX)
        return -EINVAL;
    p = lsl_frame_reserve(w, len);
    if (!p)
        return -ENOMEM;
    if (len)
        memcpy(p, data, len);
    lsl_frame_commit(w, type, len);
    return 0;
}

int lsl_frame_put_u32(struct lsl_frame_writer *w, uint32_t type, uint32_t value)
{
    uint8_t v[4];

    lsl_put_u32(v, value);
    return lsl_frame_put(w, type, v, sizeof(v));
}

size_t lsl_frame_encode(uint8_t *out, size_t cap, uint32_t type, const void *data, size_t len)
{
    if (len > LSL_FRAME_MAX || cap < LSL_FRAME_HDR_SIZE || cap - LSL_FRAME_HDR_SIZE < len)
        return 0;
    lsl_put_u32(out, type);
    lsl_put_u32(out + 4, (uint32_t)len);
    if (len)
        memcpy(out + LSL_FRAME_HDR_SIZE, data, len);
    return LSL_FRAME_HDR_SIZE + len;
}

size_t lsl_frame_pending(const struct lsl_frame_writer *w)
{
    return w->end - w->start;
}

int lsl_frame_flush(struct lsl_frame_writer *w, int fd)
{
    bool sock = true;

    while (w->start < w->end) {
        ssize_t n;

        /* send() with MSG_NOSIGNAL keeps a vanished peer an error instead of a fatal SIGPIPE. */
        n = sock ? send(fd, w->buf + w->start, w->end - w->start, MSG_NOSIGNAL) : -1;
        if (n < 0 && sock && errno == ENOTSOCK) {
            sock = false;
            continue;
        }
        if (!sock)
            n = write(fd, w->buf + w->start, w->end - w->start);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        }
        w->start += (size_t)n;
    }
    w->start = w->end = 0;
    return 0;
}
