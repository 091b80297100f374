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
#include "wslenv.h"

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

/* One /p or /l element as the host sees it (a lsl_wslenv_path_fn): an absolute path on a share is mapped,
 * any other stays. */
static ssize_t path_to_host(const char *path, size_t len, char *out, size_t room, void *opaque)
{
    char part[LSL_HOSTSHARE_PATH_MAX];

    (void)opaque;
    if (!len || path[0] != '/' || len >= sizeof(part))
        return -1;
    memcpy(part, path, len);
    part[len] = '\0';
    return to_host(part, out, room) ? (ssize_t)strlen(out) : -1;
}

struct host_env {
    char **env;
    size_t n;
};

/* One WSLENV entry for the host (a lsl_wslenv_entry_fn): set here, not there yet, p and l mapped. */
static int add_listed(const char *name, size_t len, char mode, void *opaque)
{
    struct host_env *h = opaque;
    char key[256];

    if (h->n >= HOST_ENV_MAX || len >= sizeof(key))
        return 0;
    memcpy(key, name, len);
    key[len] = '\0';
    const char *v = getenv(key);
    for (size_t i = 0; i < h->n && v; i++)
        if (strncmp(h->env[i], key, len) == 0 && h->env[i][len] == '=')
            v = NULL; /* the first entry wins */
    if (!v)
        return 0;
    char *mapped = mode ? lsl_wslenv_map(v, mode == 'l', path_to_host, NULL) : strdup(v);
    if (mapped && asprintf(&h->env[h->n], "%s=%s", key, mapped) >= 0)
        h->n++;
    free(mapped);
    return 0;
}

/* What goes to the host: TERM and COLORTERM (the terminal is this side's), and what WSLENV names that goes
 * out of the guest (proto/wslenv.h: not u entries). Entries are malloc'd; NULL-terminated. */
static char **host_env(void)
{
    struct host_env h = {calloc(HOST_ENV_MAX + 1, sizeof(char *)), 0};
    const char *list = getenv("WSLENV");

    if (!h.env)
        return NULL;
    static const char *const always[] = {"TERM", "COLORTERM"};
    for (size_t i = 0; i < 2; i++) {
        const char *v = getenv(always[i]);
        if (v && asprintf(&h.env[h.n], "%s=%s", always[i], v) >= 0)
            h.n++;
    }
    if (list)
        (void)lsl_wslenv_each(list, LSL_WSLENV_OUT_OF_GUEST, add_listed, &h);
    return h.env;
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
    struct lsl_session_io io = {.fds = {0, 1, 2}, .errbuf = err, .errlen = sizeof(err), .who = tool};
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
