/* Fuzz target: the host side of an agent session (proto/session_client.c, lsl_session_exec) fed arbitrary
 * bytes as the agent's (or, with connect_port, the VMM's hybrid-vsock answer first): frames out of order, of
 * wrong sizes, over the limit, unknown types, credit past 4 GiB, output for every kind of local fd (a file,
 * a pipe, a socket, a terminal, a capture with its limit). The session must end on any input, with the
 * input's end as the agent's end of stream: a status 0-255 the agent sent (or 126/127 for its NOT_FOUND and
 * NO_EXEC), or a failure the header documents with a reason; local output is a prefix of what the agent
 * sent for it, and a capture never holds more than its max.
 *
 * Input: struct config, then the bytes the agent sends, all at once and then the end of stream. */
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"
#include "fuzz.h"
#include "session_client.h"

struct config {
    uint8_t io;  /* bits 0-1 stdin: /dev/null, a pipe with a few bytes, closed, a terminal;
                  * bits 2-3 stdout: /dev/null, a pipe, a capture, a socket;
                  * bits 4-5 stderr: /dev/null, a file, a capture, a terminal;
                  * bit 6: connect through the VMM's hybrid vsock first; bit 7: the login shell, no command */
    uint8_t max; /* captures hold up to max * 16 bytes; even: HEAD, odd: TAIL */
};

/* What the agent's bytes say was sent for stdout and stderr, and how a session that read all of them may
 * end: the concatenated STDOUT and STDERR payloads after STARTED, and the statuses it could return. */
struct expect {
    uint8_t *out[3];
    size_t len[3];
    bool status_ok[256];
};

static void expect_parse(const uint8_t *data, size_t size, struct expect *x, size_t skip)
{
    memset(x, 0, sizeof(*x));
    for (int i = 1; i < 3; i++) {
        x->out[i] = malloc(size + 1);
        FUZZ_CHECK(x->out[i] != NULL);
    }
    /* Framed as lsl_frame_next frames them (a codec's reader would cost a maximal frame's allocation). */
    for (size_t at = skip; size - at >= LSL_FRAME_HDR_SIZE;) {
        uint32_t type = lsl_get_u32(data + at), len = lsl_get_u32(data + at + 4);
        const uint8_t *p = data + at + LSL_FRAME_HDR_SIZE;
        if (len > LSL_FRAME_MAX || len > size - at - LSL_FRAME_HDR_SIZE)
            break;
        at += LSL_FRAME_HDR_SIZE + len;
        if (type == LSL_STDOUT || type == LSL_STDERR) {
            int i = type == LSL_STDOUT ? 1 : 2;
            memcpy(x->out[i] + x->len[i], p, len);
            x->len[i] += len;
        } else if (type == LSL_EXIT && len == 4 && lsl_get_u32(p) <= 255) {
            x->status_ok[lsl_get_u32(p)] = true;
        } else if (type == LSL_ERROR && len >= 4) {
            x->status_ok[127] |= lsl_get_u32(p) == LSL_ERR_NOT_FOUND;
            x->status_ok[126] |= lsl_get_u32(p) == LSL_ERR_NO_EXEC;
        }
    }
}

/* Everything readable on fd now (it was written before the session returned). */
static size_t drain(int fd, uint8_t *buf, size_t cap)
{
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n <= 0 || (got += (size_t)n) == cap)
            return got;
    }
}

