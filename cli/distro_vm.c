/* See distro_vm.h. Starting takes three round trips to the VM (attach the disk, mount it and read its
 * config files, start it) and happens once per distribution per VM life; commands afterwards join it in
 * one EXEC. Concurrent starts are safe: attach is idempotent in the service, mount and start take a lock
 * in the guest. */
#include "distro_vm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "control.h"
#include "distro.h"
#include "distconf.h"
#include "guest_run.h"
#include "hostshares.h"
#include "image.h"
#include "log.h"
#include "macro.h"
#include "service.h"

void lsl_distro_files_free(struct lsl_distro_files *f)
{
    free(f->wsl_conf);
    free(f->lsl_conf);
    free(f->distribution_conf);
    *f = (struct lsl_distro_files){0};
}

int lsl_distro_files_parse(const char *out, size_t len, struct lsl_distro_files *f)
{
    struct lsl_file_frame frame;
    size_t pos = 0;
    int r;
    *f = (struct lsl_distro_files){0};
    while ((r = lsl_file_frame_next(out, len, &pos, &frame)) > 0) {
        char **slot = !strcmp(frame.path, "/etc/wsl.conf")                ? &f->wsl_conf
                      : !strcmp(frame.path, "/etc/lsl.conf")              ? &f->lsl_conf
                      : !strcmp(frame.path, "/etc/wsl-distribution.conf") ? &f->distribution_conf
                                                                          : NULL;
        if (!slot)
            continue;
        /* A NUL inside a config file ends it, as it would for any reader of the text. */
        char *text = strndup(frame.data, frame.len);
        if (!text) {
            lsl_distro_files_free(f);
            return -ENOMEM;
        }
        free(*slot);
        *slot = text;
    }
    if (r < 0) {
        lsl_distro_files_free(f);
        return -EPROTO;
    }
    return 0;
}

/* Where the start remembers, while the distribution runs, what the commands after it need: the default user
 * from wsl.conf (WSL, too, reads wsl.conf only when a distribution starts), the agent port, the
 * registered default user it found missing, and where it mounts the host shares ("" none):
 * "USER\nPORT\nMISSING\nROOT\n". */
