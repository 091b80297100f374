/* lsl-interop: serves one host command for the guest (interop: lsl-host, xdg-open in a distribution). The
 * service starts it per connection the guest made to LSL_INTEROP_PORT, the connection as its stdin, its
 * stdout and stderr the service's log:
 *   lsl-interop RUNTIME_DIR
 * The command runs as this user, so the guest gets no more than the user already has; only for a
 * distribution whose start allowed it ([interop] enabled in its wsl.conf, the default: the run record the
 * CLI keeps in RUNTIME_DIR), which the guest's lsl-host checks first too. Exit 0 when the session ended as
 * the protocol intends. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "interop.h"

int main(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] != '/') {
        fprintf(stderr, "usage: lsl-interop RUNTIME_DIR (the connection on stdin)\n");
        return 2;
    }
    /* The connection moves off fd 0, which gets /dev/null: the command's stdio is its own pipes or pty. */
    int conn = fcntl(0, F_DUPFD_CLOEXEC, 3), null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (conn < 0 || null < 0 || dup2(null, 0) < 0) {
        fprintf(stderr, "lsl-interop: %s\n", strerror(errno));
        return 1;
    }
    close(null);
    int r = lsl_interop_serve(conn, argv[1]);
    if (r < 0 && r != -ECONNRESET)
        fprintf(stderr, "lsl-interop: session ended: %s\n", strerror(-r));
    return r < 0 ? 1 : 0;
}
