/* -s/--set-default NAME: the distribution lsl uses without -d. */
#include "verbs.h"

#include "distro_store.h"
#include "macro.h"

int lsl_verb_set_default(const struct lsl_paths *p, struct lsl_args *a)
{
    _cleanup_(lsl_registry_closep) struct lsl_registry reg = {0};
    struct lsl_distro *d;
    int rc = lsl_store_lookup(p, a->name, &reg, true, &d);
    if (rc)
        return rc;
    lsl_registry_set_default(&reg, d->name);
    return lsl_store_commit(&reg);
}
