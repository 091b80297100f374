/* Distributions across the host/guest line: the rules for names and disk ids both sides check, the disk slot
 * count, and lsl-distro's command line and output framing. lsl-distro is lsl-init's binary under another
 * name, so this contract is versioned with the agent's (LSL_AGENT_VERSION): bump that when it changes. Plain
 * C, no dependencies: built into the CLI, the VMM and the static guest binary. */
#ifndef LSL_PROTO_DISTRO_H
#define LSL_PROTO_DISTRO_H

#include <stdbool.h>
#include <stddef.h>

/* virtio-blk disk slots (lsl-vmm --disk-slots): at most this many, each also a distribution agent's vsock
 * port (proto/agent.h), and how many the per-user service creates: one per distribution running at the same
 * time and one per import or export under way. */
#define LSL_DISK_SLOTS_MAX     24
#define LSL_SERVICE_DISK_SLOTS 12

/* A distribution's name: 1-64 of [A-Za-z0-9._-], not starting with '.' or '-'. It is a path component in
 * the guest and on the host, and a word in control lines. */
#define LSL_DISTRO_NAME_MAX 64
bool lsl_distro_name_valid(const char *name);

/* A disk id, the virtio-blk serial a disk is found by in the guest: 1-20 of [A-Za-z0-9._-] (GET_ID returns
 * 20 bytes). */
#define LSL_DISK_ID_MAX 20
bool lsl_disk_id_valid(const char *id);

/* lsl-distro's verbs, run by the host through the system agent:
 *   mount NAME SERIAL          mount the disk with that serial for NAME, print its configuration files
 *   start NAME [KEY=VALUE...]  start NAME's namespaces and PID 1 (keys below)
 *   stop NAME [SERIAL]         stop it, unmount its disk, wait until nothing holds SERIAL's disk
 *   list                       the running distributions' names, one per line
 *   import SERIAL FORMAT       unpack the tar on stdin onto the empty disk SERIAL, print its
 *                              wsl-distribution.conf
 *   export NAME SERIAL FORMAT  write NAME's files to stdout as a tar */
#define LSL_DISTRO_TOOL "lsl-distro"
enum lsl_distro_verb {
    LSL_DISTRO_MOUNT,
    LSL_DISTRO_START,
    LSL_DISTRO_STOP,
    LSL_DISTRO_LIST,
    LSL_DISTRO_IMPORT,
    LSL_DISTRO_EXPORT,
};
/* The verb's word on the command line. */
const char *lsl_distro_verb_name(enum lsl_distro_verb v);
/* Which verb argv (argv[0] the tool, argv[1] the verb) is, with an argument count the verb takes; -1 if
 * none. start takes any number of KEY=VALUE words after NAME. */
int lsl_distro_verb_parse(int argc, char *const argv[]);

/* Keys of `start`. Those marked "at start" apply when the distribution is not running yet; a start of a
 * running distribution changes nothing but still answers user= keys. */
#define LSL_DISTRO_KEY_HOSTNAME "hostname" /* at start: the UTS name, written to /etc/hostname */
#define LSL_DISTRO_KEY_HOSTS    "hosts"    /* at start: 1/0: generate /etc/hosts */
#define LSL_DISTRO_KEY_RESOLV   "resolv"   /* at start: 1/0: generate /etc/resolv.conf */
#define LSL_DISTRO_KEY_BOOT     "boot"     /* at start: [boot] command, run as root by sh -c */
#define LSL_DISTRO_KEY_PORT     "port"     /* at start: its own agent's vsock port */
/* at start: [boot] systemd: 1, 0, or "auto" (the default: systemd as its PID 1 where it has one) */
#define LSL_DISTRO_KEY_SYSTEMD "systemd"
/* at start: [boot] keepAlive: 1 (the VM stays up while the distribution runs), 0 (what runs in it never keeps
 * the VM up; sessions still do), or "auto" (the default: what runs in it does) */
#define LSL_DISTRO_KEY_KEEP_ALIVE "keepalive"
/* at start: [boot] initTimeout, milliseconds (WSL's key): how long the start waits for systemd's boot before
 * it goes on (0: it does not wait). Default LSL_DISTRO_INIT_TIMEOUT_MS: longer than WSL's 10 s, for emulated
 * hosts, where a distribution's systemd with Docker takes minutes. */
#define LSL_DISTRO_KEY_INIT_TIMEOUT    "inittimeout"
#define LSL_DISTRO_INIT_TIMEOUT_MS     120000
#define LSL_DISTRO_INIT_TIMEOUT_MAX_MS 3600000
/* at start: [interop] enabled, 1/0: whether lsl-host (and xdg-open, where lsl links it) may ask the host to
 * run commands; the guest's half of the check (LSL_INTEROP_FILE), the host keeps its own. Default 1. */
