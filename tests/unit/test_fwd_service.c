/* Localhost forwarding, the service's end (vmm/service/forward.c, forward_relay.c), against a fake guest: a
 * unix socket stands where the VMM's hybrid vsock listens, and this test answers for the guest's forwarder
 * (the watch's OK and PORTS; OK and OPENED, or silence, on the streams). A UDP port the guest lists is bound
 * on the host; a peer's datagrams go to the guest on a stream of their own, and come back; a flow the guest
 * never opens is replaced by the peer's next datagram once FWD_UDP_OPEN_NS have passed. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "core/evloop.h"
#include "frame.h"
#include "fwd.h"
#include "io.h"
#include "service/forward.h"
#include "service/forward_int.h"
#include "unix_socket.h"

static char dir[] = "/tmp/lsl-fwd-service.XXXXXX";
static struct evloop loop;
static struct fwd *f;
static int vsock_listen = -1;

/* Runs the service's loop for about ms milliseconds. */
static void spin(int ms)
{
    uint64_t end = now_ns() + (uint64_t)ms * 1000000;
    while (now_ns() < end)
        evloop_run_once(&loop, 10);
}

/* The next stream the service opened to the guest: its CONNECT line checked; -1 if none came. */
static int next_stream(void)
{
    for (int i = 0; i < 200; i++) {
        struct pollfd p = {.fd = vsock_listen, .events = POLLIN};
        if (poll(&p, 1, 0) == 1) {
            int fd = accept4(vsock_listen, NULL, NULL, SOCK_CLOEXEC);
            char line[32];
            size_t n = 0;
            while (fd >= 0 && n < sizeof(line) - 1 && read(fd, line + n, 1) == 1 && line[n] != '\n')
                n++;
            line[n] = '\0';
            CHECK(strcmp(line, "CONNECT 999") == 0);
            return fd;
        }
        spin(5);
    }
    return -1;
}

/* One frame from a stream (the service's loop runs meanwhile); its type, or 0 on EOF or nothing in time. */
static uint32_t read_frame(int fd, uint8_t *payload, uint32_t *len)
{
    uint8_t buf[LSL_FRAME_HDR_SIZE + 512];
    size_t have = 0;
    for (int i = 0; i < 400; i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 0) == 1) {
            ssize_t n = read(fd, buf + have, sizeof(buf) - have);
            if (n <= 0)
                return 0;
            have += (size_t)n;
        }
        if (have >= LSL_FRAME_HDR_SIZE && have >= LSL_FRAME_HDR_SIZE + lsl_get_u32(buf + 4)) {
            *len = lsl_get_u32(buf + 4);
            memcpy(payload, buf + LSL_FRAME_HDR_SIZE, *len);
            return lsl_get_u32(buf);
        }
        spin(5);
    }
    return 0;
}

static void send_frame(int fd, uint32_t type, const void *payload, uint32_t len)
{
    uint8_t msg[LSL_FRAME_HDR_SIZE + 4096];
    size_t n = lsl_frame_encode(msg, sizeof(msg), type, payload, len);
    CHECK(n > 0 && write(fd, msg, n) == (ssize_t)n);
}

/* Whether fd (a stream the service opened) was closed by the service. */
static bool closed_by_service(int fd)
{
    for (int i = 0; i < 200; i++) {
        char c;
        ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
        if (n == 0)
            return true;
        spin(5);
    }
    return false;
}

/* The streams the service dialed so far (spares, refilled as they are used), each answered as the guest's
 * forwarder would (OK); the one that carries data and is not `not`, or -1. */
static int stream[64], nstream;
static int stream_with_data(int not )
{
    for (;;) {
        struct pollfd p = {.fd = vsock_listen, .events = POLLIN};
        if (nstream == 64 || poll(&p, 1, 0) != 1)
            break;
        int fd = next_stream();
        CHECK(fd >= 0 && write(fd, "OK 2\n", 5) == 5);
        stream[nstream++] = fd;
    }
    for (int i = 0; i < nstream; i++) {
        uint8_t b[64];
        if (stream[i] != not &&recv(stream[i], b, sizeof(b), MSG_PEEK | MSG_DONTWAIT) > 0)
            return stream[i];
    }
    return -1;
}

/* The guest is up: the service's tick opens the watch, answered OK as the forwarder would. */
static int guest_up(void)
{
    uint8_t p[64];
    uint32_t len;
    fwd_tick(f, now_ns(), true, false);
    int watch = next_stream();
    CHECK(watch >= 0);
    CHECK_EQ(read_frame(watch, p, &len), LSL_FWD_WATCH);
    CHECK(write(watch, "OK 1\n", 5) == 5);
    return watch;
}

