/* The agent session (guest/agent) against the host client (proto/session_client.c) over socketpairs, running
 * real host binaries; plus raw frames for what a well-behaved client never sends. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "activity.h"
#include "activity_scan.h"
#include "agent.h"
#include "check.h"
#include "clock.h"
#include "frame.h"
/* Both sides are called session.h: name them by path. */
#include "session_client.h"
#include "unix_socket.h"
#include "../../guest/agent/distro_enter.h"
#include "../../guest/agent/distro_layout.h"
#include "../../guest/agent/session.h"

/* The agent in a child process on one end of a socketpair; *client gets the other end. home: see
 * agent_session_run(). vmm: NULL, or the part of the VMM's hybrid vsock: the child first reads the
 * "CONNECT PORT" line byte by byte (as the VMM does, nothing past it) and answers vmm + "\n" ("" closes
 * instead: a guest that refused), and only then serves the session. */
static pid_t start_agent_ex(int *client, const char *home, const char *vmm)
{
    int sv[2];
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        char line[64];
        size_t n = 0;

        close(sv[0]);
        while (vmm && n < sizeof(line) - 1 && read(sv[1], line + n, 1) == 1 && line[n] != '\n')
            n++;
        line[n] = '\0';
        if (vmm && (strcmp(line, "CONNECT 1003") != 0 || !vmm[0]))
            _exit(3);
        if (vmm && (write(sv[1], vmm, strlen(vmm)) < 0 || write(sv[1], "\n", 1) < 0))
            _exit(4);
        _exit(agent_session_run(sv[1], home) < 0 ? 1 : 0);
    }
    close(sv[1]);
    *client = sv[0];
    return pid;
}

static pid_t start_agent(int *client)
{
    return start_agent_ex(client, NULL, NULL);
}

/* The agent's exit code, or -1 if it crashed. */
static int finish_agent(pid_t pid)
{
    int st;

    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int memfd_with(const void *data, size_t len)
{
    int fd = memfd_create("test", MFD_CLOEXEC);

    if (fd >= 0 && len)
        CHECK_EQ(write(fd, data, len), (long long)len);
    if (fd >= 0)
        lseek(fd, 0, SEEK_SET);
    return fd;
}

/* Everything written to a memfd, NUL-terminated; *len_out its size. */
static char *memfd_contents(int fd, size_t *len_out)
{
    off_t len = lseek(fd, 0, SEEK_END);
    char *buf = malloc((size_t)len + 1);

    CHECK_EQ(pread(fd, buf, (size_t)len, 0), len);
    buf[len] = '\0';
    if (len_out)
        *len_out = (size_t)len;
    return buf;
}

struct result {
    int status, agent, remote_error;
    char *out, *err;
    size_t out_len, err_len;
    char errbuf[256];
};

/* `true` through a session with the given home agent and VMM answer (start_agent_ex), naming distro. */
static void run_routed(struct result *res, const char *home, const char *vmm, const char *distro)
{
    struct lsl_exec_request req = {.argv = (const char *const[]){"/bin/true", NULL}, .distro = distro};
    struct lsl_session_io io = {.fds = {-1, memfd_with(NULL, 0), memfd_with(NULL, 0)}};
    int fd;
    pid_t pid = start_agent_ex(&fd, home, vmm);

    memset(res, 0, sizeof(*res));
    io.errbuf = res->errbuf;
    io.errlen = sizeof(res->errbuf);
    io.connect_port = vmm ? 1003 : 0;
    res->status = lsl_session_exec(fd, &req, &io);
    close(fd);
    res->agent = finish_agent(pid);
    res->remote_error = io.remote_error;
    close(io.fds[1]);
    close(io.fds[2]);
}

/* Runs argv through lsl_session_exec with memfds for stdin (holding in), stdout and stderr. */
static void run_ex(struct result *res, const char *const *argv, const char *const *envp, const char *cwd,
                   const char *user, uint32_t flags, const void *in, size_t in_len)
{
    struct lsl_exec_request req = {.argv = argv, .envp = envp, .cwd = cwd, .user = user, .flags = flags};
    struct lsl_session_io io = {.fds = {memfd_with(in, in_len), memfd_with(NULL, 0), memfd_with(NULL, 0)}};
    int fd;
    pid_t pid = start_agent(&fd);

    io.errbuf = res->errbuf;
    io.errlen = sizeof(res->errbuf);
    res->status = lsl_session_exec(fd, &req, &io);
    close(fd);
    res->agent = finish_agent(pid);
    res->remote_error = io.remote_error;
    res->out = memfd_contents(io.fds[1], &res->out_len);
    res->err = memfd_contents(io.fds[2], &res->err_len);
    for (int i = 0; i < 3; i++)
        close(io.fds[i]);
}

static void run(struct result *res, const char *const *argv)
{
    run_ex(res, argv, NULL, NULL, NULL, 0, NULL, 0);
}

static void result_free(struct result *res)
{
    free(res->out);
    free(res->err);
}

static void test_exit_codes(void)
{
    static const char *const codes[] = {"0", "1", "42", "255"};

    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        char script[32];
        struct result r;

        snprintf(script, sizeof(script), "exit %s", codes[i]);
        run(&r, (const char *const[]){"/bin/sh", "-c", script, NULL});
        CHECK_EQ(r.status, atoi(codes[i]));
        if (r.status < 0)
            fprintf(stderr, "%s: %s agent=%d\n", script, r.errbuf, r.agent);
        CHECK_EQ(r.agent, 0);
        result_free(&r);
    }
}

static void test_killed_by_signal(void)
{
    struct result r;

    run(&r, (const char *const[]){"/bin/sh", "-c", "kill -9 $$", NULL});
    CHECK_EQ(r.status, 128 + 9);
    result_free(&r);
}

static void test_not_found(void)
{
    struct result r;

    run(&r, (const char *const[]){"/nonexistent/lsl-test", NULL});
    CHECK_EQ(r.status, 127);
    CHECK(strstr(r.err, "/nonexistent/lsl-test") != NULL);
    CHECK_EQ(r.out_len, 0);
    CHECK_EQ(r.agent, 0);
    result_free(&r);

    /* PATH comes from the request's environment. */
    run_ex(&r, (const char *const[]){"no-such-command-lsl", NULL}, (const char *const[]){"PATH=/bin", NULL},
           NULL, NULL, 0, NULL, 0);
    CHECK_EQ(r.status, 127);
    CHECK(strncmp(r.err, "lsl: no-such-command-lsl: command not found", 43) == 0); /* the default speaker */
    result_free(&r);
    run_ex(&r, (const char *const[]){"true", NULL}, (const char *const[]){"PATH=/nonexistent:/bin", NULL},
           NULL, NULL, 0, NULL, 0);
    CHECK_EQ(r.status, 0);
    result_free(&r);

    run(&r, (const char *const[]){"/etc/passwd", NULL}); /* exists, not executable */
    CHECK_EQ(r.status, 126);
    result_free(&r);
}

static void test_stdout_stderr(void)
{
    struct result r;

    run(&r, (const char *const[]){"/bin/sh", "-c", "echo out; echo err >&2; echo out2; exit 3", NULL});
    CHECK_EQ(r.status, 3);
    CHECK(strcmp(r.out, "out\nout2\n") == 0);
    CHECK(strcmp(r.err, "err\n") == 0);
    result_free(&r);
}

