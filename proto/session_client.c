/* The client side of a session (session_client.h). One poll() loop over the socket, a signalfd and the
 * local fds: the socket is read only while no output is waiting for a local fd (so a slow stdout
 * backpressures the command), and stdin is read only within the credit the agent granted.
 * A local stdout that is closed (EPIPE) is handled as ssh does in effect: sshd closes the remote end of the
 * pipe, so the remote writer dies of SIGPIPE; here the command's group gets SIGNAL(SIGPIPE), further
 * output is discarded and the command's own status is returned (141 for a writer killed that way).
 * While the session runs, SIGINT, SIGTERM, SIGHUP and SIGQUIT are blocked and read from the signalfd, so
 * nothing here may wait anywhere but in poll(): the socket is non-blocking from the first frame on, and
 * local output goes through writes that cannot block (see out_prepare). */
#include "session_client.h"

#include "agent.h"
#include "exec.h"
#include "frame.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "macro.h"
#include "unix_socket.h"

#define STDIN_CHUNK (64u << 10)
#define GO_ON       1000 /* on_frame(): not a result yet (results are statuses 0-255 or negative) */

/* How output reaches a local fd without a write() that blocks (out_prepare). */
enum out_how {
    OUT_UNSET,   /* not looked at yet: done at the first output, so a silent command costs nothing */
    OUT_PLAIN,   /* write() never blocks: a regular file, a non-blocking fd, or our own reopened one */
    OUT_SOCKET,  /* send() with MSG_DONTWAIT */
    OUT_CHUNKED, /* at most PIPE_BUF bytes per wake-up */
};

struct client {
    int sock, sigfd;
    int fds[3];
    int out[3];                 /* [1], [2]: the fd output is written to (fds[] or out_own[]) */
    int out_own[3];             /* [1], [2]: a non-blocking file description of our own, or -1 */
    enum out_how out_how[3];    /* [1], [2] */
    struct lsl_capture *cap[3]; /* [1], [2]: output kept in memory instead */
    struct lsl_session_io *io;
    struct lsl_frame_reader rd;
    struct lsl_frame_writer wr;
    uint8_t mode[3];
    int tty; /* the local terminal whose size the pty follows, or -1 */
    bool hello, started, stdin_done;
    bool term_sent;   /* a SIGTERM or SIGHUP went to the command: the next one ends lsl (see on_signal) */
    bool sock_wdead;  /* sending failed: the agent closed; what it sent before (EXIT) is still read */
    bool out_dead[3]; /* [1], [2]: local stdout/stderr failed; output for it is discarded */
    uint64_t credit;
    /* One output frame being written to a local fd; it points into the reader, which is not refilled
     * until the frame is written. */
    const uint8_t *pend;
    size_t pend_len;
    int pend_idx;
};

__attribute__((format(printf, 3, 4))) static int fail(struct client *c, int err, const char *fmt, ...)
{
    va_list ap;

    if (c->io && c->io->errbuf && c->io->errlen) {
        va_start(ap, fmt);
        vsnprintf(c->io->errbuf, c->io->errlen, fmt, ap);
        va_end(ap);
    }
    return err;
}

static int put_exec(struct client *c, const struct lsl_exec_request *req)
{
    struct winsize ws = {0};
    struct lsl_exec_msg m = {.flags = req->flags, .cwd = req->cwd, .user = req->user, .distro = req->distro};
    uint8_t *p;
    size_t len;

    /* The encoder only reads the strings; the arrays are typed for the decoder's sake. */
    m.argv = (char **)req->argv;
    m.env = (char **)req->envp;
    for (; req->argv && req->argv[m.argc]; m.argc++)
        ;
    for (; req->envp && req->envp[m.envc]; m.envc++)
        ;
    memcpy(m.stdio, c->mode, 3);
    if (c->tty >= 0)
        (void)ioctl(c->tty, TIOCGWINSZ, &ws);
    m.rows = ws.ws_row;
    m.cols = ws.ws_col;
    if (m.argc == 0)
        return fail(c, -EINVAL, "no command given");
    len = lsl_exec_size(&m);
    if (len == 0)
        return fail(c, -E2BIG, "the command line and environment exceed %u bytes", LSL_FRAME_MAX);
    p = lsl_frame_reserve(&c->wr, len);
    if (!p)
        return fail(c, -ENOMEM, "out of memory");
    lsl_exec_encode(&m, p, len);
    lsl_frame_commit(&c->wr, LSL_EXEC, len);
    return 0;
}

