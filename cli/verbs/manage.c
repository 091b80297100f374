/* --manage NAME --set-default-user USER | --resize SIZE | --move DIR: a distribution's settings and disk.
 * A default user must exist in the distribution (it starts to be asked), or every launch would fail.
 * Resizing and moving change the image, so the distribution stops first and its disk leaves the VM; not
 * while it is being exported (distro_store.h). */
#include "verbs.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "distro_store.h"
#include "distro_vm.h"
#include "exitcodes.h"
#include "image.h"
#include "log.h"
#include "macro.h"
#include "size.h"

/* --move: the image goes to DIR; a rename when on the same file system, else a sparse copy. */
static int move(struct lsl_registry *reg, struct lsl_distro *d, const char *dir)
{
    struct lsl_store_place place;
    int rc = lsl_store_place_for(&place, dir);
    if (rc || (rc = lsl_store_place_make(&place)))
        return rc;
    if (rename(d->image, place.image) < 0) {
        if (errno != EXDEV) {
            log_errno(errno, "cannot move %s", d->image);
            lsl_store_place_unmake(&place);
            return LSL_EXIT_FAILURE;
        }
        if (lsl_image_copy(d->image, place.image) < 0) {
            lsl_store_place_unmake(&place);
            return LSL_EXIT_FAILURE;
        }
        unlink(d->image);
    }
    lsl_image_make_private(place.image); /* renamed, it keeps the mode an older lsl gave it */
    (void)rmdir(d->dir);
    if (lsl_store_set_str(&d->dir, place.dir) < 0 || lsl_store_set_str(&d->image, place.image) < 0) {
        log_errno(ENOMEM, "cannot record the move of %s", d->name);
        return LSL_EXIT_FAILURE;
    }
    return lsl_store_commit(reg);
}

/* --set-default-user: asked of the distribution first (without the registry's lock: that may boot the VM),
 * then recorded. */
static int set_default_user(const struct lsl_paths *p, const char *name, const char *user)
{
    {
        _cleanup_(lsl_registry_closep) struct lsl_registry r = {0};
        struct lsl_distro *d;
        int rc = lsl_store_lookup(p, name, &r, false, &d);
        if (rc)
            return rc;
        int has = lsl_distro_has_user(p, d->name, d->id, d->image, d->default_user, user);
        if (has < 0)
            return LSL_EXIT_FAILURE;
        if (!has) {
            log_error(
                "there is no user '%s' in %s (create it there first, e.g. lsl -d %s -u root useradd -m %s)",
                user, d->name, d->name, user);
            return LSL_EXIT_NOT_FOUND;
        }
    }
    _cleanup_(lsl_registry_closep) struct lsl_registry reg = {0};
    struct lsl_distro *d;
    int rc = lsl_store_lookup(p, name, &reg, true, &d);
    if (rc)
        return rc;
    if (lsl_store_set_str(&d->default_user, user) < 0)
        return log_errno(ENOMEM, "cannot set the default user"), LSL_EXIT_FAILURE;
    return lsl_store_commit(&reg);
}

int lsl_verb_manage(const struct lsl_paths *p, struct lsl_args *a)
{
    if (a->default_user)
        return set_default_user(p, a->name, a->default_user);
    uint64_t size = 0;
    if (a->resize && (parse_size(a->resize, &size) < 0 || size < (16u << 20))) {
        log_error("invalid --resize '%s' (a size like 64GB, at least 16MB)", a->resize);
        return LSL_EXIT_USAGE;
    }
    _cleanup_(lsl_registry_closep) struct lsl_registry reg = {0};
    struct lsl_distro *d;
    _cleanup_close_ int hold = -1;
    int rc = lsl_store_lookup_held(p, a->name, &reg, true, "manage", &d, &hold);
    if (rc)
        return rc;
    /* The image changes below: the distribution stops first, its disk leaves the VM. */
    bool was;
    if (lsl_distro_stop(p, d->name, d->id, &was) < 0)
        return LSL_EXIT_FAILURE;
    if (a->resize) {
        int r = lsl_image_resize(d->image, size);
        return r == -ENOSPC ? LSL_EXIT_TOO_SMALL : r < 0 ? LSL_EXIT_FAILURE : 0;
    }
    return move(&reg, d, a->dir);
}
