/* One host command for the guest (interop.h): the shared session server, with interop's start. */
#include "interop.h"

#include <errno.h>
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

int (*lsl_interop_spawn_fn)(struct lsl_exec_msg *e, struct lsl_child *c, char *msg,
                            size_t msglen) = lsl_interop_spawn;

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
        snprintf(msg, msglen, "interop is off for %s ([interop] enabled=false in its /etc/wsl.conf)",
                 e->distro);
        return LSL_ERR_DENIED;
    }
    return lsl_interop_spawn_fn(e, c, msg, msglen);
}

int lsl_interop_serve(int fd, const char *runtime)
{
    static const struct lsl_serve_ops ops = {.other = interop_other, .start = interop_start};
    struct interop_ctx x = {0};

    if (snprintf(x.paths.runtime, sizeof(x.paths.runtime), "%s", runtime) >= (int)sizeof(x.paths.runtime)) {
        close(fd);
        return -ENAMETOOLONG;
    }
    return lsl_session_serve(fd, &ops, &x);
}
