/* --shutdown [--force]: the VM stops, the orderly way (the guest powers off, within 60 s) or at once, and
 * nothing waits to start it again: the forwarded sockets lsl-wake holds after an idle stop go too (the next
 * VM binds them anew). */
#include "verbs.h"

#include "exitcodes.h"
#include "service.h"
#include "wake_client.h"

int lsl_verb_shutdown(const struct lsl_paths *p, struct lsl_args *a)
{
    bool was;
    int r = a->force ? lsl_service_kill(p, 10, &was) : lsl_service_shutdown(p, 60, &was);
    (void)lsl_wake_release(p);
    return r < 0 ? LSL_EXIT_FAILURE : 0;
}
