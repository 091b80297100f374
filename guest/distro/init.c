/* A distribution's PID 1: lsl-init forked into new mount, UTS, IPC, cgroup and PID namespaces (the network
 * is the VM's, shared by all, as in WSL). It gives the distribution its API file systems and the shared
 * /mnt/lsl, moves into the disk with pivot_root (leaving no mount of the system root or of other
 * distributions behind), mounts its /etc/fstab, applies /etc/wsl.conf's [network] and [filesystem]
 * settings, runs the [boot] command and then serves the distribution's own agent port and reaps orphans
 * until it is told to stop; or, with systemd, hands PID 1 over to it (systemd.c).
 *
 * Setup reports to lsl-distro start through the readiness pipe, one line each: "F" and the reason it
 * failed (then it exits), or "W" and a warning; EOF without an F line means it is up. */
#include "distro_tool.h"
#include "automount.h"
#include "fstab.h"
#include "lsl_host.h"

#include "../agent/distro_layout.h"
#include "../init/agent_listen.h"
#include "../init/net.h"
#include "../init/fileio.h"
#include "../init/mounts.h"
#include "../init/proctitle.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#include <sys/wait.h>
#include <unistd.h>

#include "distro.h"
#include "mount_api.h"

#define READY_MAX 4096 /* what lsl-distro start reads of the readiness pipe */

/* One record on the readiness pipe: kind ('F' or 'W'), text, newline. */
void distro_report(int ready, char kind, const char *text)
{
    char msg[512];
    int n = snprintf(msg, sizeof(msg), "%c%s", kind, text);

    if (n < 0)
        return;
    if ((size_t)n >= sizeof(msg) - 1)
        n = (int)sizeof(msg) - 2;
    for (int i = 1; i < n; i++) /* the newline ends the record */
        if (msg[i] == '\n')
            msg[i] = ' ';
    msg[n++] = '\n';
    (void)!write(ready, msg, (size_t)n);
}

/* Reports a setup failure through the readiness pipe (the parent prints it) and dies. */
_Noreturn void distro_fail(int ready, const char *what, int err)
{
    char msg[256];

    snprintf(msg, sizeof(msg), "%s: %s", what, strerror(err));
    distro_report(ready, 'F', msg);
    _exit(1);
}

/* A directory inside the new root for a mount, made like mkdir -p but refusing symlinks on the way: the
 * distribution's own files must not steer where lsl mounts things. */
int distro_mount_dir(const char *root, const char *path)
{
    char full[4096];
    size_t base = strlen(root);
    struct stat st;

    snprintf(full, sizeof(full), "%s%s", root, path);
    for (char *p = full + base + 1;; p++) {
        char c = *p;

        if (c != '/' && c != '\0')
            continue;
        *p = '\0';
        if (lstat(full, &st) == 0) {
            if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        } else if (errno != ENOENT || (mkdir(full, 0755) < 0 && errno != EEXIST)) {
            return -errno;
        }
        *p = c;
        if (c == '\0')
            return 0;
    }
}

struct ns_mount {
    const char *source, *path, *fstype;
    unsigned long flags;
    const char *data;
};

/* In order; /dev is the VM's (one devtmpfs and devpts for all, so the agent's ptys work everywhere). The
 * shared /mnt/lsl comes last, see mount_shared(). */
