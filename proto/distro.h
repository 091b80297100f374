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

/* Keys of `start`. */
#define LSL_DISTRO_KEY_HOSTNAME "hostname" /* the UTS name and /etc/hostname */
#define LSL_DISTRO_KEY_HOSTS    "hosts"    /* 1/0: generate /etc/hosts */
#define LSL_DISTRO_KEY_RESOLV   "resolv"   /* 1/0: generate /etc/resolv.conf */
#define LSL_DISTRO_KEY_BOOT     "boot"     /* [boot] command, run as root by sh -c at start */
#define LSL_DISTRO_KEY_PORT     "port"     /* its own agent's vsock port */

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
