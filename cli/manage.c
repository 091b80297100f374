/* See manage.h. The registry is changed under its lock and only once the disk work is done, so a failure
 * or a concurrent lsl never leaves a half-made distribution registered; files this command created are
 * removed again when it fails. */
#include "manage.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "config.h"
#include "distconf.h"
#include "distro_vm.h"
#include "exitcodes.h"
#include "guest_run.h"
#include "image.h"
#include "log.h"
#include "size.h"
#include "registry.h"
#include "service.h"

/* Opens the registry (locked for a change when lock is set); an exit code after one error line. */
static int reg_open(const struct lsl_paths *p, struct lsl_registry *reg, bool lock)
{
    return lsl_registry_open(reg, p->state, lock ? LSL_REGISTRY_WRITE : LSL_REGISTRY_READ) < 0
               ? LSL_EXIT_FAILURE
               : 0;
}

static int reg_commit(struct lsl_registry *reg)
{
    int r = lsl_registry_save(reg);
    lsl_registry_close(reg);
    return r < 0 ? LSL_EXIT_FAILURE : 0;
}

/* Replaces a malloc'd string field. */
static int set_str(char **field, const char *value)
{
    char *copy = strdup(value ? value : "");
    if (!copy)
        return -ENOMEM;
    free(*field);
    *field = copy;
    return 0;
}

static int no_such(const char *name)
{
    log_error("there is no distribution '%s' (lsl --list shows them)", name);
    return LSL_EXIT_NOT_FOUND;
}

static uint64_t default_vhd_size(void)
{
    struct lsl_config c;
    lsl_config_load_user(&c);
    uint64_t size = c.default_vhd_size;
    lsl_config_free(&c);
    return size;
}

/* Creates DIR (and parents) and reports how much of it was new, so a failure can take exactly that away. */
static int make_dir(const char *dir, char *created, size_t len)
{
    created[0] = '\0';
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", dir);
    for (char *s = buf + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(buf, 0755) == 0) {
            if (!created[0])
                snprintf(created, len, "%s", buf);
        } else if (errno != EEXIST) {
            return log_errno(errno, "cannot create %s", buf);
        }
        *s = c;
        if (!c)
            break;
    }
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return log_errno(ENOTDIR, "%s", dir);
    return 0;
}

/* Removes the directories make_dir created (only if they are empty again). */
static void unmake_dir(const char *dir, const char *created)
{
    if (!created[0])
        return;
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", dir);
    size_t stop = strlen(created);
    for (;;) {
        if (rmdir(buf) < 0 || strlen(buf) <= stop)
            break;
        char *slash = strrchr(buf, '/');
        if (!slash || slash == buf)
            break;
        *slash = '\0';
    }
}

static int image_path(const char *dir, char *out, size_t len)
{
    int n = snprintf(out, len, "%s/%s", dir, LSL_IMAGE_NAME);
    if (n < 0 || (size_t)n >= len) {
        log_error("the path %s is too long", dir);
        return -ENAMETOOLONG;
    }
    return 0;
}

/* Absolute, since the service opens it from elsewhere. */
static int absolute(const char *path, char *out, size_t len)
{
    if (path[0] == '/') {
        snprintf(out, len, "%s", path);
        return 0;
    }
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof(cwd)))
        return log_errno(errno, "cannot tell the working directory");
    int n = snprintf(out, len, "%s/%s", cwd, path);
    return n < 0 || (size_t)n >= len ? log_errno(ENAMETOOLONG, "%s", path) : 0;
}

/* Checks the name is valid and free; an exit code otherwise. */
static int check_new_name(const struct lsl_paths *p, const char *name)
{
    if (!lsl_distro_name_valid(name)) {
        log_error("invalid distribution name '%s' (1-64 letters, digits, '.', '_' or '-')", name);
        return LSL_EXIT_USAGE;
    }
    struct lsl_registry reg;
    int rc = reg_open(p, &reg, false);
    if (rc)
        return rc;
    bool taken = lsl_registry_find(&reg, name) != NULL;
    lsl_registry_close(&reg);
    if (taken) {
        log_error("a distribution named '%s' already exists", name);
        return LSL_EXIT_EXISTS;
    }
    return 0;
}

