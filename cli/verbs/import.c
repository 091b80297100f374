/* --import NAME DIR FILE|- [--vhd]: a tar (or .wsl) archive streamed into a new disk in the VM and unpacked
 * there by GNU tar, or an ext4 image copied as the disk. The distribution is registered only once its disk
 * is complete; a failure leaves nothing behind (no image, no directory this created, no registry entry). */
#include "verbs.h"

#include <errno.h>
#include <string.h>
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

/* ARCHIVE_FD streams a tar (compression FORMAT) into a new image in DIR; registered as NAME when everything
 * worked, with what its first launch is to do (fr). */
static int import_stream(const struct lsl_paths *p, const char *name, const char *dir, int archive_fd,
                         const char *format, const struct lsl_first_run *fr)
{
    struct lsl_store_place place;
    char id[LSL_DISTRO_ID_LEN + 1], err[512];
    _cleanup_free_ char *out = NULL;
    size_t out_len = 0;
    _cleanup_(lsl_distro_files_free) struct lsl_distro_files files = {0};
    bool attached = false;
    int rc = lsl_store_check_new_name(p, name);
    if (!rc)
        rc = lsl_store_place_for(&place, dir);
    if (!rc)
        rc = lsl_store_place_make(&place);
    if (rc)
        return rc;
    rc = LSL_EXIT_FAILURE;
    if (lsl_distro_new_id(NULL, id) < 0) {
        log_errno(errno, "cannot make a disk id");
        goto unmake;
    }
    if (lsl_image_create(place.image, lsl_store_default_vhd_size(), name) < 0)
        goto unmake;
    if (lsl_service_ensure(p) < 0)
        goto fail;
    if (lsl_disk_attach(p, id, place.image, NULL, err, sizeof(err)) < 0) {
        log_error("cannot attach the new disk: %s", err);
        goto fail;
    }
    attached = true;
    const char *argv[] = {LSL_DISTRO_TOOL, lsl_distro_verb_name(LSL_DISTRO_IMPORT), id, format, NULL};
    int status = lsl_guest_run(p, NULL, argv, archive_fd, -1, &out, &out_len, err, sizeof(err));
    if (status != 0) {
        if (status > 0) {
            log_error("cannot import into %s: %s", name,
                      err[0] ? err : "the archive is corrupt or truncated");
            rc = LSL_EXIT_BAD_ARCHIVE;
        } else {
            log_error("cannot import into %s: %s", name, err);
        }
        goto fail;
    }
    (void)lsl_disk_detach(p, id, err, sizeof(err));
    attached = false;
    if (lsl_distro_files_parse(out, out_len, &files) < 0) {
        log_error("cannot import into %s: malformed answer from the VM", name);
        goto fail;
    }
    if ((rc = lsl_store_register(p, name, place.dir, place.image, id,
                                 fr->oobe ? files.distribution_conf : NULL, fr->own_user)) == 0)
        return 0;
fail:
    if (attached)
        (void)lsl_disk_detach(p, id, err, sizeof(err));
    unlink(place.image);
unmake:
    lsl_store_place_unmake(&place);
    return rc;
}

static int import_archive(const struct lsl_paths *p, const char *name, const char *dir, const char *file,
                          const struct lsl_first_run *fr)
{
    const char *format;
    pid_t feeder;
    int fd = lsl_archive_open(file, &format, &feeder);
    if (fd == -EMEDIUMTYPE) {
        log_error("%s is not a tar archive (plain, gzip, xz, zstd or bzip2) or .wsl file",
                  strcmp(file, "-") ? file : "the input");
        return LSL_EXIT_BAD_ARCHIVE;
    }
    if (fd < 0) {
        log_errno(-fd, "cannot read %s", file);
        return fd == -ENOENT ? LSL_EXIT_NOT_FOUND : LSL_EXIT_FAILURE;
    }
    int rc = import_stream(p, name, dir, fd, format, fr);
    lsl_archive_close(fd, feeder);
    return rc;
}

/* --vhd: the image is the disk; copied, so the user's file stays theirs. */
static int import_vhd(const struct lsl_paths *p, const char *name, const char *dir, const char *file,
                      const struct lsl_first_run *fr)
{
    struct lsl_store_place place;
    char id[LSL_DISTRO_ID_LEN + 1];
    int rc = lsl_store_check_new_name(p, name);
    if (rc)
        return rc;
    int e = lsl_image_is_ext4(file);
    if (e <= 0) {
        if (e < 0)
            log_errno(-e, "cannot read %s", file);
        else
            log_error("%s is not an ext4 disk image", file);
        return e == -ENOENT ? LSL_EXIT_NOT_FOUND : e < 0 ? LSL_EXIT_FAILURE : LSL_EXIT_BAD_ARCHIVE;
    }
    if ((rc = lsl_store_place_for(&place, dir)) || (rc = lsl_store_place_make(&place)))
        return rc;
    if (lsl_image_copy(file, place.image) < 0) {
        rc = LSL_EXIT_FAILURE;
    } else {
        if (lsl_distro_new_id(NULL, id) < 0) {
            log_errno(errno, "cannot make a disk id");
            rc = LSL_EXIT_FAILURE;
        } else {
            rc = lsl_store_register(p, name, place.dir, place.image, id, NULL, fr->own_user);
        }
        if (rc)
            unlink(place.image);
    }
    if (rc)
        lsl_store_place_unmake(&place);
    return rc;
}

int lsl_import_file(const struct lsl_paths *p, const char *name, const char *dir, const char *file, bool vhd,
                    const struct lsl_first_run *fr)
{
    return vhd ? import_vhd(p, name, dir, file, fr) : import_archive(p, name, dir, file, fr);
}

int lsl_verb_import(const struct lsl_paths *p, struct lsl_args *a)
{
    /* As wsl --import: no first-run setup (wsl.exe registers with LXSS_IMPORT_DISTRO_FLAGS_NO_OOBE); your own
     * user, though, where the distribution has none. */
    struct lsl_first_run fr = {.oobe = false, .own_user = a->no_user ? "" : a->new_user};
    return lsl_import_file(p, a->name, a->dir, a->file, a->vhd, &fr);
}
