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

int lsl_distro_files_parse(const char *out, struct lsl_distro_files *f)
{
    *f = (struct lsl_distro_files){0};
    const char *p = out;
    while (*p) {
        char path[256];
        size_t len;
        int hdr = 0;
        if (sscanf(p, "@@lsl-file %255s %zu\n%n", path, &len, &hdr) != 2 || hdr == 0 ||
            strlen(p + hdr) < len) {
            lsl_distro_files_free(f);
            return -EPROTO;
        }
        p += hdr;
        char *text = strndup(p, len);
        if (!text) {
            lsl_distro_files_free(f);
            return -ENOMEM;
        }
        char **slot = !strcmp(path, "/etc/wsl.conf")                ? &f->wsl_conf
                      : !strcmp(path, "/etc/lsl.conf")              ? &f->lsl_conf
                      : !strcmp(path, "/etc/wsl-distribution.conf") ? &f->distribution_conf
                                                                    : NULL;
        if (slot) {
            free(*slot);
            *slot = text;
        } else {
            free(text);
        }
        p += len;
        if (*p == '\n')
            p++;
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
    char req[PATH_MAX + 64], err[512], cache[PATH_MAX], slot_reply[32];
    *run = (struct lsl_distro_run){0};
    snprintf(req, sizeof(req), "attach %s %s", id, image);
    if (lsl_control(p, req, slot_reply, sizeof(slot_reply), err, sizeof(err)) < 0) {
        lsl_log_error("cannot attach the disk of %s: %s", name, err);
        return -EIO;
    }
    /* The slot is the disk's for as long as it stays attached, so the port is unique among the running. */
    char *end;
    unsigned long slot = strtoul(slot_reply, &end, 10);
    if (slot_reply[0] && !*end && slot < LSL_DISTRO_PORT_SLOTS)
        run->port = LSL_DISTRO_PORT_BASE + (unsigned)slot;
    char *out = NULL;
    const char *mount_argv[] = {"lsl-distro", "mount", name, id, NULL};
    int r = lsl_guest_run(p, NULL, mount_argv, -1, -1, &out, err, sizeof(err));
    if (r != 0) {
        free(out);
        lsl_log_error("cannot mount the disk of %s: %s", name, err[0] ? err : "lsl-distro failed");
        return -EIO;
    }
    struct lsl_distro_files files;
    r = lsl_distro_files_parse(out, &files);
    free(out);
    if (r < 0) {
        lsl_log_error("cannot read the configuration of %s: malformed answer from the VM", name);
        return r;
    }
    struct lsl_distconf conf;
    if (lsl_distconf_init(&conf) < 0 || lsl_distconf_parse(&conf, files.wsl_conf, files.lsl_conf, NULL) < 0) {
        lsl_distro_files_free(&files);
        lsl_log_error("out of memory");
        return -ENOMEM;
    }
    lsl_distro_files_free(&files);

    char hostname[128], hosts[16], resolv[16], port[16] = "", *boot = NULL;
    snprintf(hostname, sizeof(hostname), "hostname=%s", conf.network_hostname ? conf.network_hostname : name);
    /* A name may hold '.' and '_', a hostname may not: those become '-' (WSL uses the Windows host name). */
    for (char *c = hostname + strlen("hostname="); !conf.network_hostname && *c; c++)
        if (*c == '.' || *c == '_')
            *c = '-';
    snprintf(hosts, sizeof(hosts), "hosts=%d", conf.network_generate_hosts ? 1 : 0);
    snprintf(resolv, sizeof(resolv), "resolv=%d", conf.network_generate_resolv_conf ? 1 : 0);
    if (conf.boot_command && asprintf(&boot, "boot=%s", conf.boot_command) < 0)
        boot = NULL;
    const char *start_argv[9] = {"lsl-distro", "start", name, hostname, hosts, resolv};
    int argc = 6;
    if (run->port) {
        snprintf(port, sizeof(port), "port=%u", run->port);
        start_argv[argc++] = port;
    }
    if (boot)
        start_argv[argc++] = boot;
    start_argv[argc] = NULL;
    r = lsl_guest_run(p, NULL, start_argv, -1, -1, NULL, err, sizeof(err));
    free(boot);
    if (r != 0) {
        lsl_distconf_free(&conf);
        lsl_log_error("cannot start %s: %s", name, err[0] ? err : "lsl-distro failed");
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
    char err[512], req[64];
    char *running = lsl_distro_running(p);
    *was_running = lsl_distro_in_list(running, name);
    if (!running)
        return 0; /* no VM, nothing runs */
    free(running);
    const char *argv[] = {"lsl-distro", "stop", name, id, NULL};
    int r = lsl_guest_run(p, NULL, argv, -1, -1, NULL, err, sizeof(err));
    if (r != 0) {
        lsl_log_error("cannot stop %s: %s", name, err[0] ? err : "lsl-distro failed");
        return -EIO;
    }
    snprintf(req, sizeof(req), "detach %s", id);
    if (lsl_control(p, req, NULL, 0, err, sizeof(err)) < 0 && !strstr(err, "not attached")) {
        lsl_log_error("cannot take the disk of %s out of the VM: %s", name, err);
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
    char reply[512], err[256];
    if (lsl_service_request(p, "status", reply, sizeof(reply)) < 0 || !strstr(reply, "state running\n"))
        return NULL;
    char *out = NULL;
    const char *argv[] = {"lsl-distro", "list", NULL};
    if (lsl_guest_run(p, NULL, argv, -1, -1, &out, err, sizeof(err)) != 0) {
        free(out);
        return NULL;
    }
    return out;
}
