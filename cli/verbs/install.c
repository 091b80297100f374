/* --install [NAME] [--name X] [--location DIR] [--from-file FILE] [--no-launch] [--download-only]: a
 * distribution from the catalog or a file. A catalog entry is either a rootfs to download (checked against
 * its sha256 before anything is registered, resumable) or a local bootstrap with mmdebstrap, which builds a
 * Debian rootfs from Debian's archive (or a mirror) without root. Both results are cached by content, so
 * reinstalling works offline. Then it is imported like --import, and, as wsl --install does, launched. */
#include "verbs.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "catalog_source.h"
#include "distconf.h"
#include "exitcodes.h"
#include "io.h"
#include "log.h"
#include "macro.h"
#include "distro_store.h"
#include "own_user.h"
#include "registry.h"

static int cache_dir(char *out, size_t len)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n = xdg && *xdg ? snprintf(out, len, "%s/lsl/downloads", xdg)
                        : snprintf(out, len, "%s/.cache/lsl/downloads", home ? home : "/tmp");
    if (n < 0 || (size_t)n >= len)
        return -ENAMETOOLONG;
    return lsl_mkdir_p(out, 0700);
}

/* djb2, fed piece by piece: the cache key of a bootstrap, however long its package list. */
static unsigned long hash_add(unsigned long h, const char *s)
{
    for (; *s; s++)
        h = h * 33 + (unsigned char)*s;
    return h;
}

/* "--include=a,b,c" (malloc'd), or NULL when out of memory. */
static char *include_arg(const struct lsl_catalog_bootstrap *b)
{
    size_t len = sizeof("--include=");
    for (size_t i = 0; i < b->ninclude; i++)
        len += strlen(b->include[i]) + 1;
    char *arg = malloc(len), *end = arg;
    if (!arg)
        return NULL;
    end = stpcpy(arg, "--include=");
    for (size_t i = 0; i < b->ninclude; i++)
        end = stpcpy(stpcpy(end, i ? "," : ""), b->include[i]);
    return arg;
}

bool lsl_has_subids(const char *file, const char *name, uid_t uid)
{
    _cleanup_fclose_ FILE *f = fopen(file, "re");
    char line[256], id[16];
    snprintf(id, sizeof(id), "%u", (unsigned)uid);
    while (f && fgets(line, sizeof(line), f)) {
        size_t n = strcspn(line, ":");
        unsigned long start, count;
        if (line[n] == ':' && sscanf(line + n, ":%lu:%lu", &start, &count) == 2 && count > 0 &&
            ((name && *name && strlen(name) == n && !strncmp(line, name, n)) ||
             (strlen(id) == n && !strncmp(line, id, n))))
            return true;
    }
    return false;
}

/* What an ordinary user's mmdebstrap lacks to build (its unshare mode: newuidmap and newgidmap, and ranges
 * of subordinate ids; without them it can only fall back to fakechroot, if installed), as the end of a
 * sentence in buf; false when nothing is missing (or the user is root, who needs neither). */
static bool bootstrap_lacks(char *buf, size_t len)
{
    uid_t uid = getuid();
    if (uid == 0)
        return false;
    const char *path = getenv("PATH");
    bool tool = false;
    char exe[PATH_MAX];
    for (const char *p = path && *path ? path : "/usr/bin:/bin"; *p && !tool;
         p += strcspn(p, ":") + !!p[strcspn(p, ":")]) {
        int n = snprintf(exe, sizeof(exe), "%.*s/newuidmap", (int)strcspn(p, ":"), p);
        tool = n > 0 && (size_t)n < sizeof(exe) && access(exe, X_OK) == 0;
    }
    if (!tool) {
        snprintf(buf, len, "newuidmap to build as an ordinary user (apt install uidmap)");
        return true;
    }
    /* By $USER: lsl is static and asks glibc nothing that needs NSS (cli/meson.build). */
    const char *name = getenv("USER");
    if (lsl_has_subids("/etc/subuid", name, uid) && lsl_has_subids("/etc/subgid", name, uid))
        return false;
    snprintf(buf, len,
             "ranges of subordinate ids for you in /etc/subuid and /etc/subgid (sudo usermod --add-subuids "
             "100000-165535 --add-subgids 100000-165535 %s)",
             name && *name ? name : "$USER");
    return true;
}

