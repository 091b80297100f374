/* lsl-distro's commands (see distro_tool.h). Each runs as an agent session's command in the system root; a
 * per-distribution lock file keeps two `lsl -d NAME` arriving together from mounting or starting twice. */
#include "distro_tool.h"

#include "activity.h"
#include "agent.h"
#include "fileio.h"

#include "automount.h"

#include "../agent/accounts.h"
#include "../agent/distro_enter.h"
#include "../agent/distro_layout.h"
#include "distro.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *const config_files[] = {"/etc/wsl.conf", "/etc/lsl.conf", "/etc/wsl-distribution.conf"};

static int usage(void)
{
    fprintf(stderr,
            "usage: lsl-distro mount NAME SERIAL | start NAME [KEY=VALUE...] | stop NAME [SERIAL] | list |\n"
            "       import SERIAL FORMAT | export NAME SERIAL FORMAT\n");
    return 2;
}

/* One line on stderr: "lsl-distro: WHAT SUBJECT: reason". Returns the failure status. */
static int failed(const char *what, const char *subject, int err)
{
    fprintf(stderr, "lsl-distro: %s %s: %s\n", what, subject, strerror(err));
    return 1;
}

/* Creates NAME's directory and takes its lock (held until exit). */
static int lock_distro(const char *name, char *root, size_t rootlen)
{
    char path[256];
    int fd, r;

    snprintf(path, sizeof(path), "%s/%s/root", LSL_DISTROS_DIR, name);
    if ((r = lsl_mkdir_p(path, 0755)) < 0)
        return failed("cannot create", path, -r);
    snprintf(root, rootlen, "%s", path);
    snprintf(path, sizeof(path), "%s/%s/lock", LSL_DISTROS_DIR, name);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX) < 0)
        return failed("cannot lock", path, errno);
    return 0;
}

static int cmd_mount(const char *name, const char *serial)
{
    char root[256], dev[64];
    int r;

    if (!lsl_distro_name_valid(name) || !lsl_disk_id_valid(serial))
        return usage();
    if (lock_distro(name, root, sizeof(root)))
        return 1;
    if (lsl_is_mountpoint(root) <= 0) {
        if ((r = distro_find_disk(serial, dev, sizeof(dev))) < 0)
            return failed("no disk with serial", serial, -r);
        if ((r = distro_mount_disk(dev, root)) < 0)
            return failed("cannot mount", dev, -r);
    }
    for (size_t i = 0; i < sizeof(config_files) / sizeof(config_files[0]); i++)
        distro_print_file(root, config_files[i]);
    return 0;
}

static bool flag(const char *v)
{
    return strcmp(v, "1") == 0;
}

/* A distribution's agent port, or 0 when value is not one. */
static unsigned parse_port(const char *value)
{
    char *end;
    unsigned long v = strtoul(value, &end, 10);

    if (!*value || *end || !LSL_DISTRO_PORT_OK(v))
        return 0;
    return (unsigned)v;
}

/* A umask as wsl.conf writes it: 1-4 octal digits, at most 0777. Returns it, or -1. */
static int parse_umask(const char *value)
{
    size_t n = strlen(value);
    unsigned long v;

    if (n == 0 || n > 4 || strspn(value, "01234567") != n || (v = strtoul(value, NULL, 8)) > 0777)
        return -1;
    return (int)v;
}

/* [boot] initTimeout as the host checked it: decimal milliseconds, at most LSL_DISTRO_INIT_TIMEOUT_MAX_MS.
 * Returns it, or -1. */
static int parse_ms(const char *value)
{
    size_t n = strlen(value);

    if (n == 0 || n > 7 || strspn(value, "0123456789") != n ||
        strtoul(value, NULL, 10) > LSL_DISTRO_INIT_TIMEOUT_MAX_MS)
        return -1;
    return (int)strtoul(value, NULL, 10);
}

static void print_out(enum lsl_distro_out_kind kind, const char *text)
{
    char line[LSL_DISTRO_OUT_TEXT_MAX + 32];

    if (lsl_distro_out_format(line, sizeof(line), kind, text) > 0)
        fputs(line, stdout);
}

/* The answer to user=NAME: whether root/etc/passwd (read inside root) has NAME. */
static void print_user_verdict(const char *root, const char *user)
{
    char *text = NULL;
    long len = agent_read_in_root(root, "/etc/passwd", LSL_ACCOUNT_FILE_MAX, &text);
    bool known = len >= 0 && agent_passwd_has(text, (size_t)len, user);

    /* Empty names root, as EXEC's empty user does. */
    print_out(known || !user[0] ? LSL_DISTRO_OUT_USER_YES : LSL_DISTRO_OUT_USER_NO, user);
    free(text);
}

