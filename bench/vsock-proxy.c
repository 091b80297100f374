/* ssh ProxyCommand for the session benchmark: reaches a guest vsock port through lsl-vmm's hybrid-vsock unix
 * socket and relays stdin/stdout to it, so that ssh into the guest needs no guest network device.
 *   vsock-proxy SOCKET PORT      e.g. vsock-proxy $XDG_RUNTIME_DIR/lsl/vsock 22
 * The handshake is the VMM's: write "CONNECT <port>\n", read "OK <n>\n". It is on the peer's measured path,
 * so it is C rather than an interpreter, and each direction is its own process blocking in read(2). Not
 * splice: with a socket spliced into ssh's pipe, ssh's one-byte reads of the banner stalled after the first
 * byte (seen on the emulated host's Linux 6.1). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int fail(const char *what)
{
    fprintf(stderr, "vsock-proxy: %s: %s\n", what, strerror(errno));
    return 1;
}

/* Copies IN to OUT until EOF; 0 on EOF, -1 on an error. */
static int relay(int in, int out)
{
    static char buf[128 << 10];
    for (;;) {
        ssize_t r = read(in, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -1 : 0;
        for (char *p = buf; r > 0;) {
            ssize_t w = write(out, p, (size_t)r);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return -1;
            p += w;
            r -= w;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: vsock-proxy SOCKET PORT\n");
        return 2;
    }
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(argv[1]) >= sizeof(a.sun_path)) {
        fprintf(stderr, "vsock-proxy: socket path too long\n");
        return 2;
    }
    strcpy(a.sun_path, argv[1]);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
        return fail(argv[1]);
    char line[64];
    int n = snprintf(line, sizeof(line), "CONNECT %s\n", argv[2]);
    if (write(s, line, (size_t)n) != n)
        return fail("handshake");
    /* Byte by byte: whatever follows the reply line is the guest's first data (the ssh banner). */
    size_t len = 0;
    while (len < sizeof(line) - 1) {
        ssize_t r = read(s, line + len, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (line[len++] == '\n')
            break;
    }
    line[len] = '\0';
    if (strncmp(line, "OK ", 3) != 0) {
        fprintf(stderr, "vsock-proxy: CONNECT %s refused: %s\n", argv[2], len ? line : "(closed)\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    pid_t pid = fork();
    if (pid < 0)
        return fail("fork");
    if (pid == 0) { /* ssh -> guest; the half-close tells the guest that ssh is done sending */
        int r = relay(0, s);
        shutdown(s, SHUT_WR);
        _exit(r < 0 ? 1 : 0);
    }
    int r = relay(s, 1); /* guest -> ssh, until the guest closes */
    close(1);
    /* ssh closes our stdin when it exits; do not wait for a writer that may still be blocked on a full pipe.
     */
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    return r < 0 ? 1 : 0;
}