/* 8 MiB of binary through stdin, cat and stdout, byte for byte; cat ends only if STDIN_EOF arrives. */
static void test_cat_binary(void)
{
    size_t len = 8u << 20;
    unsigned char *data = malloc(len);
    uint32_t x = 2463534242u;
    struct result r;

    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        data[i] = (unsigned char)x;
    }
    run_ex(&r, (const char *const[]){"/bin/cat", NULL}, NULL, NULL, NULL, 0, data, len);
    CHECK_EQ(r.status, 0);
    CHECK_EQ(r.out_len, len);
    CHECK(r.out_len == len && memcmp(r.out, data, len) == 0);
    CHECK_EQ(r.err_len, 0);
    result_free(&r);
    free(data);
}

/* A command that reads a little of a long stdin and exits: the rest is dropped (credit keeps flowing, so the
 * client is never stuck), and its output and exit code arrive. */
static void test_stdin_unread(void)
{
    size_t len = 8u << 20;
    unsigned char *data = calloc(1, len);
    struct result r;

    memset(data, 'x', 10);
    run_ex(&r, (const char *const[]){"/bin/sh", "-c", "head -c 10; exit 3", NULL}, NULL, NULL, NULL, 0, data,
           len);
    CHECK_EQ(r.status, 3);
    CHECK(r.out_len == 10 && memcmp(r.out, "xxxxxxxxxx", 10) == 0);
    result_free(&r);
    free(data);
}

static void test_env_cwd_user(void)
{
    struct result r;

    run_ex(&r,
           (const char *const[]){"/bin/sh", "-c", "echo \"$HOME|$USER|$LOGNAME|$FOO|$(pwd)|$(id -u)\"", NULL},
           (const char *const[]){"FOO=bar baz", "PATH=/usr/bin:/bin", NULL}, "/tmp", "", 0, NULL, 0);
    CHECK_EQ(r.status, 0);
    CHECK(strcmp(r.out, "/root|root|root|bar baz|/tmp|0\n") == 0);
    result_free(&r);

    /* Given variables win over the login defaults; an empty cwd is the home directory. */
    run_ex(&r, (const char *const[]){"/bin/sh", "-c", "echo \"$HOME|$(pwd)\"", NULL},
           (const char *const[]){"HOME=/nonexistent", NULL}, NULL, "root", 0, NULL, 0);
    CHECK(strcmp(r.out, "/nonexistent|/root\n") == 0);
    result_free(&r);

    run_ex(&r, (const char *const[]){"/bin/cat", "/proc/self/cmdline", NULL}, NULL, NULL, NULL,
           LSL_EXEC_LOGIN, NULL, 0);
    CHECK(r.out_len == sizeof("-cat\0/proc/self/cmdline") &&
          memcmp(r.out, "-cat\0/proc/self/cmdline", r.out_len) == 0);
    result_free(&r);

    run_ex(&r, (const char *const[]){"/bin/true", NULL}, NULL, NULL, "no-such-user-lsl", 0, NULL, 0);
    CHECK_EQ(r.status, -EREMOTEIO);
    CHECK_EQ(r.remote_error, LSL_ERR_NO_USER);
    CHECK(strstr(r.errbuf, "no-such-user-lsl") != NULL);
    result_free(&r);

    run_ex(&r, (const char *const[]){"/bin/true", NULL}, NULL, "/nonexistent", NULL, 0, NULL, 0);
    CHECK_EQ(r.status, -EREMOTEIO);
    CHECK_EQ(r.remote_error, LSL_ERR_NO_CWD);
    result_free(&r);

    /* LSL_EXEC_CWD_OR_HOME (lsl's guess from the host's directory): entered when it can be, else the home. */
    run_ex(&r, (const char *const[]){"/bin/pwd", NULL}, NULL, "/nonexistent", NULL, LSL_EXEC_CWD_OR_HOME,
           NULL, 0);
    CHECK_EQ(r.status, 0);
    CHECK(strcmp(r.out, "/root\n") == 0);
    result_free(&r);
    run_ex(&r, (const char *const[]){"/bin/pwd", NULL}, NULL, "/tmp", NULL, LSL_EXEC_CWD_OR_HOME, NULL, 0);
    CHECK_EQ(r.status, 0);
    CHECK(strcmp(r.out, "/tmp\n") == 0);
    result_free(&r);

    /* "nobody" really switches: uid and supplementary groups. */
    run_ex(&r, (const char *const[]){"/bin/sh", "-c", "id -u; id -G", NULL},
           (const char *const[]){"PATH=/usr/bin:/bin", NULL}, "/", "nobody", 0, NULL, 0);
    CHECK_EQ(r.status, 0);
    CHECK(strncmp(r.out, "65534\n", 6) == 0);
    CHECK(strstr(r.out, "\n0\n") == NULL && strstr(r.out, " 0") == NULL);
    result_free(&r);
}

/* --- Raw frames --- */

static void send_raw(int fd, const void *data, size_t len)
{
    CHECK_EQ(send(fd, data, len, MSG_NOSIGNAL), (long long)len);
}

static void send_frame(int fd, uint32_t type, const void *data, size_t len)
{
    struct lsl_frame_writer w = {0};

    CHECK_EQ(lsl_frame_put(&w, type, data, len), 0);
    CHECK_EQ(lsl_frame_flush(&w, fd), 0);
    lsl_frame_writer_free(&w);
}

static void send_u32(int fd, uint32_t type, uint32_t v)
{
    uint8_t p[4];

    lsl_put_u32(p, v);
    send_frame(fd, type, p, 4);
}

/* Next frame within 5 s: 1, 0 at EOF, -1 on timeout or error. */
static int recv_raw(int fd, struct lsl_frame_reader *rd, struct lsl_frame *f)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = lsl_frame_next(rd, f);
        ssize_t n;

        if (r != 0)
            return r > 0 ? 1 : -1;
        if (poll(&p, 1, 5000) <= 0)
            return -1;
        n = lsl_frame_fill(rd, fd);
        if (n <= 0)
            return n == 0 ? 0 : -1;
    }
}

/* Builds an EXEC payload; returns its length. */
static size_t build_exec(uint8_t *buf, uint8_t mode, uint16_t rows, uint16_t cols, const char *const *argv)
{
    size_t len = 20, argc = 0;

    memset(buf, 0, 20);
    buf[4] = buf[5] = buf[6] = mode;
    lsl_put_u16(buf + 8, rows);
    lsl_put_u16(buf + 10, cols);
    buf[len++] = '\0'; /* cwd */
    buf[len++] = '\0'; /* user */
    buf[len++] = '\0'; /* distro */
    for (; argv[argc]; argc++) {
        strcpy((char *)buf + len, argv[argc]);
        len += strlen(argv[argc]) + 1;
    }
    lsl_put_u32(buf + 12, (uint32_t)argc);
    return len;
}

/* Connects, says HELLO and checks the agent's. */
static pid_t raw_start_at(int *fd, struct lsl_frame_reader *rd, const char *home)
{
    struct lsl_frame f;
    pid_t pid = start_agent_ex(fd, home, NULL);

    CHECK_EQ(lsl_frame_reader_init(rd), 0);
    CHECK_EQ(recv_raw(*fd, rd, &f), 1);
    CHECK(f.type == LSL_HELLO && f.len == 4 && lsl_get_u32(f.data) == LSL_AGENT_VERSION);
    send_u32(*fd, LSL_HELLO, LSL_AGENT_VERSION);
    return pid;
}

static pid_t raw_start(int *fd, struct lsl_frame_reader *rd)
{
    return raw_start_at(fd, rd, NULL);
}

