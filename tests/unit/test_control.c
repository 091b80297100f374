/* The service's control socket (vmm/service/control.c) on its own event loop, with stand-in requests: it
 * shares the I/O thread with every virtio device, so no client may hold the loop. A client that sends nothing
 * or half a line does not delay another's reply and is dropped at its deadline; a reply larger than the
 * socket buffer reaches a slow reader whole while the loop goes on, and a reader that stopped is dropped. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "control.h"
#include "core/evloop.h"
#include "io.h"
#include "service/service.h"
#include "unix_socket.h"

#define BIG         (1u << 20) /* the "disks" stand-in's reply body: far more than a socket buffer */
#define MAX_CLIENTS 16         /* control.c serves this many at a time */
#define SECOND      1000000000ull

static struct evloop loop;
static struct control *ctl;
static char dir[] = "/tmp/lsl-control-test.XXXXXX", path[128];
static char *big;
static unsigned served;

static void serve(void *opaque, const struct lsl_ctl_request *r, FILE *out)
{
    (void)opaque;
    served++;
    switch (r->verb) {
    case LSL_CTL_STATUS:
        lsl_ctl_reply_ok(out, NULL);
        lsl_ctl_put(out, LSL_CTL_KEY_STATE, "running");
        break;
    case LSL_CTL_DISKS:
        lsl_ctl_reply_ok(out, NULL);
        fwrite(big, 1, BIG, out);
        break;
    default:
        lsl_ctl_reply_error(out, "unknown request");
        break;
    }
}

static const char status_reply[] = "ok\nstate running\n";

/* Runs one batch of the loop and checks it did not wait for a client: waiting would take a line deadline
 * (1 s) or forever; the margin is for a loaded machine. */
static void pump(int timeout_ms)
{
    uint64_t t0 = now_ns();
    CHECK_EQ(evloop_run_once(&loop, timeout_ms), 0);
    uint64_t took = now_ns() - t0;
    if (took > (uint64_t)timeout_ms * 1000000ull + 700000000ull)
        fprintf(stderr, "  the loop took %llu ms for a %d ms batch\n", (unsigned long long)(took / 1000000),
                timeout_ms);
    CHECK(took <= (uint64_t)timeout_ms * 1000000ull + 700000000ull);
}

static int client(const char *send_this)
{
    int fd = unix_connect(path, true); /* non-blocking: the test itself never waits on the service */
    CHECK(fd >= 0);
    if (send_this)
        CHECK_EQ(send(fd, send_this, strlen(send_this), MSG_NOSIGNAL), (ssize_t)strlen(send_this));
    return fd;
}

/* Reads what is there: the bytes appended to buf (up to cap), 0 at end of stream, -EAGAIN if none yet. */
static ssize_t take(int fd, char *buf, size_t *len, size_t cap)
{
    ssize_t n = recv(fd, buf + *len, cap - *len, MSG_DONTWAIT);
    if (n < 0)
        return -errno;
    *len += (size_t)n;
    return n;
}

/* Pumps the loop until fd's whole reply (up to end of stream) is in buf; returns its length or -1. */
static ssize_t reply_of(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    for (int i = 0; i < 200; i++) {
        pump(10);
        ssize_t n;
        while ((n = take(fd, buf, &len, cap)) > 0)
            ;
        if (n == 0) {
            buf[len < cap ? len : cap - 1] = '\0';
            return (ssize_t)len;
        }
    }
    return -1;
}

/* The service has not closed its end (unread reply bytes or not). */
static bool still_open(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) == 0;
}

static bool closed_by_service(int fd)
{
    char buf[4096];
    for (int i = 0; i < 1000; i++) {
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return true;
        if (n < 0 && errno == EAGAIN)
            return false;
    }
    return false;
}

static void setup(void)
{
    CHECK_EQ(evloop_init(&loop), 0);
    CHECK_EQ(control_create(&loop, path, serve, NULL, &ctl), 0);
    served = 0;
}

static void teardown(void)
{
    control_free(ctl);
    ctl = NULL;
    evloop_free(&loop);
}

static void test_silent_clients_do_not_delay(void)
{
    setup();
    int silent = client(NULL), half = client("sta");
    pump(10); /* both accepted and waiting for their lines */
    uint64_t t0 = now_ns();
    int b = client("status\n");
    char buf[256];
    CHECK_EQ(reply_of(b, buf, sizeof(buf)), (ssize_t)strlen(status_reply));
    CHECK(strcmp(buf, status_reply) == 0);
    /* Inside the others' 1 s line deadline: nobody waited for them. */
    CHECK(now_ns() - t0 < SECOND * 9 / 10);
    CHECK(still_open(silent) && still_open(half));
    control_tick(ctl, now_ns() + SECOND / 2);
    CHECK(still_open(silent) && still_open(half));
    control_tick(ctl, now_ns() + 2 * SECOND); /* past their deadline: dropped, not waited for */
    CHECK(closed_by_service(silent));
    CHECK(closed_by_service(half));
    CHECK_EQ(served, 1);
    close(silent);
    close(half);
    close(b);
    teardown();
}

