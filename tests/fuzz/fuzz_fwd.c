/* Fuzz target: what the service reads from the guest's forwarder (proto/fwd.h, proto/fwd_pump.h). The first
 * byte picks the parser, the rest is its input:
 *   0  a PORTS payload (lsl_fwd_ports_decode); an accepted one encodes back to the same bytes
 *   1  the start of a relay or watch stream (lsl_fwd_handshake_parse, with and without OPENED)
 *   2  a UDP relay's stream (lsl_dgram_stream_feed), cut into pieces at the lengths its second byte gives
 *   3  an OPEN payload (lsl_fwd_open_decode; the guest's side, from the host)
 *   4  a port list of ~/.lslconfig (lsl_fwd_portset_parse), NUL-terminated here
 *   5  an OPEN_UNIX payload (lsl_fwd_unix_decode; the guest's side); an accepted one encodes back the same
 *   6  a socketForwarding list of ~/.lslconfig (lsl_fwd_socks_parse), NUL-terminated here
 *   7  an ACTIVITY_REPLY payload (lsl_activity_decode: the agent's, a named list as PORTS is, with tails);
 *      an accepted one encodes back to the same bytes */
#include <errno.h>

#include "activity.h"
#include "frame.h"
#include "fuzz.h"
#include "fwd.h"
#include "fwd_pump.h"

struct tally {
    size_t n, bytes;
};

static void deliver(void *opaque, const uint8_t *data, size_t len)
{
    struct tally *t = opaque;
    FUZZ_CHECK(len <= LSL_FWD_DGRAM_MAX);
    if (len)
        (void)data[len - 1]; /* inside the input, or ASan says otherwise */
    t->n++;
    t->bytes += len;
}

static void ports(const uint8_t *d, size_t size)
{
    static struct lsl_fwd_port out[LSL_FWD_PORTS_MAX];
    size_t n = 0;
    int r = lsl_fwd_ports_decode(d, size, out, &n);
    if (r < 0) {
        FUZZ_CHECK(r == -EPROTO && n == 0);
        return;
    }
    FUZZ_CHECK(n <= LSL_FWD_PORTS_MAX && lsl_fwd_ports_size(out, n) == size);
    uint8_t *again = malloc(size);
    FUZZ_CHECK(again && lsl_fwd_ports_encode(out, n, again, size) == size && !memcmp(again, d, size));
    free(again);
}

static void activity(const uint8_t *d, size_t size)
{
    static struct lsl_activity out[LSL_ACTIVITY_MAX];
    size_t n = 0;
    int r = lsl_activity_decode(d, size, out, &n);
    if (r < 0) {
        FUZZ_CHECK(r == -EPROTO && n == 0);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(strlen(out[i].what) <= LSL_ACTIVITY_WHAT_MAX && out[i].keep <= LSL_KEEP_NEVER);
        for (const char *c = out[i].what; *c; c++)
            FUZZ_CHECK(lsl_activity_what_char(*c));
    }
    FUZZ_CHECK(n <= LSL_ACTIVITY_MAX && lsl_activity_size(out, n) == size);
    uint8_t *again = malloc(size);
    FUZZ_CHECK(again && lsl_activity_encode(out, n, again, size) == size && !memcmp(again, d, size));
    free(again);
}

static void dgrams(const uint8_t *d, size_t size)
{
    struct lsl_dgram_stream s;
    struct tally t = {0};
    if (!size || lsl_dgram_stream_init(&s) < 0)
        return;
    size_t piece = (size_t)d[0] + 1, pos = 1;
    int r = 1;
    while (pos < size && r > 0) {
        size_t n = size - pos < piece ? size - pos : piece;
        r = lsl_dgram_stream_feed(&s, d + pos, n, deliver, &t);
        FUZZ_CHECK(r == 1 || r == -EPROTO);
        pos += n;
    }
    /* Each datagram costs its header: what was delivered came out of the input. */
    FUZZ_CHECK(t.bytes + t.n * LSL_FRAME_HDR_SIZE <= size);
    FUZZ_CHECK(s.in_len <= LSL_FRAME_HDR_SIZE + LSL_FWD_DGRAM_MAX);
    lsl_dgram_stream_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    uint8_t *copy = malloc(size); /* its own allocation, so a read past the end is found */
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, data + 1, size - 1);
    const uint8_t *d = copy;
    size_t n = size - 1;
    uint32_t err;
    long r;
    struct lsl_fwd_open o;
    struct lsl_fwd_portset set;
    struct lsl_fwd_unix u;
    struct lsl_fwd_socks socks;
    uint8_t again[LSL_FWD_UNIX_OPEN_MAX];
    switch (data[0] % 8) {
    case 0:
        ports(d, n);
        break;
    case 1:
        for (int opened = 0; opened < 2; opened++) {
            r = lsl_fwd_handshake_parse(d, n, opened, &err);
            FUZZ_CHECK(r == -EPROTO || (r >= 0 && (size_t)r <= n));
            if (r > 0 && !opened)
                FUZZ_CHECK(err == 0 && d[r - 1] == '\n');
        }
        break;
    case 2:
        dgrams(d, n);
        break;
    case 3:
        if (lsl_fwd_open_decode(d, n, &o) == 0)
            FUZZ_CHECK(n == 4 && o.port && (o.proto == LSL_FWD_TCP || o.proto == LSL_FWD_UDP));
        break;
    case 5:
        if (lsl_fwd_unix_decode(d, n, &u) == 0)
            FUZZ_CHECK(u.path[0] == '/' && lsl_fwd_unix_encode(&u, again, sizeof(again)) == n &&
                       !memcmp(again, d, n));
        break;
    case 6:
        copy[n] = '\0';
        r = lsl_fwd_socks_parse((const char *)copy, &socks);
        FUZZ_CHECK(r == 0 || r == -EINVAL);
        for (size_t i = 0; r == 0 && i < socks.n; i++)
            FUZZ_CHECK(socks.s[i].guest.path[0] == '/' && socks.s[i].host[0] &&
                       strlen(socks.s[i].host) <= LSL_FWD_HOST_PATH_MAX);
        break;
    case 7:
        activity(d, n);
        break;
    default:
        copy[n] = '\0';
        r = lsl_fwd_portset_parse((const char *)copy, &set);
        FUZZ_CHECK(r == 0 || r == -EINVAL);
        if (r == 0)
            FUZZ_CHECK(!lsl_fwd_portset_has(&set, 0));
        break;
    }
    free(copy);
    return 0;
}
