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
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "distro.h"
#include "distro_vm.h"
#include "interop_spawn.h"
#include "paths.h"
#include "session_server.h"

struct interop_ctx {
    struct lsl_paths paths; /* only runtime is set */
    bool clock_seen;
};

/* The client's CLOCK, once: the guest's clock is nothing the host sets. */
static int interop_other(void *opaque, struct lsl_frame_writer *wr, const struct lsl_frame *f)
{
    struct interop_ctx *x = opaque;
    (void)wr;
    if (f->type != LSL_CLOCK || f->len != 8 || x->clock_seen)
        return -EPROTO;
    x->clock_seen = true;
    return 1;
}

static int interop_start(void *opaque, struct lsl_exec_msg *e, struct lsl_child *c, char *msg, size_t msglen)
{
    struct interop_ctx *x = opaque;
    struct lsl_distro_run run;

    if (!e->distro[0] || !lsl_distro_name_valid(e->distro)) {
        snprintf(msg, msglen, "host commands are for distributions, not for the VM's system root");
        return LSL_ERR_DENIED;
    }
    if (lsl_distro_cached(&x->paths, e->distro, &run) < 0 || !run.interop) {
        snprintf(msg, msglen, "interop is off for %s ([interop] enabled=false in its /etc/wsl.conf)", e->distro);
        return LSL_ERR_DENIED;
    }
    return lsl_interop_spawn(e, c, msg, msglen);
}

int main(int argc, char **argv)
{
    static const struct lsl_serve_ops ops = {.other = interop_other, .start = interop_start};
    struct interop_ctx x = {0};

    if (argc != 2 || argv[1][0] != '/' ||
        snprintf(x.paths.runtime, sizeof(x.paths.runtime), "%s", argv[1]) >= (int)sizeof(x.paths.runtime)) {
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
    int r = lsl_session_serve(conn, &ops, &x);
    if (r < 0 && r != -ECONNRESET)
        fprintf(stderr, "lsl-interop: session ended: %s\n", strerror(-r));
    return r < 0 ? 1 : 0;
}