static void test_big_reply_slow_reader(void)
{
    setup();
    int slow = client(NULL);
    int small = 16384;
    CHECK(setsockopt(slow, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) == 0);
    CHECK_EQ(send(slow, "disks\n", 6, MSG_NOSIGNAL), 6);
    for (int i = 0; i < 10; i++)
        pump(10); /* the reply does not fit the socket: the loop goes on regardless */
    char buf[256];
    int other = client("status\n"); /* served while the big reply waits for its reader */
    CHECK_EQ(reply_of(other, buf, sizeof(buf)), (ssize_t)strlen(status_reply));
    close(other);
    /* The slow reader takes 64 KiB at a time, the loop running in between. */
    char *got = malloc(BIG + 64);
    size_t len = 0;
    bool eof = false;
    for (int i = 0; i < 100000 && !eof; i++) {
        size_t cap = len + 65536 < BIG + 64 ? len + 65536 : BIG + 64;
        ssize_t n = take(slow, got, &len, cap);
        eof = n == 0;
        if (n < 0 && n != -EAGAIN)
            break;
        pump(n == -EAGAIN ? 5 : 0);
    }
    CHECK(eof);
    CHECK_EQ(len, 3 + BIG);
    CHECK(len == 3 + BIG && memcmp(got, "ok\n", 3) == 0 && memcmp(got + 3, big, BIG) == 0);
    free(got);
    close(slow);
    CHECK_EQ(served, 2);
    teardown();
}

static void test_stalled_reader_dropped(void)
{
    setup();
    int stalled = client("disks\n");
    for (int i = 0; i < 5; i++)
        pump(10);
    control_tick(ctl, now_ns() + 2 * SECOND); /* a reply may take a while ... */
    CHECK(still_open(stalled));
    control_tick(ctl, now_ns() + 60 * SECOND); /* ... but a reader that takes none of it is dropped */
    CHECK(closed_by_service(stalled));
    close(stalled);
    /* The slot is free again. */
    char buf[256];
    int b = client("status\n");
    CHECK_EQ(reply_of(b, buf, sizeof(buf)), (ssize_t)strlen(status_reply));
    close(b);
    teardown();
}

/* With every slot held by a silent client the next waits in the backlog, and is served once they go. */
static void test_full_then_free(void)
{
    setup();
    int silent[MAX_CLIENTS];
    for (unsigned i = 0; i < MAX_CLIENTS; i++)
        silent[i] = client(NULL);
    pump(10);
    int waiting = client("status\n");
    for (int i = 0; i < 5; i++)
        pump(10);
    CHECK_EQ(served, 0);
    control_tick(ctl, now_ns() + 2 * SECOND);
    char buf[256];
    CHECK_EQ(reply_of(waiting, buf, sizeof(buf)), (ssize_t)strlen(status_reply));
    for (unsigned i = 0; i < MAX_CLIENTS; i++) {
        CHECK(closed_by_service(silent[i]));
        close(silent[i]);
    }
    close(waiting);
    teardown();
}

static void test_line_ends(void)
{
    setup();
    char buf[256];
    int eof_ends = client("status");
    CHECK(shutdown(eof_ends, SHUT_WR) == 0); /* the end of the stream ends the line too */
    CHECK_EQ(reply_of(eof_ends, buf, sizeof(buf)), (ssize_t)strlen(status_reply));
    close(eof_ends);
    int crlf = client("status\r\n");
    CHECK_EQ(reply_of(crlf, buf, sizeof(buf)), (ssize_t)strlen(status_reply));
    close(crlf);
    char *line = malloc(LSL_CONTROL_LINE_MAX + 100);
    memset(line, 'x', LSL_CONTROL_LINE_MAX + 99);
    line[LSL_CONTROL_LINE_MAX + 99] = '\0';
    int too_long = client(line);
    CHECK(reply_of(too_long, buf, sizeof(buf)) > 0);
    CHECK(strcmp(buf, "error request too long\n") == 0);
    close(too_long);
    free(line);
    int unknown = client("frobnicate\n");
    CHECK(reply_of(unknown, buf, sizeof(buf)) > 0);
    CHECK(strncmp(buf, "error ", 6) == 0);
    close(unknown);
    CHECK_EQ(served, 2);
    teardown();
}

int main(void)
{
    alarm(60); /* a loop that blocks on a client ends the test instead of hanging it */
    signal(SIGPIPE, SIG_IGN);
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof(path), "%s/control", dir);
    big = malloc(BIG);
    for (unsigned i = 0; i < BIG; i++)
        big[i] = i % 4096 == 4095 ? '\n' : (char)('a' + i % 26); /* lines, as a real reply has */
    RUN(test_silent_clients_do_not_delay);
    RUN(test_big_reply_slow_reader);
    RUN(test_stalled_reader_dropped);
    RUN(test_full_then_free);
    RUN(test_line_ends);
    free(big);
    rmdir(dir);
    return CHECK_DONE();
}
