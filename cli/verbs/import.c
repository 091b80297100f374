/* --import NAME DIR FILE|- [--vhd]: a tar (or .wsl) archive streamed into a new disk in the VM and unpacked
 * there by GNU tar, or an ext4 image copied as the disk; --import-in-place NAME FILE: the image is the disk
 * where it lies. The distribution is registered only once its disk is complete; a failure leaves nothing
 * behind (no image, no directory this created, no registry entry). */
#include "verbs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

/* 0 when file holds an ext4 file system, else an exit code after one error line. */
static int check_ext4(const char *file)
{
    int e = lsl_image_is_ext4(file);
    if (e > 0)
        return 0;
    if (e < 0)
        log_errno(-e, "cannot read %s", file);
    else
        log_error("%s is not an ext4 disk image", file);
    return e == -ENOENT ? LSL_EXIT_NOT_FOUND : e < 0 ? LSL_EXIT_FAILURE : LSL_EXIT_BAD_ARCHIVE;
}

/* --vhd: the image is the disk; copied, so the user's file stays theirs. */
static int import_vhd(const struct lsl_paths *p, const char *name, const char *dir, const char *file,
                      const struct lsl_first_run *fr)
{
    struct lsl_store_place place;
    char id[LSL_DISTRO_ID_LEN + 1];
    int rc = lsl_store_check_new_name(p, name);
    if (rc || (rc = check_ext4(file)))
        return rc;
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

/* --import-in-place (WSL's, for a .vhdx): the ext4 image is the disk where it lies, by its full path, and
 * nothing is copied. It becomes private as every disk is (0600), and --unregister deletes it, as WSL does;
 * lsl made no directory for it (dir ""), so none is ever taken away. lsl_store_register refuses an image
 * another distribution has (two VMs' worth of ext4 on one disk would ruin it). */
static int import_in_place(const struct lsl_paths *p, const char *name, const char *file,
                           const struct lsl_first_run *fr)
{
    char id[LSL_DISTRO_ID_LEN + 1];
    struct stat st;
    int rc = lsl_store_check_new_name(p, name);
    if (rc || (rc = check_ext4(file)))
        return rc;
    _cleanup_free_ char *image = realpath(file, NULL);
    _cleanup_close_ int fd = image ? open(image, O_RDWR | O_NOFOLLOW | O_CLOEXEC) : -1;
    if (fd < 0 || fstat(fd, &st) < 0)
        return log_errno(errno, "cannot open %s to be the disk of %s", file, name), LSL_EXIT_FAILURE;
    if (!S_ISREG(st.st_mode)) {
        log_error("%s is not a regular file", file);
        return LSL_EXIT_BAD_ARCHIVE;
    }
    if ((st.st_mode & 0077) && fchmod(fd, st.st_mode & 0700) < 0)
        return log_errno(errno, "cannot make %s private (0600)", image), LSL_EXIT_FAILURE;
    if (lsl_distro_new_id(NULL, id) < 0)
        return log_errno(errno, "cannot make a disk id"), LSL_EXIT_FAILURE;
    rc = lsl_store_register(p, name, "", image, id, NULL, fr->own_user);
    if (rc && (st.st_mode & 0077))
        (void)fchmod(fd, st.st_mode & 07777); /* not registered: the file as it was */
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
    if (a->in_place)
        return import_in_place(p, a->name, a->file, &fr);
    return lsl_import_file(p, a->name, a->dir, a->file, a->vhd, &fr);
}