/* Registers NAME with IMAGE in DIR and the OOBE settings of its wsl-distribution.conf (may be NULL). */
static int register_distro(const struct lsl_paths *p, const char *name, const char *dir, const char *image,
                           const char *id, const char *distribution_conf)
{
    struct lsl_registry reg;
    int rc = reg_open(p, &reg, true);
    if (rc)
        return rc;
    if (lsl_registry_find(&reg, name)) { /* another lsl got there first */
        lsl_registry_close(&reg);
        log_error("a distribution named '%s' already exists", name);
        return LSL_EXIT_EXISTS;
    }
    struct lsl_distro d = {.dir = (char *)dir,
                           .image = (char *)image,
                           .default_uid = -1,
                           .version = 2,
                           .created = (int64_t)time(NULL)};
    snprintf(d.name, sizeof(d.name), "%s", name);
    snprintf(d.id, sizeof(d.id), "%s", id);
    struct lsl_distconf conf;
    bool have_conf = distribution_conf && lsl_distconf_init(&conf) == 0;
    if (have_conf) {
        (void)lsl_distconf_parse_distribution(&conf, distribution_conf, NULL);
        d.oobe_command = conf.oobe_command;
        d.default_uid = conf.oobe_default_uid;
    }
    int r = lsl_registry_add(&reg, &d);
    if (have_conf)
        lsl_distconf_free(&conf);
    if (r < 0) {
        lsl_registry_close(&reg);
        log_errno(-r, "cannot register %s", name);
        return r == -EEXIST ? LSL_EXIT_EXISTS : LSL_EXIT_FAILURE;
    }
    return reg_commit(&reg);
}

int lsl_import_stream(const struct lsl_paths *p, const char *name, const char *dir_arg, int archive_fd,
                      const char *format)
{
    char dir[PATH_MAX], created[PATH_MAX], image[PATH_MAX], id[LSL_DISTRO_ID_LEN + 1], err[512];
    int rc = check_new_name(p, name);
    if (rc)
        return rc;
    if (absolute(dir_arg, dir, sizeof(dir)) < 0 || image_path(dir, image, sizeof(image)) < 0)
        return LSL_EXIT_FAILURE;
    if (access(image, F_OK) == 0) {
        log_error("%s exists already (another distribution's disk?)", image);
        return LSL_EXIT_EXISTS;
    }
    if (make_dir(dir, created, sizeof(created)) < 0)
        return LSL_EXIT_FAILURE;
    rc = LSL_EXIT_FAILURE;
    bool attached = false;
    char *out = NULL;
    if (lsl_distro_new_id(NULL, id) < 0) {
        unmake_dir(dir, created);
        return LSL_EXIT_FAILURE;
    }
    if (lsl_image_create(image, default_vhd_size(), name) < 0) {
        unmake_dir(dir, created);
        return LSL_EXIT_FAILURE;
    }
    if (lsl_service_ensure(p) < 0)
        goto fail;
    if (lsl_disk_attach(p, id, image, NULL, err, sizeof(err)) < 0) {
        log_error("cannot attach the new disk: %s", err);
        goto fail;
    }
    attached = true;
    const char *argv[] = {LSL_DISTRO_TOOL, lsl_distro_verb_name(LSL_DISTRO_IMPORT), id, format, NULL};
    int status = lsl_guest_run(p, NULL, argv, archive_fd, -1, &out, err, sizeof(err));
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
    struct lsl_distro_files files;
    if (lsl_distro_files_parse(out, strlen(out), &files) < 0) {
        log_error("cannot import into %s: malformed answer from the VM", name);
        goto fail;
    }
    rc = register_distro(p, name, dir, image, id, files.distribution_conf);
    lsl_distro_files_free(&files);
    if (rc)
        goto fail;
    free(out);
    return 0;
fail:
    free(out);
    if (attached) {
        (void)lsl_disk_detach(p, id, err, sizeof(err));
    }
    unlink(image);
    unmake_dir(dir, created);
    return rc;
}

int lsl_cmd_import(const struct lsl_paths *p, const char *name, const char *dir_arg, const char *file,
                   bool vhd)
{
    if (!vhd) {
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
        int rc = lsl_import_stream(p, name, dir_arg, fd, format);
        lsl_archive_close(fd, feeder);
        return rc;
    }
    /* --vhd: the image is the disk; copied, so the user's file stays theirs. */
    char dir[PATH_MAX], created[PATH_MAX], image[PATH_MAX], id[LSL_DISTRO_ID_LEN + 1];
    int rc = check_new_name(p, name);
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
    if (absolute(dir_arg, dir, sizeof(dir)) < 0 || image_path(dir, image, sizeof(image)) < 0)
        return LSL_EXIT_FAILURE;
    if (access(image, F_OK) == 0) {
        log_error("%s exists already (another distribution's disk?)", image);
        return LSL_EXIT_EXISTS;
    }
    if (make_dir(dir, created, sizeof(created)) < 0)
        return LSL_EXIT_FAILURE;
    if (lsl_image_copy(file, image) < 0) {
        unmake_dir(dir, created);
        return LSL_EXIT_FAILURE;
    }
    if (lsl_distro_new_id(NULL, id) < 0)
        rc = LSL_EXIT_FAILURE;
    else
        rc = register_distro(p, name, dir, image, id, NULL);
    if (rc) {
        unlink(image);
        unmake_dir(dir, created);
    }
    return rc;
}

