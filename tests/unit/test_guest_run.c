/* lsl_guest_run (cli/guest_run.c) against a hostile guest: a fake VMM socket and agent in a child process
 * answer lsl-distro's commands with 100+ MiB of output. lsl keeps only what it needs (stdout up to
 * LSL_GUEST_OUT_MAX, the tail of stderr), so its memory stays flat, and an answer over the limit fails the
 * call cleanly. The same fake, well-behaved, delivers a binary answer byte for byte. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "check.h"
#include "control.h"
#include "distro_vm.h"
#include "frame.h"
#include "guest_run.h"
#include "paths.h"
#include "unix_socket.h"

static char dir[] = "/tmp/lsl-guest-run-XXXXXX";
static struct lsl_paths paths;

static bool send_all(int fd, const void *buf, size_t len)
{
    while (len) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        buf = (const char *)buf + n;
        len -= (size_t)n;
    }
    return true;
}

static bool send_frame(int fd, uint32_t type, const void *data, size_t len)
{
    uint8_t hdr[8];
    lsl_put_u32(hdr, type);
    lsl_put_u32(hdr + 4, (uint32_t)len);
    return send_all(fd, hdr, 8) && (!len || send_all(fd, data, len));
}

static bool send_u32(int fd, uint32_t type, uint32_t v)
{
    uint8_t p[4];
    lsl_put_u32(p, v);
    return send_frame(fd, type, p, 4);
}

/* What the fake guest answers. */
struct script {
    uint32_t type;    /* LSL_STDOUT or LSL_STDERR for the flood */
    size_t flood;     /* bytes of it, in 1 MiB frames of 'x' lines */
    const void *tail; /* then these bytes in one frame of that type (may be NULL) */
    size_t tail_len;
    uint32_t exit_code; /* then EXIT */
};

/* The VMM's hybrid vsock and the system agent in one: takes the CONNECT line, says OK, greets, starts, sends
 * the script and drains what the client sends until it closes. */
static pid_t fake_guest(const struct script *s)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, LSL_VSOCK_SOCKET);
    int l = unix_listen(path, 4);
    CHECK(l >= 0);
    pid_t pid = fork();
    if (pid != 0) {
        close(l);
        return pid;
    }
    static char chunk[1u << 20];
    char line[64];
    size_t n = 0;
    struct pollfd pl = {.fd = l, .events = POLLIN};
    int c = poll(&pl, 1, 10000) == 1 ? accept4(l, NULL, NULL, 0) : -1; /* the listener is non-blocking */
    if (c < 0)
        _exit(2);
    while (n < sizeof(line) - 1 && read(c, line + n, 1) == 1 && line[n] != '\n')
        n++;
    line[n] = '\0';
    if (strncmp(line, "CONNECT ", 8) != 0)
        _exit(3);
    for (size_t i = 0; i < sizeof(chunk); i++)
        chunk[i] = i % 64 == 63 ? '\n' : 'x';
    if (!send_all(c, "OK 1\n", 5) || !send_u32(c, LSL_HELLO, LSL_AGENT_VERSION) ||
        !send_u32(c, LSL_STARTED, 42))
        _exit(4);
    /* A client that gives up early closes: the rest fails to send, which is fine. */
    for (size_t sent = 0; sent < s->flood; sent += sizeof(chunk))
        if (!send_frame(c, s->type, chunk, sizeof(chunk)))
            _exit(0);
    if (s->tail && !send_frame(c, s->type, s->tail, s->tail_len))
        _exit(0);
    if (!send_u32(c, LSL_EXIT, s->exit_code))
        _exit(0);
    shutdown(c, SHUT_WR);
    while (read(c, chunk, sizeof(chunk)) > 0)
        ;
    _exit(0);
}

static long max_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void finish(pid_t pid)
{
    int st = -1;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, LSL_VSOCK_SOCKET);
    unlink(path);
}

static const char *const argv_list[] = {"lsl-distro", "list", NULL};

/* 128 MiB of stdout where an answer of a few KiB was due: refused as malformed once it passes the limit,
 * without lsl holding more than the limit. */
static void test_stdout_flood(void)
{
    struct script s = {.type = LSL_STDOUT, .flood = 128u << 20};
    char err[256];
    char *out = (char *)1;
    size_t len = 1;
    long before = max_rss_kib();
    pid_t pid = fake_guest(&s);
    int r = lsl_guest_run(&paths, NULL, argv_list, -1, -1, &out, &len, err, sizeof(err));
    long grown = max_rss_kib() - before;
    finish(pid);
    CHECK_EQ(r, -EMSGSIZE);
    CHECK(out == NULL && len == 0);
    CHECK(strstr(err, "malformed answer") != NULL);
    if (grown > 16 * 1024)
        fprintf(stderr, "  peak RSS grew by %ld KiB\n", grown);
    CHECK(grown < 16 * 1024); /* the limit is 1 MiB; the frame reader holds one more */
}

/* 128 MiB of complaints on stderr, then the one line that matters and an exit status: the status and the
 * line come back, and only the end of stderr was ever kept. */
