/* --install and --list --online: distributions from the catalog. A catalog entry is either a rootfs to
 * download (checked against its sha256 before anything is registered, resumable) or a local bootstrap
 * with mmdebstrap, which builds a Debian rootfs from Debian's archive (or a mirror) without root. Both
 * results are cached by content, so reinstalling works offline. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "archive.h"
#include "catalog.h"
#include "config.h"
#include "distconf.h"
#include "exitcodes.h"
#include "log.h"
#include "manage.h"
#include "registry.h"

extern const char lsl_builtin_catalog[];

/* Runs lsl-fetch (next to this lsl) for URL into DEST; its exit code (0, LSL_EXIT_CHECKSUM, _DOWNLOAD...). */
static int fetch(const char *url, const char *dest, const char *sha256)
{
    char self[PATH_MAX], helper[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return log_errno(errno, "cannot find my own executable"), LSL_EXIT_FAILURE;
    self[n] = '\0';
    *strrchr(self, '/') = '\0';
    if (lsl_path_fmt(helper, sizeof(helper), "%s/lsl-fetch", self) < 0)
        return LSL_EXIT_FAILURE;
    pid_t pid = fork();
    if (pid < 0)
        return log_errno(errno, "fork"), LSL_EXIT_FAILURE;
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        execl(helper, "lsl-fetch", url, dest, sha256, (char *)NULL);
        fprintf(stderr, "lsl: cannot run %s: %s\n", helper, strerror(errno));
        _exit(LSL_EXIT_FAILURE);
    }
    int st;
    if (waitpid(pid, &st, 0) < 0)
        return LSL_EXIT_FAILURE;
    return WIFEXITED(st) ? WEXITSTATUS(st) : LSL_EXIT_FAILURE;
}

/* The catalog from ~/.lslconfig's catalog (a URL or a file) or the built-in one. */
static int load_catalog(const struct lsl_paths *p, struct lsl_catalog *cat)
{
    struct lsl_config c;
    char err[512] = "";
    lsl_config_load_user(&c);
    int r;
    if (!c.catalog) {
        r = lsl_catalog_parse(cat, lsl_builtin_catalog, "the built-in catalog", err, sizeof(err));
    } else if (strstr(c.catalog, "://")) {
        char path[PATH_MAX];
        r = lsl_path_fmt(path, sizeof(path), "%s/catalog.json", p->runtime);
        if (r == 0) {
            unlink(path);
            r = fetch(c.catalog, path, NULL) == 0 ? lsl_catalog_load_file(cat, path, err, sizeof(err)) : -EIO;
        } else {
            snprintf(err, sizeof(err), "the runtime directory's path is too long");
        }
    } else {
        r = lsl_catalog_load_file(cat, c.catalog, err, sizeof(err));
    }
    if (r < 0 && err[0])
        log_error("the distribution catalog %s: %s", c.catalog ? c.catalog : "(built in)", err);
    lsl_config_free(&c);
    return r < 0 ? LSL_EXIT_FAILURE : 0;
}

int lsl_cmd_list_online(const struct lsl_paths *p)
{
    struct lsl_catalog cat;
    int rc = load_catalog(p, &cat);
    if (rc)
        return rc;
    printf("Distributions lsl --install can install (lsl --install NAME):\n\n  %-20s %s\n", "NAME",
           "FRIENDLY NAME");
    for (size_t i = 0; i < cat.n; i++) {
        const struct lsl_catalog_entry *e = &cat.entries[i];
        printf("%c %-20s %s%s\n", e->is_default ? '*' : ' ', e->name, e->friendly_name,
               e->bootstrap ? " (built locally with mmdebstrap)" : "");
    }
    lsl_catalog_free(&cat);
    return 0;
}

static int cache_dir(char *out, size_t len)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n = xdg && *xdg ? snprintf(out, len, "%s/lsl/downloads", xdg)
                        : snprintf(out, len, "%s/.cache/lsl/downloads", home ? home : "/tmp");
    if (n < 0 || (size_t)n >= len)
        return -ENAMETOOLONG;
    return lsl_mkdir_p(out, 0755);
}

