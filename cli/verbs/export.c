/* --export NAME FILE|- [--format F] [--vhd]: the distribution's files packed by GNU tar in the VM (the
 * distribution may keep running), or with --vhd a copy of its disk (it stops first, as with WSL). A file is
 * written as FILE.lsl-partial, created exclusively and private, and renamed to FILE only when complete. The
 * export holds the distribution (distro_store.h) from start to end: another export, a -t, an --unregister or
 * a --manage of it is refused meanwhile, so nothing detaches or deletes its disk under the export. */
#include "verbs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "distro.h"
#include "distro_store.h"
#include "distro_vm.h"
#include "exitcodes.h"
#include "guest_run.h"
#include "image.h"
#include "log.h"
#include "macro.h"
#include "service.h"

#define PARTIAL ".lsl-partial"

int lsl_export_create_partial(const char *file, char *tmp, size_t tmplen, int *fd)
{
    if (lsl_path_fmt(tmp, tmplen, "%s" PARTIAL, file) < 0) {
        log_error("the path %s is too long", file);
        return LSL_EXIT_FAILURE;
    }
    /* O_EXCL: never a file that is there already, a symlink included (someone else's, in a shared
     * directory, would have the export written wherever it points). */
    *fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (*fd >= 0)
        return 0;
    if (errno == EEXIST) {
        log_error("%s exists already (another export to %s under way, or a killed one's: remove it)", tmp,
                  file);
        return LSL_EXIT_EXISTS;
    }
    log_errno(errno, "cannot create %s", tmp);
    return LSL_EXIT_FAILURE;
}

/* --vhd: a copy of the stopped distribution's disk. */
static int export_vhd(const struct lsl_paths *p, const struct lsl_distro *d, const char *file)
{
    char tmp[PATH_MAX];
    bool was_running;
    /* A consistent copy needs the file system unmounted: stop the distribution first, as WSL does. */
    if (lsl_distro_stop(p, d->name, d->id, &was_running) < 0)
        return LSL_EXIT_FAILURE;
    if (lsl_path_fmt(tmp, sizeof(tmp), "%s" PARTIAL, file) < 0) {
        log_error("the path %s is too long", file);
        return LSL_EXIT_FAILURE;
    }
    if (lsl_image_copy(d->image, tmp) < 0) /* exclusive and 0600 too; gone again on failure */
        return LSL_EXIT_FAILURE;
    if (rename(tmp, file) < 0) {
        log_errno(errno, "cannot write %s", file);
        unlink(tmp);
        return LSL_EXIT_FAILURE;
    }
    return 0;
}

/* The tar stream from the VM into out. */
static int export_tar(const struct lsl_paths *p, const struct lsl_distro *d, const char *format, int out)
{
    char err[512];
    if (lsl_service_ensure(p) < 0)
        return LSL_EXIT_FAILURE;
    _cleanup_free_ char *running = NULL;
    if (lsl_distro_running(p, &running) < 0)
        return LSL_EXIT_FAILURE;
    bool was_running = lsl_distro_in_list(running, d->name);
    if (lsl_disk_attach(p, d->id, d->image, NULL, err, sizeof(err)) < 0) {
        log_error("cannot attach the disk of %s: %s", d->name, err);
        return LSL_EXIT_FAILURE;
    }
    const char *argv[] = {
        LSL_DISTRO_TOOL, lsl_distro_verb_name(LSL_DISTRO_EXPORT), d->name, d->id, format, NULL};
    int status = lsl_guest_run(p, NULL, argv, -1, out, NULL, NULL, err, sizeof(err));
    /* The disk leaves again unless a launch started the distribution on it meanwhile. */
    _cleanup_free_ char *now = NULL;
    if (!was_running && lsl_distro_running(p, &now) == 0 && !lsl_distro_in_list(now, d->name))
        (void)lsl_disk_detach(p, d->id, err, sizeof(err));
    if (status != 0) {
        log_error("cannot export %s: %s", d->name, err[0] ? err : "tar failed in the VM");
        return LSL_EXIT_FAILURE;
    }
    return 0;
}

int lsl_verb_export(const struct lsl_paths *p, struct lsl_args *a)
{
    bool to_stdout = strcmp(a->file, "-") == 0;
    /* The arguments first: nothing is looked up, let alone stopped, for a command that cannot run. */
    const char *format = a->vhd ? NULL : lsl_archive_format_for(a->format, to_stdout ? NULL : a->file);
    if (!a->vhd && !format) {
        log_error("unknown --format '%s' (tar, tar.gz, tar.xz or tar.zst)", a->format);
        return LSL_EXIT_USAGE;
    }
    if (a->vhd && to_stdout) {
        log_error("--export --vhd needs a file name, not -");
        return LSL_EXIT_USAGE;
    }
    _cleanup_(lsl_registry_closep) struct lsl_registry reg = {0};
    struct lsl_distro *d;
    _cleanup_close_ int hold = -1;
    int rc = lsl_store_lookup_held(p, a->name, &reg, false, "export", &d, &hold);
    if (rc)
        return rc;
    if (a->vhd)
        return export_vhd(p, d, a->file);
    if (to_stdout) {
        _cleanup_close_ int out = fcntl(1, F_DUPFD_CLOEXEC, 3);
        if (out < 0)
            return log_errno(errno, "cannot write to stdout"), LSL_EXIT_FAILURE;
        return export_tar(p, d, format, out);
    }
    char tmp[PATH_MAX];
    _cleanup_close_ int out = -1;
    if ((rc = lsl_export_create_partial(a->file, tmp, sizeof(tmp), &out)))
        return rc;
    rc = export_tar(p, d, format, out);
    if (!rc && (fsync(out) < 0 || rename(tmp, a->file) < 0)) {
        log_errno(errno, "cannot write %s", a->file);
        rc = LSL_EXIT_FAILURE;
    }
    if (rc)
        unlink(tmp); /* ours: made with O_EXCL above */
    return rc;
}
