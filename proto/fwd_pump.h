/* The two ends of a forwarded connection, the service's and the guest forwarder's, move bytes the same way:
 * one bounded buffer per direction between two non-blocking sockets (backpressure, never a growing queue),
 * an end of stream passed on as a half-close, and for UDP one DGRAM frame (proto/fwd.h) per datagram, a full
 * queue dropping datagrams as a full network would. One implementation, so both ends keep the same stream
 * semantics. Written for edge-triggered readiness: the owner marks an fd readable or writable when an event
 * says so, the pump clears the mark when the fd would block. */
#ifndef LSL_PROTO_FWD_PUMP_H
#define LSL_PROTO_FWD_PUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fwd.h"

#define LSL_PUMP_BUF (64u << 10) /* per direction */

struct lsl_pump_dir {
    uint8_t *buf; /* LSL_PUMP_BUF bytes */
    size_t start, end;
    bool eof;  /* the source has ended */
    bool shut; /* ... and the end was passed on */
};

struct lsl_pump {
    int fd[2];
    bool readable[2], writable[2];
    struct lsl_pump_dir dir[2]; /* dir[i]: from fd[i] to fd[1 - i] */
};

/* Sets up p between fds a and b (both marked readable and writable). Returns 0 or -ENOMEM. */
int lsl_pump_init(struct lsl_pump *p, int a, int b);
void lsl_pump_free(struct lsl_pump *p);
/* Moves what it can. Returns 1 while the relay lives, 0 when both directions have ended and were passed on,
 * -errno when either socket failed. */
int lsl_pump_run(struct lsl_pump *p);
/* Bytes a source sent before the pump started (read with a handshake): queued towards the other fd. Returns
 * 0, or -ENOBUFS when there is more than a buffer holds. */
int lsl_pump_preload(struct lsl_pump *p, int from, const uint8_t *data, size_t len);

/* A UDP flow over a stream: DGRAM frames in and out. */
#define LSL_DGRAM_QUEUE (256u << 10)
struct lsl_dgram_stream {
    uint8_t *in;  /* one frame at most: LSL_FRAME_HDR_SIZE + LSL_FWD_DGRAM_MAX */
    uint8_t *out; /* LSL_DGRAM_QUEUE bytes of frames */
    size_t in_len, out_start, out_end;
    uint64_t dropped;
};
int lsl_dgram_stream_init(struct lsl_dgram_stream *s);
void lsl_dgram_stream_free(struct lsl_dgram_stream *s);
/* Queues one datagram as a DGRAM frame; false (counted in dropped) when the queue has no room for it or it
 * is longer than LSL_FWD_DGRAM_MAX. */
bool lsl_dgram_stream_put(struct lsl_dgram_stream *s, const void *data, size_t len);
/* Writes queued frames: 0 when all went, -EAGAIN, or -errno. */
int lsl_dgram_stream_flush(struct lsl_dgram_stream *s, int fd);
/* Reads fd until it would block, calling deliver for each whole DGRAM frame. Returns 1 when fd would block,
 * 0 at end of stream, -EPROTO for a frame that is not a DGRAM or is too long, or -errno. */
int lsl_dgram_stream_read(struct lsl_dgram_stream *s, int fd,
                          void (*deliver)(void *opaque, const uint8_t *data, size_t len), void *opaque);
/* The same over bytes already read (a fuzz target's input, a handshake's leftover): 1, or -EPROTO. */
int lsl_dgram_stream_feed(struct lsl_dgram_stream *s, const uint8_t *data, size_t len,
                          void (*deliver)(void *opaque, const uint8_t *data, size_t len), void *opaque);

#endif
