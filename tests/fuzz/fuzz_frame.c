/* Fuzz target: the frame reader both ends of a session use (lsl_frame_fill, lsl_frame_next) over any byte
 * stream, arriving in pieces of any size as from a socket. Every frame it yields must be the next frame of
 * the stream, byte for byte, and it must never hold more than one maximal frame. The first input byte sets
 * the largest piece (0: all at once), the rest is the stream. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "frame.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t max_piece = data[0] ? data[0] : size;
    const uint8_t *stream = data + 1;
    size_t len = size - 1, sent = 0, taken = 0;
    uint32_t rng = data[0] * 2654435761u + 1; /* piece sizes vary, but the same input gives the same pieces */

    /* A non-blocking pipe: the reader sees short reads, EAGAIN between pieces and EOF at the end. */
    int p[2];
    FUZZ_CHECK(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
    /* One reader for all inputs, emptied before each: its buffer holds a maximal frame (1 MiB), and an mmap
     * and munmap of that per input made this target a hundred times slower. */
    static struct lsl_frame_reader r;
    if (!r.buf)
        FUZZ_CHECK(lsl_frame_reader_init(&r) == 0);
    r.start = r.end = 0;
    bool eof = false, broken = false, closed = false;
    while (!eof && !broken) {
        if (sent < len) {
            rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5;
            size_t piece = 1 + rng % max_piece;
            if (piece > len - sent)
                piece = len - sent;
            ssize_t w = write(p[1], stream + sent, piece); /* short when the pipe is full */
            FUZZ_CHECK(w > 0 || errno == EAGAIN);
            sent += w > 0 ? (size_t)w : 0;
        }
        if (sent == len && !closed) {
            close(p[1]);
            closed = true;
        }
        ssize_t n = lsl_frame_fill(&r, p[0]);
        FUZZ_CHECK(n >= 0 || n == -EAGAIN);
        eof = n == 0;
        for (;;) {
            struct lsl_frame f;
            int k = lsl_frame_next(&r, &f);
            if (k == 0)
                break;
            if (k < 0) {
                /* Only a header announcing more than the limit is an error. */
                FUZZ_CHECK(k == -EPROTO && len - taken >= LSL_FRAME_HDR_SIZE);
                FUZZ_CHECK(lsl_get_u32(stream + taken + 4) > LSL_FRAME_MAX);
                broken = true;
                break;
            }
            FUZZ_CHECK(f.len <= LSL_FRAME_MAX && taken + LSL_FRAME_HDR_SIZE + f.len <= sent);
            FUZZ_CHECK(f.data >= r.buf && f.data + f.len <= r.buf + r.end);
            FUZZ_CHECK(f.type == lsl_get_u32(stream + taken) && f.len == lsl_get_u32(stream + taken + 4));
            FUZZ_CHECK(f.len == 0 || memcmp(f.data, stream + taken + LSL_FRAME_HDR_SIZE, f.len) == 0);
            taken += LSL_FRAME_HDR_SIZE + f.len;
        }
    }
    /* At the end of the stream, what is left is less than one whole frame. */
    if (!broken)
        FUZZ_CHECK(len - taken < LSL_FRAME_HDR_SIZE ||
                   len - taken < LSL_FRAME_HDR_SIZE + (size_t)lsl_get_u32(stream + taken + 4));
    close(p[0]);
    if (!closed)
        close(p[1]);
    return 0;
}
