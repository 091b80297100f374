/* The serving side of a session (session_server.h). */
#include "session_server.h"

#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define OUTPUT_CHUNK    (64u << 10)            /* one read of command output, one STDOUT/STDERR frame */
#define OUTPUT_HIGH     (256u << 10)           /* stop reading output while this much waits for the socket */
#define CREDIT_BATCH    (LSL_STDIN_WINDOW / 4) /* return credit in batches, not per write */
#define HANGUP_GRACE_MS 500                    /* between SIGHUP and SIGKILL when the client is gone */
#define LINGER_MS       2000                   /* how long the last frames wait for the client to close */
/* What a pty can hold between the command's writes and our reads: n_tty's 4 KiB and the tty buffer's
 * 64 KiB, with room to spare. */
#define PTY_DRAIN_MAX (256u << 10)

struct session {
    int sock, sigfd;
    const struct lsl_serve_ops *ops;
    void *ctx;
    struct lsl_frame_reader rd;
    struct lsl_frame_writer wr;
    struct lsl_child child;
    bool started, exited;
    bool error_sent; /* an ERROR is queued: the session ends after it */
    int status;      /* EXIT payload once exited */

    /* Stdin: received but not yet written to the command. Invariant: buffered + credit + ungranted ==
     * LSL_STDIN_WINDOW, so the buffer never overflows. */
    uint8_t *in_buf;
    size_t in_start, in_end;
    uint32_t credit;    /* granted to the client, not yet received */
    uint32_t ungranted; /* written (or dropped), not yet granted again */
    bool in_eof;        /* STDIN_EOF received: no more STDIN */
    bool in_dead;       /* the command's stdin is gone: drop what arrives */
    int pty_out_type;   /* frame for pty output: LSL_STDOUT, LSL_STDERR, or 0 to discard */

    /* Once the command has exited: what each output fd may still give (out, err, pty) before it is
     * closed; see start_drain(). */
    bool draining;
    size_t drain_left[3];
};

void lsl_child_close(struct lsl_child *c)
{
    int *fds[] = {&c->in, &c->out, &c->err, &c->pty, &c->hold};

    /* in may be the pty master itself. */
    if (c->in == c->pty)
        c->in = -1;
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
        *fds[i] = -1;
    }
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

int lsl_frame_put_error(struct lsl_frame_writer *wr, uint32_t code, const char *msg)
{
    size_t n = strlen(msg);
    uint8_t *p = lsl_frame_reserve(wr, 4 + n);

    if (!p)
        return -ENOMEM;
    lsl_put_u32(p, code);
    memcpy(p + 4, msg, n);
    lsl_frame_commit(wr, LSL_ERROR, 4 + n);
    return 0;
}

/* Queues ERROR(code, message): the session ends after it. */
static int put_error(struct session *s, uint32_t code, const char *msg)
{
    s->error_sent = true;
    return lsl_frame_put_error(&s->wr, code, msg);
}

/* Writes everything queued, waiting for the socket as long as the client is there to read. */
static int flush_all(struct session *s)
{
    for (;;) {
        struct pollfd p = {.fd = s->sock, .events = POLLOUT};
        int r = lsl_frame_flush(&s->wr, s->sock);

        if (r != -EAGAIN)
            return r;
        if (poll(&p, 1, -1) < 0 && errno != EINTR)
            return -errno;
    }
}

/* Closing a stream with unread input makes the peer's next read fail (a reset), which can destroy the
 * EXIT or ERROR just sent while a late STDIN_EOF or SIGNAL is in flight. So: end our direction, discard
 * what the client still sends until it closes (it does once it has read the last frame), then close. */
static void linger(struct session *s)
{
    struct timespec start, now;
    char discard[4096];

    if (shutdown(s->sock, SHUT_WR) < 0)
        return;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        struct pollfd p = {.fd = s->sock, .events = POLLIN};
        long elapsed;
        ssize_t n;

        clock_gettime(CLOCK_MONOTONIC, &now);
        elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (elapsed >= LINGER_MS || poll(&p, 1, (int)(LINGER_MS - elapsed)) <= 0)
            return;
        n = read(s->sock, discard, sizeof(discard));
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            return;
    }
}