/* The rootfs of a bootstrap entry: mmdebstrap's tar, made once per (suite, variant, packages, mirror). The
 * catalog checked every field by its kind (catalog.c): none can pass for an option, and "--" ends the
 * options before the positional arguments all the same. */
static int bootstrap(const struct lsl_catalog_entry *e, char *tar, size_t len)
{
    char dir[PATH_MAX];
    if (cache_dir(dir, sizeof(dir)) < 0)
        return log_errno(ENAMETOOLONG, "cannot create the download cache");
    const struct lsl_catalog_bootstrap *b = e->bootstrap;
    const char *var = b->variant ? b->variant : "default";
    /* The key "SUITE-VARIANT-MIRROR,PKG,PKG..." as earlier versions hashed it, so their cache still counts.
     */
    unsigned long h = hash_add(hash_add(hash_add(hash_add(hash_add(5381, b->suite), "-"), var), "-"),
                               b->mirror ? b->mirror : "");
    for (size_t i = 0; i < b->ninclude; i++)
        h = hash_add(hash_add(h, ","), b->include[i]);
    if (lsl_path_fmt(tar, len, "%s/%s-%s-%s-%08lx.tar", dir, e->name, b->suite, var, h & 0xffffffffUL) < 0)
        return log_errno(ENAMETOOLONG, "%s", dir);
    if (access(tar, R_OK) == 0)
        return 0;
    char partial[PATH_MAX + 16], variant[64];
    _cleanup_free_ char *include = b->ninclude ? include_arg(b) : NULL;
    if (b->ninclude && !include)
        return log_errno(ENOMEM, "mmdebstrap");
    /* mmdebstrap tells the output format by the name's ending. */
    snprintf(partial, sizeof(partial), "%s.partial.tar", tar);
    snprintf(variant, sizeof(variant), "--variant=%s", b->variant ? b->variant : "debootstrap");
    fprintf(stderr, "lsl: building %s (%s, %s) with mmdebstrap; this takes a few minutes once\n", e->name,
            b->suite, var);
    const char *argv[12];
    int n = 0;
    argv[n++] = "mmdebstrap";
    argv[n++] = "--mode=auto";
    argv[n++] = "--quiet";
    argv[n++] = variant;
    if (include)
        argv[n++] = include;
    argv[n++] = "--";
    argv[n++] = b->suite;
    argv[n++] = partial;
    if (b->mirror)
        argv[n++] = b->mirror;
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return log_errno(errno, "fork");
    if (pid == 0) {
        /* A build asks nothing: mmdebstrap and what it runs read no terminal input, so what the user types
         * meanwhile stays for lsl's own question after it. */
        int null = open("/dev/null", O_RDONLY);
        if (null > 0) {
            dup2(null, 0);
            close(null);
        }
        signal(SIGPIPE, SIG_DFL);
        execvp("mmdebstrap", (char *const *)argv);
        fprintf(stderr, "lsl: cannot run mmdebstrap (apt-get install mmdebstrap): %s\n", strerror(errno));
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return log_errno(errno, "mmdebstrap");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        unlink(partial);
        char lacks[256];
        if (WIFEXITED(st) && WEXITSTATUS(st) != 127 && bootstrap_lacks(lacks, sizeof(lacks)))
            log_error("mmdebstrap failed to build %s: it needs %s", e->name, lacks);
        else if (!WIFEXITED(st) || WEXITSTATUS(st) != 127)
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
    *rc = lsl_fetch(dl->url, file, dl->sha256);
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
    ssize_t got = read_full(pipefd[0], text, sizeof(text) - 1);
    text[got > 0 ? got : 0] = '\0';
    close(pipefd[0]); /* a longer file than we read ends tar with SIGPIPE */
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127) {
        log_error("cannot run tar to read %s (apt-get install tar)", file);
        return LSL_EXIT_FAILURE;
    }
    _cleanup_(lsl_distconf_free) struct lsl_distconf conf = {0};
    if (lsl_distconf_init(&conf) < 0 || lsl_distconf_parse_distribution(&conf, text, NULL) < 0)
        return log_errno(ENOMEM, "%s", file), LSL_EXIT_FAILURE;
    if (!conf.oobe_default_name) {
        log_error("%s names no distribution (no defaultName in /etc/wsl-distribution.conf): --name NAME",
                  file);
        return LSL_EXIT_USAGE;
    }
    if (!lsl_distro_name_valid(conf.oobe_default_name) ||
        (size_t)snprintf(out, len, "%s", conf.oobe_default_name) >= len) {
        log_error("%s: defaultName '%s' is no valid distribution name: --name NAME", file,
                  conf.oobe_default_name);
        return LSL_EXIT_USAGE;
    }
    return 0;
}

