/* See activity.h. A process belongs to a namespace when its /proc/PID/ns/pid names the same namespace as
 * the init's ("pid:[INODE]"); a PID namespace's processes are all visible in the system's /proc.
 *
 * Where systemd is the init, its own machinery runs all the time and must not keep the VM up: what counts
 * is what runs beyond it, by cgroup (/proc/PID/cgroup, below the init's own cgroup's parent): not systemd
 * (init.scope), not a user's manager (user@UID.service/init.scope), not the daemons of a bare system in
 * baseline_units, not lsl's agent and session relays in lsl's leaf. Services the user runs count, and so
 * does whatever a session left behind, as everywhere. What counts is named too, by unit or command name. */
#include "activity_scan.h"

#include "distro_enter.h"
#include "distro_layout.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "pid:[4026531836]" of PID's namespace into buf; returns 0 or -errno. */
static int pid_ns(int proc, const char *pid, char *buf, size_t len)
{
    char path[300];
    ssize_t n;

    snprintf(path, sizeof(path), "%s/ns/pid", pid);
    n = readlinkat(proc, path, buf, len - 1);
    if (n < 0)
        return -errno;
    buf[n] = '\0';
    return 0;
}

/* State, parent and command name of PID from its stat line ("PID (COMM) S PPID ..."); the name may hold
 * spaces and parentheses, so it ends at the last ')'. Returns 0 or -errno. */
static int pid_stat(int proc, const char *pid, char *state, long *ppid, char *comm, size_t commlen)
{
    char path[300], buf[512], *open_paren, *close_paren;
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "%s/stat", pid);
    fd = openat(proc, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -EIO;
    buf[n] = '\0';
    open_paren = strchr(buf, '(');
    close_paren = strrchr(buf, ')');
    if (!open_paren || !close_paren || close_paren < open_paren ||
        sscanf(close_paren + 1, " %c %ld", state, ppid) != 2)
        return -EIO;
    snprintf(comm, commlen, "%.*s", (int)(close_paren - open_paren - 1), open_paren + 1);
    return 0;
}

/* The daemons every systemd distribution runs, idle or not, and the housekeeping that waits for the clock:
 * services under system.slice by these names do not keep the VM up. */
static const char *const baseline_units[] = {
    "systemd-journald.service",
    "systemd-logind.service",
    "systemd-udevd.service",
    "systemd-resolved.service",
    "systemd-networkd.service",
    "systemd-timesyncd.service",
    "systemd-userdbd.service",
    "dbus.service",
    "dbus-broker.service",
    "polkit.service",
    "cron.service",
    "anacron.service",
    "atd.service",
    "rsyslog.service",
    "unattended-upgrades.service",
    /* Docker with no container running does nothing, as Docker Desktop's resource saver has it: the VM
     * stops, and the host's docker reaches the forwarded socket, which starts it again (proto/wake.h).
     * Containers run in scopes of their own (docker-ID.scope) and count; so does a host client's build or
     * `logs -f` while it is connected (the service counts those connections). */
    "docker.service",
    "containerd.service",
};