#define LSL_DISTRO_KEY_INTEROP "interop"
/* In a running distribution: its name when interop is on for it (what lsl-host sends), absent when off. */
#define LSL_INTEROP_FILE "/run/lsl/interop"
/* at start: [filesystem] umask, octal ("022", "0077"; at most 0777): the umask of the [boot] command and of
 * every session's processes. Default 022; a value that is no umask keeps it and prints a warning line. */
#define LSL_DISTRO_KEY_UMASK "umask"
/* at start: [automount] mountFsTab, 1/0: mount the distribution's /etc/fstab as `mount -a` would, inside it.
 * Default 1. Entries that fail print one warning line in all; the distribution starts all the same. */
#define LSL_DISTRO_KEY_FSTAB "fstab"
/* at start: the host's shares (proto/hostshare.h's list, as lsl-vmm got them with --share) and
 * [automount] enabled (1/0), root (default /mnt/) and options: each share is mounted at ROOT/NAME unless
 * automount=0, options that map onto a bind mount (ro, noexec, nosuid, nodev, noatime...) are applied and
 * the others are one warning line; shareowner=UID:GID is whom the host user's files show as (the VM's one
 * owner: one virtio-fs superblock serves every distribution), which uid=/gid= options are checked against. */
#define LSL_DISTRO_KEY_SHARES     "shares"
#define LSL_DISTRO_KEY_AUTOMOUNT  "automount"
#define LSL_DISTRO_KEY_MOUNTROOT  "mountroot"
#define LSL_DISTRO_KEY_MOUNTOPTS  "mountopts"
#define LSL_DISTRO_KEY_SHAREOWNER "shareowner"
/* user=NAME, up to LSL_DISTRO_USERS_MAX times: whether the distribution's /etc/passwd has NAME (a name, or
 * when all digits and no name matches, a UID: what the agent accepts as EXEC's user). Answered by a "user"
 * line each, in the order given, also when the distribution was running already. */
#define LSL_DISTRO_KEY_USER      "user"
#define LSL_DISTRO_USERS_MAX     16
#define LSL_DISTRO_UMASK_DEFAULT 022

/* What `start` prints on stdout, one line each, for the host to act on:
 *   "user yes NAME" / "user no NAME"   the answer to each user=NAME key, in the order of the keys
 *   "warning TEXT"                      something the user should see (fstab entries that failed, a bad
 *                                       key value); the distribution started all the same
 * TEXT and NAME are printable ASCII (others become '?'), at most LSL_DISTRO_OUT_TEXT_MAX bytes. Failures
 * are not lines here: they exit 1 with one line on stderr. */
#define LSL_DISTRO_OUT_TEXT_MAX 240
enum lsl_distro_out_kind {
    LSL_DISTRO_OUT_USER_YES,
    LSL_DISTRO_OUT_USER_NO,
    LSL_DISTRO_OUT_WARNING,
};
struct lsl_distro_out {
    enum lsl_distro_out_kind kind;
    char text[LSL_DISTRO_OUT_TEXT_MAX + 1]; /* the user name, or the warning */
};
/* Formats one line (with its newline) into buf, text made printable and cut to LSL_DISTRO_OUT_TEXT_MAX.
 * Returns its length, or -1 when it does not fit. */
int lsl_distro_out_format(char *buf, size_t buflen, enum lsl_distro_out_kind kind, const char *text);
/* The next line of text[*pos, textlen). Returns 1 with *o filled and *pos past the line, 0 at the end, -1
 * for a line that is none of the above (*pos is past it too: a newer guest's lines can be skipped). */
int lsl_distro_out_next(const char *text, size_t textlen, size_t *pos, struct lsl_distro_out *o);

/* Archive formats of import and export: GNU tar's compressor for each. */
#define LSL_ARCHIVE_FORMATS "tar|gz|xz|zst|bz2"
bool lsl_archive_format_valid(const char *format);

/* Files lsl-distro prints (mount, import) are framed as "@@lsl-file PATH LENGTH\n", LENGTH bytes, "\n", so
 * any content, even one that looks like a header or holds NULs, arrives as it is. */
#define LSL_FILE_FRAME_MAGIC    "@@lsl-file "
#define LSL_FILE_FRAME_PATH_MAX 255
/* The header for a file of len bytes at path (no spaces or newlines) into buf. Returns its length, or -1. */
int lsl_file_frame_header(char *buf, size_t buflen, const char *path, size_t len);
struct lsl_file_frame {
    char path[LSL_FILE_FRAME_PATH_MAX + 1];
    const char *data; /* points into the parsed text */
    size_t len;
};
/* The next frame of text[*pos, textlen). Returns 1 with f filled and *pos advanced, 0 at the end, -1 when
 * the text is not a sequence of frames. */
int lsl_file_frame_next(const char *text, size_t textlen, size_t *pos, struct lsl_file_frame *f);

#endif
