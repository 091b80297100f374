/* The agent's side of a session: the shared server (proto/session_server.c) with what only the agent does:
 * the host's CLOCK, the system agent's SHUTDOWN and ACTIVITY, and an EXEC started inside its distribution. */
#include "session.h"

#include "activity.h"
#include "activity_scan.h"
#include "agent.h"
#include "clock.h"
#include "distro_enter.h"
#include "ports_scan.h"
#include "session_server.h"
#include "spawn.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct agent_ctx {
    const char *home; /* see agent_session_run() */
    bool clock_seen;
};

/* Queues ACTIVITY_REPLY: the session ends with it. A failed count is an ERROR, which the service takes
 * for "no answer" (and then stops the VM as it would have without asking). */
static int put_activity(struct lsl_frame_writer *wr)
{
    struct lsl_activity a[LSL_ACTIVITY_MAX];
    uint8_t buf[LSL_ACTIVITY_REPLY_MAX];
    int n = agent_activity(a);
    size_t len;
    char msg[128];

    if (n < 0) {
        snprintf(msg, sizeof(msg), "cannot count the distributions' processes: %s", strerror(-n));
        return lsl_frame_put_error(wr, LSL_ERR_INTERNAL, msg);
    }
    len = lsl_activity_encode(a, (size_t)n, buf, sizeof(buf));
    if (!len)
        return lsl_frame_put_error(wr, LSL_ERR_INTERNAL, "cannot encode the distributions' activity");
    return lsl_frame_put(wr, LSL_ACTIVITY_REPLY, buf, len);
}

/* CLOCK right after HELLO (once); SHUTDOWN and ACTIVITY instead of an EXEC, to the system agent only. */
static int agent_other(void *opaque, struct lsl_frame_writer *wr, const struct lsl_frame *f)
{
    struct agent_ctx *a = opaque;

    if (f->type == LSL_CLOCK && !a->clock_seen) {
        if (f->len != 8)
            return -EPROTO;
        a->clock_seen = true;
        /* Best effort: a guest without CAP_SYS_TIME keeps its clock, the command runs all the same. */
        (void)agent_clock_sync((int64_t)lsl_get_u64(f->data));
        return 1;
    }
    if (f->type == LSL_SHUTDOWN && f->len == 0 && !a->home) {
        /* PID 1 treats SIGTERM like busybox's reboot/poweroff request and powers off the orderly way. */
        kill(1, SIGTERM);
        return 0;
    }
    if (f->type == LSL_ACTIVITY && f->len == 0 && !a->home)
        return put_activity(wr) < 0 ? -ENOMEM : 0;
    return -EPROTO;
}

static int agent_start(void *opaque, struct lsl_exec_msg *e, struct lsl_child *c, char *msg, size_t msglen)
{
    struct agent_ctx *a = opaque;
    int r;

    ports_kick(); /* the command may listen soon: localhost forwarding should see it at once */
    /* This process only relays from here on, so it can join the distribution itself; the command it forks
     * is then born inside the distribution's PID namespace. A distribution's own agent serves only it: a
     * client with an out-of-date port learns that the distribution it wants is not here. */
    if (a->home) {
        r = strcmp(e->distro, a->home) == 0 ? 0 : LSL_ERR_NO_DISTRO;
        if (r)
            snprintf(msg, msglen, "this is the agent of %s, not of '%s'", a->home, e->distro);
    } else {
        r = e->distro[0] ? agent_distro_enter(e->distro, msg, msglen) : 0;
    }
    return r ? r : agent_spawn_fn(e, c, msg, msglen);
}

int agent_session_run(int fd, const char *home)
{
    static const struct lsl_serve_ops ops = {.other = agent_other, .start = agent_start};
    struct agent_ctx a = {.home = home};

    return lsl_session_serve(fd, &ops, &a);
}
