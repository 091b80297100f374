/* Guest-side helper for the vsock VM tests (static musl binary on the test disk):
 *   vsock-tool listen PORT        accept forever; each connection echoes everything back until EOF
 *   vsock-tool connect CID PORT   stdin -> socket, socket -> stdout; half-closes on stdin EOF
 *   vsock-tool listen-exec [-u] PORT PROG [ARG...]
 *                                 accept forever; each connection runs PROG with it as stdin and stdout, like
 *                                 inetd. -u hands PROG a unix socket relayed to the connection instead, for
 *                                 programs that look up their peer's address and know no AF_VSOCK (the
 *                                 session benchmark's ssh server, dropbear -i, exits on it) */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TOOL_NAME "vsock-tool"
#include "tool.h"

/* musl ships no <linux/vm_sockets.h>: the ABI, spelled out. */
#define AF_VSOCK_       40
#define VMADDR_CID_ANY_ 0xffffffffu
struct sockaddr_vm_ {
    sa_family_t svm_family;
    unsigned short svm_reserved1;
    unsigned int svm_port, svm_cid;
    unsigned char svm_zero[sizeof(struct sockaddr) - sizeof(sa_family_t) - sizeof(unsigned short) -
                           2 * sizeof(unsigned int)];
};

static char buf[64 << 10];

static int parse_u32(const char *s, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || !*s || *end || v > 0xffffffffu)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void echo(int fd)
{
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || write_all(fd, buf, (size_t)r) < 0)
            break;
    }
    close(fd);
}

/* A listening vsock socket on PORT of any CID, or -1 (reported). */
static int listen_socket(unsigned port)
{
    int s = socket(AF_VSOCK_, SOCK_STREAM, 0);
    if (s < 0) {
        die("socket");
        return -1;
    }
    struct sockaddr_vm_ a = {.svm_family = AF_VSOCK_, .svm_port = port, .svm_cid = VMADDR_CID_ANY_};
    if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 64) < 0) {
        die("bind/listen");
        close(s);
        return -1;
    }
    return s;
}

/* Accepts connections on port forever, serving each in a child of its own. */
static int serve_forever(unsigned port, const char *what, void (*serve)(int c, void *ctx), void *ctx)
{
    int s = listen_socket(port);
    if (s < 0)
        return 1;
    signal(SIGCHLD, SIG_IGN); /* children reap themselves */
    fprintf(stderr, "vsock-tool: listening on port %u%s\n", port, what);
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return die("accept");
        }
        pid_t pid = fork();
        if (pid == 0) {
            signal(SIGCHLD, SIG_DFL);
            close(s);
            serve(c, ctx);
            _exit(0);
        }
        close(c);
    }
}

static void serve_echo(int c, void *ctx)
{
    (void)ctx;
    echo(c);
}

static int do_listen(unsigned port)
{
    return serve_forever(port, "", serve_echo, NULL);
}

/* Relays between the connection C and U both ways, passing on half-closes, until both directions ended. */
static void relay_unix(int c, int u)
{
    int open_c = 1, open_u = 1;
    while (open_c || open_u) {
        struct pollfd p[2] = {{.fd = open_c ? c : -1, .events = POLLIN},
                              {.fd = open_u ? u : -1, .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        for (int i = 0; i < 2; i++) {
            if (!p[i].revents)
                continue;
            int from = i ? u : c, to = i ? c : u;
            ssize_t r = read(from, buf, sizeof(buf));
            if (r < 0 && errno == EINTR)
                continue;
            if (r > 0 && write_all(to, buf, (size_t)r) == 0)
                continue;
            shutdown(to, SHUT_WR);
            *(i ? &open_u : &open_c) = 0;
        }
    }
}

/* The child's side of a connection C: PROG on C itself, or with UNIX on a relayed unix socket. */
static void serve_exec(int c, int unix_relay, char **prog)
{
    int sp[2];
    if (unix_relay) {
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0)
            _exit(die("socketpair"));
        pid_t pid = fork();
        if (pid < 0)
            _exit(die("fork"));
        if (pid > 0) {
            close(sp[1]);
            relay_unix(c, sp[0]);
            _exit(0);
        }
        close(sp[0]);
        close(c);
        c = sp[1];
    }
    /* stderr stays ours: a program's log lines must not corrupt the protocol on the connection. */
    if (dup2(c, 0) < 0 || dup2(c, 1) < 0)
        _exit(die("dup2"));
    close(c);
    execv(prog[0], prog);
    _exit(die(prog[0]));
}

struct exec_ctx {
    int unix_relay;
    char **prog;
};

static void serve_exec_ctx(int c, void *ctx)
{
    struct exec_ctx *e = ctx;
    serve_exec(c, e->unix_relay, e->prog);
}

static int do_listen_exec(unsigned port, int unix_relay, char **prog)
{
    struct exec_ctx e = {.unix_relay = unix_relay, .prog = prog};
    char what[256];
    snprintf(what, sizeof(what), " for %s", prog[0]);
    return serve_forever(port, what, serve_exec_ctx, &e);
}

static int do_connect(unsigned cid, unsigned port)
{
    int s = socket(AF_VSOCK_, SOCK_STREAM, 0);
    if (s < 0)
        return die("socket");
    struct sockaddr_vm_ a = {.svm_family = AF_VSOCK_, .svm_port = port, .svm_cid = cid};
    if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
        return die("connect");
    int in_open = 1, sock_open = 1;
    while (sock_open) {
        struct pollfd p[2] = {{.fd = in_open ? 0 : -1, .events = POLLIN}, {.fd = s, .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return die("poll");
        }
        if (p[0].revents) {
            ssize_t r = read(0, buf, sizeof(buf));
            if (r > 0) {
                if (write_all(s, buf, (size_t)r) < 0)
                    return die("send");
            } else if (r == 0 || errno != EINTR) {
                in_open = 0;
                shutdown(s, SHUT_WR);
            }
        }
        if (p[1].revents) {
            ssize_t r = read(s, buf, sizeof(buf));
            if (r > 0) {
                if (write_all(1, buf, (size_t)r) < 0)
                    return die("stdout");
            } else if (r == 0) {
                sock_open = 0;
            } else if (errno != EINTR) {
                return die("recv");
            }
        }
    }
    /* The peer finished; whatever stdin still holds has nowhere to go. */
    close(s);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned cid, port;
    if (argc == 3 && strcmp(argv[1], "listen") == 0 && parse_u32(argv[2], &port) == 0)
        return do_listen(port);
    if (argc >= 3 && strcmp(argv[1], "listen-exec") == 0) {
        int u = strcmp(argv[2], "-u") == 0;
        if (argc >= 4 + u && parse_u32(argv[2 + u], &port) == 0)
            return do_listen_exec(port, u, argv + 3 + u);
    }
    if (argc == 4 && strcmp(argv[1], "connect") == 0 && parse_u32(argv[2], &cid) == 0 &&
        parse_u32(argv[3], &port) == 0)
        return do_connect(cid, port);
    fprintf(stderr, "usage: vsock-tool listen PORT | vsock-tool connect CID PORT | "
                    "vsock-tool listen-exec [-u] PORT PROG [ARG...]\n");
    return 2;
}