/* The system's side of /mnt/lsl: a tmpfs with shared propagation at LSL_SHARED_DIR, made once (under a lock,
 * since starts of different distributions may run at once); each distribution mounts a peer of it. */
static void shared_dir_setup(void)
{
    int fd;

    (void)lsl_mkdir_p(LSL_SHARED_DIR, 0755);
    fd = open("/run/lsl/shared.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX) < 0) {
        if (fd >= 0)
            close(fd);
        return;
    }
    if (lsl_is_mountpoint(LSL_SHARED_DIR) <= 0)
        (void)mount("tmpfs", LSL_SHARED_DIR, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
    /* Failing leaves /mnt/lsl sharing files only, as before. */
    if (lsl_is_mountpoint(LSL_SHARED_DIR) > 0)
        (void)mount(NULL, LSL_SHARED_DIR, NULL, MS_SHARED, NULL);
    close(fd);
}

static int cmd_start(const char *name, int argc, char **argv)
{
    struct distro_start s = {.name = name,
                             .hosts = true,
                             .resolv = true,
                             .umask = LSL_DISTRO_UMASK_DEFAULT,
                             .fstab = true,
                             .systemd = -1,
                             .init_timeout_ms = LSL_DISTRO_INIT_TIMEOUT_MS,
                             .interop = true};
    int keep = LSL_KEEP_AUTO;
    char root[256], path[256], rec[64];
    const char *users[LSL_DISTRO_USERS_MAX];
    size_t nusers = 0;
    unsigned long long start = 0;
    struct distro_shares shares;
    pid_t pid;
    int r, mask;

    if (!lsl_distro_name_valid(name))
        return usage();
    distro_shares_init(&shares);
    for (int i = 0; i < argc; i++) {
        char *eq = strchr(argv[i], '=');

        if (!eq)
            return usage();
        *eq = '\0';
        if (distro_shares_key(&shares, argv[i], eq + 1))
            continue;
        if (strcmp(argv[i], LSL_DISTRO_KEY_HOSTNAME) == 0)
            s.hostname = eq + 1;
        else if (strcmp(argv[i], LSL_DISTRO_KEY_HOSTS) == 0)
            s.hosts = flag(eq + 1);
        else if (strcmp(argv[i], LSL_DISTRO_KEY_RESOLV) == 0)
            s.resolv = flag(eq + 1);
        else if (strcmp(argv[i], LSL_DISTRO_KEY_BOOT) == 0)
            s.boot = eq + 1;
        else if (strcmp(argv[i], LSL_DISTRO_KEY_PORT) == 0 && (s.port = parse_port(eq + 1)))
            continue;
        else if (strcmp(argv[i], LSL_DISTRO_KEY_FSTAB) == 0)
            s.fstab = flag(eq + 1);
        else if (strcmp(argv[i], LSL_DISTRO_KEY_INTEROP) == 0)
            s.interop = flag(eq + 1);
        else if (strcmp(argv[i], LSL_DISTRO_KEY_SYSTEMD) == 0)
            s.systemd = strcmp(eq + 1, "auto") == 0 ? -1 : flag(eq + 1);
        else if (strcmp(argv[i], LSL_DISTRO_KEY_INIT_TIMEOUT) == 0) {
            if ((s.init_timeout_ms = parse_ms(eq + 1)) < 0)
                return usage();
        } else if (strcmp(argv[i], LSL_DISTRO_KEY_KEEP_ALIVE) == 0)
            keep = strcmp(eq + 1, "auto") == 0 ? LSL_KEEP_AUTO
                   : flag(eq + 1)              ? LSL_KEEP_ALWAYS
                                               : LSL_KEEP_NEVER;
        else if (strcmp(argv[i], LSL_DISTRO_KEY_UMASK) == 0) {
            /* From the user's wsl.conf: a bad value must not keep the distribution from starting. */
            if ((mask = parse_umask(eq + 1)) >= 0) {
                s.umask = (unsigned)mask;
            } else {
                snprintf(path, sizeof(path), "invalid [filesystem] umask '%.32s'; using %03o", eq + 1,
                         LSL_DISTRO_UMASK_DEFAULT);
                print_out(LSL_DISTRO_OUT_WARNING, path);
            }
        } else if (strcmp(argv[i], LSL_DISTRO_KEY_USER) == 0) {
            if (nusers == sizeof(users) / sizeof(users[0]))
                return usage();
            users[nusers++] = eq + 1;
        } else
            return usage();
    }
    if (lock_distro(name, root, sizeof(root)))
        return 1;
    if (lsl_is_mountpoint(root) <= 0) {
        fprintf(stderr, "lsl-distro: %s: the disk is not mounted\n", name);
        return 1;
    }
    for (size_t i = 0; i < nusers; i++)
        print_user_verdict(root, users[i]);
    fflush(stdout);
    if (lsl_distro_init_pid(name) > 0)
        return 0;
    s.root = root;
    shared_dir_setup();
    distro_shares_prepare(&shares);
    s.shares = &shares;
    fflush(stdout); /* its warnings, before the fork */
    snprintf(path, sizeof(path), "%s/%s", LSL_CGROUP_DIR, name);
    (void)lsl_mkdir_p(path, 0755);
    /* Before the init record: the idle stop's scan never sees the distribution without it. */
    char digit[] = {(char)('0' + keep), '\n', '\0'};
    (void)lsl_distro_record_put(name, LSL_DISTRO_KEEP_ALIVE_FILE, digit);
    snprintf(rec, sizeof(rec), "%04o\n", s.umask);
    (void)lsl_distro_record_put(name, LSL_DISTRO_UMASK_FILE, rec);
    pid = distro_spawn(&s);
    if (pid < 0)
        return 1;
    /* The start time makes the record immune to PID reuse (see distro_enter.c). */
    (void)lsl_proc_start_time(pid, &start);
    snprintf(rec, sizeof(rec), "%d %llu\n", (int)pid, start);
    if ((r = lsl_distro_record_put(name, LSL_DISTRO_INIT_FILE, rec)) < 0) {
        kill(pid, SIGKILL);
        return failed("cannot write the init record of", name, -r);
    }
    return 0;
}

static int cmd_stop(const char *name, const char *serial)
{
    char root[256];
    pid_t pid;
    int r;

    if (!lsl_distro_name_valid(name))
        return usage();
    if (lock_distro(name, root, sizeof(root)))
        return 1;
    pid = lsl_distro_init_pid(name);
    if (pid > 0) {
        /* lsl's init gives processes two seconds; systemd stops its units (each within
         * LSL_SYSTEMD_STOP_UNIT_S) on SIGRTMIN+4, its poweroff. Then the PID namespace goes with a SIGKILL.
         */
        bool systemd = lsl_distro_init_is_systemd(pid);
        kill(pid, systemd ? SIGRTMIN + 4 : SIGTERM);
        for (int i = 0; i < (systemd ? LSL_SYSTEMD_STOP_MS / 10 : 300) && kill(pid, 0) == 0; i++)
            lsl_sleep_ms(10);
        if (kill(pid, 0) == 0)
            kill(pid, SIGKILL);
        for (int i = 0; i < 500 && kill(pid, 0) == 0; i++)
            lsl_sleep_ms(10);
    }
    (void)lsl_distro_record_drop(name, LSL_DISTRO_INIT_FILE);
    if (lsl_is_mountpoint(root) > 0) {
        if ((r = distro_unmount(root)) < 0) /* waits until nothing holds the disk */
            return failed("cannot unmount the disk of", name, -r);
    } else if (serial && (r = distro_release(serial)) < 0) {
        /* Not mounted here (an earlier stop failed on a disk still in use): it must still be free to go. */
        return failed("the disk is still in use by", name, -r);
    }
    return 0;
}

static int cmd_list(void)
{
    DIR *d = opendir(LSL_DISTROS_DIR);
    struct dirent *de;

    while (d && (de = readdir(d)))
        if (de->d_name[0] != '.' && lsl_distro_init_pid(de->d_name) > 0)
            printf("%s\n", de->d_name);
    if (d)
        closedir(d);
    return 0;
}

/* GNU tar's option for each compression. Absolute paths: tar starts the program through /bin/sh, and
 * busybox's sh would run its own gzip or xz applet (xz only decompresses) for a bare name. */
static const char *compress_flag(const char *format)
{
    static const char *const map[][2] = {{"tar", NULL},
                                         {"gz", "--use-compress-program=/bin/gzip"},
                                         {"xz", "--use-compress-program=/bin/xz -T0"},
                                         {"zst", "--use-compress-program=/bin/zstd -T0"},
                                         {"bz2", "--use-compress-program=/bin/bzip2"}};

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(format, map[i][0]) == 0)
            return map[i][1] ? map[i][1] : "";
    return NULL;
}