/* Local output must never block a write(): the signals wait in the signalfd while the session runs, so a
 * write() stuck on a pipe nobody drains, or on a terminal that does not read, would leave lsl deaf to
 * SIGTERM (poll() says that there is room, not how much). A regular file never blocks and a socket takes
 * MSG_DONTWAIT. A pipe or a terminal is opened once more through /proc: a file description of our own that
 * can be non-blocking without touching the one the shell shares with us (ssh sets O_NONBLOCK on the shared
 * one, and the shell then meets EAGAIN). Where that cannot be done, at most PIPE_BUF bytes go per wake-up,
 * which a pipe that polled writable takes without blocking. */
static void out_prepare(struct client *c, int i)
{
    struct stat st;
    char path[32];
    int fd = c->fds[i], fl = fd >= 0 ? fcntl(fd, F_GETFL) : -1;

    c->out[i] = fd;
    c->out_how[i] = OUT_PLAIN;
    if (fl < 0 || fstat(fd, &st) < 0 || (fl & O_NONBLOCK) || S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
        return;
    if (S_ISSOCK(st.st_mode)) {
        c->out_how[i] = OUT_SOCKET;
        return;
    }
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    c->out_own[i] = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (c->out_own[i] >= 0)
        c->out[i] = c->out_own[i];
    else
        c->out_how[i] = OUT_CHUNKED;
}

/* One write to local output idx that cannot block (out_prepare): what it took, or -1 with errno. */
static ssize_t out_write(struct client *c, int idx, const void *buf, size_t len)
{
    if (c->out_how[idx] == OUT_UNSET)
        out_prepare(c, idx);
    if (c->out_how[idx] == OUT_CHUNKED)
        len = MIN(len, (size_t)PIPE_BUF);
    return c->out_how[idx] == OUT_SOCKET ? send(c->out[idx], buf, len, MSG_DONTWAIT | MSG_NOSIGNAL)
                                         : write(c->out[idx], buf, len);
}

/* Writes the pending output frame to its local fd. Returns 0 when done, -EAGAIN when the fd is full. */
static int write_pending(struct client *c)
{
    int idx = c->pend_idx;

    while (c->pend_len > 0) {
        ssize_t n;

        if (c->out_dead[idx]) {
            c->pend_len = 0;
            break;
        }
        n = out_write(c, idx, c->pend, c->pend_len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return -EAGAIN;
            /* EPIPE (or any failure): stop writing there; see the top of the file for why SIGPIPE. */
            c->out_dead[idx] = true;
            if (idx == 1 && lsl_frame_put_u32(&c->wr, LSL_SIGNAL, SIGPIPE) < 0)
                return -ENOMEM;
            continue;
        }
        c->pend += n;
        c->pend_len -= (size_t)n;
        if (c->out_how[idx] == OUT_CHUNKED && c->pend_len)
            return -EAGAIN; /* the next piece once poll() says there is room again */
    }
    return 0;
}

/* Output for a capture (struct lsl_capture): kept within its max, whatever arrives. Returns GO_ON or a
 * failure. */
static int capture_put(struct client *c, struct lsl_capture *k, const uint8_t *data, size_t len)
{
    if (k->len + len > k->max) {
        if (k->mode == LSL_CAPTURE_HEAD)
            return fail(c, -EMSGSIZE, "the command's output is over %zu bytes", k->max);
        if (len >= k->max) { /* only the end of this one stays */
            data += len - k->max;
            len = k->max;
            k->len = 0;
        } else {
            size_t drop = k->len + len - k->max;
            memmove(k->data, k->data + drop, k->len - drop);
            k->len -= drop;
        }
        k->cut = true;
    }
    if (!k->data || k->len + len + 1 > k->size) {
        /* Doubling, up to max + 1: a small answer stays small, and nothing grows past the limit. */
        size_t size = MAX(k->len + len + 1, MIN(k->max + 1, MAX(k->size * 2, (size_t)4096)));
        char *grown = realloc(k->data, size);

        if (!grown)
            return fail(c, -ENOMEM, "out of memory");
        k->data = grown;
        k->size = size;
    }
    memcpy(k->data + k->len, data, len);
    k->len += len;
    k->data[k->len] = '\0';
    return GO_ON;
}

/* An ERROR from the agent: 127/126 as a shell would return, anything else a session failure. */
static int on_error(struct client *c, const struct lsl_frame *f)
{
    uint32_t code;
    int len;

    if (f->len < 4)
        return fail(c, -EPROTO, "malformed ERROR from the agent");
    code = lsl_get_u32(f->data);
    len = f->len - 4 > 1024 ? 1024 : (int)(f->len - 4);
    if (c->io)
        c->io->remote_error = (int)code;
    if (code == LSL_ERR_NOT_FOUND || code == LSL_ERR_NO_EXEC) {
        char line[1100];
        const char *who = c->io && c->io->who ? c->io->who : "lsl";
        int n = snprintf(line, sizeof(line), "%.64s: %.*s\n", who, len, (const char *)(f->data + 4));

        /* Like a shell's complaint, on the command's stderr; one short line, written as a whole. */
        if (c->cap[2])
            (void)capture_put(c, c->cap[2], (const uint8_t *)line, (size_t)n);
        else
            (void)out_write(c, 2, line, MIN((size_t)n, sizeof(line) - 1));
        return code == LSL_ERR_NOT_FOUND ? 127 : 126;
    }
    /* The reason is the agent's message; one that says nothing (empty, or a NUL first) still gets one. */
    if (len > 0 && f->data[4] != '\0')
        (void)fail(c, 0, "%.*s", len, (const char *)(f->data + 4));
    else
        (void)fail(c, 0, "the agent reported error %u without a message", code);
    return code == LSL_ERR_PROTOCOL ? -EPROTO : -EREMOTEIO;
}

/* Handles one frame. Returns GO_ON, or the session's result (a status 0-255, or < 0 for a failure). */
static int on_frame(struct client *c, const struct lsl_frame *f)
{
    if (!c->hello) {
        if (f->type != LSL_HELLO || f->len != 4)
            return fail(c, -EPROTO, "the agent did not greet (frame type %u)", f->type);
        if (lsl_get_u32(f->data) != LSL_AGENT_VERSION)
            return fail(c, -EPROTO, "the agent speaks protocol version %u, not %u", lsl_get_u32(f->data),
                        LSL_AGENT_VERSION);
        c->hello = true;
        return GO_ON;
    }
    if (f->type == LSL_ERROR)
        return on_error(c, f);
    if (!c->started) {
        if (f->type != LSL_STARTED || f->len != 4)
            return fail(c, -EPROTO, "unexpected frame type %u from the agent before STARTED", f->type);
        c->started = true;
        if (c->io)
            c->io->started = true;
        return GO_ON;
    }
    switch (f->type) {
    case LSL_STDOUT:
    case LSL_STDERR:
        if (c->cap[f->type == LSL_STDOUT ? 1 : 2])
            return capture_put(c, c->cap[f->type == LSL_STDOUT ? 1 : 2], f->data, f->len);
        c->pend = f->data;
        c->pend_len = f->len;
        c->pend_idx = f->type == LSL_STDOUT ? 1 : 2;
        return write_pending(c) == -ENOMEM ? fail(c, -ENOMEM, "out of memory") : GO_ON;
    case LSL_STDIN_CREDIT:
        if (f->len != 4)
            break;
        c->credit += lsl_get_u32(f->data);
        if (c->credit > UINT32_MAX) /* outstanding credit is bounded by the agent's buffer */
            break;
        return GO_ON;
    case LSL_EXIT:
        if (f->len != 4 || lsl_get_u32(f->data) > 255)
            break;
        return (int)lsl_get_u32(f->data);
    default:
        break;
    }
    return fail(c, -EPROTO, "malformed or unexpected frame type %u from the agent", f->type);
}

/* Reads local stdin into a STDIN frame, within credit; EOF (or a failing stdin) becomes STDIN_EOF. */
static int read_stdin(struct client *c)
{
    size_t max = c->credit < STDIN_CHUNK ? (size_t)c->credit : STDIN_CHUNK;
    uint8_t *p = lsl_frame_reserve(&c->wr, max);
    ssize_t n;

    if (!p)
        return fail(c, -ENOMEM, "out of memory");
    do
        n = read(c->fds[0], p, max);
    while (n < 0 && errno == EINTR);
    if (n > 0) {
        lsl_frame_commit(&c->wr, LSL_STDIN, (size_t)n);
        c->credit -= (uint64_t)n;
        return 0;
    }
    if (n < 0 && errno == EAGAIN)
        return 0;
    c->stdin_done = true; /* EOF; EIO from a hung-up terminal ends input the same way */
    return lsl_frame_put(&c->wr, LSL_STDIN_EOF, NULL, 0) < 0 ? fail(c, -ENOMEM, "out of memory") : 0;
}

/* Returns 0, a negative errno, or 128+N when lsl gives up on the session: a second SIGTERM or SIGHUP, after
 * the first went to the command and the session did not end, means the command ignores it or the VM no longer
 * answers; waiting for ever would make lsl itself unkillable short of SIGKILL. (The agent takes the command
 * down when the connection closes.) SIGINT is always forwarded: a program may well catch it twice. Before
 * the command started there is nobody to forward to (and an agent that never reads would never get it):
 * any of them ends lsl at once. */
static int on_signal(struct client *c)
{
    struct signalfd_siginfo si;

    while (read(c->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        int r;

        if (si.ssi_signo == SIGWINCH) {
            struct winsize ws;
            uint8_t p[4];

            if (c->tty < 0 || ioctl(c->tty, TIOCGWINSZ, &ws) < 0)
                continue;
            lsl_put_u16(p, ws.ws_row);
            lsl_put_u16(p + 2, ws.ws_col);
            r = lsl_frame_put(&c->wr, LSL_WINSIZE, p, sizeof(p));
        } else {
            bool term = si.ssi_signo == SIGTERM || si.ssi_signo == SIGHUP;

            if (!c->started || (term && c->term_sent))
                return 128 + (int)si.ssi_signo;
            c->term_sent |= term;
            r = lsl_frame_put_u32(&c->wr, LSL_SIGNAL, si.ssi_signo);
        }
        if (r < 0)
            return fail(c, -ENOMEM, "out of memory");
    }
    return 0;
}

enum { P_SOCK, P_SIG, P_IN, P_OUT, P_N };

#define CONNECT_TIMEOUT_MS 30000

/* The VMM's hybrid vsock: "CONNECT PORT\n" on its socket is answered "OK HOSTPORT\n" once the guest accepted,
 * and the VMM reads nothing past the line before that, so HELLO and EXEC go out right behind it: the
 * handshake costs no round trip of its own. The answer is read up to its newline and no further (the
 * agent's HELLO follows it). A connection the guest refuses is closed by the VMM without an answer. The
 * frames are sent as the socket takes them (an EXEC of a MiB does not fit at once), and the wait for the
 * answer is bounded and hears the signals. */
static int hybrid_connect(struct client *c, unsigned port)
{
    char line[HVSOCK_LINE_MAX];
    int n = hvsock_connect_line(line, port), sent = 0, r;
    uint64_t deadline = now_ns() + CONNECT_TIMEOUT_MS * 1000000ull;
    bool partial = false, closed = false;

    for (;;) {
        struct pollfd p[2] = {{.fd = c->sock}, {.fd = c->sigfd, .events = POLLIN}};
        uint64_t now;
        ssize_t got;
        char *nl;

        if (sent < n) {
            got = send(c->sock, line + sent, (size_t)(n - sent), MSG_NOSIGNAL);
            if (got < 0 && errno != EAGAIN && errno != EINTR)
                return fail(c, -ECONNREFUSED, "nothing accepted the connection to guest port %u", port);
            sent += got > 0 ? (int)got : 0;
        }
        if (sent == n && lsl_frame_pending(&c->wr) && (r = lsl_frame_flush(&c->wr, c->sock)) < 0 &&
            r != -EAGAIN)
            return fail(c, -ECONNREFUSED, "nothing accepted the connection to guest port %u", port);
        got = recv(c->sock, line, sizeof(line) - 1, MSG_PEEK);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR))
            return fail(c, -ECONNREFUSED, "nothing accepted the connection to guest port %u", port);
        nl = got > 0 ? memchr(line, '\n', (size_t)got) : NULL;
        if (nl) {
            if (strncmp(line, "OK ", 3) != 0 ||
                recv(c->sock, line, (size_t)(nl - line + 1), 0) != nl - line + 1)
                return fail(c, -EPROTO, "unexpected answer from the VM's vsock socket");
            return 0;
        }
        /* Too long for an answer, or cut short: the end of the stream came before its newline. */
        if (got == (ssize_t)sizeof(line) - 1 || (got > 0 && closed))
            return fail(c, -EPROTO, "unexpected answer from the VM's vsock socket");
        /* Part of a line is there and the rest is on its way: poll() would report it readable at once, so
         * look again in a millisecond. */
        partial = got > 0;
        now = now_ns();
        if (now >= deadline)
            return fail(c, -ETIMEDOUT, "no answer from guest port %u within %d s", port,
                        CONNECT_TIMEOUT_MS / 1000);
        p[0].events =
            (short)((partial ? POLLRDHUP : POLLIN) | (sent < n || lsl_frame_pending(&c->wr) ? POLLOUT : 0));
        r = poll(p, 2, partial ? 1 : (int)MIN((deadline - now) / 1000000 + 1, (uint64_t)INT_MAX));
        if (r < 0 && errno != EINTR)
            return fail(c, -errno, "poll: %s", strerror(errno));
        closed |= r > 0 && (p[0].revents & (POLLRDHUP | POLLHUP));
        if (r > 0 && p[1].revents && (r = on_signal(c)) != 0)
            return r;
    }
}