/* Looks NAME up; on success the caller owns reg (close it). */
static int lookup(const struct lsl_paths *p, const char *name, struct lsl_registry *reg, bool lock,
                  struct lsl_distro **d)
{
    int rc = reg_open(p, reg, lock);
    if (rc)
        return rc;
    *d = lsl_registry_find(reg, name);
    if (!*d) {
        lsl_registry_close(reg);
        return no_such(name);
    }
    return 0;
}

/* lookup(), then stops NAME if it runs, so its disk is out of the VM: what changing the image needs. */
static int lookup_stopped(const struct lsl_paths *p, const char *name, struct lsl_registry *reg, bool lock,
                          struct lsl_distro **d)
{
    int rc = lookup(p, name, reg, lock, d);
    if (rc)
        return rc;
    bool was;
    if (lsl_distro_stop(p, (*d)->name, (*d)->id, &was) < 0) {
        lsl_registry_close(reg);
        return LSL_EXIT_FAILURE;
    }
    return 0;
}

int lsl_cmd_export(const struct lsl_paths *p, const struct lsl_args *a)
{
    struct lsl_registry reg;
    struct lsl_distro *d;
    int rc = lookup(p, a->name, &reg, false, &d);
    if (rc)
        return rc;
    const char *format =
        a->vhd ? NULL : lsl_archive_format_for(a->format, strcmp(a->file, "-") ? a->file : NULL);
    if (!a->vhd && !format) {
        lsl_registry_close(&reg);
        log_error("unknown --format '%s' (tar, tar.gz, tar.xz or tar.zst)", a->format);
        return LSL_EXIT_USAGE;
    }
    bool to_stdout = strcmp(a->file, "-") == 0, was_running = false;
    char tmp[PATH_MAX + 16], err[512];
    snprintf(tmp, sizeof(tmp), "%s.lsl-partial", a->file);
    if (a->vhd) {
        /* A consistent copy needs the file system unmounted: stop the distribution first, as WSL does. */
        rc = lsl_distro_stop(p, d->name, d->id, &was_running) < 0 ? LSL_EXIT_FAILURE : 0;
        if (!rc && to_stdout) {
            log_error("--export --vhd needs a file name, not -");
            rc = LSL_EXIT_USAGE;
        }
        if (!rc && (lsl_image_copy(d->image, tmp) < 0 || rename(tmp, a->file) < 0)) {
            unlink(tmp);
            rc = LSL_EXIT_FAILURE;
        }
        lsl_registry_close(&reg);
        return rc;
    }
    int out = to_stdout ? dup(1) : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        lsl_registry_close(&reg);
        log_errno(errno, "cannot create %s", a->file);
        return LSL_EXIT_FAILURE;
    }
    rc = LSL_EXIT_FAILURE;
    if (lsl_service_ensure(p) < 0)
        goto out;
    char *running = lsl_distro_running(p);
    was_running = lsl_distro_in_list(running, d->name);
    free(running);
    if (lsl_disk_attach(p, d->id, d->image, NULL, err, sizeof(err)) < 0) {
        log_error("cannot attach the disk of %s: %s", d->name, err);
        goto out;
    }
    const char *argv[] = {
        LSL_DISTRO_TOOL, lsl_distro_verb_name(LSL_DISTRO_EXPORT), d->name, d->id, format, NULL};
    int status = lsl_guest_run(p, NULL, argv, -1, out, NULL, err, sizeof(err));
    if (!was_running) {
        (void)lsl_disk_detach(p, d->id, err, sizeof(err));
    }
    if (status != 0) {
        log_error("cannot export %s: %s", d->name, err[0] ? err : "tar failed in the VM");
        goto out;
    }
    if (!to_stdout && (fsync(out) < 0 || rename(tmp, a->file) < 0)) {
        log_errno(errno, "cannot write %s", a->file);
        goto out;
    }
    rc = 0;
out:
    close(out);
    if (rc && !to_stdout)
        unlink(tmp);
    lsl_registry_close(&reg);
    return rc;
}

int lsl_cmd_terminate(const struct lsl_paths *p, const char *name)
{
    struct lsl_registry reg;
    struct lsl_distro *d;
    int rc = lookup_stopped(p, name, &reg, false, &d);
    if (rc == 0)
        lsl_registry_close(&reg);
    return rc;
}

int lsl_cmd_unregister(const struct lsl_paths *p, const char *name)
{
    struct lsl_registry reg;
    struct lsl_distro *d;
    int rc = lookup_stopped(p, name, &reg, true, &d);
    if (rc)
        return rc;
    if (unlink(d->image) < 0 && errno != ENOENT) {
        log_errno(errno, "cannot delete %s", d->image);
        lsl_registry_close(&reg);
        return LSL_EXIT_FAILURE;
    }
    (void)rmdir(d->dir); /* only when nothing else is in it */
    char removed[LSL_DISTRO_NAME_MAX + 1];
    snprintf(removed, sizeof(removed), "%s", d->name);
    lsl_registry_remove(&reg, removed); /* a removed default passes to the first one left */
    return reg_commit(&reg);
}

