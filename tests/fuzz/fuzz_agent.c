/* Fuzz target: the guest agent's session (guest/agent/session.c, agent_session_run) fed arbitrary client
 * bytes over a socketpair: frames in any order, sizes and values, EXECs of any shape, stdin beyond credit,
 * signals, window sizes. Nothing runs on this machine: agent_spawn_fn is a stub that forks a child of its
 * own (it reads stdin, writes output, exits, waits for a signal or dies of one, as the EXEC's argv[0] says)
 * with pipes or a pty as the real spawn has them, and the clock is never set. The session runs as a
 * distribution's own agent (home "fuzz"): the system agent's SHUTDOWN signals PID 1 and its EXEC enters
 * namespaces, neither of which a fuzzer may do here.
 *
 * The session must end, whatever arrives: with EXIT, with ERROR (PROTOCOL for what the client broke), or
 * when the client goes away (the input's end is the client's end of stream), in bounded time and memory,
 * its command reaped. What the agent sends must be well-formed frames in the protocol's order.
 *
 * Input: a flags byte (bit 0: the client's end of stream waits until the agent has ended the session, or
 * said nothing for QUIET_MS; otherwise it follows the bytes at once), then the bytes the client sends, all
 * at once. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "child_stdio.h"
#include "exec.h"
#include "frame.h"
#include "fuzz.h"
#ifdef FUZZ_INTEROP /* fuzz_interop.c: the host's lsl-interop instead */
#include "interop.h"
#include <stdlib.h>
#include <sys/stat.h>
#define LAST_ERROR LSL_ERR_DENIED
#else
#include "clock.h"
#include "session.h"
#include "spawn.h"
#define LAST_ERROR LSL_ERR_NO_DISTRO
#endif

#define QUIET_MS    20   /* the agent said nothing this long: the client sends its end of stream */
#define DEADLINE_MS 8000 /* under libFuzzer's -timeout: a session still running by then hangs */

#ifndef FUZZ_INTEROP
static int no_settime(const struct timespec *ts)
{
    (void)ts;
    return 0;
}
#endif

static pid_t stub_pid;

static void child_run(char what, uint32_t argc)
{
    static char buf[4096];
    switch (what) {
    case 'c': /* cat: stdin to stdout (and stderr with more arguments) until EOF */
        for (;;) {
            ssize_t n = read(0, buf, sizeof(buf));
            if (n <= 0)
                _exit(n == 0 ? 0 : 1);
            (void)!write(1, buf, (size_t)n);
            if (argc > 1)
                (void)!write(2, buf, (size_t)n);
        }
    case 'o': /* output, then exit */
        memset(buf, 'o', sizeof(buf));
        for (uint32_t i = 0; i < argc; i++) {
            (void)!write(1, buf, 100);
            (void)!write(2, buf, 50);
        }
        _exit(0);
    case 'p': /* wait for a signal */
        pause();
        _exit(0);
    case 'i': /* stdin closed at once, then wait for a signal */
        close(0);
        pause();
        _exit(0);
    case 'k': /* killed by a signal */
        raise((int)(argc % 31) + 1);
        _exit(0); /* one whose default is to do nothing */
    default:
        _exit((int)(argc & 0xff));
    }
}

/* The stand-in for agent_spawn: its fds as the real one leaves them (the agent's ends non-blocking and
 * close-on-exec, a pty when any fd is PTY), a child that does what argv[0]'s first letter says, or ('e') an
 * error of every kind spawn reports. The fds are proto/child_stdio.c's, the real spawns' own. */
