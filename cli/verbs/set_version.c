/* --set-version NAME 2 and --set-default-version 2: wsl.exe's choice between WSL 1 and WSL 2, which setup
 * scripts and guides run. Every lsl distribution runs in the VM, as WSL 2's do, so 2 is what each already
 * is and what the default gives: nothing to change. The arguments refuse 1 (exit 2); --set-version still
 * wants a distribution that exists (exit 3). */
#include "verbs.h"

#include <stdio.h>

#include "distro_store.h"
#include "macro.h"

int lsl_verb_set_version(const struct lsl_paths *p, struct lsl_args *a)
{
    if (!a->name[0])
        return 0;
    _cleanup_(lsl_registry_closep) struct lsl_registry reg = {0};
    struct lsl_distro *d;
    int rc = lsl_store_lookup(p, a->name, &reg, false, &d);
    if (!rc)
        fprintf(stderr, "lsl: %s is version 2 already, as every distribution here\n", d->name);
    return rc;
}