/* Sends EXEC and expects STARTED (returned pid) and the initial credit. */
static pid_t raw_exec(int fd, struct lsl_frame_reader *rd, uint8_t mode, uint16_t rows, uint16_t cols,
                      const char *const *argv)
{
    uint8_t buf[512];
    struct lsl_frame f;
    pid_t cmd;

    send_frame(fd, LSL_EXEC, buf, build_exec(buf, mode, rows, cols, argv));
    CHECK_EQ(recv_raw(fd, rd, &f), 1);
    CHECK(f.type == LSL_STARTED && f.len == 4);
    cmd = (pid_t)lsl_get_u32(f.data);
    CHECK_EQ(recv_raw(fd, rd, &f), 1);
    CHECK(f.type == LSL_STDIN_CREDIT && f.len == 4 && lsl_get_u32(f.data) == LSL_STDIN_WINDOW);
    return cmd;
}

/* Collects STDOUT into out (appending) until EXIT, or until out contains until; returns the EXIT status,
 * 0 when until was seen, or -1. */
static int raw_collect_until(int fd, struct lsl_frame_reader *rd, char *out, size_t outlen, const char *until)
{
    struct lsl_frame f;
    size_t n = strlen(out);

    while ((!until || !strstr(out, until)) && recv_raw(fd, rd, &f) == 1) {
        if (f.type == LSL_STDOUT && n + f.len < outlen) {
            memcpy(out + n, f.data, f.len);
            n += f.len;
            out[n] = '\0';
        } else if (f.type == LSL_EXIT && f.len == 4) {
            return (int)lsl_get_u32(f.data);
        }
    }
    return until && strstr(out, until) ? 0 : -1;
}

static int raw_collect(int fd, struct lsl_frame_reader *rd, char *out, size_t outlen)
{
    return raw_collect_until(fd, rd, out, outlen, NULL);
}

static void test_signal_frame(void)
{
    struct lsl_frame_reader rd;
    char out[64] = "";
    int fd;
    pid_t pid = raw_start(&fd, &rd);

    raw_exec(fd, &rd, LSL_STDIO_PIPE, 0, 0, (const char *const[]){"/bin/sleep", "10", NULL});
    send_u32(fd, LSL_SIGNAL, SIGTERM);
    CHECK_EQ(raw_collect(fd, &rd, out, sizeof(out)), 128 + SIGTERM);
    close(fd);
    CHECK_EQ(finish_agent(pid), 0);
    lsl_frame_reader_free(&rd);
}

/* WINSIZE resizes the pty; STDIN reaches a reader on it. */
static void test_winsize_frame(void)
{
    struct lsl_frame_reader rd;
    char out[4096] = "";
    uint8_t ws[4];
    int fd;
    pid_t pid = raw_start(&fd, &rd);

    raw_exec(fd, &rd, LSL_STDIO_PTY, 10, 20,
             (const char *const[]){"/bin/sh", "-c", "stty size; read x; stty size", NULL});
    CHECK_EQ(raw_collect_until(fd, &rd, out, sizeof(out), "10 20\r\n"), 0); /* before the resize */
    lsl_put_u16(ws, 50);
    lsl_put_u16(ws + 2, 132);
    send_frame(fd, LSL_WINSIZE, ws, sizeof(ws));
    send_frame(fd, LSL_STDIN, "go\n", 3);
    CHECK_EQ(raw_collect(fd, &rd, out, sizeof(out)), 0);
    CHECK(strstr(out, "50 132") != NULL);
    close(fd);
    CHECK_EQ(finish_agent(pid), 0);
    lsl_frame_reader_free(&rd);
}

/* Sends what (after HELLO, and after a started `cat` when started) and expects ERROR(PROTOCOL), then EOF,
 * and an agent that exits normally. */
static void expect_protocol_error_at(const char *home, const void *what, size_t len, bool started)
{
    struct lsl_frame_reader rd;
    struct lsl_frame f;
    int fd, r;
    pid_t cmd = 0, pid = raw_start_at(&fd, &rd, home);

    if (started)
        cmd = raw_exec(fd, &rd, LSL_STDIO_PIPE, 0, 0, (const char *const[]){"/bin/cat", NULL});
    send_raw(fd, what, len);
    r = recv_raw(fd, &rd, &f);
    CHECK_EQ(r, 1);
    CHECK(r == 1 && f.type == LSL_ERROR && f.len >= 4 && lsl_get_u32(f.data) == LSL_ERR_PROTOCOL);
    CHECK_EQ(recv_raw(fd, &rd, &f), 0);
    close(fd);
    CHECK_EQ(finish_agent(pid), 1);
    if (started)
        CHECK(kill(cmd, 0) < 0 && errno == ESRCH); /* the command went with the session */
    lsl_frame_reader_free(&rd);
}

static void expect_protocol_error(const void *what, size_t len, bool started)
{
    expect_protocol_error_at(NULL, what, len, started);
}

static void test_malformed(void)
{
    static uint8_t buf[(LSL_STDIN_WINDOW + 4096)];
    size_t len;

    /* Oversized frame: only the header is sent, the length alone is the error. */
    lsl_put_u32(buf, LSL_STDIN);
    lsl_put_u32(buf + 4, LSL_FRAME_MAX + 1);
    expect_protocol_error(buf, 8, false);

    /* STDIN before EXEC. */
    lsl_put_u32(buf, LSL_STDIN);
    lsl_put_u32(buf + 4, 1);
    buf[8] = 'x';
    expect_protocol_error(buf, 9, false);

    /* EXEC with argc 0. */
    len = build_exec(buf + 8, LSL_STDIO_PIPE, 0, 0, (const char *const[]){"/bin/true", NULL});
    lsl_put_u32(buf + 8 + 12, 0);
    lsl_put_u32(buf, LSL_EXEC);
    lsl_put_u32(buf + 4, (uint32_t)len);
    expect_protocol_error(buf, 8 + len, false);

    /* EXEC whose last string is not NUL-terminated inside the payload. */
    len = build_exec(buf + 8, LSL_STDIO_PIPE, 0, 0, (const char *const[]){"/bin/true", NULL});
    lsl_put_u32(buf + 4, (uint32_t)len - 1);
    expect_protocol_error(buf, 8 + len - 1, false);

    /* EXEC with a huge argc, with trailing bytes, with an unknown stdio mode, too short. */
    len = build_exec(buf + 8, LSL_STDIO_PIPE, 0, 0, (const char *const[]){"/bin/true", NULL});
    lsl_put_u32(buf + 8 + 12, 0xffffffffu);
    lsl_put_u32(buf + 4, (uint32_t)len);
    expect_protocol_error(buf, 8 + len, false);
    len = build_exec(buf + 8, LSL_STDIO_PIPE, 0, 0, (const char *const[]){"/bin/true", NULL});
    buf[8 + len] = 'x';
    lsl_put_u32(buf + 4, (uint32_t)len + 1);
    expect_protocol_error(buf, 8 + len + 1, false);
    len = build_exec(buf + 8, LSL_STDIO_PIPE, 0, 0, (const char *const[]){"/bin/true", NULL});
    buf[8 + 5] = 7;
    lsl_put_u32(buf + 4, (uint32_t)len);
    expect_protocol_error(buf, 8 + len, false);
    lsl_put_u32(buf + 4, 3);
    expect_protocol_error(buf, 8 + 3, false);

    /* A second HELLO, an unknown type, SIGNAL 0, then STDIN beyond the granted credit, each after EXEC. */
    lsl_put_u32(buf, LSL_HELLO);
    lsl_put_u32(buf + 4, 4);
    lsl_put_u32(buf + 8, LSL_AGENT_VERSION);
    expect_protocol_error(buf, 12, true);
    lsl_put_u32(buf, 99);
    lsl_put_u32(buf + 4, 0);
    expect_protocol_error(buf, 8, true);
    lsl_put_u32(buf, LSL_SIGNAL);
    lsl_put_u32(buf + 4, 4);
    lsl_put_u32(buf + 8, 0);
    expect_protocol_error(buf, 12, true);
    lsl_put_u32(buf, LSL_STDIN);
    lsl_put_u32(buf + 4, LSL_STDIN_WINDOW + 1);
    memset(buf + 8, 'x', LSL_STDIN_WINDOW + 1);
    expect_protocol_error(buf, 8 + LSL_STDIN_WINDOW + 1, true);
}