/* A catalog entry lsl bootstraps is a plain Debian, whose wsl-distribution.conf names no user of its own:
 * on a terminal the name question comes before the bootstrap, which takes minutes the first time, so the
 * user answers and can walk away (other installs ask when they register, once their file is read). The
 * answer goes into *own_user as --user's or --no-user's would (answer holds it). */
static void ask_before_bootstrap(const char *name, const char **own_user, char *answer, size_t len)
{
    struct lsl_distro none = {.default_uid = -1};
    struct lsl_own_user u;
    if (*own_user || !isatty(STDIN_FILENO) || !isatty(STDERR_FILENO))
        return;
    snprintf(none.name, sizeof(none.name), "%s", name);
    /* No user planned (a host user root, or one whose name is no Linux name: said once, here) is none. */
    if (lsl_own_user_plan(NULL, &none, &u))
        lsl_own_user_ask(stdin, stderr, name, &u);
    snprintf(answer, len, "%s", u.name); /* "" after Ctrl-C, or with none planned */
    *own_user = answer;
}

/* The rootfs to import into FILE: the catalog entry's download or bootstrap, or --from-file's file; *name
 * the catalog entry's name when --name is not given (it points into cat). A catalog install's name is
 * checked first, not after minutes of download or bootstrap; for a bootstrap, the name of the user's own
 * user is asked then too (*own_user, answer). */
static int rootfs(const struct lsl_paths *p, const struct lsl_args *a, struct lsl_catalog *cat, char *file,
                  size_t len, const char **name, const char **own_user, char *answer, size_t answer_len)
{
    if (a->file) {
        if (!*name && a->name[0])
            *name = a->name;
        snprintf(file, len, "%s", a->file);
        return 0;
    }
    int rc = lsl_catalog_load_configured(p, cat);
    if (rc)
        return rc;
    const struct lsl_catalog_entry *e =
        a->name[0] ? lsl_catalog_find(cat, a->name) : lsl_catalog_default(cat);
    if (!e) {
        log_error("there is no distribution '%s' in the catalog (lsl --list --online lists them)",
                  a->name[0] ? a->name : "(default)");
        return LSL_EXIT_NOT_FOUND;
    }
    *name = *name ? *name : e->name;
    if (!a->download_only && (rc = lsl_store_check_new_name(p, *name)))
        return rc;
    if (!a->download_only && e->bootstrap)
        ask_before_bootstrap(*name, own_user, answer, answer_len);
    rc = LSL_EXIT_FAILURE;
    if (e->bootstrap ? bootstrap(e, file, len) < 0 : download(e, file, len, &rc) < 0)
        return rc;
    return 0;
}

int lsl_verb_install(const struct lsl_paths *p, struct lsl_args *a)
{
    _cleanup_(lsl_catalog_freep) struct lsl_catalog cat = {0};
    char from_file_name[256], file[PATH_MAX], dir[PATH_MAX], answer[LSL_USER_NAME_MAX + 1];
    const char *name = a->new_name, *own_user = a->no_user ? "" : a->new_user;
    int rc = rootfs(p, a, &cat, file, sizeof(file), &name, &own_user, answer, sizeof(answer));
    if (rc)
        return rc;
    if (a->download_only) {
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
    else if (lsl_path_fmt(dir, sizeof(dir), "%s/distros/%s", p->state, name) < 0)
        return log_errno(ENAMETOOLONG, "%s", p->state), LSL_EXIT_FAILURE;
    struct lsl_first_run fr = {.oobe = true, .own_user = own_user};
    if ((rc = lsl_import_file(p, name, dir, file, false, &fr)) || a->no_launch)
        return rc;
    /* Like wsl --install: straight into the new distribution (its first-run setup, then a shell), which is
     * the one just installed whatever named it (--name, the catalog, the file's defaultName). */
    a->action = LSL_ACT_LOGIN;
    a->distro = name;
    return lsl_verb_run(p, a);
}
