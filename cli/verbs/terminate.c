/* -t/--terminate NAME: the distribution stops (its init and every process in it) and its disk leaves the
 * VM; the VM itself keeps running. Not while it is being exported (distro_store.h's hold). */
#include "verbs.h"

#include "distro_store.h"
#include "macro.h"

int lsl_verb_terminate(const struct lsl_paths *p, struct lsl_args *a)
{
    _cleanup_(lsl_registry_closep) struct lsl_registry reg = {0};
    struct lsl_distro *d;
    _cleanup_close_ int hold = -1;
    return lsl_store_lookup_stopped(p, a->name, &reg, false, "terminate", &d, &hold);
}