static void test_bad_version(void)
{
    struct lsl_frame_reader rd;
    struct lsl_frame f;
    int fd;
    pid_t pid = start_agent(&fd);

    CHECK_EQ(lsl_frame_reader_init(&rd), 0);
    send_u32(fd, LSL_HELLO, LSL_AGENT_VERSION + 1);
    CHECK_EQ(recv_raw(fd, &rd, &f), 1);
    CHECK(f.type == LSL_HELLO);
    CHECK_EQ(recv_raw(fd, &rd, &f), 1);
    CHECK(f.type == LSL_ERROR && f.len > 4 && lsl_get_u32(f.data) == LSL_ERR_PROTOCOL);
    CHECK_EQ(recv_raw(fd, &rd, &f), 0);
    close(fd);
    CHECK_EQ(finish_agent(pid), 1);
    lsl_frame_reader_free(&rd);
}

/* A distribution's own agent runs commands where it is, and only for that distribution. */
static void test_home_agent(void)
{
    struct result r;

    run_routed(&r, "alpha", NULL, "alpha");
    CHECK_EQ(r.status, 0);
    CHECK_EQ(r.agent, 0);
    run_routed(&r, "alpha", NULL, "beta");
    CHECK_EQ(r.status, -EREMOTEIO);
    CHECK_EQ(r.remote_error, LSL_ERR_NO_DISTRO);
    CHECK(strstr(r.errbuf, "alpha") != NULL);
    run_routed(&r, "alpha", NULL, NULL);
    CHECK_EQ(r.remote_error, LSL_ERR_NO_DISTRO);
}

/* SHUTDOWN powers the VM off only through the system agent; a distribution's agent takes it for a protocol
 * error (its PID 1 is the distribution's init). */
static void test_home_no_shutdown(void)
{
    uint8_t shutdown[8];

    lsl_put_u32(shutdown, LSL_SHUTDOWN);
    lsl_put_u32(shutdown + 4, 0);
    expect_protocol_error_at("alpha", shutdown, sizeof(shutdown), false);
}

/* The hybrid-vsock handshake: HELLO and EXEC go out before OK, the answer is consumed up to its newline and
 * no further; a refusal and a wrong answer are told apart. */
static void test_hybrid_connect(void)
{
    struct result r;

    run_routed(&r, NULL, "OK 1073741824", NULL);
    CHECK_EQ(r.status, 0);
    CHECK_EQ(r.agent, 0);
    run_routed(&r, NULL, "", NULL);
    CHECK_EQ(r.status, -ECONNREFUSED);
    CHECK_EQ(r.agent, 3);
    run_routed(&r, NULL, "NO", NULL);
    CHECK_EQ(r.status, -EPROTO);
}

/* A client that goes away takes the command with it, even one that ignores SIGHUP. */
static void test_disconnect_kills(void)
{
    struct lsl_frame_reader rd;
    char out[64] = "";
    int fd;
    pid_t pid = raw_start(&fd, &rd), cmd;

    cmd = raw_exec(fd, &rd, LSL_STDIO_PIPE, 0, 0,
                   (const char *const[]){"/bin/sh", "-c", "trap '' HUP; echo ready; sleep 30", NULL});
    CHECK_EQ(raw_collect_until(fd, &rd, out, sizeof(out), "ready"), 0); /* SIGHUP is ignored from here */
    close(fd);
    CHECK_EQ(finish_agent(pid), 1);
    CHECK(kill(cmd, 0) < 0 && errno == ESRCH);
    /* The sleep too, not only the shell. Orphaned, it comes to this process (a subreaper): reap it, as
     * lsl-init would, since a zombie still counts as a member of the group. */
    for (int i = 0; i < 100 && kill(-cmd, 0) == 0; i++) {
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    }
    CHECK(kill(-cmd, 0) < 0 && errno == ESRCH);
    lsl_frame_reader_free(&rd);
}

/* Runs script through the client on a local terminal (a pty pair, 24x80): every fd in pty mode. Returns
 * the status and what reached the terminal in out; checks that the local mode is restored. */
static int pty_session(const char *user, const char *script, char *out, size_t outlen)
{
    struct winsize ws = {.ws_row = 24, .ws_col = 80};
    struct termios before, after;
    int master, slave, fd, status;
    ssize_t n;
    pid_t pid;

    out[0] = '\0';
    if (openpty(&master, &slave, NULL, NULL, &ws) < 0) {
        CHECK(!"openpty");
        return -1;
    }
    CHECK_EQ(tcgetattr(slave, &before), 0);
    pid = start_agent(&fd);
    status = lsl_session_exec(fd,
                              &(struct lsl_exec_request){
                                  .argv = (const char *const[]){"/bin/sh", "-c", script, NULL}, .user = user},
                              &(struct lsl_session_io){.fds = {slave, slave, slave}});
    close(fd);
    CHECK_EQ(finish_agent(pid), 0);
    CHECK_EQ(tcgetattr(slave, &after), 0);
    CHECK(after.c_lflag == before.c_lflag && after.c_oflag == before.c_oflag &&
          after.c_iflag == before.c_iflag);
    fcntl(master, F_SETFL, O_NONBLOCK);
    n = read(master, out, outlen - 1);
    out[n > 0 ? n : 0] = '\0';
    close(slave);
    close(master);
    return status;
}

static void test_pty(void)
{
    char out[4096];

    CHECK_EQ(pty_session(NULL, "tty; stty size; exit 7", out, sizeof(out)), 7);
    CHECK(strstr(out, "/dev/pts/") != NULL);
    CHECK(strstr(out, "24 80\r\n") != NULL);

    /* The pty belongs to the user it was opened for. */
    CHECK_EQ(pty_session("nobody", "stat -c %U \"$(tty)\"", out, sizeof(out)), 0);
    CHECK(strcmp(out, "nobody\r\n") == 0);
}

/* A signal the client receives reaches the command (no pty: nothing else would carry it). */
static void test_forward_signal(void)
{
    struct sigaction dfl = {.sa_handler = SIG_DFL}, old;
    pid_t self = getpid(), helper;
    struct result r;

    sigaction(SIGINT, &dfl, &old); /* an ignored signal would be discarded, not queued */
    helper = fork();
    if (helper == 0) {
        struct timespec t = {.tv_nsec = 300 * 1000 * 1000};

        nanosleep(&t, NULL);
        kill(self, SIGINT);
        _exit(0);
    }
    run(&r, (const char *const[]){"/bin/sleep", "5", NULL});
    CHECK_EQ(r.status, 128 + SIGINT);
    waitpid(helper, NULL, 0);
    sigaction(SIGINT, &old, NULL);
    result_free(&r);
}

/* A command that ignores SIGTERM (or a VM that stopped answering) keeps lsl only until the second SIGTERM:
 * then the client gives up with 128+SIGTERM, and the closed connection takes the command down. */