static const struct ns_mount ns_mounts[] = {
    {"proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL},
    {"sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL},
    /* nsdelegate, as WSL mounts it (systemd and container runtimes look for it): a system-wide flag that
     * only the system's mount can set (guest/init/mounts.c); here it is accepted and shows. */
    {"cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, "nsdelegate"},
    {"/dev", "/dev", NULL, MS_BIND | MS_REC, NULL},
    {"tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"},
    {"tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"},
};

/* /mnt/lsl: the system's shared tmpfs (lsl-distro start makes it), as a peer of its mount so that a mount
 * made under /mnt/lsl in one distribution shows in all (shared propagation, like WSL's /mnt/wsl). tree is
 * a clone of it made in the system's mount namespace (open_tree), since this namespace's own copy had to
 * be made private with everything else: detaching the old root while a shared mount sits in it would
 * propagate the unmount of everything below it to every distribution. Without a clone (an old kernel),
 * a private bind still shares the files. */
static int mount_shared(const char *root, int tree)
{
    char target[4096];
    int r = distro_mount_dir(root, LSL_SHARED_MOUNT);

    if (r < 0)
        return r;
    snprintf(target, sizeof(target), "%s%s", root, LSL_SHARED_MOUNT);
    if (tree >= 0 && syscall(SYS_move_mount, tree, "", AT_FDCWD, target, LSL_MOVE_MOUNT_F_EMPTY_PATH) == 0)
        return 0;
    return mount(LSL_SHARED_DIR, target, NULL, MS_BIND | MS_REC, NULL) < 0 ? -errno : 0;
}

/* Every mount under the distributions' directory but our own disk: this namespace got copies of them all,
 * and a copy would keep another distribution's disk busy after it stopped. */
static void drop_other_distros(const char *root)
{
    static char paths[64][LSL_MOUNT_PATH_MAX];
    size_t n = lsl_mounts_below(LSL_DISTROS_DIR, root, paths, 64);

    while (n--)
        (void)umount2(paths[n], MNT_DETACH);
}

/* Replaces path (inside the distribution: we run in its root) with text, atomically, mode 0644 whatever
 * the umask. A fresh file: whatever sits at the temporary name (a symlink, a FIFO) is removed first. */
static int write_text(const char *path, const char *text)
{
    char tmp[256];
    int fd;
    size_t len = strlen(text);

    snprintf(tmp, sizeof(tmp), "%s.lsl-new", path);
    (void)unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    if (write(fd, text, len) != (ssize_t)len || fchmod(fd, 0644) < 0 || close(fd) < 0) {
        unlink(tmp);
        return -EIO;
    }
    /* rename replaces a symlink itself (Ubuntu's resolv.conf points into systemd-resolved's /run). */
    return rename(tmp, path) < 0 ? -errno : 0;
}

static void generate_network_files(const struct distro_start *s, const char *host)
{
    char text[1024];

    /* Always, as WSL does: it must agree with the UTS name, which is always set. */
    snprintf(text, sizeof(text), "%s\n", host);
    (void)write_text("/etc/hostname", text);

    if (s->hosts) {
        snprintf(
            text, sizeof(text),
            "# Generated by lsl. To stop it, set [network] generateHosts = false in /etc/wsl.conf.\n"
            "127.0.0.1\tlocalhost\n127.0.1.1\t%s.localdomain\t%s\n"
            "::1\tip6-localhost ip6-loopback localhost\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\n"
            "ff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n" LSL_NET_GATEWAY4 "\t" LSL_NET_HOST_NAME "\n",
            host, host);
        (void)write_text("/etc/hosts", text);
    }
    if (s->resolv) {
        /* The VM's user-mode network answers DNS at its gateway's .3, as QEMU's and libslirp's do. */
        int n = snprintf(text, sizeof(text),
                         "# Generated by lsl. To stop it, set [network] generateResolvConf "
                         "= false in /etc/wsl.conf.\n");
        lsl_net_resolv_conf(text + n, sizeof(text) - (size_t)n);
        (void)write_text("/etc/resolv.conf", text);
    }
}

void distro_run_boot_command(const char *cmd)
{
    pid_t pid = fork();

    if (pid == 0) {
        int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        sigset_t none;

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        setsid();
        if (fd >= 0) {
            dup2(fd, 0);
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
}

/* PID 1's life after setup: serve the distribution's agent port (or only reap, without one) until told to
 * stop, then take everything down (the kernel kills what is left in the namespace when we exit). */
static _Noreturn void serve_until_stopped(const struct distro_start *s, int listener)
{
    sigset_t stop;
    int sig = 0;

    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    if (listener >= 0)
        sig = lsl_agent_serve_on(listener, s->name, &stop);
    if (sig <= 0) { /* no listener, or its loop failed: reaping is all that is left to do */
        sigaddset(&stop, SIGCHLD);
        while (sig != SIGTERM && sig != SIGINT) {
            sig = sigwaitinfo(&stop, NULL);
            while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
        }
    }
    if (listener >= 0)
        close(listener);
    kill(-1, SIGTERM);
    kill(-1, SIGCONT);
    for (int i = 0; i < 100; i++) { /* two seconds to exit the polite way */
        if (waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD)
            break;
        lsl_sleep_ms(20);
    }
    _exit(0);
}

static _Noreturn void distro_pid1(const struct distro_start *start, int ready, int tree)
{
    /* The strings point into the command line, which the title overwrites: keep copies. */
    struct distro_start copy = *start, *s = &copy;
    const char **strings[] = {&copy.name, &copy.root, &copy.hostname, &copy.boot};
    int r, listener = -1;

    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
        if (*strings[i] && !(*strings[i] = strdup(*strings[i])))
            distro_fail(ready, "strdup", ENOMEM);
    lsl_proctitle_set("init"); /* what ps and /proc/1/comm show, as for WSL's /init */
    const char *host = s->hostname && s->hostname[0] ? s->hostname : s->name;

    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        distro_fail(ready, "cannot make the mounts private", errno);
    drop_other_distros(s->root);
    for (size_t i = 0; i < sizeof(ns_mounts) / sizeof(ns_mounts[0]); i++) {
        const struct ns_mount *m = &ns_mounts[i];
        char target[4096];

        if ((r = distro_mount_dir(s->root, m->path)) < 0)
            distro_fail(ready, m->path, -r);
        snprintf(target, sizeof(target), "%s%s", s->root, m->path);
        r = mount(m->source, target, m->fstype, m->flags, m->data) < 0 ? -errno : 0;
        if (r == -EINVAL && m->data && m->fstype && strcmp(m->fstype, "cgroup2") == 0)
            r = mount(m->source, target, m->fstype, m->flags, NULL) < 0 ? -errno : 0; /* no nsdelegate */
        if (r < 0 && !(m->fstype && r == -EBUSY))
            distro_fail(ready, m->path, -r);
    }
    if ((r = mount_shared(s->root, tree)) < 0)
        distro_fail(ready, LSL_SHARED_MOUNT, -r);
    if (tree >= 0)
        close(tree);
    if (s->shares) {
        char warning[512];

        if (distro_shares_bind(s->shares, s->root, warning, sizeof(warning)))
            distro_report(ready, 'W', warning);
    }
    if (chdir(s->root) < 0)
        distro_fail(ready, "cannot enter the disk", errno);
    /* pivot_root(".", ".") stacks the old root under the new one; detaching it drops every system mount. */
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        distro_fail(ready, "pivot_root", errno);
    if (umount2(".", MNT_DETACH) < 0)
        distro_fail(ready, "cannot detach the system root", errno);
    if (chdir("/") < 0)
        distro_fail(ready, "chdir /", errno);
    distro_lslpath_install();
    distro_interop_install(s->name, s->interop);
    if (sethostname(host, strlen(host)) < 0)
        distro_fail(ready, "sethostname", errno);
    if (s->fstab) {
        char warning[600];

        if (fstab_mount_all(warning, sizeof(warning)) > 0)
            distro_report(ready, 'W', warning);
    }
    generate_network_files(s, host);
    if (s->port && (listener = lsl_agent_listen(s->port)) < 0)
        distro_fail(ready, "cannot listen on the distribution's vsock port", -listener);
    /* Inherited by the [boot] command and by every session's processes (the agent's spares are forked from
     * here; sessions joining from outside take it from /proc/1/status, see distro_enter.c). */
    umask((mode_t)s->umask);
    if (s->systemd > 0 || (s->systemd < 0 && distro_has_systemd())) {
        if (distro_has_systemd())
            distro_exec_systemd(s, ready, listener);
        distro_report(ready, 'W',
                      "[boot] systemd=true, but there is no " LSL_SYSTEMD_PATH ": lsl's init instead");
    }
    close(ready); /* setup done: the parent reads EOF */
    if (s->boot && s->boot[0])
        distro_run_boot_command(s->boot);
    serve_until_stopped(s, listener);
}

pid_t distro_spawn(const struct distro_start *s)
{
    int pipe_ready[2], pipe_pid[2];
    char msg[READY_MAX + 1];
    pid_t pid, init = -1;
    size_t n = 0;
    bool failed = false;

    if (pipe2(pipe_ready, O_CLOEXEC) < 0 || pipe2(pipe_pid, O_CLOEXEC) < 0)
        return -errno;
    pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        /* The intermediate process: out of the agent session's process group and into the cgroup and new
         * namespaces, then the fork that becomes PID 1 there. */
        char path[160], self[16];
        int fd, len, tree;

        close(pipe_ready[0]);
        close(pipe_pid[0]);
        setsid();
        /* Nothing but the two pipes and the clone of the shared mount (see mount_shared) survives into the
         * distribution: lsl-distro's lock would stay held by its init forever, and the agent's pipes must
         * not outlive the lsl-distro command, or its session would never end. */
        pipe_ready[1] = fcntl(pipe_ready[1], F_DUPFD_CLOEXEC, 100);
        pipe_pid[1] = fcntl(pipe_pid[1], F_DUPFD_CLOEXEC, 101);
        if (pipe_ready[1] != 100 || pipe_pid[1] != 101)
            _exit(1);
        tree = (int)syscall(SYS_open_tree, AT_FDCWD, LSL_SHARED_DIR,
                            LSL_OPEN_TREE_CLONE | LSL_AT_RECURSIVE | O_CLOEXEC);
        if (tree >= 0 && tree != 102) {
            int moved = fcntl(tree, F_DUPFD_CLOEXEC, 102);

            close(tree);
            tree = moved == 102 ? moved : -1;
        }
        syscall(SYS_close_range, 3, 99, 0);
        syscall(SYS_close_range, tree == 102 ? 103 : 102, ~0u, 0);
        fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (fd >= 0) {
            dup2(fd, 0);
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        snprintf(path, sizeof(path), "%s/%s/cgroup.procs", LSL_CGROUP_DIR, s->name);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        len = snprintf(self, sizeof(self), "%d", (int)getpid());
        if (fd >= 0) {
            (void)!write(fd, self, (size_t)len);
            close(fd);
        }
        if (unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP | CLONE_NEWPID) < 0)
            distro_fail(pipe_ready[1], "cannot create the namespaces", errno);
        pid = fork();
        if (pid < 0)
            distro_fail(pipe_ready[1], "fork", errno);
        if (pid == 0) {
            sigset_t all;

            close(pipe_pid[1]);
            sigfillset(&all);
            sigprocmask(SIG_SETMASK, &all, NULL);
            distro_pid1(s, pipe_ready[1], tree);
        }
        (void)!write(pipe_pid[1], &pid, sizeof(pid));
        _exit(0);
    }
    close(pipe_ready[1]);
    close(pipe_pid[1]);
    if (read(pipe_pid[0], &init, sizeof(init)) != (ssize_t)sizeof(init))
        init = -1;
    close(pipe_pid[0]);
    for (;;) { /* until EOF: the init closes its end when its setup is done */
        ssize_t r = read(pipe_ready[0], msg + n, sizeof(msg) - 1 - n);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n == sizeof(msg) - 1)
            break;
    }
    close(pipe_ready[0]);
    (void)waitpid(pid, NULL, 0);
    msg[n] = '\0';
    for (char *line = msg, *nl; *line; line = nl ? nl + 1 : line + strlen(line)) {
        char out[LSL_DISTRO_OUT_TEXT_MAX + 32];

        nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (line[0] == 'W' && lsl_distro_out_format(out, sizeof(out), LSL_DISTRO_OUT_WARNING, line + 1) > 0)
            fputs(out, stdout);
        if (line[0] == 'F' && !failed) {
            fprintf(stderr, "lsl-distro: cannot start %s: %s\n", s->name, line + 1);
            failed = true;
        }
        if (!nl)
            break;
    }
    fflush(stdout);
    if (failed || init < 0) {
        if (!failed)
            fprintf(stderr, "lsl-distro: cannot start %s: setup failed\n", s->name);
        return -EIO;
    }
    return init;
}