static int run(struct client *c, const struct lsl_exec_request *req)
{
    int r;

    /* The host's time goes with every session: the guest's clock is set right before the command runs. */
    struct timespec now;
    uint8_t clock[8];
    clock_gettime(CLOCK_REALTIME, &now);
    lsl_put_u64(clock, (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec);
    if ((r = lsl_frame_put_u32(&c->wr, LSL_HELLO, LSL_AGENT_VERSION)) < 0 ||
        (r = lsl_frame_put(&c->wr, LSL_CLOCK, clock, sizeof(clock))) < 0 || (r = put_exec(c, req)) < 0)
        return r == -ENOMEM ? fail(c, r, "out of memory") : r;
    if (c->io && c->io->connect_port && (r = hybrid_connect(c, c->io->connect_port)) != 0)
        return r;
    /* A closed local stdin is an empty one (poll() would skip a negative fd and never report EOF). */
    if (c->fds[0] < 0) {
        c->stdin_done = true;
        if (lsl_frame_put(&c->wr, LSL_STDIN_EOF, NULL, 0) < 0)
            return fail(c, -ENOMEM, "out of memory");
    }

    for (;;) {
        struct pollfd p[P_N];
        struct lsl_frame f;

        /* Frames already received go first, unless one is still being written out. */
        r = 0;
        while (c->pend_len == 0 && (r = lsl_frame_next(&c->rd, &f)) > 0)
            if ((r = on_frame(c, &f)) != GO_ON)
                return r;
        if (r < 0)
            return fail(c, -EPROTO, "oversized frame from the agent");

        for (int i = 0; i < P_N; i++)
            p[i] = (struct pollfd){.fd = -1};
        p[P_SOCK] =
            (struct pollfd){.fd = c->sock,
                            .events = (short)((c->pend_len ? 0 : POLLIN) |
                                              (lsl_frame_pending(&c->wr) && !c->sock_wdead ? POLLOUT : 0))};
        p[P_SIG] = (struct pollfd){.fd = c->sigfd, .events = POLLIN};
        /* Stdin waits for credit, and for the socket to take what was already read. */
        if (c->started && !c->stdin_done && c->credit > 0 && lsl_frame_pending(&c->wr) < STDIN_CHUNK)
            p[P_IN] = (struct pollfd){.fd = c->fds[0], .events = POLLIN};
        if (c->pend_len)
            p[P_OUT] = (struct pollfd){.fd = c->out[c->pend_idx], .events = POLLOUT};
        if (p[P_SOCK].events == 0)
            p[P_SOCK].fd = -1;

        if (poll(p, P_N, -1) < 0) {
            if (errno == EINTR)
                continue;
            return fail(c, -errno, "poll: %s", strerror(errno));
        }
        if (p[P_SIG].revents && (r = on_signal(c)) != 0)
            return r;
        if (p[P_OUT].revents && (r = write_pending(c)) == -ENOMEM)
            return fail(c, r, "out of memory");
        if (p[P_IN].revents && (r = read_stdin(c)) < 0)
            return r;
        if (lsl_frame_pending(&c->wr) && !c->sock_wdead &&
            (p[P_SOCK].revents & (POLLOUT | POLLERR | POLLHUP))) {
            r = lsl_frame_flush(&c->wr, c->sock);
            /* The agent closes right after EXIT, so a late STDIN_EOF or SIGNAL can fail to send while the
             * EXIT waits to be read: keep reading, the read side tells how the session ended. */
            if (r < 0 && r != -EAGAIN) {
                c->sock_wdead = true;
                c->stdin_done = true;
            }
        }
        if (p[P_SOCK].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = lsl_frame_fill(&c->rd, c->sock);

            if (n == 0)
                return fail(c, -ECONNRESET, "the agent closed the connection before the command exited");
            if (n < 0 && n != -EAGAIN)
                return fail(c, -ECONNRESET, "lost the connection to the agent: %s", strerror((int)-n));
        }
    }
}

int lsl_session_exec(int fd, const struct lsl_exec_request *req, struct lsl_session_io *io)
{
    struct client c = {
        .sock = fd, .sigfd = -1, .tty = -1, .io = io, .fds = {0, 1, 2}, .out_own = {-1, -1, -1}};
    struct sigaction ign = {.sa_handler = SIG_IGN}, old_pipe;
    struct termios saved;
    bool raw = false;
    sigset_t set, old_mask;
    int r, sock_flags;

    if (io) {
        memcpy(c.fds, io->fds, sizeof(c.fds));
        memcpy(c.cap, io->capture, sizeof(c.cap));
        io->remote_error = 0;
        io->started = false;
        if (io->errbuf && io->errlen)
            io->errbuf[0] = '\0';
    }
    for (int i = 0; i < 3; i++) {
        c.mode[i] = !c.cap[i] && isatty(c.fds[i]) ? LSL_STDIO_PTY : LSL_STDIO_PIPE;
        if (c.mode[i] == LSL_STDIO_PTY && c.tty < 0)
            c.tty = c.fds[i];
    }
    /* The stream is ours for the session: non-blocking from the first frame on (see the top). */
    sock_flags = fcntl(fd, F_GETFL);
    if (sock_flags < 0 || (!(sock_flags & O_NONBLOCK) && fcntl(fd, F_SETFL, sock_flags | O_NONBLOCK) < 0))
        return fail(&c, -errno, "cannot make the connection non-blocking: %s", strerror(errno));

    /* Signals become frames: blocked and read from a signalfd, so none is lost between poll() calls. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGQUIT);
    sigaddset(&set, SIGWINCH);
    if (sigprocmask(SIG_BLOCK, &set, &old_mask) < 0) {
        r = fail(&c, -errno, "cannot block signals: %s", strerror(errno));
        (void)fcntl(fd, F_SETFL, sock_flags);
        return r;
    }
    (void)sigaction(SIGPIPE, &ign, &old_pipe);
    c.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (c.sigfd < 0) {
        r = fail(&c, -errno, "signalfd: %s", strerror(errno));
        goto out;
    }
    if (lsl_frame_reader_init(&c.rd) < 0) {
        r = fail(&c, -ENOMEM, "out of memory");
        goto out;
    }

    /* Raw mode: keys (Ctrl-C, Ctrl-D, Ctrl-Z) travel as bytes to the guest's line discipline. */
    if (c.mode[0] == LSL_STDIO_PTY && tcgetattr(c.fds[0], &saved) == 0) {
        struct termios t = saved;

        cfmakeraw(&t);
        raw = tcsetattr(c.fds[0], TCSADRAIN, &t) == 0;
    }
    r = run(&c, req);
    /* Whatever is still queued (a forwarded signal) is best effort; the session is over. */
    if (lsl_frame_pending(&c.wr) && !c.sock_wdead)
        (void)lsl_frame_flush(&c.wr, c.sock);
out:
    if (raw)
        (void)tcsetattr(c.fds[0], TCSADRAIN, &saved);
    if (c.sigfd >= 0)
        close(c.sigfd);
    for (int i = 1; i < 3; i++)
        if (c.out_own[i] >= 0)
            close(c.out_own[i]);
    (void)fcntl(fd, F_SETFL, sock_flags);
    lsl_frame_reader_free(&c.rd);
    lsl_frame_writer_free(&c.wr);
    (void)sigaction(SIGPIPE, &old_pipe, NULL);
    (void)sigprocmask(SIG_SETMASK, &old_mask, NULL);
    return r;
}