static void test_second_sigterm(void)
{
    struct sigaction dfl = {.sa_handler = SIG_DFL}, old;
    struct timespec t0, t1;
    pid_t self = getpid(), helper;
    struct result r;

    sigaction(SIGTERM, &dfl, &old);
    helper = fork();
    if (helper == 0) {
        struct timespec t = {.tv_nsec = 300 * 1000 * 1000};

        nanosleep(&t, NULL);
        kill(self, SIGTERM);
        nanosleep(&t, NULL);
        kill(self, SIGTERM);
        _exit(0);
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run(&r, (const char *const[]){"/bin/sh", "-c", "trap '' TERM; sleep 20", NULL});
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK_EQ(r.status, 128 + SIGTERM);
    CHECK_EQ(r.agent, 1); /* the agent saw the client go and ended the command */
    CHECK(t1.tv_sec - t0.tv_sec < 10);
    waitpid(helper, NULL, 0);
    sigaction(SIGTERM, &old, NULL);
    while (waitpid(-1, NULL, WNOHANG) > 0) /* the orphaned sleep, killed with its group */
        ;
    result_free(&r);
}

/* A closed local stdout: the writer in the guest dies of SIGPIPE, as with ssh. */
static void test_stdout_epipe(void)
{
    struct lsl_exec_request req = {.argv = (const char *const[]){"/usr/bin/yes", NULL}};
    struct lsl_session_io io = {.fds = {memfd_with(NULL, 0), -1, memfd_with(NULL, 0)}};
    int p[2], fd, status;
    pid_t pid;

    CHECK_EQ(pipe(p), 0);
    close(p[0]);
    io.fds[1] = p[1];
    pid = start_agent(&fd);
    status = lsl_session_exec(fd, &req, &io);
    close(fd);
    CHECK_EQ(status, 128 + SIGPIPE);
    CHECK_EQ(finish_agent(pid), 0);
    for (int i = 0; i < 3; i++)
        close(io.fds[i]);
}

/* A hostile guest's side of a session: a child writes these bytes as the agent's frames, then drains what
 * the client sends until it closes. Returns what lsl_session_exec returned; *out gets the command's stdout.
 */
static int fake_agent(const uint8_t *frames, size_t len, char **out, size_t *out_len)
{
    struct lsl_exec_request req = {.argv = (const char *const[]){"/bin/true", NULL}};
    struct lsl_session_io io = {.fds = {-1, memfd_with(NULL, 0), memfd_with(NULL, 0)}};
    char errbuf[256];
    int sv[2], status;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    pid_t pid = fork();
    if (pid == 0) {
        char sink[4096];
        close(sv[0]);
        if (write(sv[1], frames, len) != (ssize_t)len)
            _exit(1);
        shutdown(sv[1], SHUT_WR); /* nothing more comes: a client waiting for more sees the end */
        while (read(sv[1], sink, sizeof(sink)) > 0)
            ;
        _exit(0);
    }
    close(sv[1]);
    io.errbuf = errbuf;
    io.errlen = sizeof(errbuf);
    status = lsl_session_exec(sv[0], &req, &io);
    close(sv[0]);
    CHECK_EQ(finish_agent(pid), 0);
    *out = memfd_contents(io.fds[1], out_len);
    close(io.fds[1]);
    close(io.fds[2]);
    return status;
}

static size_t put_frame(uint8_t *p, uint32_t type, uint32_t len, const void *data)
{
    lsl_put_u32(p, type);
    lsl_put_u32(p + 4, len);
    if (data)
        memcpy(p + 8, data, len);
    return 8 + (data ? len : 0);
}

static void test_hostile_agent(void)
{
    static const struct {
        const char *what;
        uint32_t type, len, value; /* after HELLO and STARTED (unless type is 0: right after HELLO) */
        bool started, header_only;
    } cases[] = {
        {"STDOUT before STARTED", LSL_STDOUT, 4, 0, false, false},
        {"STARTED of 2 bytes", LSL_STARTED, 2, 0, false, false},
        {"EXIT 300", LSL_EXIT, 4, 300, true, false},
        {"EXIT without status", LSL_EXIT, 0, 0, true, false},
        {"ERROR without code", LSL_ERROR, 2, 0, true, false},
        {"unknown type", 99, 4, 0, true, false},
        {"STDIN_CREDIT of 3 bytes", LSL_STDIN_CREDIT, 3, 0, true, false},
        {"frame over the limit", LSL_STDOUT, LSL_FRAME_MAX + 1, 0, true, true},
        {"HELLO again", LSL_HELLO, 4, LSL_AGENT_VERSION, true, false},
    };
    uint8_t buf[256], v[4];
    char *out;
    size_t n, out_len;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lsl_put_u32(v, LSL_AGENT_VERSION);
        n = put_frame(buf, LSL_HELLO, 4, v);
        if (cases[i].started) {
            lsl_put_u32(v, 42);
            n += put_frame(buf + n, LSL_STARTED, 4, v);
        }
        uint8_t payload[8] = {0};
        lsl_put_u32(payload, cases[i].value);
        n += put_frame(buf + n, cases[i].type, cases[i].len, cases[i].header_only ? NULL : payload);
        int status = fake_agent(buf, n, &out, &out_len);
        if (status >= 0)
            fprintf(stderr, "  accepted: %s (status %d)\n", cases[i].what, status);
        CHECK(status < 0);
        free(out);
    }
    /* A wrong version, no greeting at all, a stream cut inside a header, credit beyond 4 GiB in all. */
    lsl_put_u32(v, LSL_AGENT_VERSION + 1);
    n = put_frame(buf, LSL_HELLO, 4, v);
    CHECK(fake_agent(buf, n, &out, &out_len) < 0);
    free(out);
    lsl_put_u32(v, 1);
    n = put_frame(buf, LSL_EXIT, 4, v);
    CHECK(fake_agent(buf, n, &out, &out_len) < 0);
    free(out);
    lsl_put_u32(v, LSL_AGENT_VERSION);
    n = put_frame(buf, LSL_HELLO, 4, v);
    CHECK(fake_agent(buf, n + 5, &out, &out_len) < 0); /* 5 bytes of a header, then EOF */
    free(out);
    n = put_frame(buf, LSL_HELLO, 4, v);
    lsl_put_u32(v, 42);
    n += put_frame(buf + n, LSL_STARTED, 4, v);
    lsl_put_u32(v, 0xffffffffu);
    n += put_frame(buf + n, LSL_STDIN_CREDIT, 4, v);
    n += put_frame(buf + n, LSL_STDIN_CREDIT, 4, v);
    CHECK(fake_agent(buf, n, &out, &out_len) < 0);
    free(out);
    /* The same fake, well-behaved: its output and status arrive (so the cases above fail for their reason).
     */
    lsl_put_u32(v, LSL_AGENT_VERSION);
    n = put_frame(buf, LSL_HELLO, 4, v);
    lsl_put_u32(v, 42);
    n += put_frame(buf + n, LSL_STARTED, 4, v);
    n += put_frame(buf + n, LSL_STDOUT, 2, "ok");
    lsl_put_u32(v, 7);
    n += put_frame(buf + n, LSL_EXIT, 4, v);
    CHECK_EQ(fake_agent(buf, n, &out, &out_len), 7);
    CHECK(out_len == 2 && memcmp(out, "ok", 2) == 0);
    free(out);
}

/* --- A client that must stay killable (SIGTERM while the signals wait in its signalfd) --- */

#define HUNG (-1000)

