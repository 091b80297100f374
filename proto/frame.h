/* Frame codec for proto/agent.h, shared by the agent (guest), the session client and the service (host): a
 * bounded reader that yields whole frames from a stream and an output queue flushed as the stream accepts it.
 */
#ifndef LSL_PROTO_FRAME_H
#define LSL_PROTO_FRAME_H

#include "agent.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LSL_FRAME_HDR_SIZE 8u

/* One received frame; data points into the reader and is valid until the next lsl_frame_fill(). */
struct lsl_frame {
    uint32_t type;
    uint32_t len;
    const uint8_t *data;
};

/* Holds at most one maximal frame (header + LSL_FRAME_MAX), so memory stays bounded whatever the peer sends.
 */
struct lsl_frame_reader {
    uint8_t *buf;
    size_t start, end; /* unconsumed bytes are buf[start, end) */
};

/* A growable queue of encoded frames; the owner bounds it by not queueing data while it is long. */
struct lsl_frame_writer {
    uint8_t *buf;
    size_t start, end, cap;
};

/* Returns 0 or -ENOMEM. */
int lsl_frame_reader_init(struct lsl_frame_reader *r);
void lsl_frame_reader_free(struct lsl_frame_reader *r);

/* One read() from fd into the reader. Returns the bytes read, 0 at end of stream, or -errno (-EAGAIN on a
 * non-blocking fd with nothing to read). */
ssize_t lsl_frame_fill(struct lsl_frame_reader *r, int fd);

/* Takes the next whole frame out of the reader. Returns 1 with *f filled, 0 when more bytes are needed,
 * -EPROTO when the header announces more than LSL_FRAME_MAX bytes. */
int lsl_frame_next(struct lsl_frame_reader *r, struct lsl_frame *f);

void lsl_frame_writer_free(struct lsl_frame_writer *w);

/* Queues one frame. Returns 0, -EINVAL when len > LSL_FRAME_MAX, or -ENOMEM. */
int lsl_frame_put(struct lsl_frame_writer *w, uint32_t type, const void *data, size_t len);
int lsl_frame_put_u32(struct lsl_frame_writer *w, uint32_t type, uint32_t value);

/* For reading straight into a frame: returns room for a payload of up to max bytes (<= LSL_FRAME_MAX) at the
 * end of the queue, or NULL when out of memory; lsl_frame_commit() then queues it with its real length
 * (n <= max, n > 0). Nothing is queued if commit is not called. */
uint8_t *lsl_frame_reserve(struct lsl_frame_writer *w, size_t max);
void lsl_frame_commit(struct lsl_frame_writer *w, uint32_t type, size_t n);

/* Encodes one frame into out (cap bytes), for a sender with no queue of its own (the service's errands).
 * Returns the encoded length, or 0 when it does not fit or len > LSL_FRAME_MAX. */
size_t lsl_frame_encode(uint8_t *out, size_t cap, uint32_t type, const void *data, size_t len);

/* Bytes queued but not yet written. */
size_t lsl_frame_pending(const struct lsl_frame_writer *w);

/* Writes queued bytes until the queue is empty (0), fd would block (-EAGAIN), or an error (-errno; -EPIPE
 * when the peer is gone). Never raises SIGPIPE on sockets. */
int lsl_frame_flush(struct lsl_frame_writer *w, int fd);

/* Little-endian field access for payloads. */
uint32_t lsl_get_u32(const uint8_t *p);
uint64_t lsl_get_u64(const uint8_t *p);
uint16_t lsl_get_u16(const uint8_t *p);
void lsl_put_u32(uint8_t *p, uint32_t v);
void lsl_put_u64(uint8_t *p, uint64_t v);
void lsl_put_u16(uint8_t *p, uint16_t v);

#endif