static int stub_spawn(struct lsl_exec_msg *e, struct lsl_child *c, char *msg, size_t msglen)
{
    static const uint32_t errors[] = {LSL_ERR_NOT_FOUND, LSL_ERR_NO_EXEC, LSL_ERR_NO_USER, LSL_ERR_NO_CWD,
                                      LSL_ERR_INTERNAL};
    char what = e->argv[0][0];
    *c = LSL_CHILD_NONE;
    if (what == 'e') {
        snprintf(msg, msglen, "stub: %s: cannot start", e->argv[0]);
        return (int)errors[e->argc % 5];
    }
    struct lsl_stdio stdio;
    FUZZ_CHECK(lsl_stdio_open(e, (uid_t)-1, &stdio) == 0);
    pid_t pid = fork();
    FUZZ_CHECK(pid >= 0);
    if (pid == 0) {
        /* As the real child: default signals, none blocked, a process group of its own, only its stdio. */
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigset_t none;
        for (int sig = 1; sig < NSIG; sig++)
            (void)sigaction(sig, &dfl, NULL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        setpgid(0, 0);
        FUZZ_CHECK(lsl_stdio_dup(&stdio) == 0);
        close_range(3, ~0u, 0);
        child_run(what, e->argc);
    }
    setpgid(pid, pid); /* before the session can signal its group */
    stub_pid = pid;
    lsl_stdio_started(&stdio, e, pid, c);
    return 0;
}

/* The client: sends the input, reads what the agent sends until it closes, and checks it. */
struct client {
    int fd;
    const uint8_t *data;
    size_t size;
    bool wait;     /* end of stream only after the session ended, or a quiet spell */
    bool must_end; /* the session ends by itself (see ends_by_itself): no quiet spell ends it */
    /* What came back. */
    unsigned frames;
    uint32_t last_type, last_code;
    bool started, ended, eof;
};

static long ms_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

static void check_frame(struct client *c, const struct lsl_frame *f)
{
    FUZZ_CHECK(!c->ended); /* nothing after EXIT or ERROR */
    if (c->frames++ == 0) {
        FUZZ_CHECK(f->type == LSL_HELLO && f->len == 4 && lsl_get_u32(f->data) == LSL_AGENT_VERSION);
        return;
    }
    c->last_type = f->type;
    switch (f->type) {
    case LSL_STARTED:
        FUZZ_CHECK(!c->started && f->len == 4 && (pid_t)lsl_get_u32(f->data) == stub_pid);
        c->started = true;
        break;
    case LSL_STDIN_CREDIT:
        FUZZ_CHECK(c->started && f->len == 4 && lsl_get_u32(f->data) > 0);
        FUZZ_CHECK(lsl_get_u32(f->data) <= LSL_STDIN_WINDOW);
        break;
    case LSL_STDOUT:
    case LSL_STDERR:
        FUZZ_CHECK(c->started && f->len > 0);
        break;
    case LSL_EXIT:
        FUZZ_CHECK(c->started && f->len == 4 && lsl_get_u32(f->data) <= 255);
        c->ended = true;
        break;
    case LSL_ERROR:
        FUZZ_CHECK(f->len >= 4 && !memchr(f->data + 4, '\0', f->len - 4));
        c->last_code = lsl_get_u32(f->data);
        FUZZ_CHECK(c->last_code >= LSL_ERR_PROTOCOL && c->last_code <= LAST_ERROR);
        c->ended = true;
        break;
    default:
        FUZZ_CHECK(!"a frame type the agent does not send, or not to a distribution's client");
    }
}

/* Whether the input makes a session that ends by itself, without the client's end of stream: its EXEC
 * starts a command that exits on its own ('x', 'o'), or one that reads a stdin pipe to its end ('c') and is
 * sent STDIN_EOF; and no SIGNAL (which may stop it). Whatever else the input holds, the session then ends
 * with EXIT or ERROR: a frame the agent leaves unread would show as a hang. */
static bool ends_by_itself(const uint8_t *data, size_t size)
{
    bool exec_seen = false, eof_sent = false, itself = false;
    char what = 0;
    for (size_t at = 0; size - at >= LSL_FRAME_HDR_SIZE;) {
        uint32_t type = lsl_get_u32(data + at), len = lsl_get_u32(data + at + 4);
        if (len > LSL_FRAME_MAX || len > size - at - LSL_FRAME_HDR_SIZE)
            break;
        const uint8_t *p = data + at + LSL_FRAME_HDR_SIZE;
        at += LSL_FRAME_HDR_SIZE + len;
        if (type == LSL_SIGNAL)
            return false;
        if (type == LSL_STDIN_EOF && exec_seen)
            eof_sent = true;
        if (type != LSL_EXEC || exec_seen)
            continue;
        exec_seen = true;
        struct lsl_exec_msg e;
        if (lsl_exec_decode(p, len, &e) < 0)
            return false;
        what = e.argv[0][0];
        itself = what == 'x' || what == 'o' || (what == 'c' && e.stdio[0] == LSL_STDIO_PIPE);
        lsl_exec_msg_free(&e);
    }
    return exec_seen && itself && (what != 'c' || eof_sent);
}

static void client_run(struct client *c)
{
    /* The agent's frames are at most an output chunk (64 KiB): a buffer of its own here, not the codec's
     * reader of a maximal frame (each 1 MiB allocation is an mmap and a munmap). */
    static uint8_t buf[256u << 10];
    size_t have = 0;
    struct timespec t0, quiet;
    bool shut = false;

    /* Fits the socket's buffer at once: the input is at most a few KiB. */
    if (c->size)
        FUZZ_CHECK(send(c->fd, c->data, c->size, MSG_NOSIGNAL) == (ssize_t)c->size);
    if (!c->wait) {
        shutdown(c->fd, SHUT_WR);
        shut = true;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    quiet = t0;
    while (!c->eof) {
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        FUZZ_CHECK(ms_since(&t0) < DEADLINE_MS);
        if (poll(&p, 1, shut ? 100 : QUIET_MS) <= 0) {
            if (!shut && !c->must_end && ms_since(&quiet) >= QUIET_MS) {
                shutdown(c->fd, SHUT_WR);
                shut = true;
            }
            continue;
        }
        ssize_t n = read(c->fd, buf + have, sizeof(buf) - have);
        FUZZ_CHECK(n >= 0 || errno == EAGAIN || errno == EINTR);
        if (n == 0)
            c->eof = true;
        if (n > 0)
            have += (size_t)n;
        clock_gettime(CLOCK_MONOTONIC, &quiet);
        size_t used = 0;
        while (have - used >= LSL_FRAME_HDR_SIZE) {
            struct lsl_frame f = {.type = lsl_get_u32(buf + used), .len = lsl_get_u32(buf + used + 4)};
            FUZZ_CHECK(f.len <= sizeof(buf) - LSL_FRAME_HDR_SIZE);
            if (have - used - LSL_FRAME_HDR_SIZE < f.len)
                break;
            f.data = buf + used + LSL_FRAME_HDR_SIZE;
            check_frame(c, &f);
            used += LSL_FRAME_HDR_SIZE + f.len;
        }
        memmove(buf, buf + used, have - used);
        have -= used;
        FUZZ_CHECK(!c->eof || have == 0); /* no frame cut off by the agent's end */
        if (c->ended && !shut) {
            shutdown(c->fd, SHUT_WR); /* the session is over: the agent lingers for our end */
            shut = true;
        }
    }
}

/* The client runs on a thread made once: a thread per input costs more than the session (ASan maps and
 * clears memory for each). */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct client *job;
static bool job_done;

static void *client_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (!job)
            pthread_cond_wait(&cond, &lock);
        pthread_mutex_unlock(&lock);
        client_run(job);
        pthread_mutex_lock(&lock);
        job = NULL;
        job_done = true;
        pthread_cond_broadcast(&cond);
    }
    return NULL;
}