/* The unified hierarchy's path of PID ("0::/lsl/NAME/..."), into buf; returns 0 or -errno. */
static int pid_cgroup(int proc, const char *pid, char *buf, size_t len)
{
    char path[300], text[1024];
    snprintf(path, sizeof(path), "%s/cgroup", pid);
    int fd = openat(proc, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (n <= 0)
        return -EIO;
    text[n] = '\0';
    char *line = strstr(text, "0::/");
    if (!line || (line != text && line[-1] != '\n'))
        return -ENOENT;
    line += 3;
    snprintf(buf, len, "%.*s", (int)strcspn(line, "\n"), line);
    return 0;
}

/* Whether a process at cgroup rel (below the distribution's cgroup, starting with '/') with that name is
 * systemd's or lsl's own, where systemd is the init. */
static bool systemd_own(const char *rel, const char *comm)
{
    if (strcmp(rel, "/init.scope") == 0)
        return true;
    if (strcmp(rel, "/" LSL_DISTRO_CGROUP_LEAF) == 0)
        return strcmp(comm, LSL_SESSION_COMM) == 0 || strcmp(comm, LSL_DISTRO_AGENT_COMM) == 0;
    if (strncmp(rel, "/system.slice/", 14) == 0) {
        for (size_t i = 0; i < sizeof(baseline_units) / sizeof(baseline_units[0]); i++)
            if (strcmp(rel + 14, baseline_units[i]) == 0)
                return true;
        return false;
    }
    /* /user.slice/user-UID.slice/user@UID.service/init.scope: a user's manager and its (sd-pam) */
    if (strncmp(rel, "/user.slice/", 12) != 0)
        return false;
    const char *svc = strstr(rel, "/user@");
    return svc && (svc = strstr(svc, ".service/init.scope")) && strcmp(svc, ".service/init.scope") == 0;
}

/* What a counted process is, for `lsl --status`: the deepest service of its cgroup path rel (below the
 * distribution's; a user's manager, user@UID.service, is no answer) where systemd runs it, its command name
 * otherwise; any byte lsl_activity_what_char refuses made '_'. */
static void what_label(const char *rel, const char *comm, char *out, size_t len)
{
    const char *unit = NULL;
    size_t unit_len = 0;
    for (const char *c = rel; c && *c;) {
        c += *c == '/';
        size_t n = strcspn(c, "/");
        if (n > 8 && strncmp(c + n - 8, ".service", 8) == 0 && strncmp(c, "user@", 5) != 0) {
            unit = c;
            unit_len = n;
        }
        c += n;
    }
    snprintf(out, len, "%.*s", unit ? (int)unit_len : (int)strlen(comm), unit ? unit : comm);
    for (char *p = out; *p; p++)
        if (!lsl_activity_what_char(*p))
            *p = '_';
}

/* Adds label to the comma-separated list what (LSL_ACTIVITY_WHAT_MAX at most) unless it is there; what
 * does not fit ends the list with "...". */
static void what_add(char *what, const char *label)
{
    size_t have = strlen(what), n = strlen(label);
    if (!n || (have >= 3 && strcmp(what + have - 3, "...") == 0))
        return;
    for (const char *p = what; *p;) {
        size_t m = strcspn(p, ",");
        if (m == n && strncmp(p, label, n) == 0)
            return;
        p += m + (p[m] == ',');
    }
    if (have + (have > 0) + n <= LSL_ACTIVITY_WHAT_MAX - 4)
        snprintf(what + have, LSL_ACTIVITY_WHAT_MAX + 1 - have, "%s%s", have ? "," : "", label);
    else
        snprintf(what + have, LSL_ACTIVITY_WHAT_MAX + 1 - have, "%s...", have ? "," : "");
}

int agent_activity_count(int proc, const pid_t *inits, size_t n, uint32_t *counts,
                         char (*what)[LSL_ACTIVITY_WHAT_MAX + 1])
{
    char(*ns)[64] = calloc(n ? n : 1, sizeof(*ns));
    /* Where the init is systemd: its cgroup's parent, the distribution's ("" otherwise). */
    char(*base)[256] = calloc(n ? n : 1, sizeof(*base));
    int dfd = -1;
    DIR *d;
    struct dirent *de;

    if (!ns || !base) {
        free(ns);
        free(base);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        char pid[16], comm[64], state, *scope;
        long ppid;

        counts[i] = 0;
        if (what)
            what[i][0] = '\0';
        snprintf(pid, sizeof(pid), "%d", (int)inits[i]);
        if (pid_ns(proc, pid, ns[i], sizeof(ns[i])) < 0)
            ns[i][0] = '\0';
        if (pid_stat(proc, pid, &state, &ppid, comm, sizeof(comm)) == 0 && strcmp(comm, "systemd") == 0 &&
            pid_cgroup(proc, pid, base[i], sizeof(base[i])) == 0 && (scope = strrchr(base[i], '/')) &&
            strcmp(scope, "/init.scope") == 0)
            *scope = '\0';
        else
            base[i][0] = '\0';
    }
    dfd = dup(proc);
    d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        int err = errno;

        if (dfd >= 0)
            close(dfd);
        free(ns);
        free(base);
        return -err;
    }
    rewinddir(d);
    while ((de = readdir(d))) {
        char link[64], comm[64], state;
        long ppid;
        size_t i;

        if (strspn(de->d_name, "0123456789") != strlen(de->d_name) ||
            pid_ns(proc, de->d_name, link, sizeof(link)) < 0)
            continue;
        for (i = 0; i < n && (!ns[i][0] || strcmp(ns[i], link) != 0); i++)
            ;
        if (i == n || atol(de->d_name) == (long)inits[i])
            continue;
        /* Gone meanwhile, or a zombie its parent has not reaped yet: not running. */
        if (pid_stat(proc, de->d_name, &state, &ppid, comm, sizeof(comm)) < 0 || state == 'Z' || state == 'X')
            continue;
        if (ppid == (long)inits[i] && strcmp(comm, LSL_SESSION_COMM) == 0)
            continue;
        char cg[256], label[64];
        size_t blen = strlen(base[i]);
        bool inside = base[i][0] && pid_cgroup(proc, de->d_name, cg, sizeof(cg)) == 0 &&
                      strncmp(cg, base[i], blen) == 0 && cg[blen] == '/';
        if (inside && systemd_own(cg + blen, comm))
            continue;
        counts[i]++;
        if (what) {
            what_label(inside ? cg + blen : "", comm, label, sizeof(label));
            what_add(what[i], label);
        }
    }
    closedir(d);
    free(ns);
    free(base);
    return 0;
}

/* The distribution's [boot] keepAlive, as lsl-distro recorded it at its start (auto when unreadable). */
static uint8_t keep_alive(const char *name)
{
    char c[4];
    if (lsl_distro_record_get(name, LSL_DISTRO_KEEP_ALIVE_FILE, c, sizeof(c)) < 0)
        return LSL_KEEP_AUTO;
    return c[0] >= '0' && c[0] <= '0' + LSL_KEEP_NEVER ? (uint8_t)(c[0] - '0') : LSL_KEEP_AUTO;
}

int agent_activity(struct lsl_activity out[LSL_ACTIVITY_MAX])
{
    pid_t inits[LSL_ACTIVITY_MAX];
    uint32_t counts[LSL_ACTIVITY_MAX];
    char what[LSL_ACTIVITY_MAX][LSL_ACTIVITY_WHAT_MAX + 1];
    DIR *d = opendir(LSL_DISTROS_DIR);
    struct dirent *de;
    size_t n = 0;
    int proc, r;

    if (!d)
        return errno == ENOENT ? 0 : -errno; /* no distribution has started yet */
    while (n < LSL_ACTIVITY_MAX && (de = readdir(d))) {
        pid_t pid;

        if (de->d_name[0] == '.' || strlen(de->d_name) > LSL_DISTRO_NAME_MAX ||
            (pid = lsl_distro_init_pid(de->d_name)) <= 0)
            continue;
        snprintf(out[n].name, sizeof(out[n].name), "%s", de->d_name);
        out[n].keep = keep_alive(de->d_name);
        inits[n++] = pid;
    }
    closedir(d);
    proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (proc < 0)
        return -errno;
    r = agent_activity_count(proc, inits, n, counts, what);
    close(proc);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n; i++) {
        out[i].processes = counts[i];
        memcpy(out[i].what, what[i], sizeof(out[i].what));
    }
    return (int)n;
}