static void test_udp_flows(void)
{
    struct lsl_fwd_policy policy;
    struct lsl_fwd_socks socks = {0};
    lsl_fwd_policy_init(&policy);
    char path[300];
    snprintf(path, sizeof(path), "%s/vsock", dir);
    vsock_listen = unix_listen(path, 64);
    CHECK(vsock_listen >= 0);
    CHECK_EQ(fwd_create(&loop, path, &policy, &socks, NULL, 0, &f), 0);

    /* The watch: OK, then the guest's port list, a UDP port on 127.0.0.1. */
    int watch = guest_up();
    uint8_t p[512];
    uint32_t len;
    uint16_t port = (uint16_t)(40000 + getpid() % 20000);
    struct lsl_fwd_port ports[1] = {{.proto = LSL_FWD_UDP, .family = LSL_FWD_V4, .port = port}};
    uint8_t enc[256];
    size_t elen = lsl_fwd_ports_encode(ports, 1, enc, sizeof(enc));
    send_frame(watch, LSL_FWD_PORTS, enc, (uint32_t)elen);
    spin(50);
    /* The spares the service dials ahead. */
    CHECK_EQ(stream_with_data(-1), -1);
    CHECK_EQ(nstream, FWD_SPARES);

    /* A peer's datagram: an OPEN for the port on one of them, then the datagram. */
    int peer = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in to = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(sendto(peer, "one", 3, 0, (struct sockaddr *)&to, sizeof(to)) == 3);
    spin(50);
    int first = stream_with_data(-1);
    CHECK(first >= 0);
    if (first < 0)
        return;
    CHECK_EQ(read_frame(first, p, &len), LSL_FWD_OPEN);
    struct lsl_fwd_open o;
    CHECK_EQ(lsl_fwd_open_decode(p, len, &o), 0);
    CHECK(o.proto == LSL_FWD_UDP && o.port == port);
    /* The guest stays silent: no OPENED. Within FWD_UDP_OPEN_NS the peer's datagrams wait on that flow. */
    CHECK(sendto(peer, "two", 3, 0, (struct sockaddr *)&to, sizeof(to)) == 3);
    spin(100);
    CHECK_EQ(stream_with_data(first), -1);
    /* Past it, the next datagram gives up on that flow (its stream closed) and opens another. */
    spin((int)(FWD_UDP_OPEN_NS / 1000000) + 100);
    CHECK(sendto(peer, "three", 5, 0, (struct sockaddr *)&to, sizeof(to)) == 5);
    CHECK(closed_by_service(first));
    int second = stream_with_data(first);
    CHECK(second >= 0);
    if (second < 0)
        return;
    CHECK_EQ(read_frame(second, p, &len), LSL_FWD_OPEN);
    /* This time the guest opens it: the datagram arrives, and the answer reaches the peer. */
    uint8_t ok[4] = {0};
    send_frame(second, LSL_FWD_OPENED, ok, 4);
    CHECK_EQ(read_frame(second, p, &len), LSL_FWD_DGRAM);
    CHECK(len == 5 && memcmp(p, "three", 5) == 0);
    send_frame(second, LSL_FWD_DGRAM, "echo", 4);
    spin(50);
    char back[16];
    struct timeval tv = {.tv_sec = 2};
    setsockopt(peer, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    CHECK_EQ(recv(peer, back, sizeof(back), MSG_DONTWAIT), 4);
    CHECK(memcmp(back, "echo", 4) == 0);

    close(peer);
    for (int i = 0; i < nstream; i++)
        close(stream[i]);
    close(watch);
    fwd_free(f);
    close(vsock_listen);
    unlink(path);
}

/* Socket wake's half here (proto/wake.h): a listener handed over with a client waiting in its backlog is
 * kept while the guest boots, served once it is up; the guest's "nobody listens there yet" early in its life
 * makes the connection wait and ask again, and it counts as busy meanwhile; at the next idle stop the
 * listener is given away again, its path left in place. */
static void test_socket_handover(void)
{
    struct lsl_fwd_policy policy;
    struct lsl_fwd_socks socks = {0};
    char path[300], host[300], spec[400];
    lsl_fwd_policy_init(&policy);
    snprintf(path, sizeof(path), "%s/vsock2", dir);
    snprintf(host, sizeof(host), "%s/d.sock", dir);
    snprintf(spec, sizeof(spec), "/run/docker.sock=%s", host);
    CHECK_EQ(lsl_fwd_socks_add(&socks, spec), 0);
    vsock_listen = unix_listen(path, 64);
    int l = unix_listen(host, 8);
    CHECK(vsock_listen >= 0 && l >= 0);
    int client = unix_connect(host, false);
    CHECK(client >= 0);
    nstream = 0;
    CHECK_EQ(fwd_create(&loop, path, &policy, &socks, &l, 1, &f), 0);
    /* The guest boots: the client waits in the backlog (no reset, no end of file). */
    fwd_tick(f, now_ns(), false, false);
    spin(20);
    fwd_tick(f, now_ns(), false, false);
    char b[16];
    errno = 0;
    CHECK(recv(client, b, sizeof(b), MSG_DONTWAIT) < 0 && errno == EAGAIN);
    int fds[2];
    CHECK_EQ(fwd_socks_listeners(f, fds, 2), 1);
    /* Up: the watch, then the client's OPEN_UNIX on a stream of its own; the guest's forwarder does not
     * listen yet (the boot marker comes first), so that stream is refused, and the client waits. */
    int watch = guest_up();
    uint8_t p[512];
    uint32_t len;
    int refused = next_stream();
    CHECK(refused >= 0);
    CHECK_EQ(read_frame(refused, p, &len), LSL_FWD_OPEN_UNIX);
    close(refused);
    spin(50);
    errno = 0;
    CHECK(recv(client, b, sizeof(b), MSG_DONTWAIT) < 0 && errno == EAGAIN);
    CHECK_EQ(fwd_unix_relays(f), 1);
    spin((int)(FWD_UNIX_RETRY_NS / 1000000) + 50);
    fwd_tick(f, now_ns(), true, false);
    spin(50);
    int first = stream_with_data(watch);
    CHECK(first >= 0);
    if (first < 0)
        return;
    CHECK_EQ(read_frame(first, p, &len), LSL_FWD_OPEN_UNIX);
    struct lsl_fwd_unix u;
    CHECK(lsl_fwd_unix_decode(p, len, &u) == 0 && !strcmp(u.path, "/run/docker.sock"));
    uint8_t e[4];
    lsl_put_u32(e, ENOENT);
    send_frame(first, LSL_FWD_OPENED, e, 4);
    CHECK(closed_by_service(first));
    CHECK(recv(client, b, sizeof(b), MSG_DONTWAIT) < 0 && errno == EAGAIN);
    CHECK_EQ(fwd_unix_relays(f), 1);
    /* Asked again at a tick past FWD_UNIX_RETRY_NS: this time a listener answers. */
    spin((int)(FWD_UNIX_RETRY_NS / 1000000) + 50);
    fwd_tick(f, now_ns(), true, false);
    spin(50);
    int second = stream_with_data(first);
    CHECK(second >= 0 && second != first);
    if (second < 0)
        return;
    CHECK_EQ(read_frame(second, p, &len), LSL_FWD_OPEN_UNIX);
    lsl_put_u32(e, 0);
    send_frame(second, LSL_FWD_OPENED, e, 4);
    CHECK(write(second, "hello", 5) == 5);
    struct timeval tv = {.tv_sec = 2};
    setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    for (int i = 0; i < 100 && recv(client, b, 5, MSG_PEEK | MSG_DONTWAIT) < 5; i++)
        spin(10);
    CHECK(recv(client, b, sizeof(b), 0) == 5 && !memcmp(b, "hello", 5));
    /* An idle stop: the listener is given away (here: nobody takes it), the path stays. */
    CHECK_EQ(fwd_socks_listeners(f, fds, 2), 1);
    fwd_socks_forget(f);
    CHECK_EQ(fwd_socks_listeners(f, fds, 2), 0);
    fwd_tick(f, now_ns(), false, false);
    CHECK(access(host, F_OK) == 0);
    close(client);
    for (int i = 0; i < nstream; i++)
        close(stream[i]);
    close(watch);
    fwd_free(f);
    CHECK(access(host, F_OK) == 0);
    unlink(host);
    close(vsock_listen);
    unlink(path);
}

int main(void)
{
    if (!mkdtemp(dir) || evloop_init(&loop) < 0)
        return 1;
    RUN(test_udp_flows);
    RUN(test_socket_handover);
    evloop_free(&loop);
    rmdir(dir);
    return CHECK_DONE();
}