/* Receives the next frame before the relay starts, flushing our output meanwhile.
 * Returns 1, 0 at end of stream, or -errno (-EPROTO for an oversized frame). */
static int recv_frame(struct session *s, struct lsl_frame *f)
{
    for (;;) {
        struct pollfd p = {.fd = s->sock, .events = POLLIN};
        int r = lsl_frame_next(&s->rd, f);
        ssize_t n;

        if (r != 0)
            return r;
        r = lsl_frame_flush(&s->wr, s->sock);
        if (r < 0 && r != -EAGAIN)
            return r;
        if (r == -EAGAIN)
            p.events |= POLLOUT;
        if (poll(&p, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        n = lsl_frame_fill(&s->rd, s->sock);
        if (n == 0)
            return 0;
        if (n < 0 && n != -EAGAIN)
            return (int)n;
    }
}

static void record_exit(struct session *s, int wstatus)
{
    s->exited = true;
    s->status = WIFSIGNALED(wstatus) ? 128 + WTERMSIG(wstatus) : WEXITSTATUS(wstatus);
}

/* Takes the pending SIGCHLDs and reaps the command if it is done. */
static void reap(struct session *s)
{
    struct signalfd_siginfo si;
    int wstatus;

    while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        ;
    if (!s->exited && waitpid(s->child.pid, &wstatus, WNOHANG) == s->child.pid)
        record_exit(s, wstatus);
}

/* The client is gone or broke the protocol: the command must not outlive the session. SIGHUP first (what
 * a closing terminal sends), SIGKILL for the whole group after a grace period, then reap the leader. */
static void kill_command(struct session *s)
{
    struct timespec start, now;
    int wstatus;

    if (!s->started)
        return;
    (void)killpg(s->child.pid, SIGHUP);
    (void)killpg(s->child.pid, SIGCONT); /* a stopped process would not see the SIGHUP */
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (!s->exited) {
        struct pollfd p = {.fd = s->sigfd, .events = POLLIN};
        long elapsed;

        reap(s);
        clock_gettime(CLOCK_MONOTONIC, &now);
        elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (s->exited || elapsed >= HANGUP_GRACE_MS)
            break;
        (void)poll(&p, 1, (int)(HANGUP_GRACE_MS - elapsed));
    }
    /* Also for the rest of the group when the leader exited: a leftover would keep the session's fds open. */
    (void)killpg(s->child.pid, SIGKILL);
    if (!s->exited && waitpid(s->child.pid, &wstatus, 0) == s->child.pid)
        record_exit(s, wstatus);
}

/* Returns written or dropped stdin bytes as credit once enough has accumulated or the buffer is empty. */
static int grant_credit(struct session *s, size_t done)
{
    int r;

    s->ungranted += (uint32_t)done;
    if (s->ungranted == 0 || (s->ungranted < CREDIT_BATCH && s->in_start != s->in_end))
        return 0;
    r = lsl_frame_put_u32(&s->wr, LSL_STDIN_CREDIT, s->ungranted);
    if (r < 0)
        return r;
    s->credit += s->ungranted;
    s->ungranted = 0;
    return 0;
}

/* The command's stdin is gone (it closed it or exited): what is buffered and what still comes is dropped,
 * and the credit keeps flowing so the client is never stuck. */
static int stdin_dead(struct session *s)
{
    size_t dropped = s->in_end - s->in_start;

    s->in_dead = true;
    s->in_start = s->in_end = 0;
    if (s->child.in != s->child.pty)
        close_fd(&s->child.in);
    s->child.in = -1;
    return grant_credit(s, dropped);
}

/* STDIN_EOF once the buffer is written. A pipe is closed. A pty cannot be half-closed, so the line
 * discipline gets VEOF (^D) when it is canonical, exactly as if the user typed it: EOF for a reader at the
 * start of a line, or the partial line submitted. A raw-mode pty gets nothing: it has no notion of EOF. */
static int apply_stdin_eof(struct session *s)
{
    if (s->child.in == s->child.pty) {
        struct termios t;

        if (tcgetattr(s->child.pty, &t) == 0 && (t.c_lflag & ICANON)) {
            ssize_t n = write(s->child.pty, &t.c_cc[VEOF], 1);

            if (n < 0 && errno == EAGAIN)
                return -EAGAIN;
        }
        s->child.in = -1;
    } else {
        close_fd(&s->child.in);
    }
    return 0;
}

/* Writes p to the command's stdin until it takes no more, without blocking; *took is what it took. Returns
 * 0, or -EPIPE once the command's stdin is gone (EPIPE, or EIO from a pty whose slave is gone). */
static int write_stdin(struct session *s, const uint8_t *p, size_t len, size_t *took)
{
    *took = 0;
    while (*took < len) {
        ssize_t n = write(s->child.in, p + *took, len - *took);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n < 0)
            return -EPIPE;
        *took += (size_t)n;
    }
    return 0;
}

/* Writes buffered stdin to the command without blocking. Returns 0 or -errno (-ENOMEM only). */
static int stdin_progress(struct session *s)
{
    if (s->child.in >= 0 && s->in_start < s->in_end) {
        size_t took;
        int r = write_stdin(s, s->in_buf + s->in_start, s->in_end - s->in_start, &took);

        s->in_start += took;
        if (s->in_start == s->in_end)
            s->in_start = s->in_end = 0;
        if (grant_credit(s, took) < 0)
            return -ENOMEM;
        if (r < 0)
            return stdin_dead(s);
        if (s->in_start != s->in_end)
            return 0; /* full: the relay polls for room */
    }
    if (s->child.in >= 0 && s->in_eof && s->in_start == s->in_end)
        (void)apply_stdin_eof(s);
    return 0;
}

static int on_stdin(struct session *s, const struct lsl_frame *f)
{
    if (f->len == 0 || f->len > s->credit || s->in_eof)
        return -EPROTO;
    s->credit -= f->len;
    if (s->in_dead)
        return grant_credit(s, f->len);
    bool waiting = s->in_start != s->in_end;
    size_t off = 0;
    /* Nothing waiting: straight from the frame to the command, and only what it did not take is kept (one
     * copy fewer per byte in a stream, the common case). */
    if (!waiting && s->child.in >= 0) {
        if (write_stdin(s, f->data, f->len, &off) < 0) /* what it took and what it never will: all credit */
            return stdin_dead(s) < 0 || grant_credit(s, f->len) < 0 ? -ENOMEM : 0;
        if (grant_credit(s, off) < 0)
            return -ENOMEM;
        if (off == f->len)
            return 0;
    }
    if (s->in_start > 0 && LSL_STDIN_WINDOW - s->in_end < f->len - off) {
        memmove(s->in_buf, s->in_buf + s->in_start, s->in_end - s->in_start);
        s->in_end -= s->in_start;
        s->in_start = 0;
    }
    memcpy(s->in_buf + s->in_end, f->data + off, f->len - off);
    s->in_end += f->len - off;
    return waiting ? stdin_progress(s) : 0;
}

/* Handles one frame of the relay phase. Returns 0 or -errno (-EPROTO: the client broke the protocol). */
static int on_frame(struct session *s, const struct lsl_frame *f)
{
    switch (f->type) {
    case LSL_STDIN:
        return on_stdin(s, f);
    case LSL_STDIN_EOF:
        if (f->len != 0 || s->in_eof)
            return -EPROTO;
        s->in_eof = true;
        return stdin_progress(s);
    case LSL_SIGNAL: {
        uint32_t sig;

        if (f->len != 4)
            return -EPROTO;
        sig = lsl_get_u32(f->data);
        if (sig < 1 || sig >= NSIG)
            return -EPROTO;
        /* Also after the leader exited: the rest of its group may still run. ESRCH is no error. */
        (void)killpg(s->child.pid, (int)sig);
        return 0;
    }
    case LSL_WINSIZE: {
        struct winsize ws;

        if (f->len != 4)
            return -EPROTO;
        ws = (struct winsize){.ws_row = lsl_get_u16(f->data), .ws_col = lsl_get_u16(f->data + 2)};
        /* The kernel sends SIGWINCH to the pty's foreground group itself. No pty: nothing to resize. */
        if (s->child.pty >= 0)
            (void)ioctl(s->child.pty, TIOCSWINSZ, &ws);
        return 0;
    }
    default:
        return -EPROTO; /* HELLO or EXEC again, agent-to-client types, unknown types */
    }
}

static void close_output(struct session *s, int *fd)
{
    if (*fd == s->child.in)
        s->child.in = -1;
    close_fd(fd);
}

/* Reads command output from fd into a frame of type (0: read and discard). Closes *fd at EOF; a pty
 * master reports EOF as EIO once every slave fd is closed. While draining, *left bounds the read, and
 * nothing more to read now (EAGAIN) or nothing left closes it too. */
static int read_output(struct session *s, int *fd, uint32_t type, size_t *left)
{
    static uint8_t discard[4096];
    size_t max = type ? OUTPUT_CHUNK : sizeof(discard);
    uint8_t *p = type ? lsl_frame_reserve(&s->wr, OUTPUT_CHUNK) : discard;
    ssize_t n;

    if (!p)
        return -ENOMEM;
    if (s->draining && *left < max)
        max = *left;
    n = 0;
    while (max > 0 && (n = read(*fd, p, max)) < 0 && errno == EINTR)
        ;
    if (n > 0 && type)
        lsl_frame_commit(&s->wr, type, (size_t)n);
    if (n > 0 && s->draining)
        *left -= (size_t)n;
    if (n == 0 || (n < 0 && (errno != EAGAIN || s->draining)) || (s->draining && *left == 0))
        close_output(s, fd);
    return 0;
}

/* The command has exited: the session ends once what its output fds hold now is sent, whoever else still
 * holds them. That is wsl.exe's behaviour (`sleep 60 & echo hi` prints hi and returns at once, the
 * background child runs on in the distribution) and it bounds what a busy child can add. A pipe holds
 * exactly what FIONREAD counts. A pty's count would miss what still sits in the tty layer's buffer (a
 * non-blocking read flushes that first), so it is read until it has nothing more, up to PTY_DRAIN_MAX. */
static void start_drain(struct session *s)
{
    int *fds[2] = {&s->child.out, &s->child.err};

    s->draining = true;
    for (int i = 0; i < 2; i++) {
        int n = 0;

        if (*fds[i] >= 0 && ioctl(*fds[i], FIONREAD, &n) < 0)
            n = 0;
        s->drain_left[i] = n > 0 ? (size_t)n : 0;
        if (*fds[i] >= 0 && n <= 0)
            close_output(s, fds[i]);
    }
    s->drain_left[2] = PTY_DRAIN_MAX;
}

static bool output_open(const struct session *s)
{
    return s->child.out >= 0 || s->child.err >= 0 || s->child.pty >= 0;
}

enum { P_SOCK, P_SIG, P_OUT, P_ERR, P_PTY, P_IN, P_N };

/* The relay loop. Returns 0 once the command is done (EXIT queued), or -errno. */
static int relay(struct session *s)
{
    struct lsl_frame first;
    int fr;

    /* Frames that came in the same read as the EXEC (a client with a closed stdin sends STDIN_EOF right
     * behind it) are already in the reader: poll() below only reports bytes still to be read. */
    while ((fr = lsl_frame_next(&s->rd, &first)) > 0)
        if ((fr = on_frame(s, &first)) < 0)
            return fr;
    if (fr < 0)
        return fr;
    while (!s->exited || output_open(s)) {
        struct pollfd p[P_N];
        bool want_out, want_in, drain_now;
        int r;

        if (s->exited && !s->draining) {
            start_drain(s);
            continue; /* it may have closed them all */
        }
        want_out = lsl_frame_pending(&s->wr) < OUTPUT_HIGH;
        /* After the exit there is nobody to take stdin and no more output to wait for: what is there is
         * read right away, and poll() only waits while the socket is behind. */
        want_in = !s->draining && s->child.in >= 0 && (s->in_start < s->in_end || s->in_eof);
        drain_now = s->draining && want_out && output_open(s);

        for (int i = 0; i < P_N; i++)
            p[i] = (struct pollfd){.fd = -1};
        p[P_SOCK] =
            (struct pollfd){.fd = s->sock, .events = POLLIN | (lsl_frame_pending(&s->wr) ? POLLOUT : 0)};
        p[P_SIG] = (struct pollfd){.fd = s->sigfd, .events = POLLIN};
        /* An fd is left out entirely while not wanted: POLLHUP cannot be masked and would spin. */
        if (want_out && !s->draining) {
            p[P_OUT] = (struct pollfd){.fd = s->child.out, .events = POLLIN};
            p[P_ERR] = (struct pollfd){.fd = s->child.err, .events = POLLIN};
        }
        if (s->child.pty >= 0 && !s->draining && (want_out || (want_in && s->child.in == s->child.pty)))
            p[P_PTY] =
                (struct pollfd){.fd = s->child.pty,
                                .events = (short)((want_out ? POLLIN : 0) |
                                                  (want_in && s->child.in == s->child.pty ? POLLOUT : 0))};
        if (want_in && s->child.in != s->child.pty)
            p[P_IN] = (struct pollfd){.fd = s->child.in, .events = POLLOUT};

        if (poll(p, P_N, drain_now ? 0 : -1) < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }

        if (p[P_SOCK].revents & POLLOUT) {
            r = lsl_frame_flush(&s->wr, s->sock);
            if (r < 0 && r != -EAGAIN)
                return -ECONNRESET;
        }
        if (p[P_SOCK].revents & (POLLIN | POLLHUP | POLLERR)) {
            struct lsl_frame f;
            ssize_t n = lsl_frame_fill(&s->rd, s->sock);

            if (n == 0 || (n < 0 && n != -EAGAIN))
                return -ECONNRESET;
            while ((r = lsl_frame_next(&s->rd, &f)) > 0)
                if ((r = on_frame(s, &f)) < 0)
                    return r;
            if (r < 0)
                return r;
        }
        if (p[P_SIG].revents)
            reap(s);
        if (drain_now) {
            if (s->child.out >= 0 && (r = read_output(s, &s->child.out, LSL_STDOUT, &s->drain_left[0])) < 0)
                return r;
            if (s->child.err >= 0 && (r = read_output(s, &s->child.err, LSL_STDERR, &s->drain_left[1])) < 0)
                return r;
            if (s->child.pty >= 0 &&
                (r = read_output(s, &s->child.pty, (uint32_t)s->pty_out_type, &s->drain_left[2])) < 0)
                return r;
            continue;
        }
        if (p[P_OUT].revents && (r = read_output(s, &s->child.out, LSL_STDOUT, NULL)) < 0)
            return r;
        if (p[P_ERR].revents && (r = read_output(s, &s->child.err, LSL_STDERR, NULL)) < 0)
            return r;
        if (p[P_PTY].revents & (POLLIN | POLLHUP | POLLERR)) {
            if (!want_out) {
                if ((r = stdin_dead(s)) < 0) /* only asked to write, and the slave side is gone */
                    return r;
            } else if ((r = read_output(s, &s->child.pty, (uint32_t)s->pty_out_type, NULL)) < 0)
                return r;
        }
        if ((p[P_PTY].revents & POLLOUT) || p[P_IN].revents)
            if ((r = stdin_progress(s)) < 0)
                return r;
    }
    return lsl_frame_put_u32(&s->wr, LSL_EXIT, (uint32_t)s->status);
}

/* HELLO both ways, the frames ops->other takes, then the EXEC and the start of the command. Returns 1 when
 * the command runs, 0 when the session ends here (ERROR or another answer queued), or -errno (-EPROTO: the
 * client broke the protocol). */
static int handshake(struct session *s)
{
    struct lsl_exec_msg e;
    struct lsl_frame f;
    char msg[512];
    bool took_other = false;
    int r;

    r = lsl_frame_put_u32(&s->wr, LSL_HELLO, LSL_AGENT_VERSION);
    if (r < 0)
        return r;
    r = recv_frame(s, &f);
    if (r <= 0)
        return r == 0 ? -ECONNRESET : r;
    if (f.type != LSL_HELLO || f.len != 4)
        return -EPROTO;
    if (lsl_get_u32(f.data) != LSL_AGENT_VERSION) {
        snprintf(msg, sizeof(msg), "unsupported protocol version %u (this side speaks %u)",
                 lsl_get_u32(f.data), LSL_AGENT_VERSION);
        r = put_error(s, LSL_ERR_PROTOCOL, msg);
        return r < 0 ? r : -EPROTO;
    }

    for (;;) {
        r = recv_frame(s, &f);
        if (r <= 0)
            return r == 0 ? (took_other ? 0 : -ECONNRESET)
                          : r; /* EOF after a CLOCK ends a clock-only session */
        if (f.type == LSL_EXEC)
            break;
        r = s->ops->other ? s->ops->other(s->ctx, &s->wr, &f) : -EPROTO;
        if (r <= 0)
            return r;
        took_other = true;
    }
    r = lsl_exec_decode(f.data, f.len, &e);
    if (r < 0)
        return r;
    r = s->ops->start(s->ctx, &e, &s->child, msg, sizeof(msg));
    if (r == 0) {
        s->started = true;
        s->pty_out_type = e.stdio[1] == LSL_STDIO_PTY   ? LSL_STDOUT
                          : e.stdio[2] == LSL_STDIO_PTY ? LSL_STDERR
                                                        : 0;
        s->credit = LSL_STDIN_WINDOW;
        r = lsl_frame_put_u32(&s->wr, LSL_STARTED, (uint32_t)s->child.pid);
        if (r == 0)
            r = lsl_frame_put_u32(&s->wr, LSL_STDIN_CREDIT, LSL_STDIN_WINDOW);
        r = r < 0 ? r : 1;
    } else {
        r = put_error(s, (uint32_t)r, msg);
    }
    lsl_exec_msg_free(&e);
    return r;
}

int lsl_session_serve(int fd, const struct lsl_serve_ops *ops, void *ctx)
{
    struct session s = {.sock = fd, .sigfd = -1, .ops = ops, .ctx = ctx, .child = LSL_CHILD_NONE};
    struct sigaction ign = {.sa_handler = SIG_IGN}, old_pipe;
    sigset_t chld, old_mask;
    int r, fl;

    /* SIGCHLD through a signalfd keeps the poll loop free of races; a stdin pipe whose reader is gone must
     * be an EPIPE, not a fatal signal. */
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    (void)sigprocmask(SIG_BLOCK, &chld, &old_mask);
    (void)sigaction(SIGPIPE, &ign, &old_pipe);

    fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        r = -errno;
        goto out;
    }
    s.sigfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
    s.in_buf = malloc(LSL_STDIN_WINDOW);
    if (s.sigfd < 0 || !s.in_buf || lsl_frame_reader_init(&s.rd) < 0) {
        r = s.sigfd < 0 ? -errno : -ENOMEM;
        goto out;
    }

    r = handshake(&s);
    if (r > 0)
        r = relay(&s);
    if ((r == -EPROTO || r == -ENOMEM) && !s.error_sent) {
        /* Told to the client, then the session ends; the command must not run on unattended. */
        (void)put_error(&s, r == -EPROTO ? LSL_ERR_PROTOCOL : LSL_ERR_INTERNAL,
                        r == -EPROTO ? "malformed or unexpected frame" : "out of memory");
    }
    if (r < 0)
        kill_command(&s);
    if (r != -ECONNRESET) {
        int f = flush_all(&s);

        if (f == 0)
            linger(&s);
        else if (r == 0)
            r = -ECONNRESET;
    }
out:
    lsl_child_close(&s.child);
    close_fd(&s.sigfd);
    free(s.in_buf);
    lsl_frame_reader_free(&s.rd);
    lsl_frame_writer_free(&s.wr);
    close(fd);
    (void)sigaction(SIGPIPE, &old_pipe, NULL);
    (void)sigprocmask(SIG_SETMASK, &old_mask, NULL);
    return r;
}