static void test_stderr_flood(void)
{
    static const char last[] = "lsl-distro: the real reason\nError is not recoverable: exiting now\n";
    struct script s = {
        .type = LSL_STDERR, .flood = 128u << 20, .tail = last, .tail_len = sizeof(last) - 1, .exit_code = 3};
    char err[256];
    char *out = NULL;
    long before = max_rss_kib();
    pid_t pid = fake_guest(&s);
    int r = lsl_guest_run(&paths, NULL, argv_list, -1, -1, &out, NULL, err, sizeof(err));
    long grown = max_rss_kib() - before;
    finish(pid);
    CHECK_EQ(r, 3);
    CHECK(out == NULL);
    CHECK(strcmp(err, "lsl-distro: the real reason") == 0);
    if (grown > 16 * 1024)
        fprintf(stderr, "  peak RSS grew by %ld KiB\n", grown);
    CHECK(grown < 16 * 1024);
}

/* A true answer, NULs and all, arrives byte for byte with its length; one exactly at the limit too. */
static void test_binary_answer(void)
{
    static const char answer[] = "@@lsl-file /etc/wsl.conf 5\na\0b\r\n\n";
    struct script s = {.type = LSL_STDOUT, .tail = answer, .tail_len = sizeof(answer) - 1};
    char err[256];
    char *out = NULL;
    size_t len = 0;
    pid_t pid = fake_guest(&s);
    CHECK_EQ(lsl_guest_run(&paths, NULL, argv_list, -1, -1, &out, &len, err, sizeof(err)), 0);
    finish(pid);
    CHECK_EQ(len, sizeof(answer) - 1);
    CHECK(out && memcmp(out, answer, sizeof(answer) - 1) == 0 && out[len] == '\0');
    free(out);

    s = (struct script){.type = LSL_STDOUT, .flood = LSL_GUEST_OUT_MAX};
    pid = fake_guest(&s);
    CHECK_EQ(lsl_guest_run(&paths, NULL, argv_list, -1, -1, &out, &len, err, sizeof(err)), 0);
    finish(pid);
    CHECK_EQ(len, LSL_GUEST_OUT_MAX);
    free(out);

    /* No output at all is an empty answer, not a missing one. */
    s = (struct script){.type = LSL_STDOUT};
    pid = fake_guest(&s);
    CHECK_EQ(lsl_guest_run(&paths, NULL, argv_list, -1, -1, &out, &len, err, sizeof(err)), 0);
    finish(pid);
    CHECK(out && len == 0 && out[0] == '\0');
    free(out);
}

/* The service's control socket, answering n status requests "running". */
static pid_t fake_control(int n)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, LSL_CONTROL_SOCKET);
    int l = unix_listen(path, 4);
    CHECK(l >= 0);
    pid_t pid = fork();
    if (pid != 0) {
        close(l);
        return pid;
    }
    for (int i = 0; i < n; i++) {
        struct pollfd pl = {.fd = l, .events = POLLIN};
        int c = poll(&pl, 1, 10000) == 1 ? accept4(l, NULL, NULL, 0) : -1;
        char line[256];
        if (c < 0 || read(c, line, sizeof(line)) <= 0)
            _exit(2);
        FILE *f = fdopen(c, "w");
        lsl_ctl_reply_ok(f, NULL);
        lsl_ctl_put(f, LSL_CTL_KEY_STATE, "running");
        fclose(f);
    }
    _exit(0);
}

/* `lsl -l`, -t, --unregister ask the VM which distributions run: an answer over the limit is an error of
 * that command, never "nothing runs" (--unregister would then delete a disk still in the VM). */
static void test_running_list_flood(void)
{
    struct script s = {.type = LSL_STDOUT, .flood = 128u << 20};
    char *list = (char *)1, path[PATH_MAX];
    pid_t ctl = fake_control(1), pid = fake_guest(&s);
    CHECK_EQ(lsl_distro_running(&paths, &list), -EIO);
    CHECK(list == NULL);
    finish(pid);
    CHECK_EQ(waitpid(ctl, NULL, 0), ctl);

    bool was = true;
    ctl = fake_control(1);
    pid = fake_guest(&s);
    CHECK_EQ(lsl_distro_stop(&paths, "Evil", "0123456789abcdef", &was), -EIO);
    CHECK(!was);
    finish(pid);
    CHECK_EQ(waitpid(ctl, NULL, 0), ctl);

    /* A true list still works. */
    static const char names[] = "alpha\nbeta\n";
    s = (struct script){.type = LSL_STDOUT, .tail = names, .tail_len = sizeof(names) - 1};
    ctl = fake_control(1);
    pid = fake_guest(&s);
    CHECK_EQ(lsl_distro_running(&paths, &list), 0);
    CHECK(list && lsl_distro_in_list(list, "beta") && !lsl_distro_in_list(list, "gamma"));
    free(list);
    finish(pid);
    CHECK_EQ(waitpid(ctl, NULL, 0), ctl);
    snprintf(path, sizeof(path), "%s/%s", dir, LSL_CONTROL_SOCKET);
    unlink(path);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(paths.runtime, sizeof(paths.runtime), "%s", dir);
    snprintf(paths.state, sizeof(paths.state), "%s", dir);
    signal(SIGPIPE, SIG_IGN);
    RUN(test_binary_answer);
    RUN(test_stdout_flood);
    RUN(test_stderr_flood);
    RUN(test_running_list_flood);
    rmdir(dir);
    return CHECK_DONE();
}
