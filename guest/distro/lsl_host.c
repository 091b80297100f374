/* lsl-host and xdg-open (lsl_host.h): the client of a session (proto/session_client.c) to the host's
 * lsl-interop, over a vsock stream to CID 2. The host checks for itself whether it serves this
 * distribution; the check here only spares a round trip and says why in the distribution's own words. */
#include "lsl_host.h"

#include "agent.h"
#include "distro.h"
#include "fileio.h"
#include "hostshare.h"
#include "session_client.h"
#include "vsock_addr.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LSL_HOST_LINK "/usr/bin/" LSL_HOST_TOOL
#define OPEN_LINK     "/usr/bin/" LSL_HOST_OPEN_TOOL
#define IN_RUN        "/run/lsl/lslpath" /* the binary's copy (automount.c) */
#define HOST_ENV_MAX  256

extern char **environ;

/* The shares this distribution mounts (the map its init wrote), read once per process: the cwd and every
 * WSLENV path go through them. NULL when it mounts none. */
static const struct lsl_hostshares *shares_here(const char **root)
{
    static char map_root[LSL_HOSTSHARE_PATH_MAX];
    static struct lsl_hostshares shares;
    static int loaded; /* 0 not yet, 1 loaded, -1 none */
    if (!loaded) {
        char *map = NULL;
        loaded = lsl_read_file(LSL_HOSTSHARE_MAP, &map) >= 0 &&
                         lsl_hostshare_map_parse(map, map_root, &shares) == 0
                     ? 1
                     : -1;
        free(map);
    }
    *root = map_root;
    return loaded > 0 ? &shares : NULL;
}

/* path (absolute, or relative to the current directory) as the host sees it, into out: 1, or 0 when it is
 * on no host share. */
static int to_host(const char *path, char *out, size_t len)
{
    char cwd[PATH_MAX], joined[PATH_MAX * 2], norm[LSL_HOSTSHARE_PATH_MAX];
    const char *root;
    const struct lsl_hostshares *shares = shares_here(&root);

    if (!shares)
        return 0;
    if (path[0] != '/') {
        if (!getcwd(cwd, sizeof(cwd)))
            return 0;
        snprintf(joined, sizeof(joined), "%s/%s", cwd, path);
        path = joined;
    }
    if (lsl_path_normalize(path, norm, sizeof(norm)) < 0)
        return 0;
    return lsl_hostshare_to_host(shares, root, norm, out, len) == 1;
}

/* A WSLENV /p or /l value with each path on a share mapped to the host's (others as they are); malloc'd. */
static char *map_value(const char *value, bool list)
{
    size_t cap = strlen(value) * 2 + LSL_HOSTSHARE_PATH_MAX + 1, n = 0;
    char *out = malloc(cap), one[LSL_HOSTSHARE_PATH_MAX], part[LSL_HOSTSHARE_PATH_MAX];

    if (!out)
        return NULL;
    for (const char *p = value;;) {
        size_t len = list ? strcspn(p, ":") : strlen(p);
        snprintf(part, sizeof(part), "%.*s", (int)len, p);
        const char *use = part[0] == '/' && to_host(part, one, sizeof(one)) ? one : part;
        if (n + strlen(use) + 2 > cap) {
            char *grown = realloc(out, cap = cap * 2 + strlen(use));
            if (!grown) {
                free(out);
                return NULL;
            }
            out = grown;
        }
        n += (size_t)sprintf(out + n, "%s%s", n || p != value ? ":" : "", use);
        if (!list || !p[len])
            break;
        p += len + 1;
    }
    out[n] = '\0';
    return out;
}

/* What goes to the host: TERM and COLORTERM (the terminal is this side's), and what WSLENV names, WSL's
 * flags: u (host to guest only) is left here, p and l are mapped. Entries are malloc'd; NULL-terminated. */
static char **host_env(void)
{
    char **env = calloc(HOST_ENV_MAX + 1, sizeof(char *));
    const char *list = getenv("WSLENV");
    size_t n = 0;

    if (!env)
        return NULL;
    static const char *const always[] = {"TERM", "COLORTERM"};
    for (size_t i = 0; i < 2; i++) {
        const char *v = getenv(always[i]);
        if (v && asprintf(&env[n], "%s=%s", always[i], v) >= 0)
            n++;
    }
    for (const char *p = list; p && *p && n < HOST_ENV_MAX;) {
        size_t len = strcspn(p, ":"), nlen = strcspn(p, "/:");
        char name[256], flags[16] = "";
        if (nlen < len)
            snprintf(flags, sizeof(flags), "%.*s", (int)(len - nlen - 1), p + nlen + 1);
        snprintf(name, sizeof(name), "%.*s", (int)(nlen < sizeof(name) ? nlen : 0), p);
        p += len + (p[len] == ':');
        const char *v = name[0] ? getenv(name) : NULL;
        bool dup = false;
        for (size_t i = 0; i < n && !dup; i++)
            dup = strncmp(env[i], name, strlen(name)) == 0 && env[i][strlen(name)] == '=';
        if (!v || dup || strspn(flags, "uwpl") != strlen(flags) || strchr(flags, 'u'))
            continue;
        char *mapped = strpbrk(flags, "pl") ? map_value(v, strchr(flags, 'l') != NULL) : strdup(v);
        if (mapped && asprintf(&env[n], "%s=%s", name, mapped) >= 0)
            n++;
        free(mapped);
    }
    return env;
}