/* Runs tar with stdin/stdout as they are; returns its exit status. */
static int run_tar(char *const argv[])
{
    pid_t pid = fork();
    int status;

    if (pid < 0)
        return failed("cannot", "fork", errno);
    if (pid == 0) {
        execvp(argv[0], argv);
        fprintf(stderr, "lsl-distro: cannot run tar: %s\n", strerror(errno));
        _exit(127);
    }
    if (waitpid(pid, &status, 0) < 0)
        return 1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Mounts SERIAL's disk at a fresh directory for import or export. */
static int temp_mount(const char *serial, char *dir, size_t dirlen)
{
    char dev[64];
    int r;

    snprintf(dir, dirlen, "/run/lsl/work/%s", serial);
    if ((r = lsl_mkdir_p(dir, 0755)) < 0)
        return failed("cannot create", dir, -r);
    if (lsl_is_mountpoint(dir) > 0)
        return 0;
    if ((r = distro_find_disk(serial, dev, sizeof(dev))) < 0)
        return failed("no disk with serial", serial, -r);
    if ((r = distro_mount_disk(dev, dir)) < 0)
        return failed("cannot mount", dev, -r);
    return 0;
}

static int cmd_import(const char *serial, const char *format)
{
    const char *z = compress_flag(format);
    char dir[128];
    int status, r;

    if (!lsl_disk_id_valid(serial) || !z)
        return usage();
    if (temp_mount(serial, dir, sizeof(dir)))
        return 1;
    {
        /* Owners by number (the distribution's passwd is not ours), modes, xattrs, ACLs, hardlinks and device
         * nodes as they are in the archive. */
        char *argv[] = {"tar",
                        "--extract",
                        "--file=-",
                        "--directory",
                        dir,
                        "--numeric-owner",
                        "--same-owner",
                        "--preserve-permissions",
                        "--xattrs",
                        "--xattrs-include=*",
                        "--acls",
                        "--warning=no-timestamp",
                        z[0] ? (char *)z : NULL,
                        NULL};
        status = run_tar(argv);
    }
    if (status == 0)
        distro_print_file(dir, "/etc/wsl-distribution.conf");
    sync();
    if ((r = distro_unmount(dir)) < 0 && status == 0)
        return failed("cannot unmount", dir, -r);
    rmdir(dir);
    return status ? 1 : 0;
}

static int cmd_export(const char *name, const char *serial, const char *format)
{
    const char *z = compress_flag(format);
    char root[256], dir[128];
    bool temp = false;
    int status, r;

    if (!lsl_distro_name_valid(name) || !lsl_disk_id_valid(serial) || !z)
        return usage();
    snprintf(root, sizeof(root), "%s/%s/root", LSL_DISTROS_DIR, name);
    if (lsl_is_mountpoint(root) <= 0) {
        if (temp_mount(serial, dir, sizeof(dir)))
            return 1;
        snprintf(root, sizeof(root), "%s", dir);
        temp = true;
    }
    {
        char *argv[] = {"tar",
                        "--create",
                        "--file=-",
                        "--directory",
                        root,
                        "--format=posix",
                        "--numeric-owner",
                        "--xattrs",
                        "--xattrs-include=*",
                        "--acls",
                        "--sparse",
                        "--one-file-system",
                        "--pax-option=delete=atime,delete=ctime",
                        z[0] ? (char *)z : ".",
                        z[0] ? "." : NULL,
                        NULL};
        status = run_tar(argv);
    }
    if (temp && (r = distro_unmount(root)) < 0 && status == 0)
        return failed("cannot unmount", root, -r);
    if (temp)
        rmdir(root);
    return status ? 1 : 0;
}

int lsl_distro_main(int argc, char **argv)
{
    /* Commands come from the agent with a minimal environment; tar and the compressors live in /bin. */
    setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 0);
    switch (lsl_distro_verb_parse(argc, argv)) {
    case LSL_DISTRO_MOUNT:
        return cmd_mount(argv[2], argv[3]);
    case LSL_DISTRO_START:
        return cmd_start(argv[2], argc - 3, argv + 3);
    case LSL_DISTRO_STOP:
        return argc == 4 && !lsl_disk_id_valid(argv[3]) ? usage()
                                                        : cmd_stop(argv[2], argc == 4 ? argv[3] : NULL);
    case LSL_DISTRO_LIST:
        return cmd_list();
    case LSL_DISTRO_IMPORT:
        return cmd_import(argv[2], argv[3]);
    case LSL_DISTRO_EXPORT:
        return cmd_export(argv[2], argv[3], argv[4]);
    default:
        return usage();
    }
}