static int run_cache_path(const struct lsl_paths *p, const char *name, char *out, size_t len)
{
    int n = snprintf(out, len, "%s/distros", p->runtime);
    if (n < 0 || (size_t)n >= len)
        return -ENAMETOOLONG;
    if (mkdir(out, 0700) < 0 && errno != EEXIST)
        return -errno;
    n = snprintf(out, len, "%s/distros/%s.run", p->runtime, name);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

const char *lsl_distro_default_user(const struct lsl_distro_run *run, const char *reg)
{
    if (run->user[0])
        return run->user;
    if (reg && reg[0] && strcmp(reg, run->missing) != 0)
        return reg;
    return "";
}

/* Warnings about a distribution's own files name it: several may start at once. */
static const char *warn_name;
static void warn_named(const char *line)
{
    fprintf(stderr, "lsl: %s: %s\n", warn_name, line);
}

/* start's KEY=VALUE words, each in its own buffer. */
struct start_keys {
    char hostname[sizeof(LSL_DISTRO_KEY_HOSTNAME "=") + LSL_HOSTNAME_MAX];
    char hosts[16], resolv[16], port[16], umask[16], fstab[16], automount[16], owner[48], systemd[16],
        keep[24], interop[16], init_timeout[32];
    char *boot, *users[3], *shares, *root, *options;
    const char *argv[24];
};

static void start_keys_free(struct start_keys *k)
{
    free(k->boot);
    free(k->shares);
    free(k->root);
    free(k->options);
    for (size_t i = 0; i < ARRAY_SIZE(k->users); i++)
        free(k->users[i]);
}

/* The host shares' keys: the VM's shares (as the service gave them to lsl-vmm) and the distribution's
 * [automount] settings, which lsl-distro applies; run learns where they appear. 0 or -ENOMEM. */
static int share_keys(const struct lsl_paths *p, struct start_keys *k, const struct lsl_distconf *conf,
                      size_t *argc, struct lsl_distro_run *run)
{
    struct lsl_host_view view;
    char list[LSL_HOSTSHARES_MAX * (LSL_HOSTSHARE_NAME_MAX + LSL_HOSTSHARE_PATH_MAX + 2)];
    lsl_host_view_load(p, NULL, &view);
    if (lsl_hostshares_format(&view.shares, list, sizeof(list)) < 0)
        list[0] = '\0';
    if (asprintf(&k->shares, LSL_DISTRO_KEY_SHARES "=%s", list) < 0) {
        k->shares = NULL;
        return -ENOMEM;
    }
    k->argv[(*argc)++] = k->shares;
    snprintf(k->automount, sizeof(k->automount), LSL_DISTRO_KEY_AUTOMOUNT "=%d", conf->automount_enabled);
    k->argv[(*argc)++] = k->automount;
    snprintf(k->owner, sizeof(k->owner), LSL_DISTRO_KEY_SHAREOWNER "=%u:%u", view.uid, view.gid);
    k->argv[(*argc)++] = k->owner;
    if (asprintf(&k->root, LSL_DISTRO_KEY_MOUNTROOT "=%s", conf->automount_root) < 0) {
        k->root = NULL;
        return -ENOMEM;
    }
    k->argv[(*argc)++] = k->root;
    if (conf->automount_options) {
        if (asprintf(&k->options, LSL_DISTRO_KEY_MOUNTOPTS "=%s", conf->automount_options) < 0) {
            k->options = NULL;
            return -ENOMEM;
        }
        k->argv[(*argc)++] = k->options;
    }
    if (conf->automount_enabled && view.shares.n &&
        lsl_path_normalize(conf->automount_root, run->mount_root, sizeof(run->mount_root)) < 0)
        run->mount_root[0] = '\0';
    return 0;
}

/* The answers of start: user verdicts into yes[] (in the order of the user= keys; an older guest's missing
 * answer counts as yes), warnings to the user. */
static void start_answers(const char *name, const char *out, size_t len, bool yes[], size_t nusers)
{
    struct lsl_distro_out o;
    size_t pos = 0, users = 0;
    int r;
    for (size_t i = 0; i < nusers; i++)
        yes[i] = true;
    while ((r = lsl_distro_out_next(out, len, &pos, &o)) != 0) {
        if (r < 0)
            continue; /* a newer guest's line */
        if (o.kind == LSL_DISTRO_OUT_WARNING)
            fprintf(stderr, "lsl: %s: %s\n", name, o.text);
        else if (users < nusers)
            yes[users++] = o.kind == LSL_DISTRO_OUT_USER_YES;
    }
}

/* The start of lsl_distro_start; with extra_user also whether that user exists (*extra_yes). */
static int start(const struct lsl_paths *p, const char *name, const char *id, const char *image,
                 const char *reg_user, const char *extra_user, bool *extra_yes, struct lsl_distro_run *run)
{
    char err[512], cache[PATH_MAX];
    int slot;
    *run = (struct lsl_distro_run){0};
    lsl_image_make_private(image); /* a disk an older lsl made 0644 */
    if (lsl_disk_attach(p, id, image, &slot, err, sizeof(err)) < 0) {
        log_error("cannot attach the disk of %s: %s", name, err);
        return -EIO;
    }
    /* The slot is the disk's for as long as it stays attached, so the port is unique among the running. */
    if (slot >= 0 && slot < LSL_DISTRO_PORT_SLOTS)
        run->port = LSL_DISTRO_PORT_BASE + (unsigned)slot;
    _cleanup_free_ char *out = NULL;
    size_t out_len;
    const char *mount_argv[] = {LSL_DISTRO_TOOL, lsl_distro_verb_name(LSL_DISTRO_MOUNT), name, id, NULL};
    int r = lsl_guest_run(p, NULL, mount_argv, -1, -1, &out, &out_len, err, sizeof(err));
    if (r != 0) {
        log_error("cannot mount the disk of %s: %s", name, err[0] ? err : "lsl-distro failed");
        return -EIO;
    }
    _cleanup_(lsl_distro_files_free) struct lsl_distro_files files = {0};
    if ((r = lsl_distro_files_parse(out, out_len, &files)) < 0) {
        log_error("cannot read the configuration of %s: malformed answer from the VM", name);
        return r;
    }
    _cleanup_(lsl_distconf_free) struct lsl_distconf conf = {0};
    warn_name = name;
    if (lsl_distconf_init(&conf) < 0 ||
        lsl_distconf_parse(&conf, files.wsl_conf, files.lsl_conf, warn_named) < 0) {
        log_error("out of memory");
        return -ENOMEM;
    }

    _cleanup_(start_keys_free) struct start_keys k = {0};
    char host[LSL_HOSTNAME_MAX + 1];
    if (conf.network_hostname) {
        snprintf(host, sizeof(host), "%s", conf.network_hostname); /* cleaned when parsed */
    } else {
        /* A name may hold '_', and '.' more than once: those become '-' (WSL uses the Windows host name),
         * then WSL's cleaning. */
        char from_name[LSL_DISTRO_NAME_MAX + 1];
        snprintf(from_name, sizeof(from_name), "%s", name);
        for (char *c = from_name; *c; c++)
            if (*c == '.' || *c == '_')
                *c = '-';
        lsl_hostname_clean(from_name, host);
    }
    size_t argc = 0, nusers = 0;
    k.argv[argc++] = LSL_DISTRO_TOOL;
    k.argv[argc++] = lsl_distro_verb_name(LSL_DISTRO_START);
    k.argv[argc++] = name;
    snprintf(k.hostname, sizeof(k.hostname), LSL_DISTRO_KEY_HOSTNAME "=%s", host);
    k.argv[argc++] = k.hostname;
    snprintf(k.hosts, sizeof(k.hosts), LSL_DISTRO_KEY_HOSTS "=%d", conf.network_generate_hosts ? 1 : 0);
    k.argv[argc++] = k.hosts;
    snprintf(k.resolv, sizeof(k.resolv), LSL_DISTRO_KEY_RESOLV "=%d",
             conf.network_generate_resolv_conf ? 1 : 0);
    k.argv[argc++] = k.resolv;
    snprintf(k.umask, sizeof(k.umask), LSL_DISTRO_KEY_UMASK "=%04o", (unsigned)conf.filesystem_umask);
    k.argv[argc++] = k.umask;
    snprintf(k.fstab, sizeof(k.fstab), LSL_DISTRO_KEY_FSTAB "=%d", conf.automount_mount_fstab ? 1 : 0);
    k.argv[argc++] = k.fstab;
    if (run->port) {
        snprintf(k.port, sizeof(k.port), LSL_DISTRO_KEY_PORT "=%u", run->port);
        k.argv[argc++] = k.port;
    }
    snprintf(k.systemd, sizeof(k.systemd), LSL_DISTRO_KEY_SYSTEMD "=%s",
             conf.boot_systemd < 0 ? "auto"
             : conf.boot_systemd   ? "1"
                                   : "0");
    k.argv[argc++] = k.systemd;
    /* Interop needs the distribution's yes and the VM's: the service listens for it unless isolated. */
    char listener[PATH_MAX];
    run->interop = conf.interop_enabled &&
                   lsl_path_fmt(listener, sizeof(listener), "%s/" LSL_INTEROP_SOCKET, p->runtime) == 0 &&
                   access(listener, F_OK) == 0;
    snprintf(k.interop, sizeof(k.interop), LSL_DISTRO_KEY_INTEROP "=%d", run->interop ? 1 : 0);
    k.argv[argc++] = k.interop;
    snprintf(k.keep, sizeof(k.keep), LSL_DISTRO_KEY_KEEP_ALIVE "=%s",
             conf.boot_keep_alive < 0 ? "auto"
             : conf.boot_keep_alive   ? "1"
                                      : "0");
    k.argv[argc++] = k.keep;
    if (conf.boot_init_timeout_ms >= 0) {
        snprintf(k.init_timeout, sizeof(k.init_timeout), LSL_DISTRO_KEY_INIT_TIMEOUT "=%d",
                 conf.boot_init_timeout_ms);
        k.argv[argc++] = k.init_timeout;
    }
    if (conf.boot_command) {
        if (asprintf(&k.boot, LSL_DISTRO_KEY_BOOT "=%s", conf.boot_command) < 0)
            return log_errno(ENOMEM, "cannot start %s", name), -ENOMEM;
        k.argv[argc++] = k.boot;
    }
    if (share_keys(p, &k, &conf, &argc, run) < 0)
        return log_errno(ENOMEM, "cannot start %s", name), -ENOMEM;
    /* The users to ask about, in WSL's order: wsl.conf's default, the registered one; then the caller's. */
    const char *asked[3] = {conf.user_default && conf.user_default[0] ? conf.user_default : NULL,
                            reg_user && reg_user[0] ? reg_user : NULL, extra_user};
    for (size_t i = 0; i < ARRAY_SIZE(asked); i++) {
        if (!asked[i])
            continue;
        if (asprintf(&k.users[nusers], LSL_DISTRO_KEY_USER "=%s", asked[i]) < 0) {
            k.users[nusers] = NULL;
            return log_errno(ENOMEM, "cannot start %s", name), -ENOMEM;
        }
        k.argv[argc++] = k.users[nusers++];
    }
    k.argv[argc] = NULL;
    out = (free(out), NULL);
    r = lsl_guest_run(p, NULL, k.argv, -1, -1, &out, &out_len, err, sizeof(err));
    if (r != 0) {
        log_error("cannot start %s: %s", name, err[0] ? err : "lsl-distro failed");
        return -EIO;
    }
    bool yes[3];
    start_answers(name, out, out_len, yes, nusers);
    size_t i = 0;
    bool conf_yes = true, reg_yes = true;
    if (asked[0])
        conf_yes = yes[i++];
    if (asked[1])
        reg_yes = yes[i++];
    if (asked[2] && extra_yes)
        *extra_yes = yes[i];
    if (asked[0] && conf_yes)
        snprintf(run->user, sizeof(run->user), "%s", asked[0]);
    if (asked[1] && !reg_yes)
        snprintf(run->missing, sizeof(run->missing), "%s", asked[1]);
    /* One line when the default user is not the one asked for, as WSL logs it; then its fallback. */
    if (asked[0] && !conf_yes)
        fprintf(stderr, "lsl: %s: [user] default '%s' of its wsl.conf does not exist in it; using %s%s%s\n",
                name, asked[0], asked[1] && reg_yes ? "the registered default user '" : "root",
                asked[1] && reg_yes ? asked[1] : "", asked[1] && reg_yes ? "'" : "");
    else if (!asked[0] && asked[1] && !reg_yes)
        fprintf(stderr, "lsl: %s: its default user '%s' does not exist in it; using root\n", name, asked[1]);
    if (run_cache_path(p, name, cache, sizeof(cache)) == 0) {
        _cleanup_fclose_ FILE *f = fopen(cache, "we");
        if (f)
            fprintf(f, "%s\n%u\n%s\n%s\n%d\n", run->user, run->port, run->missing, run->mount_root,
                    run->interop);
    }
    return 0;
}

int lsl_distro_start(const struct lsl_paths *p, const char *name, const char *id, const char *image,
                     const char *reg_user, struct lsl_distro_run *run)
{
    return start(p, name, id, image, reg_user, NULL, NULL, run);
}

int lsl_distro_has_user(const struct lsl_paths *p, const char *name, const char *id, const char *image,
                        const char *reg_user, const char *user)
{
    struct lsl_distro_run run;
    bool yes = false;
    if (lsl_service_ensure(p) < 0)
        return -EIO;
    int r = start(p, name, id, image, reg_user, user, &yes, &run);
    return r < 0 ? r : yes;
}

int lsl_distro_cached(const struct lsl_paths *p, const char *name, struct lsl_distro_run *run)
{
    char cache[PATH_MAX], line[32];
    *run = (struct lsl_distro_run){0};
    if (run_cache_path(p, name, cache, sizeof(cache)) < 0)
        return -ENOENT;
    _cleanup_fclose_ FILE *f = fopen(cache, "re");
    if (!f)
        return -ENOENT;
    if (!fgets(run->user, (int)sizeof(run->user), f))
        run->user[0] = '\0';
    run->user[strcspn(run->user, "\n")] = '\0';
    if (fgets(line, (int)sizeof(line), f)) {
        unsigned long port = strtoul(line, NULL, 10);
        if (LSL_DISTRO_PORT_OK(port))
            run->port = (unsigned)port;
    }
    if (!fgets(run->missing, (int)sizeof(run->missing), f))
        run->missing[0] = '\0';
    run->missing[strcspn(run->missing, "\n")] = '\0';
    if (!fgets(run->mount_root, (int)sizeof(run->mount_root), f))
        run->mount_root[0] = '\0';
    run->mount_root[strcspn(run->mount_root, "\n")] = '\0';
    run->interop = fgets(line, (int)sizeof(line), f) && strcmp(line, "1\n") == 0;
    return 0;
}

int lsl_distro_stop(const struct lsl_paths *p, const char *name, const char *id, bool *was_running)
{
    char err[512];
    _cleanup_free_ char *running = NULL;
    *was_running = false;
    if (lsl_distro_running(p, &running) < 0)
        return -EIO;
    *was_running = lsl_distro_in_list(running, name);
    if (!running)
        return 0; /* no VM, nothing runs */
    const char *argv[] = {LSL_DISTRO_TOOL, lsl_distro_verb_name(LSL_DISTRO_STOP), name, id, NULL};
    int r = lsl_guest_run(p, NULL, argv, -1, -1, NULL, NULL, err, sizeof(err));
    if (r != 0) {
        log_error("cannot stop %s: %s", name, err[0] ? err : "lsl-distro failed");
        return -EIO;
    }
    if (lsl_disk_detach(p, id, err, sizeof(err)) < 0 && !strstr(err, "not attached")) {
        log_error("cannot take the disk of %s out of the VM: %s", name, err);
        return -EIO;
    }
    return 0;
}

bool lsl_distro_in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *line = list; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len == n && memcmp(line, name, n) == 0)
            return true;
        line = end ? end + 1 : line + len;
    }
    return false;
}

int lsl_distro_running(const struct lsl_paths *p, char **list)
{
    char buf[1024], state[32] = "", err[256];
    const char *body;
    *list = NULL;
    if (lsl_service_status(p, buf, sizeof(buf), &body) < 0 ||
        !lsl_ctl_field(body, LSL_CTL_KEY_STATE, state, sizeof(state)) || strcmp(state, "running") != 0)
        return 0;
    const char *argv[] = {LSL_DISTRO_TOOL, lsl_distro_verb_name(LSL_DISTRO_LIST), NULL};
    int r = lsl_guest_run(p, NULL, argv, -1, -1, list, NULL, err, sizeof(err));
    if (r == 0)
        return 0;
    log_error("cannot list the running distributions: %s", err[0] ? err : "lsl-distro failed");
    return -EIO;
}