/* Runs lsl_session_exec(fd, req, io) in a child and sends it nsig SIGTERMs, 300 ms apart, the first after
 * 300 ms. Returns what the session returned, or HUNG when it had not returned 10 s later (it is killed). */
static int exec_signalled(int fd, const struct lsl_exec_request *req, struct lsl_session_io *io, int nsig)
{
    struct timespec gap = {.tv_nsec = 300 * 1000 * 1000};
    int p[2], result = HUNG;
    sigset_t term;

    CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    if (pid == 0) {
        /* Blocked from here: a SIGTERM that comes before the session blocks it stays pending for its
         * signalfd instead of killing this child. */
        sigemptyset(&term);
        sigaddset(&term, SIGTERM);
        sigprocmask(SIG_BLOCK, &term, NULL);
        int r = lsl_session_exec(fd, req, io);
        _exit(write(p[1], &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : 1);
    }
    close(p[1]);
    for (int i = 0; i < nsig; i++) {
        nanosleep(&gap, NULL);
        kill(pid, SIGTERM);
    }
    struct pollfd pf = {.fd = p[0], .events = POLLIN};
    if (poll(&pf, 1, 10000) == 1 && read(p[0], &result, sizeof(result)) != (ssize_t)sizeof(result))
        result = HUNG;
    if (result == HUNG)
        kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(p[0]);
    return result;
}

/* A command line and environment of about a MiB (within the frame limit): far more than a socket buffer. */
static const char *const *big_env(void)
{
    enum { N = 900, LEN = 1000 };
    static char *env[N + 1];

    for (int i = 0; i < N; i++) {
        int n;

        env[i] = malloc(LEN + 16);
        n = snprintf(env[i], LEN + 16, "V%d=", i);
        memset(env[i] + n, 'x', LEN);
        env[i][n + LEN] = '\0';
    }
    return (const char *const *)env;
}

/* An agent that accepts and never reads: the first frames (a MiB of EXEC) never fit. SIGTERM still ends lsl
 * at once, directly connected or through the VMM's CONNECT handshake (which never gets its answer). */
static void test_sigterm_unread(void)
{
    const char *const *env = big_env();
    struct lsl_exec_request req = {.argv = (const char *const[]){"/bin/true", NULL}, .envp = env};

    for (int hybrid = 0; hybrid < 2; hybrid++) {
        struct lsl_session_io io = {.fds = {-1, memfd_with(NULL, 0), memfd_with(NULL, 0)}};
        struct timespec t0, t1;
        int sv[2];

        io.connect_port = hybrid ? 1003 : 0;
        CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int r = exec_signalled(sv[0], &req, &io, 1);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (r != 128 + SIGTERM)
            fprintf(stderr, "  %s: session returned %d\n", hybrid ? "hybrid" : "direct", r);
        CHECK_EQ(r, 128 + SIGTERM);
        CHECK(t1.tv_sec - t0.tv_sec < 5);
        close(sv[0]);
        close(sv[1]);
        close(io.fds[1]);
        close(io.fds[2]);
    }
    for (int i = 0; env[i]; i++)
        free((char *)env[i]);
}

/* A local stdout (a pipe) that nobody drains, with a little room left: a write of a whole output frame would
 * block there with the signals blocked. Two SIGTERMs end lsl (the first goes to the command, which the fake
 * agent ignores). */
static void test_sigterm_stuck_stdout(void)
{
    static uint8_t frames[64 + 61440 + 65536];
    struct lsl_exec_request req = {.argv = (const char *const[]){"/bin/true", NULL}};
    struct lsl_session_io io = {.fds = {-1, -1, memfd_with(NULL, 0)}};
    int sv[2], out[2];
    uint8_t v[4];
    size_t n;

    CHECK_EQ(pipe2(out, O_CLOEXEC), 0);
    CHECK_EQ(fcntl(out[1], F_SETPIPE_SZ, 65536), 65536);
    io.fds[1] = out[1];
    lsl_put_u32(v, LSL_AGENT_VERSION);
    n = put_frame(frames, LSL_HELLO, 4, v);
    lsl_put_u32(v, 42);
    n += put_frame(frames + n, LSL_STARTED, 4, v);
    n += put_frame(frames + n, LSL_STDOUT, 61440, NULL); /* 15 of the pipe's 16 pages */
    n += 61440;
    n += put_frame(frames + n, LSL_STDOUT, 65536, NULL); /* more than the page left */
    n += 65536;
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    pid_t agent = fork();
    if (agent == 0) {
        char sink[4096];

        close(sv[0]);
        if (write(sv[1], frames, n) != (ssize_t)n)
            _exit(1);
        while (read(sv[1], sink, sizeof(sink)) > 0) /* takes SIGNAL frames, never answers them */
            ;
        _exit(0);
    }
    close(sv[1]);
    int r = exec_signalled(sv[0], &req, &io, 2);
    if (r != 128 + SIGTERM)
        fprintf(stderr, "  session returned %d\n", r);
    CHECK_EQ(r, 128 + SIGTERM);
    close(sv[0]);
    CHECK_EQ(finish_agent(agent), 0);
    close(out[0]);
    close(out[1]);
    close(io.fds[2]);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Whether pid still runs (the orphans of commands come back to this process, the subreaper). */
static bool still_runs(pid_t pid)
{
    return pid > 0 && waitpid(pid, NULL, WNOHANG) == 0 && kill(pid, 0) == 0;
}

static void end_child(pid_t pid)
{
    if (pid > 0 && kill(pid, SIGKILL) == 0)
        waitpid(pid, NULL, 0);
}

/* wsl.exe's behaviour: when the command's main process exits, what it wrote is sent, then EXIT, although a
 * background child still holds its stdout (or the pty); the child is not killed. Pipes and a pty. */
static void test_background_child(void)
{
    struct timespec t0;
    struct result r;
    char out[4096];
    pid_t bg = -1;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    run(&r,
        (const char *const[]){"/bin/sh", "-c", "sleep 30 & echo $!; echo hi; echo err >&2; exit 3", NULL});
    CHECK(seconds_since(&t0) < 10);
    CHECK_EQ(r.status, 3);
    CHECK(sscanf(r.out, "%d\nhi\n", &bg) == 1 && strstr(r.out, "\nhi\n") != NULL);
    CHECK(!strcmp(r.err, "err\n"));
    CHECK(still_runs(bg));
    end_child(bg);
    result_free(&r);

    /* Much output just before the exit still arrives whole: the pipe's content at the exit is sent. */
    run(&r, (const char *const[]){"/bin/sh", "-c", "sleep 30 & echo $!; head -c 60000 /dev/zero", NULL});
    CHECK_EQ(r.status, 0);
    CHECK(sscanf(r.out, "%d", &bg) == 1);
    CHECK_EQ(r.out_len, strlen(r.out) + 60000);
    end_child(bg);
    result_free(&r);

    /* On a pty: a child in a session of its own (a job-control shell's background job is in a group of
     * its own too) keeps the pty open; the kernel hangs it up when the agent closes the master. */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* The pause: until the child has left the shell's group, the shell's exit would hang it up. */
    CHECK_EQ(pty_session(NULL, "setsid sleep 30 & echo $!; sleep 0.5; echo hi-pty; exit 4", out, sizeof(out)),
             4);
    CHECK(seconds_since(&t0) < 10);
    CHECK(sscanf(out, "%d", &bg) == 1 && strstr(out, "hi-pty") != NULL);
    CHECK(still_runs(bg));
    end_child(bg);
}

/* ACTIVITY: the system agent answers with one frame and closes (no distribution runs on this machine); a
 * distribution's own agent takes it for a protocol error. */
static void test_activity_frame(void)
{
    struct lsl_activity a[LSL_ACTIVITY_MAX];
    struct lsl_frame_reader rd;
    struct lsl_frame f;
    uint8_t frame[12] = {0};
    size_t n = 99;
    int fd;
    pid_t pid = raw_start(&fd, &rd);

    send_frame(fd, LSL_ACTIVITY, NULL, 0);
    CHECK_EQ(recv_raw(fd, &rd, &f), 1);
    CHECK_EQ(f.type, LSL_ACTIVITY_REPLY);
    CHECK_EQ(lsl_activity_decode(f.data, f.len, a, &n), 0);
    CHECK_EQ(n, 0);
    CHECK_EQ(recv_raw(fd, &rd, &f), 0);
    close(fd);
    CHECK_EQ(finish_agent(pid), 0);
    lsl_frame_reader_free(&rd);

    lsl_put_u32(frame, LSL_ACTIVITY);
    lsl_put_u32(frame + 4, 0);
    expect_protocol_error_at("alpha", frame, 8, false);
    lsl_put_u32(frame + 4, 4); /* with a payload: malformed */
    expect_protocol_error(frame, 12, false);
}

/* A fake /proc: PID/ns/pid links and PID/stat lines. */
static void fake_proc(const char *dir, int pid, const char *ns, const char *stat)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/%d", dir, pid);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%d/ns", dir, pid);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%d/ns/pid", dir, pid);
    CHECK_EQ(symlink(ns, path), 0);
    snprintf(path, sizeof(path), "%s/%d/stat", dir, pid);
    FILE *f = fopen(path, "w");
    fprintf(f, "%s 0 0 0\n", stat);
    fclose(f);
}

