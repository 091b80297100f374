/* lsl-wake as lsl-vmm starts it at an idle stop (proto/wake.h), against the CLI's side (wake_client.h): it
 * lists what it holds; a client of a held socket makes it start the VM, and when that start fails (no guest
 * kernel here) the client's connection is closed and lsl-wake waits on; the listener taken is the very one
 * (a client connects to it and is accepted by the taker), and lsl-wake is gone once it handed it over;
 * --shutdown's release closes it and removes the path; lsl-wake refuses arguments it does not understand. */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "paths.h"
#include "unix_socket.h"
#include "wake.h"
#include "wake_client.h"

static char top[] = "/tmp/lsl-wake-test-XXXXXX";
static struct lsl_paths paths;
static char sock_path[PATH_MAX + 16];

/* lsl-wake holding listener fd (the test's copy is closed), as lsl-vmm hands it over; its environment is a
 * user of its own in top, with no guest kernel: a start fails at once. */
static pid_t start_wake(int fd)
{
    char wake_path[PATH_MAX + 8], nums[2][16];
    snprintf(wake_path, sizeof(wake_path), "%s/" LSL_WAKE_SOCKET, paths.runtime);
    int wake = unix_listen(wake_path, 8);
    CHECK(wake >= 0);
    pid_t pid = fork();
    if (pid == 0) {
        char env[4][320];
        snprintf(env[0], sizeof(env[0]), "%s/rt", top);
        snprintf(env[1], sizeof(env[1]), "%s/state", top);
        snprintf(env[2], sizeof(env[2]), "%s/no-kernel", top);
        setenv("XDG_RUNTIME_DIR", env[0], 1);
        setenv("XDG_STATE_HOME", env[1], 1);
        setenv("HOME", top, 1);
        setenv("LSL_KERNEL", env[2], 1);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 2); /* its log lines */
        fcntl(wake, F_SETFD, 0);
        fcntl(fd, F_SETFD, 0);
        snprintf(nums[0], sizeof(nums[0]), "%d", wake);
        snprintf(nums[1], sizeof(nums[1]), "%d", fd);
        execl(LSL_WAKE_BIN, LSL_WAKE_BIN, LSL_WAKE_OPT_WAKE, nums[0], LSL_WAKE_OPT_SOCKET, nums[1],
              LSL_WAKE_OPT_RESUME, "deb", (char *)NULL);
        _exit(127);
    }
    close(wake);
    close(fd);
    return pid;
}

/* waitpid with a bound: the exit status, or -1 if still running after ms. */
static int wait_for(pid_t pid, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
        struct timespec ts = {.tv_nsec = 10000000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

static void test_hold_and_take(void)
{
    int l = unix_listen(sock_path, 16);
    CHECK(l >= 0);
    pid_t pid = start_wake(l);
    char list[512] = "", expect[PATH_MAX + 32];
    snprintf(expect, sizeof(expect), "%s\n", sock_path);
    CHECK_EQ(lsl_wake_list(&paths, list, sizeof(list)), 1);
    CHECK(!strcmp(list, expect));
    /* A client wakes it: the start fails here (no kernel), so the client is turned away and it waits on. */
    int c = unix_connect(sock_path, false);
    CHECK(c >= 0);
    struct pollfd pfd = {.fd = c, .events = POLLIN};
    CHECK_EQ(poll(&pfd, 1, 20000), 1);
    char b;
    CHECK_EQ(recv(c, &b, 1, 0), 0);
    close(c);
    CHECK_EQ(wait_for(pid, 200), -1);
    CHECK_EQ(lsl_wake_list(&paths, list, sizeof(list)), 1);
    /* The taker gets the very listener: a client's connection reaches it. */
    int fds[4];
    CHECK_EQ(lsl_wake_take(&paths, fds, 4), 1);
    CHECK_EQ(wait_for(pid, 5000), 0);
    char got[PATH_MAX] = "";
    CHECK_EQ(unix_listener_path(fds[0], got, sizeof(got)), 0);
    CHECK(!strcmp(got, sock_path));
    CHECK(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
    c = unix_connect(sock_path, false);
    CHECK(c >= 0);
    int a = accept4(fds[0], NULL, NULL, SOCK_CLOEXEC);
    CHECK(a >= 0);
    close(a);
    close(c);
    /* Nobody waits now: nothing to take, nothing listed, and the wake socket is gone. */
    CHECK_EQ(lsl_wake_take(&paths, fds + 1, 3), 0);
    CHECK_EQ(lsl_wake_list(&paths, list, sizeof(list)), 0);
    char wake_path[PATH_MAX + 8];
    snprintf(wake_path, sizeof(wake_path), "%s/" LSL_WAKE_SOCKET, paths.runtime);
    CHECK(access(wake_path, F_OK) < 0);
    /* --shutdown: released, the path removed, lsl-wake gone. */
    pid = start_wake(fds[0]);
    CHECK_EQ(lsl_wake_release(&paths), 1);
    CHECK_EQ(wait_for(pid, 5000), 0);
    CHECK(access(sock_path, F_OK) < 0);
}

static void test_bad_arguments(void)
{
    const char *cases[][4] = {
        {LSL_WAKE_OPT_WAKE, NULL},
        {LSL_WAKE_OPT_WAKE, "1", NULL},
        {LSL_WAKE_OPT_RESUME, "../x", NULL},
        {"--other", "3", NULL},
        {LSL_WAKE_OPT_WAKE, "40", LSL_WAKE_OPT_SOCKET, "41"}, /* fds that are not open: nothing to wait for */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pid_t pid = fork();
        if (pid == 0) {
            int null = open("/dev/null", O_WRONLY);
            dup2(null, 2);
            execl(LSL_WAKE_BIN, LSL_WAKE_BIN, cases[i][0], cases[i][1], cases[i][2], cases[i][3],
                  (char *)NULL);
            _exit(127);
        }
        int rc = wait_for(pid, 5000);
        CHECK(rc == 1 || rc == 2);
    }
}

/* What a stale socket is (util's unix_path_listening, which the release and the service's bind both ask):
 * served, refused, no socket at all, nothing there; only a refused one is removed. */
static void test_path_listening(void)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/probe.sock", paths.runtime);
    int l = unix_listen(path, 4);
    CHECK(l >= 0);
    CHECK_EQ(unix_path_listening(path), 1);
    unix_remove_stale(path);
    CHECK_EQ(access(path, F_OK), 0); /* a live one stays */
    close(l);
    CHECK_EQ(unix_path_listening(path), 0);
    unix_remove_stale(path);
    CHECK(access(path, F_OK) < 0);
    CHECK_EQ(unix_path_listening(path), -ENOENT);
    int f = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    CHECK(f >= 0);
    close(f);
    CHECK_EQ(unix_path_listening(path), -ENOTSOCK);
    unix_remove_stale(path);
    CHECK_EQ(access(path, F_OK), 0); /* never another kind of file */
    unlink(path);
}

int main(void)
{
    if (!mkdtemp(top))
        return 1;
    snprintf(paths.runtime, sizeof(paths.runtime), "%s/rt/lsl", top);
    snprintf(sock_path, sizeof(sock_path), "%s/docker.sock", paths.runtime);
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof(cmd), "mkdir -p %s %s/state", paths.runtime, top);
    CHECK_EQ(system(cmd), 0);
    RUN(test_hold_and_take);
    RUN(test_bad_arguments);
    RUN(test_path_listening);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
    (void)!system(cmd);
    return CHECK_DONE();
}
