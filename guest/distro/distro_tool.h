/* lsl-distro: the system root's tool for distributions, the same binary as lsl-init (called by that name).
 * The host runs it through the agent in the system root (an EXEC with an empty distro); its verbs, start
 * keys and output framing are the contract in proto/distro.h. Exit status 0 on success, 1 on failure with
 * one line on stderr, 2 for bad usage. */
#ifndef LSL_GUEST_DISTRO_TOOL_H
#define LSL_GUEST_DISTRO_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

int lsl_distro_main(int argc, char **argv);

/* disk.c */
/* Waits (up to a few seconds: the medium change is asynchronous) for the virtio disk with that serial and
 * a nonzero size; writes "/dev/vdX" into dev. Returns 0 or -ENOENT. */
int distro_find_disk(const char *serial, char *dev, size_t devlen);
int distro_mount_disk(const char *dev, const char *target);
/* Unmounts target, retrying while a namespace that still holds it is torn down, then waits (up to 10 s)
 * until nothing holds its disk any more, so the host may take it out. Returns 0 or -errno (-EBUSY: the
 * disk is still in use). */
int distro_unmount(const char *target);
/* Waits like distro_unmount until nothing holds the disk with that serial (none attached: nothing to do). */
int distro_release(const char *serial);
/* Prints root/PATH framed as above when it is a regular file (resolved inside root: a distribution's
 * symlinks never lead out of it). Missing files are skipped. */
void distro_print_file(const char *root, const char *path);

/* init.c */
struct distro_shares;
struct distro_start {
    const char *name;
    const char *root;     /* the mounted disk */
    const char *hostname; /* NULL: the name */
    bool hosts, resolv;   /* generate /etc/hosts, /etc/resolv.conf */
    const char *boot;     /* [boot] command, or NULL */
    unsigned port;        /* the distribution's agent port, or 0 for none (sessions join it from outside) */
    unsigned umask;       /* [filesystem] umask */
    bool fstab;           /* [automount] mountFsTab: mount its /etc/fstab */
    int systemd;          /* [boot] systemd: 1, 0, -1 where the distribution has it */
    int init_timeout_ms;  /* [boot] initTimeout: how long to wait for systemd's boot (0: not at all) */
    bool interop;         /* [interop] enabled: lsl-host may ask the host (lsl_host.h) */
    const struct distro_shares *shares; /* the host shares to bind in (automount.h), NULL for none */
};
/* Starts the distribution's PID 1 in new namespaces. Returns its PID (in the system's PID namespace) once
 * it has set up its root (with systemd: once systemd is up, or gave up), or -errno with the reason on
 * stderr. Warnings of its setup (fstab) go to stdout as "warning" lines (proto/distro.h). */
pid_t distro_spawn(const struct distro_start *s);
/* For PID 1's setup: a record on the readiness pipe ('F' failed, 'W' warning), a failure that ends it, and
 * the [boot] command started in the background. */
void distro_report(int ready, char kind, const char *text);
_Noreturn void distro_fail(int ready, const char *what, int err);
void distro_run_boot_command(const char *cmd);

/* systemd.c */
/* Whether the distribution (our root now) has systemd to run as its PID 1. */
bool distro_has_systemd(void);
/* Hands PID 1 over to systemd, lsl's agent and [boot] command forked off first (see systemd.c). */
_Noreturn void distro_exec_systemd(const struct distro_start *s, int ready, int listener);
/* The VM's shutdown, from its PID 1 (which reaps them): every distribution's systemd powers off, all of
 * them within LSL_SYSTEMD_STOP_MS, before what is left gets SIGTERM (which systemd takes as "re-execute"). */
void distro_systemd_stop_all(void);

#endif