static void fake_cgroup(const char *dir, int pid, const char *path)
{
    char file[512];

    snprintf(file, sizeof(file), "%s/%d/cgroup", dir, pid);
    FILE *f = fopen(file, "w");
    fprintf(f, "0::%s\n", path);
    fclose(f);
}

/* Whether the comma-separated list has exactly the items of want, in any order. */
static bool what_is(const char *list, const char *want)
{
    size_t n_list = 0, n_want = 0;
    for (const char *p = list; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ','))
        n_list++;
    for (const char *w = want; *w; w += strcspn(w, ",") + (w[strcspn(w, ",")] == ',')) {
        size_t m = strcspn(w, ",");
        bool found = false;
        for (const char *p = list; *p && !found; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ','))
            found = strcspn(p, ",") == m && !strncmp(p, w, m);
        if (!found)
            return false;
        n_want++;
    }
    return n_list == n_want;
}

/* Who counts as activity: every live process in a distribution's PID namespace but its init and the init's
 * lsl-session children (the agent's spare and session relays); where systemd is the init, not its own
 * machinery, a bare system's daemons or lsl's agent either. */
static void test_activity_count(void)
{
    char dir[] = "/tmp/lsl-proc.XXXXXX", cmd[128];
    pid_t inits[4] = {100, 200, 999, 400};
    uint32_t counts[4];
    int proc;

    CHECK(mkdtemp(dir) != NULL);
    fake_proc(dir, 100, "pid:[11]", "100 (init) S 0");
    fake_proc(dir, 101, "pid:[11]", "101 (lsl-session) S 100"); /* the spare: lsl's */
    fake_proc(dir, 102, "pid:[11]", "102 (sleep) S 100");       /* an orphan (setsid -f): counts */
    fake_proc(dir, 103, "pid:[11]", "103 (lsl-session) S 102"); /* not the init's child: counts */
    fake_proc(dir, 104, "pid:[11]", "104 (gone) Z 100");        /* a zombie: does not */
    fake_proc(dir, 105, "pid:[22]", "105 (a (b) c) R 200");     /* in the other distribution */
    fake_proc(dir, 200, "pid:[22]", "200 (init) S 0");
    fake_proc(dir, 201, "pid:[22]", "201 (x) lsl-session) S 200"); /* a name made to look like ours */
    fake_proc(dir, 300, "pid:[4026531836]", "300 (sh) S 1");       /* the system's */
    fake_proc(dir, 400, "pid:[33]", "400 (systemd) S 0");
    fake_cgroup(dir, 400, "/lsl/sd/init.scope");
    fake_proc(dir, 401, "pid:[33]", "401 (systemd-journal) S 400");
    fake_cgroup(dir, 401, "/lsl/sd/system.slice/systemd-journald.service");
    fake_proc(dir, 402, "pid:[33]", "402 (lsl-agent) S 400");
    fake_cgroup(dir, 402, "/lsl/sd/lsl");
    fake_proc(dir, 403, "pid:[33]", "403 (lsl-session) S 402");
    fake_cgroup(dir, 403, "/lsl/sd/lsl");
    fake_proc(dir, 404, "pid:[33]", "404 (sleep) S 400"); /* left by a session: counts */
    fake_cgroup(dir, 404, "/lsl/sd/lsl");
    fake_proc(dir, 405, "pid:[33]", "405 (nginx) S 400"); /* a service: counts */
    fake_cgroup(dir, 405, "/lsl/sd/system.slice/nginx.service");
    fake_proc(dir, 406, "pid:[33]", "406 (systemd) S 400");
    fake_cgroup(dir, 406, "/lsl/sd/user.slice/user-1000.slice/user@1000.service/init.scope");
    fake_proc(dir, 407, "pid:[33]", "407 (python3) S 406"); /* a user's service: counts */
    fake_cgroup(dir, 407, "/lsl/sd/user.slice/user-1000.slice/user@1000.service/app.slice/x.service");
    fake_proc(dir, 408, "pid:[33]", "408 (odd) S 400"); /* no cgroup to tell: counts */
    fake_proc(dir, 409, "pid:[33]", "409 (x) S 400");   /* outside the distribution's cgroup: counts */
    fake_cgroup(dir, 409, "/lsl/sdx/system.slice/dbus.service");
    /* Docker with nothing to run does not (the forwarded socket wakes the VM: proto/wake.h); a container
     * does, named by its command. */
    fake_proc(dir, 410, "pid:[33]", "410 (dockerd) S 400");
    fake_cgroup(dir, 410, "/lsl/sd/system.slice/docker.service");
    fake_proc(dir, 411, "pid:[33]", "411 (containerd) S 400");
    fake_cgroup(dir, 411, "/lsl/sd/system.slice/containerd.service");
    fake_proc(dir, 412, "pid:[33]", "412 (containerd-shim) S 1");
    fake_cgroup(dir, 412, "/lsl/sd/system.slice/containerd.service");
    fake_proc(dir, 413, "pid:[33]", "413 (httpd) S 412");
    fake_cgroup(dir, 413, "/lsl/sd/system.slice/docker-0123abcd.scope");
    snprintf(cmd, sizeof(cmd), "mkdir %s/self %s/99x", dir, dir);
    CHECK_EQ(system(cmd), 0);
    proc = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char what[4][LSL_ACTIVITY_WHAT_MAX + 1];
    CHECK_EQ(agent_activity_count(proc, inits, 4, counts, what), 0);
    CHECK_EQ(counts[0], 2);
    CHECK_EQ(counts[1], 2);
    CHECK_EQ(counts[2], 0); /* an init that is gone: nothing */
    CHECK_EQ(counts[3], 6);
    /* What they are (in /proc's order): command names, made of what a status line may hold; services by
     * their unit where systemd runs them (a user's too), the command where it does not. */
    CHECK(what_is(what[0], "sleep,lsl-session"));
    CHECK(what_is(what[1], "a__b__c,x__lsl-session"));
    CHECK_EQ(what[2][0], '\0');
    CHECK(what_is(what[3], "sleep,nginx.service,x.service,odd,x,httpd"));
    /* Each once; a list too long for the reply ends with "...". */
    snprintf(cmd, sizeof(cmd), "rm -rf %s/4*", dir);
    CHECK_EQ(system(cmd), 0);
    fake_proc(dir, 400, "pid:[33]", "400 (systemd) S 0");
    fake_cgroup(dir, 400, "/lsl/sd/init.scope");
    for (int i = 0; i < 12; i++) {
        char unit[64], stat[64];
        snprintf(stat, sizeof(stat), "%d (worker) S 400", 410 + i);
        snprintf(unit, sizeof(unit), "/lsl/sd/system.slice/service-number-%d.service", i % 6);
        fake_proc(dir, 410 + i, "pid:[33]", stat);
        fake_cgroup(dir, 410 + i, unit);
    }
    CHECK_EQ(agent_activity_count(proc, inits, 4, counts, what), 0);
    CHECK_EQ(counts[3], 12);
    size_t len = strlen(what[3]);
    CHECK(len <= LSL_ACTIVITY_WHAT_MAX && len > 3 && !strcmp(what[3] + len - 3, "..."));
    CHECK(strstr(what[3], "service-number-") && !strstr(what[3], ",,"));
    for (int i = 0; i < 6; i++) {
        char unit[64];
        snprintf(unit, sizeof(unit), "service-number-%d.service", i);
        char *at = strstr(what[3], unit);
        CHECK(!at || !strstr(at + 1, unit));
    }
    close(proc);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK_EQ(system(cmd), 0);
}

