/* lsl-interop, the host's server of the guest's host commands, as the service starts it (the connection on
 * its stdin, the runtime directory as its argument) against the session client lsl-host uses: a command with
 * arguments, stdin, output, exit status and working directory; the guest's variables over the host's (PATH
 * and the like kept out); and the refusals: a distribution whose start turned interop off, one never
 * started, the VM's system root, a user other than the host user. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "check.h"
#include "session_client.h"

static char runtime[] = "/tmp/lsl-interop-test-XXXXXX";

/* NAME's run record as lsl_distro_start leaves it, with interop on or off. */
static void record(const char *name, int interop)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/distros", runtime);
    (void)mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/distros/%s.run", runtime, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fprintf(f, "\n1003\n\n/mnt/\n%d\n", interop);
        fclose(f);
    }
}

static int memfd_with(const char *text)
{
    int fd = memfd_create("t", MFD_CLOEXEC);
    if (text && write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        CHECK(0);
    lseek(fd, 0, SEEK_SET);
    return fd;
}

static char *contents(int fd)
{
    off_t len = lseek(fd, 0, SEEK_END);
    char *buf = calloc(1, (size_t)len + 1);
    CHECK(pread(fd, buf, (size_t)len, 0) == len);
    return buf;
}

struct result {
    int status, server, remote_error;
    char *out, *err;
    char errbuf[256];
};

static void run(struct result *r, const char *distro, const char *user, const char *cwd,
                const char *const *argv, const char *const *envp, const char *in)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(sv[1], 0);
        execl(LSL_INTEROP_BIN, "lsl-interop", runtime, (char *)NULL);
        _exit(99);
    }
    close(sv[1]);
    struct lsl_exec_request req = {.argv = argv,
                                   .envp = envp,
                                   .cwd = cwd,
                                   .user = user,
                                   .distro = distro,
                                   .flags = LSL_EXEC_CWD_OR_HOME};
    /* As lsl-host's: the not-found line is its own. */
    struct lsl_session_io io = {.fds = {memfd_with(in), memfd_with(NULL), memfd_with(NULL)},
                                .who = "lsl-host"};
    memset(r, 0, sizeof(*r));
    io.errbuf = r->errbuf;
    io.errlen = sizeof(r->errbuf);
    r->status = lsl_session_exec(sv[0], &req, &io);
    close(sv[0]);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    r->server = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r->remote_error = io.remote_error;
    r->out = contents(io.fds[1]);
    r->err = contents(io.fds[2]);
    for (int i = 0; i < 3; i++)
        close(io.fds[i]);
}

static void done(struct result *r)
{
    free(r->out);
    free(r->err);
}

static void test_command(void)
{
    struct result r;
    record("deb", 1);
    const char *argv[] = {"sh", "-c",        "pwd; echo \"$1\"; tr a-z A-Z; echo oops >&2; exit 7",
                          "sh", "two words", NULL};
    run(&r, "deb", "", "/tmp", argv, NULL, "from the guest\n");
    CHECK_EQ(r.status, 7);
    CHECK_EQ(r.server, 0);
    CHECK(strcmp(r.out, "/tmp\ntwo words\nFROM THE GUEST\n") == 0);
    CHECK(strcmp(r.err, "oops\n") == 0);
    done(&r);
    /* No cwd: the host home. One that does not exist, with CWD_OR_HOME (lsl-host's): the home too. */
    const char *pwd[] = {"pwd", NULL};
    const char *home = getenv("HOME");
    char want[4200];
    snprintf(want, sizeof(want), "%s\n", home);
    run(&r, "deb", "", "", pwd, NULL, NULL);
    CHECK(strcmp(r.out, want) == 0);
    done(&r);
    run(&r, "deb", "", "/no/such/dir", pwd, NULL, NULL);
    CHECK(strcmp(r.out, want) == 0);
    done(&r);
    /* Not found: the shell's status and a line on stderr. */
    const char *none[] = {"no-such-command-lsl", NULL};
    run(&r, "deb", "", "", none, NULL, NULL);
    CHECK_EQ(r.status, 127);
    CHECK(strcmp(r.err, "lsl-host: no-such-command-lsl: command not found on the host\n") == 0);
    done(&r);
}

static void test_environment(void)
{
    struct result r;
    record("deb", 1);
    setenv("LSL_TEST_HOST_VAR", "host", 1);
    setenv("LSL_TEST_OVER", "host", 1);
    const char *argv[] = {"sh", "-c",
                          "echo \"$LSL_TEST_HOST_VAR $LSL_TEST_OVER $LSL_TEST_GUEST\"; "
                          "case $PATH in /guest/bin) echo guest PATH;; *) echo host PATH;; esac; "
                          "echo \"$HOME\"",
                          NULL};
    const char *env[] = {"LSL_TEST_OVER=guest", "LSL_TEST_GUEST=g", "PATH=/guest/bin", "HOME=/root", NULL};
    run(&r, "deb", "", "", argv, env, NULL);
    char want[4200];
    snprintf(want, sizeof(want), "host guest g\nhost PATH\n%s\n", getenv("HOME"));
    CHECK(strcmp(r.out, want) == 0);
    CHECK_EQ(r.status, 0);
    done(&r);
}

static void test_refused(void)
{
    struct result r;
    const char *argv[] = {"touch", "/tmp/lsl-interop-test-ran", NULL};
    unlink("/tmp/lsl-interop-test-ran");
    record("off", 0);
    run(&r, "off", "", "", argv, NULL, NULL);
    CHECK_EQ(r.status, -EREMOTEIO);
    CHECK_EQ(r.remote_error, LSL_ERR_DENIED);
    CHECK(strstr(r.errbuf, "interop is off for off") != NULL);
    done(&r);
    run(&r, "never-started", "", "", argv, NULL, NULL);
    CHECK_EQ(r.remote_error, LSL_ERR_DENIED);
    done(&r);
    run(&r, "", "", "", argv, NULL, NULL); /* the system root */
    CHECK_EQ(r.remote_error, LSL_ERR_DENIED);
    done(&r);
    run(&r, "../off", "", "", argv, NULL, NULL); /* not a name: never a path */
    CHECK_EQ(r.remote_error, LSL_ERR_DENIED);
    done(&r);
    record("deb", 1);
    run(&r, "deb", "root", "", argv, NULL, NULL);
    CHECK_EQ(r.remote_error, LSL_ERR_NO_USER);
    done(&r);
    CHECK(access("/tmp/lsl-interop-test-ran", F_OK) < 0);
}

int main(void)
{
    if (!mkdtemp(runtime))
        return 1;
    RUN(test_command);
    RUN(test_environment);
    RUN(test_refused);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", runtime);
    (void)!system(cmd);
    return CHECK_DONE();
}