static void start_client_thread(void)
{
    pthread_t th;
    pthread_attr_t attr;
    /* Made with SIGCHLD blocked (the caller's mask): see LLVMFuzzerInitialize. */
    FUZZ_CHECK(pthread_attr_init(&attr) == 0 &&
               pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0);
    FUZZ_CHECK(pthread_create(&th, &attr, client_thread, NULL) == 0);
    pthread_attr_destroy(&attr);
}

#ifdef FUZZ_INTEROP
/* The runtime directory lsl-interop reads run records from: "fuzz" (the name the corpus's EXECs give) has
 * interop on, "off" has it off. Made and removed around each input: the replay ends with _exit. */
static char runtime[sizeof("/tmp/lsl-fuzz-interop-XXXXXX")];

static void interop_runtime_remove(void)
{
    char path[128];
    for (int on = 0; on < 2; on++) {
        snprintf(path, sizeof(path), "%s/distros/%s.run", runtime, on ? "fuzz" : "off");
        (void)unlink(path);
    }
    snprintf(path, sizeof(path), "%s/distros", runtime);
    (void)rmdir(path);
    (void)rmdir(runtime);
}

static void interop_runtime(void)
{
    char path[128];
    snprintf(runtime, sizeof(runtime), "/tmp/lsl-fuzz-interop-XXXXXX");
    FUZZ_CHECK(mkdtemp(runtime) != NULL);
    snprintf(path, sizeof(path), "%s/distros", runtime);
    FUZZ_CHECK(mkdir(path, 0700) == 0);
    for (int on = 0; on < 2; on++) {
        snprintf(path, sizeof(path), "%s/distros/%s.run", runtime, on ? "fuzz" : "off");
        FILE *f = fopen(path, "w");
        FUZZ_CHECK(f && fprintf(f, "\n1003\n\n/mnt/\n%d\n", on) > 0 && fclose(f) == 0);
    }
}
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    /* Before libFuzzer starts its threads, which inherit the mask: a SIGCHLD any thread may take is lost
     * to the agent's signalfd (the agent is single-threaded in the guest). */
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &chld, NULL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool wait = data[0] & 1;
    data++, size--;
#ifdef FUZZ_INTEROP
    lsl_interop_spawn_fn = stub_spawn;
    interop_runtime();
#else
    agent_spawn_fn = stub_spawn;
    agent_clock_settime = no_settime;
#endif
    stub_pid = -1;

    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &chld, &old);
    int sv[2];
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    struct client c = {.fd = sv[0],
                       .data = data,
                       .size = size,
                       .wait = wait,
                       .must_end = wait && ends_by_itself(data, size)};
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, start_client_thread);
    pthread_mutex_lock(&lock);
    job = &c;
    job_done = false;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
#ifdef FUZZ_INTEROP
    int r = lsl_interop_serve(sv[1], runtime);
    interop_runtime_remove();
#else
    int r = agent_session_run(sv[1], "fuzz");
#endif
    pthread_mutex_lock(&lock);
    while (!job_done)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    close(sv[0]);

    /* How it ended agrees with what the client saw. */
    FUZZ_CHECK(r == 0 || r == -EPROTO || r == -ECONNRESET);
    if (r == -EPROTO)
        FUZZ_CHECK(c.ended && c.last_type == LSL_ERROR && c.last_code == LSL_ERR_PROTOCOL);
    if (r == 0)
        FUZZ_CHECK(c.frames == 1 ||
                   (c.ended && (c.last_type == LSL_EXIT || c.last_code != LSL_ERR_PROTOCOL)));
    if (c.ended && c.last_type == LSL_EXIT)
        FUZZ_CHECK(r == 0);
    /* The command does not outlive its session. */
    if (stub_pid > 0)
        FUZZ_CHECK(waitpid(stub_pid, NULL, WNOHANG) < 0 && errno == ECHILD);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return 0;
}