/* The agent runs in a child: what it would have set the clock to comes back through shared memory. */
static int64_t *clock_set;

static int record_settime(const struct timespec *ts)
{
    *clock_set = (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec;
    return 0;
}

static void test_clock(void)
{
    const int64_t h = 1800000000LL * 1000000000LL, ms = 1000000;
    struct lsl_frame_reader rd;
    struct lsl_frame f;
    struct timespec now;
    struct result res;
    uint8_t buf[16];
    int fd;

    /* Behind by more than 200 ms, or ahead by more than 2 s (the frame's delay looks like a lead). */
    CHECK(!agent_clock_should_step(h, h));
    CHECK(!agent_clock_should_step(h - 150 * ms, h));
    CHECK(agent_clock_should_step(h - 250 * ms, h));
    CHECK(!agent_clock_should_step(h + 1900 * ms, h));
    CHECK(agent_clock_should_step(h + 2100 * ms, h));
    CHECK(agent_clock_should_step(h + 3600000 * ms, h));

    /* A clock-only session (the service's resync): an hour back is set, and EOF then is no error. */
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t then = ((int64_t)now.tv_sec - 3600) * 1000000000LL;
    *clock_set = 0;
    pid_t pid = raw_start(&fd, &rd);
    lsl_put_u64(buf, (uint64_t)then);
    send_frame(fd, LSL_CLOCK, buf, 8);
    shutdown(fd, SHUT_WR);
    CHECK_EQ(recv_raw(fd, &rd, &f), 0);
    close(fd);
    CHECK_EQ(finish_agent(pid), 0);
    CHECK_EQ(*clock_set, then);
    lsl_frame_reader_free(&rd);

    /* Every session through the client carries the host's time, which is this clock: nothing to set. */
    *clock_set = 0;
    run_routed(&res, NULL, NULL, "");
    CHECK_EQ(res.status, 0);
    CHECK_EQ(*clock_set, 0);

    /* A CLOCK of the wrong size is a protocol error. */
    lsl_put_u32(buf, LSL_CLOCK);
    lsl_put_u32(buf + 4, 4);
    lsl_put_u32(buf + 8, 1);
    expect_protocol_error(buf, 12, false);
}

/* util's fd passing, which a logind session's fd takes from the command's child to the agent (spawn.c) and
 * from the system bus (logind.c): the fd arrives usable and close-on-exec; fds past the room asked for are
 * closed, not leaked. */
static void test_fd_passing(void)
{
    int sv[2], p[2], fds[2];
    size_t n;
    char c = 0;
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    CHECK(pipe(p) == 0);
    CHECK(unix_send_fd(sv[0], "S", 1, p[1]) == 0);
    CHECK_EQ(unix_recv_fds(sv[1], &c, 1, fds, 2, &n), 1);
    CHECK(c == 'S' && n == 1);
    CHECK(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
    CHECK(write(fds[0], "x", 1) == 1 && read(p[0], &c, 1) == 1 && c == 'x');
    close(fds[0]);
    /* No room: received and closed. With the sender's copy gone too, the pipe's reader sees its end. */
    CHECK(unix_send_fd(sv[0], "T", 1, p[1]) == 0);
    close(p[1]);
    CHECK_EQ(unix_recv_fds(sv[1], &c, 1, fds, 0, &n), 1);
    CHECK(c == 'T' && n == 0);
    CHECK(read(p[0], &c, 1) == 0);
    close(sv[0]);
    CHECK_EQ(unix_recv_fds(sv[1], &c, 1, fds, 2, &n), 0);
    CHECK(n == 0);
    close(sv[1]);
    close(p[0]);
}

/* A distribution's records refuse names that are no distribution's before any path is made of them. */
static void test_record_names(void)
{
    static const char *const bad[] = {"..", ".", "a/b", "../etc", "", "-x"};
    char buf[16];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ(lsl_distro_record_put(bad[i], LSL_DISTRO_INIT_FILE, "1 1"), -EINVAL);
        CHECK_EQ(lsl_distro_record_drop(bad[i], LSL_DISTRO_INIT_FILE), -EINVAL);
        CHECK_EQ(lsl_distro_record_get(bad[i], LSL_DISTRO_INIT_FILE, buf, sizeof(buf)), -EINVAL);
        CHECK(lsl_distro_init_pid(bad[i]) < 0);
    }
}

int main(void)
{
    struct timespec t0, t1;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    (void)prctl(PR_SET_CHILD_SUBREAPER, 1); /* orphaned command processes come back here, as to an init */
    /* Before any agent starts: a test running as root must never set this machine's clock. */
    clock_set = mmap(NULL, sizeof(*clock_set), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (clock_set == MAP_FAILED)
        return 1;
    agent_clock_settime = record_settime;
    RUN(test_fd_passing);
    RUN(test_record_names);
    RUN(test_exit_codes);
    RUN(test_killed_by_signal);
    RUN(test_not_found);
    RUN(test_stdout_stderr);
    RUN(test_cat_binary);
    RUN(test_stdin_unread);
    RUN(test_env_cwd_user);
    RUN(test_signal_frame);
    RUN(test_winsize_frame);
    RUN(test_malformed);
    RUN(test_bad_version);
    RUN(test_disconnect_kills);
    RUN(test_pty);
    RUN(test_forward_signal);
    RUN(test_second_sigterm);
    RUN(test_stdout_epipe);
    RUN(test_home_agent);
    RUN(test_home_no_shutdown);
    RUN(test_hybrid_connect);
    RUN(test_clock);
    RUN(test_hostile_agent);
    RUN(test_sigterm_unread);
    RUN(test_sigterm_stuck_stdout);
    RUN(test_background_child);
    RUN(test_activity_frame);
    RUN(test_activity_count);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.2f s\n", (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return CHECK_DONE();
}