int lsl_cmd_set_default(const struct lsl_paths *p, const char *name)
{
    struct lsl_registry reg;
    struct lsl_distro *d;
    int rc = lookup(p, name, &reg, true, &d);
    if (rc)
        return rc;
    lsl_registry_set_default(&reg, d->name);
    return reg_commit(&reg);
}

int lsl_cmd_list(const struct lsl_paths *p, const struct lsl_args *a)
{
    if (a->online)
        return lsl_cmd_list_online(p);
    struct lsl_registry reg;
    int rc = reg_open(p, &reg, false);
    if (rc)
        return rc;
    char *running = lsl_distro_running(p);
    size_t n = reg.n;
    const struct lsl_distro *def_d = lsl_registry_default(&reg);
    const char *def = def_d ? def_d->name : NULL;
    if (n == 0) {
        lsl_registry_close(&reg);
        free(running);
        if (!a->quiet)
            fprintf(stderr,
                    "lsl: no distributions installed; lsl --install installs one (lsl --list --online)\n");
        return a->quiet ? 0 : LSL_EXIT_NOT_FOUND;
    }
    if (a->verbose)
        printf("  %-24s %-10s %s\n", "NAME", "STATE", "VERSION");
    else if (!a->quiet)
        printf("lsl distributions:\n");
    for (size_t i = 0; i < n; i++) {
        const struct lsl_distro *d = &reg.distros[i];
        bool up = lsl_distro_in_list(running, d->name);
        if (a->running && !up)
            continue;
        bool is_def = def && strcasecmp(def, d->name) == 0;
        if (a->quiet)
            printf("%s\n", d->name);
        else if (a->verbose)
            printf("%c %-24s %-10s %d\n", is_def ? '*' : ' ', d->name, up ? "Running" : "Stopped", 2);
        else
            printf("%s%s\n", d->name, is_def ? " (Default)" : "");
    }
    free(running);
    lsl_registry_close(&reg);
    return 0;
}

int lsl_cmd_manage(const struct lsl_paths *p, const struct lsl_args *a)
{
    struct lsl_registry reg;
    struct lsl_distro *d;
    int rc = lookup(p, a->name, &reg, true, &d);
    if (rc)
        return rc;
    if (a->default_user) {
        if (set_str(&d->default_user, a->default_user) < 0) {
            lsl_registry_close(&reg);
            return LSL_EXIT_FAILURE;
        }
        return reg_commit(&reg);
    }
    uint64_t size = 0;
    if (a->resize && (parse_size(a->resize, &size) < 0 || size < (16u << 20))) {
        lsl_registry_close(&reg);
        log_error("invalid --resize '%s' (a size like 64GB, at least 16MB)", a->resize);
        return LSL_EXIT_USAGE;
    }
    /* The image changes below: the distribution stops first, its disk leaves the VM. */
    bool was;
    if (lsl_distro_stop(p, d->name, d->id, &was) < 0) {
        lsl_registry_close(&reg);
        return LSL_EXIT_FAILURE;
    }
    if (a->resize) {
        rc = lsl_image_resize(d->image, size) < 0 ? LSL_EXIT_FAILURE : 0;
        lsl_registry_close(&reg);
        return rc;
    }
    /* --move: the image goes to DIR; a rename when on the same file system, else a sparse copy. */
    char dir[PATH_MAX], created[PATH_MAX], image[PATH_MAX];
    if (absolute(a->dir, dir, sizeof(dir)) < 0 || image_path(dir, image, sizeof(image)) < 0) {
        lsl_registry_close(&reg);
        return LSL_EXIT_FAILURE;
    }
    if (access(image, F_OK) == 0) {
        lsl_registry_close(&reg);
        log_error("%s exists already", image);
        return LSL_EXIT_EXISTS;
    }
    if (make_dir(dir, created, sizeof(created)) < 0) {
        lsl_registry_close(&reg);
        return LSL_EXIT_FAILURE;
    }
    if (rename(d->image, image) < 0) {
        if (errno != EXDEV || lsl_image_copy(d->image, image) < 0) {
            if (errno != EXDEV)
                log_errno(errno, "cannot move %s", d->image);
            unmake_dir(dir, created);
            lsl_registry_close(&reg);
            return LSL_EXIT_FAILURE;
        }
        unlink(d->image);
    }
    (void)rmdir(d->dir);
    if (set_str(&d->dir, dir) < 0 || set_str(&d->image, image) < 0) {
        lsl_registry_close(&reg);
        return LSL_EXIT_FAILURE;
    }
    return reg_commit(&reg);
}