static bool is_prefix(const uint8_t *p, size_t n, const uint8_t *of, size_t len)
{
    return n <= len && (n == 0 || memcmp(p, of, n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config cfg;
    if (size < sizeof(cfg))
        return 0;
    memcpy(&cfg, data, sizeof(cfg));
    data += sizeof(cfg), size -= sizeof(cfg);

    int sv[2];
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    /* The client's frames (HELLO, CLOCK, EXEC, a little stdin) fit the buffer: nobody needs to read them. */
    if (size)
        FUZZ_CHECK(send(sv[1], data, size, MSG_NOSIGNAL) == (ssize_t)size);
    shutdown(sv[1], SHUT_WR);

    struct lsl_session_io io = {.fds = {-1, -1, -1}};
    struct lsl_capture cap[3] = {{0}};
    int drain_fd[3] = {-1, -1, -1}, tty[2] = {-1, -1}, p[2];
    bool is_file = false;
    switch (cfg.io & 3) { /* stdin */
    case 0:
        io.fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        break;
    case 1:
        FUZZ_CHECK(pipe2(p, O_CLOEXEC) == 0);
        FUZZ_CHECK(write(p[1], "stdin for the guest\n", 20) == 20);
        close(p[1]);
        io.fds[0] = p[0];
        break;
    case 2:
        break; /* closed: an empty stdin */
    default:   /* a terminal: raw mode while the session runs, restored after */
        FUZZ_CHECK(openpty(&tty[0], &tty[1], NULL, NULL, NULL) == 0);
        io.fds[0] = dup(tty[1]);
        break;
    }
    for (int i = 1; i < 3; i++) {
        switch ((cfg.io >> (2 * i)) & 3) {
        case 0:
            io.fds[i] = open("/dev/null", O_WRONLY | O_CLOEXEC);
            break;
        case 1:
            if (i == 1) { /* a pipe: 64 KiB, more than the input can fill */
                FUZZ_CHECK(pipe2(p, O_CLOEXEC) == 0);
                io.fds[1] = p[1];
                drain_fd[1] = p[0];
            } else { /* a file */
                io.fds[2] = memfd_create("fuzz-stderr", MFD_CLOEXEC);
                drain_fd[2] = dup(io.fds[2]);
                is_file = true;
            }
            break;
        case 2:
            cap[i] = (struct lsl_capture){.mode = cfg.max & 1 ? LSL_CAPTURE_TAIL : LSL_CAPTURE_HEAD,
                                          .max = (size_t)cfg.max * 16};
            io.capture[i] = &cap[i];
            break;
        default:
            if (i == 1) { /* a socket */
                FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) == 0);
                io.fds[1] = p[0];
                drain_fd[1] = p[1];
            } else { /* a terminal */
                if (tty[0] < 0)
                    FUZZ_CHECK(openpty(&tty[0], &tty[1], NULL, NULL, NULL) == 0);
                io.fds[2] = dup(tty[1]);
                drain_fd[2] = dup(tty[0]);
            }
            break;
        }
        if (drain_fd[i] >= 0 && !is_file)
            FUZZ_CHECK(fcntl(drain_fd[i], F_SETFL, O_NONBLOCK) == 0);
    }
    struct termios before, after;
    if (tty[1] >= 0)
        FUZZ_CHECK(tcgetattr(tty[1], &before) == 0);

    static const char *const argv_cmd[] = {"uname", "-a", NULL}, *const argv_shell[] = {"", NULL};
    static const char *const envp[] = {"TERM=xterm", "LANG=C.UTF-8", NULL};
    struct lsl_exec_request req = {.argv = cfg.io & 0x80 ? argv_shell : argv_cmd,
                                   .envp = envp,
                                   .cwd = "~/src",
                                   .user = "fuzz",
                                   .distro = "debian"};
    char errbuf[256];
    io.errbuf = errbuf;
    io.errlen = sizeof(errbuf);
    io.connect_port = cfg.io & 0x40 ? 1000 : 0;
    int r = lsl_session_exec(sv[0], &req, &io);

    /* A status the agent sent, or a documented failure with its reason. */
    struct expect x;
    size_t skip = 0;
    if (io.connect_port) {
        const uint8_t *nl = memchr(data, '\n', size < 31 ? size : 31);
        skip = nl ? (size_t)(nl - data) + 1 : size;
    }
    expect_parse(data, size, &x, skip);
    if (r >= 0) {
        FUZZ_CHECK(r <= 255 && x.status_ok[r]);
    } else {
        FUZZ_CHECK(r == -ECONNREFUSED || r == -EPROTO || r == -ECONNRESET || r == -ETIMEDOUT ||
                   r == -EMSGSIZE || r == -EREMOTEIO);
        FUZZ_CHECK(errbuf[0] != '\0' && strlen(errbuf) < sizeof(errbuf));
        if (r == -EMSGSIZE)
            FUZZ_CHECK(cap[1].mode == LSL_CAPTURE_HEAD || cap[2].mode == LSL_CAPTURE_HEAD);
    }
    if (tty[1] >= 0) {
        FUZZ_CHECK(tcgetattr(tty[1], &after) == 0);
        /* Field by field: tcgetattr leaves the struct's padding as it was. */
        FUZZ_CHECK(before.c_iflag == after.c_iflag && before.c_oflag == after.c_oflag &&
                   before.c_cflag == after.c_cflag && before.c_lflag == after.c_lflag &&
                   memcmp(before.c_cc, after.c_cc, sizeof(before.c_cc)) == 0);
    }

    /* Local output: a prefix of what was sent for it (a pty may add CRs: only its size is bounded). */
    static uint8_t got[1u << 17];
    for (int i = 1; i < 3; i++) {
        if (io.capture[i]) {
            FUZZ_CHECK(cap[i].len <= cap[i].max && (!cap[i].data || cap[i].data[cap[i].len] == '\0'));
            if (cap[i].mode == LSL_CAPTURE_HEAD && i == 1)
                FUZZ_CHECK(is_prefix((const uint8_t *)cap[i].data, cap[i].len, x.out[i], x.len[i]));
            free(cap[i].data);
        } else if (drain_fd[i] >= 0) {
            ssize_t n = i == 2 && is_file ? pread(drain_fd[2], got, sizeof(got), 0)
                                          : (ssize_t)drain(drain_fd[i], got, sizeof(got));
            FUZZ_CHECK(n >= 0);
            if (i == 2 && ((cfg.io >> 4) & 3) == 3)
                FUZZ_CHECK((size_t)n <= 2 * x.len[2] + 2200);
            else if (i == 1)
                FUZZ_CHECK(is_prefix(got, (size_t)n, x.out[i], x.len[i]));
            else /* stderr also carries lsl's own line for NOT_FOUND and NO_EXEC */
                FUZZ_CHECK((size_t)n <= x.len[2] + 1100);
            close(drain_fd[i]);
        }
    }
    free(x.out[1]);
    free(x.out[2]);
    for (int i = 0; i < 3; i++)
        if (io.fds[i] >= 0)
            close(io.fds[i]);
    for (int i = 0; i < 2; i++)
        if (tty[i] >= 0)
            close(tty[i]);
    close(sv[0]);
    close(sv[1]);
    return 0;
}