/* Runs argv on the host through lsl-interop. Returns its status, or -1 after one line on stderr. */
static int run_on_host(const char *tool, char *const argv[])
{
    char *name = NULL, cwd[PATH_MAX], host_cwd[LSL_HOSTSHARE_PATH_MAX] = "", err[512];
    struct lsl_sockaddr_vm addr = {
        .svm_family = AF_VSOCK, .svm_cid = LSL_VMADDR_CID_HOST, .svm_port = LSL_INTEROP_PORT};
    int r = -1;

    if (lsl_read_file(LSL_INTEROP_FILE, &name) < 0 || !name[0]) {
        fprintf(stderr,
                "%s: interop is off in this distribution ([interop] enabled=false in /etc/wsl.conf, "
                "or isolated=true in the host's ~/.lslconfig)\n",
                tool);
        free(name);
        return -1;
    }
    name[strcspn(name, "\n")] = '\0';
    if (getcwd(cwd, sizeof(cwd)) && !to_host(cwd, host_cwd, sizeof(host_cwd)))
        host_cwd[0] = '\0'; /* not on a share: the host home */
    char **env = host_env();
    int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        fprintf(stderr, "%s: the host does not run commands for this VM (%s%s)\n", tool, strerror(errno),
                errno == ECONNRESET || errno == ECONNREFUSED ? ": isolated=true in ~/.lslconfig?" : "");
        goto out;
    }
    struct lsl_exec_request req = {.argv = (const char *const *)argv,
                                   .envp = (const char *const *)env,
                                   .cwd = host_cwd,
                                   .user = "",
                                   .distro = name,
                                   .flags = LSL_EXEC_CWD_OR_HOME};
    struct lsl_session_io io = {.fds = {0, 1, 2}, .errbuf = err, .errlen = sizeof(err)};
    r = lsl_session_exec(fd, &req, &io);
    if (r < 0) {
        fprintf(stderr, "%s: %s\n", tool, err[0] ? err : strerror(-r));
        r = -1;
    }
out:
    if (fd >= 0)
        close(fd);
    for (size_t i = 0; env && env[i]; i++)
        free(env[i]);
    free(env);
    free(name);
    return r;
}

int lsl_host_main(int argc, char **argv)
{
    int first = argc > 1 && strcmp(argv[1], "--") == 0 ? 2 : 1;

    if (first >= argc || (first == 1 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: lsl-host [--] COMMAND [ARG...]\n"
                        "  runs COMMAND on the host, as the host user, in the host's view of this directory\n"
                        "  when it is on a host share (else the host home)\n");
        return 2;
    }
    int r = run_on_host(LSL_HOST_TOOL, argv + first);
    return r < 0 ? 1 : r;
}

int lsl_host_open_main(int argc, char **argv)
{
    char host[LSL_HOSTSHARE_PATH_MAX];
    struct stat st;

    if (argc != 2 || !argv[1][0] || argv[1][0] == '-') {
        fprintf(stderr, "usage: xdg-open {FILE | URL}  (on the host's desktop)\n");
        return 1;
    }
    const char *what = argv[1], *colon = strchr(what, ':');
    /* A URL: a scheme (letters first, then letters, digits, + - .) and a colon, e.g. https://, mailto:. */
    bool url = colon && colon > what &&
               strspn(what, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") &&
               strspn(what, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.") ==
                   (size_t)(colon - what);
    if (!url && strncmp(what, "file://", 7) == 0)
        what += 7;
    if (!url) {
        if (stat(what, &st) < 0) {
            fprintf(stderr, "xdg-open: %s: %s\n", what, strerror(errno));
            return 2;
        }
        if (!to_host(what, host, sizeof(host))) {
            fprintf(stderr, "xdg-open: %s is not on a host share: the host cannot open it\n", what);
            return 4;
        }
        what = host;
    }
    char *cmd[] = {LSL_HOST_OPEN_TOOL, (char *)what, NULL};
    int r = run_on_host(LSL_HOST_OPEN_TOOL, cmd);
    return r < 0 ? 4 : r;
}

/* Links path to the binary's copy unless something is there already. */
static void link_tool(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0 && errno == ENOENT)
        (void)symlink(IN_RUN, path);
}

void distro_interop_install(const char *name, bool on)
{
    if (!on) {
        (void)unlink(LSL_INTEROP_FILE);
        return;
    }
    char line[LSL_DISTRO_NAME_MAX + 2];
    snprintf(line, sizeof(line), "%s\n", name);
    (void)lsl_write_file(LSL_INTEROP_FILE, line);
    link_tool(LSL_HOST_LINK);
    /* Only where the distribution has no xdg-open of its own (xdg-utils' finds no desktop in the VM, and
     * replaces this link when installed later). */
    link_tool(OPEN_LINK);
}
