/* --shutdown [--force]: the VM stops, the orderly way (the guest powers off, within 60 s) or at once. */
#include "verbs.h"

#include "exitcodes.h"
#include "service.h"

int lsl_verb_shutdown(const struct lsl_paths *p, struct lsl_args *a)
{
    bool was;
    int r = a->force ? lsl_service_kill(p, 10, &was) : lsl_service_shutdown(p, 60, &was);
    return r < 0 ? LSL_EXIT_FAILURE : 0;
}