/* The rootfs of a bootstrap entry: mmdebstrap's tar, made once per (suite, variant, packages, mirror). */
static int bootstrap(const struct lsl_catalog_entry *e, char *tar, size_t len)
{
    char dir[PATH_MAX], key[1024] = "";
    if (cache_dir(dir, sizeof(dir)) < 0)
        return log_errno(ENAMETOOLONG, "cannot create the download cache");
    const struct lsl_catalog_bootstrap *b = e->bootstrap;
    const char *var = b->variant ? b->variant : "default";
    snprintf(key, sizeof(key), "%s-%s-%s", b->suite, var, b->mirror ? b->mirror : "");
    for (size_t i = 0; i < b->ninclude; i++) {
        strncat(key, ",", sizeof(key) - strlen(key) - 1);
        strncat(key, b->include[i], sizeof(key) - strlen(key) - 1);
    }
    unsigned long h = 5381;
    for (const char *s = key; *s; s++)
        h = h * 33 + (unsigned char)*s;
    if (lsl_path_fmt(tar, len, "%s/%s-%s-%s-%08lx.tar", dir, e->name, b->suite, var, h & 0xffffffffUL) < 0)
        return log_errno(ENAMETOOLONG, "%s", dir);
    if (access(tar, R_OK) == 0)
        return 0;
    char partial[PATH_MAX + 16], include[1024] = "--include=", variant[64];
    /* mmdebstrap tells the output format by the name's ending. */
    snprintf(partial, sizeof(partial), "%s.partial.tar", tar);
    for (size_t i = 0; i < b->ninclude; i++) {
        if (i)
            strncat(include, ",", sizeof(include) - strlen(include) - 1);
        strncat(include, b->include[i], sizeof(include) - strlen(include) - 1);
    }
    snprintf(variant, sizeof(variant), "--variant=%s", b->variant ? b->variant : "debootstrap");
    fprintf(stderr, "lsl: building %s (%s, %s) with mmdebstrap; this takes a few minutes once\n", e->name,
            b->suite, var);
    pid_t pid = fork();
    if (pid < 0)
        return log_errno(errno, "fork");
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        const char *argv[10];
        int n = 0;
        argv[n++] = "mmdebstrap";
        argv[n++] = "--mode=auto";
        argv[n++] = "--quiet";
        argv[n++] = variant;
        if (b->ninclude)
            argv[n++] = include;
        argv[n++] = b->suite;
        argv[n++] = partial;
        if (b->mirror)
            argv[n++] = b->mirror;
        argv[n] = NULL;
        /* mmdebstrap picks the format from the name; say tar explicitly through the name's ending. */
        execvp("mmdebstrap", (char *const *)argv);
        fprintf(stderr, "lsl: cannot run mmdebstrap (apt-get install mmdebstrap): %s\n", strerror(errno));
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        unlink(partial);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 127)
            log_error("mmdebstrap failed to build %s (see its messages above)", e->name);
        return -EIO;
    }
    if (rename(partial, tar) < 0) {
        unlink(partial);
        return log_errno(errno, "cannot store %s", tar);
    }
    return 0;
}

/* The rootfs file of a download entry, fetched into the cache unless it is there with the right sum. */
static int download(const struct lsl_catalog_entry *e, char *file, size_t len, int *rc)
{
    char dir[PATH_MAX];
    const struct lsl_catalog_download *dl = lsl_catalog_download_for(e, lsl_catalog_arch());
    if (!dl) {
        log_error("%s has no download for %s", e->name, lsl_catalog_arch());
        *rc = LSL_EXIT_NOT_FOUND;
        return -ENOENT;
    }
    if (cache_dir(dir, sizeof(dir)) < 0)
        return log_errno(ENAMETOOLONG, "cannot create the download cache");
    if (lsl_path_fmt(file, len, "%s/%s", dir, dl->sha256) < 0)
        return log_errno(ENAMETOOLONG, "%s", dir);
    if (access(file, F_OK) != 0)
        fprintf(stderr, "lsl: downloading %s from %s\n", e->friendly_name, dl->url);
    *rc = fetch(dl->url, file, dl->sha256);
    return *rc ? -EIO : 0;
}

/* /etc/wsl-distribution.conf's [oobe] defaultName from the archive FILE, read by the host's GNU tar (which
 * knows the compression by itself), as wsl.exe names a distribution installed from a .wsl file. Returns 0
 * with the name in OUT, or an exit code after one error line. */
