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
#include "log.h"
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

/* Where the start remembers the default user from wsl.conf (WSL, too, reads wsl.conf only when a
 * distribution starts) and the agent port while the distribution runs: "USER\nPORT\n". */
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

int lsl_distro_start(const struct lsl_paths *p, const char *name, const char *id, const char *image,
                     struct lsl_distro_run *run)
{
    char err[512], cache[PATH_MAX];
    int slot;
    *run = (struct lsl_distro_run){0};
    if (lsl_disk_attach(p, id, image, &slot, err, sizeof(err)) < 0) {
        log_error("cannot attach the disk of %s: %s", name, err);
        return -EIO;
    }
    /* The slot is the disk's for as long as it stays attached, so the port is unique among the running. */
    if (slot >= 0 && slot < LSL_DISTRO_PORT_SLOTS)
        run->port = LSL_DISTRO_PORT_BASE + (unsigned)slot;
    char *out = NULL;
    const char *mount_argv[] = {LSL_DISTRO_TOOL, lsl_distro_verb_name(LSL_DISTRO_MOUNT), name, id, NULL};
    int r = lsl_guest_run(p, NULL, mount_argv, -1, -1, &out, err, sizeof(err));
    if (r != 0) {
        free(out);
        log_error("cannot mount the disk of %s: %s", name, err[0] ? err : "lsl-distro failed");
        return -EIO;
    }
    struct lsl_distro_files files;
    r = lsl_distro_files_parse(out, strlen(out), &files);
    free(out);
    if (r < 0) {
        log_error("cannot read the configuration of %s: malformed answer from the VM", name);
        return r;
    }
    struct lsl_distconf conf;
    if (lsl_distconf_init(&conf) < 0 || lsl_distconf_parse(&conf, files.wsl_conf, files.lsl_conf, NULL) < 0) {
        lsl_distro_files_free(&files);
        log_error("out of memory");
        return -ENOMEM;
    }
    lsl_distro_files_free(&files);

    char hostname[128], hosts[16], resolv[16], port[16] = "", *boot = NULL;
    snprintf(hostname, sizeof(hostname), LSL_DISTRO_KEY_HOSTNAME "=%s",
             conf.network_hostname ? conf.network_hostname : name);
    /* A name may hold '.' and '_', a hostname may not: those become '-' (WSL uses the Windows host name). */
    for (char *c = hostname + strlen(LSL_DISTRO_KEY_HOSTNAME "="); !conf.network_hostname && *c; c++)
        if (*c == '.' || *c == '_')
            *c = '-';
    snprintf(hosts, sizeof(hosts), LSL_DISTRO_KEY_HOSTS "=%d", conf.network_generate_hosts ? 1 : 0);
    snprintf(resolv, sizeof(resolv), LSL_DISTRO_KEY_RESOLV "=%d", conf.network_generate_resolv_conf ? 1 : 0);
    if (conf.boot_command && asprintf(&boot, LSL_DISTRO_KEY_BOOT "=%s", conf.boot_command) < 0)
        boot = NULL;
    const char *start_argv[9] = {
        LSL_DISTRO_TOOL, lsl_distro_verb_name(LSL_DISTRO_START), name, hostname, hosts, resolv};
    int argc = 6;
    if (run->port) {
        snprintf(port, sizeof(port), LSL_DISTRO_KEY_PORT "=%u", run->port);
        start_argv[argc++] = port;
    }
    if (boot)
        start_argv[argc++] = boot;
    start_argv[argc] = NULL;
    r = lsl_guest_run(p, NULL, start_argv, -1, -1, NULL, err, sizeof(err));
    free(boot);
    if (r != 0) {
        lsl_distconf_free(&conf);
        log_error("cannot start %s: %s", name, err[0] ? err : "lsl-distro failed");
        return -EIO;
    }
    snprintf(run->user, sizeof(run->user), "%s", conf.user_default ? conf.user_default : "");
    lsl_distconf_free(&conf);
    if (run_cache_path(p, name, cache, sizeof(cache)) == 0) {
        FILE *f = fopen(cache, "we");
        if (f) {
            fprintf(f, "%s\n%u\n", run->user, run->port);
            fclose(f);
        }
    }
    return 0;
}

int lsl_distro_cached(const struct lsl_paths *p, const char *name, struct lsl_distro_run *run)
{
    char cache[PATH_MAX], line[32];
    *run = (struct lsl_distro_run){0};
    if (run_cache_path(p, name, cache, sizeof(cache)) < 0)
        return -ENOENT;
    FILE *f = fopen(cache, "re");
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
    fclose(f);
    return 0;
}

int lsl_distro_stop(const struct lsl_paths *p, const char *name, const char *id, bool *was_running)
{
    char err[512];
    char *running = lsl_distro_running(p);
    *was_running = lsl_distro_in_list(running, name);
    if (!running)
        return 0; /* no VM, nothing runs */
    free(running);
    const char *argv[] = {LSL_DISTRO_TOOL, lsl_distro_verb_name(LSL_DISTRO_STOP), name, id, NULL};
    int r = lsl_guest_run(p, NULL, argv, -1, -1, NULL, err, sizeof(err));
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

char *lsl_distro_running(const struct lsl_paths *p)
{
    char buf[1024], state[32] = "", err[256];
    const char *body;
    if (lsl_service_status(p, buf, sizeof(buf), &body) < 0 ||
        !lsl_ctl_field(body, LSL_CTL_KEY_STATE, state, sizeof(state)) || strcmp(state, "running") != 0)
        return NULL;
    char *out = NULL;
    const char *argv[] = {LSL_DISTRO_TOOL, lsl_distro_verb_name(LSL_DISTRO_LIST), NULL};
    if (lsl_guest_run(p, NULL, argv, -1, -1, &out, err, sizeof(err)) != 0) {
        free(out);
        return NULL;
    }
    return out;
}
