/* --unregister NAME: the distribution stops, its disk image is deleted and it leaves the registry (a removed
 * default passes to the first one left, as with WSL). Not while it is being exported (distro_store.h). */
#include "verbs.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "distro_store.h"
#include "exitcodes.h"
#include "log.h"
#include "macro.h"

int lsl_verb_unregister(const struct lsl_paths *p, struct lsl_args *a)
{
    _cleanup_(lsl_registry_closep) struct lsl_registry reg = {0};
    struct lsl_distro *d;
    _cleanup_close_ int hold = -1;
    int rc = lsl_store_lookup_stopped(p, a->name, &reg, true, "unregister", &d, &hold);
    if (rc)
        return rc;
    if (unlink(d->image) < 0 && errno != ENOENT) {
        log_errno(errno, "cannot delete %s", d->image);
        return LSL_EXIT_FAILURE;
    }
    (void)rmdir(d->dir); /* only when nothing else is in it */
    char removed[LSL_DISTRO_NAME_MAX + 1];
    snprintf(removed, sizeof(removed), "%s", d->name); /* d goes with the entry */
    char locks[2][PATH_MAX];
    bool have_locks = !lsl_store_lock_path(p, d, "hold", locks[0], sizeof(locks[0])) &&
                      !lsl_store_lock_path(p, d, "oobe", locks[1], sizeof(locks[1]));
    lsl_registry_remove(&reg, removed);
    if ((rc = lsl_store_commit(&reg)))
        return rc;
    /* Whoever waits on them finds the distribution gone from the registry once it has them. */
    for (size_t i = 0; have_locks && i < 2; i++)
        (void)unlink(locks[i]);
    return 0;
}