static int name_from_file(const char *file, char *out, size_t len)
{
    int pipefd[2];
    if (strcmp(file, "-") == 0) {
        log_error("--install --from-file - needs a name: --name NAME");
        return LSL_EXIT_USAGE;
    }
    if (access(file, R_OK) < 0) {
        log_errno(errno, "cannot read %s", file);
        return errno == ENOENT ? LSL_EXIT_NOT_FOUND : LSL_EXIT_FAILURE;
    }
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return log_errno(errno, "pipe"), LSL_EXIT_FAILURE;
    pid_t pid = fork();
    if (pid < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        return log_errno(errno, "fork"), LSL_EXIT_FAILURE;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(pipefd[1], 1);
        dup2(null, 2);
        signal(SIGPIPE, SIG_DFL);
        /* "*" spans "./" too: archives name their members both ways. */
        execlp("tar", "tar", "-xOf", file, "--wildcards", "*etc/wsl-distribution.conf", (char *)NULL);
        _exit(127);
    }
    close(pipefd[1]);
    char text[65536];
    size_t got = 0;
    ssize_t n;
    while (got < sizeof(text) - 1 && (n = read(pipefd[0], text + got, sizeof(text) - 1 - got)) != 0)
        if (n > 0)
            got += (size_t)n;
        else if (errno != EINTR)
            break;
    text[got] = '\0';
    close(pipefd[0]); /* a longer file than we read ends tar with SIGPIPE */
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127) {
        log_error("cannot run tar to read %s (apt-get install tar)", file);
        return LSL_EXIT_FAILURE;
    }
    struct lsl_distconf conf;
    if (lsl_distconf_init(&conf) < 0 || lsl_distconf_parse_distribution(&conf, text, NULL) < 0) {
        lsl_distconf_free(&conf);
        return log_errno(ENOMEM, "%s", file), LSL_EXIT_FAILURE;
    }
    int rc = 0;
    if (!conf.oobe_default_name) {
        log_error("%s names no distribution (no defaultName in /etc/wsl-distribution.conf): --name NAME",
                  file);
        rc = LSL_EXIT_USAGE;
    } else if (!lsl_distro_name_valid(conf.oobe_default_name) ||
               (size_t)snprintf(out, len, "%s", conf.oobe_default_name) >= len) {
        log_error("%s: defaultName '%s' is no valid distribution name: --name NAME", file,
                  conf.oobe_default_name);
        rc = LSL_EXIT_USAGE;
    }
    lsl_distconf_free(&conf);
    return rc;
}

int lsl_cmd_install(const struct lsl_paths *p, const struct lsl_args *a)
{
    char from_file_name[256];
    const char *name = a->new_name;
    char file[PATH_MAX], dir[PATH_MAX];
    struct lsl_catalog cat = {0};
    bool have_cat = false;
    int rc;
    if (a->file) {
        if (!name && a->name[0])
            name = a->name;
        snprintf(file, sizeof(file), "%s", a->file);
    } else {
        if ((rc = load_catalog(p, &cat)))
            return rc;
        have_cat = true;
        const struct lsl_catalog_entry *e =
            a->name[0] ? lsl_catalog_find(&cat, a->name) : lsl_catalog_default(&cat);
        if (!e) {
            lsl_catalog_free(&cat);
            log_error("there is no distribution '%s' in the catalog (lsl --list --online lists them)",
                      a->name[0] ? a->name : "(default)");
            return LSL_EXIT_NOT_FOUND;
        }
        name = name ? name : e->name;
        rc = LSL_EXIT_FAILURE;
        if (e->bootstrap ? bootstrap(e, file, sizeof(file)) < 0 : download(e, file, sizeof(file), &rc) < 0) {
            lsl_catalog_free(&cat);
            return rc;
        }
    }
    if (a->download_only) {
        if (have_cat)
            lsl_catalog_free(&cat);
        printf("%s\n", file);
        return 0;
    }
    if (!name) { /* --from-file without a name */
        if ((rc = name_from_file(a->file, from_file_name, sizeof(from_file_name))))
            return rc;
        name = from_file_name;
    }
    if (a->dir)
        snprintf(dir, sizeof(dir), "%s", a->dir);
    else if (lsl_path_fmt(dir, sizeof(dir), "%s/distros/%s", p->state, name) < 0) {
        if (have_cat)
            lsl_catalog_free(&cat);
        return log_errno(ENAMETOOLONG, "%s", p->state), LSL_EXIT_FAILURE;
    }
    rc = lsl_cmd_import(p, name, dir, file, false);
    if (have_cat)
        lsl_catalog_free(&cat);
    return rc;
}
