/* Command-line parsing for lsl-vmm. */
#include "options.h"

#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h" /* LSL_IDLE_TIMEOUT_MAX_S */
#include "errmsg.h"
#include "io.h"
#include "log.h"
#include "macro.h"
#include "size.h"

enum {
    OPT_CMDLINE = 256,
    OPT_CONSOLE_LOG,
    OPT_STATS,
    OPT_KVM,
    OPT_ROOT,
    OPT_VSOCK,
    OPT_CID,
    OPT_SERVICE,
    OPT_IDLE,
    OPT_DISK_SLOTS,
    OPT_NET,
    OPT_SHARE,
    OPT_NO_FORWARD,
    OPT_FORWARD_PORTS,
    OPT_FORWARD_EXCLUDE,
    OPT_FORWARD_SOCKET,
    OPT_INTEROP,
    OPT_SOCKET_FD,
    OPT_WAKER,
    OPT_LOG,
};

static const struct option long_opts[] = {
    {"kernel", required_argument, NULL, 'k'},
    {"initrd", required_argument, NULL, 'i'},
    {"cmdline", required_argument, NULL, OPT_CMDLINE},
    {"append", required_argument, NULL, 'a'},
    {"memory", required_argument, NULL, 'm'},
    {"cpus", required_argument, NULL, 'c'},
    {"disk", required_argument, NULL, 'd'},
    {"root", required_argument, NULL, OPT_ROOT},
    {"console-log", required_argument, NULL, OPT_CONSOLE_LOG},
    {"console", no_argument, NULL, 'C'},
    {"stats", no_argument, NULL, OPT_STATS},
    {"kvm", required_argument, NULL, OPT_KVM},
    {"vsock", required_argument, NULL, OPT_VSOCK},
    {"cid", required_argument, NULL, OPT_CID},
    {"help", no_argument, NULL, 'h'},
    {"service", required_argument, NULL, OPT_SERVICE},
    {"idle-timeout", required_argument, NULL, OPT_IDLE},
    {"disk-slots", required_argument, NULL, OPT_DISK_SLOTS},
    {"net", no_argument, NULL, OPT_NET},
    {"share", required_argument, NULL, OPT_SHARE},
    {"no-localhost-forwarding", no_argument, NULL, OPT_NO_FORWARD},
    {"forward-ports", required_argument, NULL, OPT_FORWARD_PORTS},
    {"forward-exclude", required_argument, NULL, OPT_FORWARD_EXCLUDE},
    {"forward-socket", required_argument, NULL, OPT_FORWARD_SOCKET},
    {"interop", required_argument, NULL, OPT_INTEROP},
    {"socket-fd", required_argument, NULL, OPT_SOCKET_FD},
    {"waker", required_argument, NULL, OPT_WAKER},
    {"log", required_argument, NULL, OPT_LOG},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

void vmm_options_usage(FILE *f)
{
    fprintf(
        f,
        "usage: lsl-vmm --kernel FILE [options] [-- COMMAND [ARG...]]\n"
        "Boots a Linux kernel in a KVM virtual machine; with lsl-init as the initramfs, runs COMMAND in\n"
        "the guest and exits with its status.\n\n"
        "  -k, --kernel FILE       kernel: ELF vmlinux (fastest) or bzImage\n"
        "  -i, --initrd FILE       initramfs (lsl-init's is build/guest/initramfs.cpio)\n"
        "  -m, --memory SIZE       guest RAM, e.g. 512M, 2G (default 512M); allocated lazily\n"
        "  -c, --cpus N            vCPUs (default 1)\n"
        "  -d, --disk FILE[,ro]    raw disk image as virtio-blk (/dev/vda, /dev/vdb, ...); repeatable\n"
        "      --disk-slots N      N empty virtio-blk drives after the disks (0-%d), filled and emptied\n"
        "                          while the VM runs with the --service control requests attach/detach\n"
        "      --root DEV          have lsl-init mount DEV (e.g. /dev/vda) as / before COMMAND\n"
        "      --cmdline STR       kernel command line base (default \"%s\")\n"
        "  -a, --append STR        appended to the kernel command line\n"
        "      --console-log FILE  write the serial console here (default: none)\n"
        "  -C, --console           also copy the serial console to stdout\n"
        "      --stats             print boot timings and device counters on exit\n"
        "      --kvm DEV           KVM device (default /dev/kvm)\n"
        "      --vsock PATH        virtio-vsock: host programs reach guest port P by connecting to the\n"
        "                          unix socket PATH and sending \"CONNECT P\\n\" (answer: \"OK "
        "<port>\\n\");\n"
        "                          guest connections to CID 2 port P go to the unix socket PATH_P\n"
        "      --cid N             the guest's vsock CID (default 3, at least 3)\n"
        "      --net               virtio-net behind a user-mode NAT (libslirp, no root): the guest is\n"
        "                          10.0.2.15/24 and fec0::15/64, the host's 127.0.0.1 is 10.0.2.2, DNS\n"
        "                          at 10.0.2.3 follows the host's /etc/resolv.conf (on with --service)\n"
        "      --share TAG=DIR[,ro][,uid=N][,gid=N]\n"
        "                          share the host directory DIR as virtio-fs; the guest mounts it with\n"
        "                          mount -t virtiofs TAG /mnt/x; files the host user owns belong to uid/gid\n"
        "                          (default 1000) there; repeatable (more options: vmm/fs/share.h)\n"
        "      --service DIR       run as the per-user service: control socket DIR/control, vsock at\n"
        "                          DIR/vsock, lsl-init's agent on (what the lsl CLI starts)\n"
        "      --idle-timeout S    service mode: power off after S seconds without sessions (default 60;\n"
        "                          negative: never)\n"
        "      --no-localhost-forwarding  service mode: guest listeners are not forwarded to the host's\n"
        "                          127.0.0.1 and ::1 (they are by default)\n"
        "      --forward-ports LIST, --forward-exclude LIST  service mode: forward only the ports in LIST,\n"
        "                          or none of them (\"22, 8000-8100\")\n"
        "      --forward-socket [NAME:]GUEST=HOST  service mode: the guest unix socket GUEST (in\n"
        "                          distribution NAME, or any running one) at host path HOST; repeatable\n"
        "      --interop PROGRAM   service mode: guest connections to CID 2 port 5002 (lsl-host: host\n"
        "                          commands from the guest) are each served by PROGRAM, the connection\n"
        "                          its stdin (default: nobody listens there)\n"
        "      --socket-fd N       service mode: fd N is a --forward-socket's listener, handed over with\n"
        "                          the clients waiting in it (proto/wake.h); repeatable\n"
        "      --waker PROGRAM     service mode: at an idle stop the forwarded sockets' listeners go to\n"
        "                          PROGRAM (lsl-wake), and a client of one starts the VM again\n"
        "      --log LEVEL         error, warn, info or debug (default: LSL_LOG's, or warn)\n"
        "  -h, --help, -V, --version\n\n"
        "Exit status: the guest command's status (128+N if killed by signal N); 0 on plain poweroff;\n"
        "124 if the guest kernel panicked; 125 if lsl-vmm itself failed.\n",
        VMM_MAX_DISK_SLOTS, VMM_DEFAULT_CMDLINE);
}

/* A decimal number in [min, max], the whole of s. */
static bool parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static int parse_disk(char *arg, struct vmm_disk *d)
{
    d->readonly = false;
    char *comma = strrchr(arg, ',');
    if (comma) {
        if (strcmp(comma + 1, "ro") == 0)
            d->readonly = true;
        else if (strcmp(comma + 1, "rw") != 0)
            return -EINVAL;
        *comma = '\0';
    }
    if (!*arg)
        return -EINVAL;
    d->path = arg;
    return 0;
}

int vmm_options_parse(int argc, char **argv, struct vmm_options *o, char *err, unsigned errlen)
{
    memset(o, 0, sizeof(*o));
    o->memory = VMM_DEFAULT_MEMORY;
    o->cpus = 1;
    o->kvm_dev = "/dev/kvm";
    o->cid = VMM_DEFAULT_CID;
    o->log_level = -1;
    o->idle_timeout = 60;
    /* The service lsl starts gets no --stats; LSL_VMM_STATS=1 in lsl's environment asks it for the counters
     * in its log (the benchmarks' exits per MiB). */
    const char *stats = getenv("LSL_VMM_STATS");
    o->stats = stats && strcmp(stats, "1") == 0;
    lsl_fwd_policy_init(&o->forward);
    err[0] = '\0';
    optind = 0; /* full reset: parse may run more than once (tests) */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+:k:i:a:m:c:d:ChV", long_opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            o->kernel = optarg;
            break;
        case 'i':
            o->initrd = optarg;
            break;
        case OPT_CMDLINE:
            o->cmdline = optarg;
            break;
        case 'a':
            o->append = optarg;
            break;
        case 'm': {
            uint64_t v;
            if (parse_size(optarg, &v) < 0)
                return lsl_errmsg(err, errlen, "invalid --memory '%s' (use e.g. 512M or 2G)", optarg);
            if (v < VMM_MIN_MEMORY)
                return lsl_errmsg(err, errlen,
                                  "--memory %s is too small (minimum 64M; a size without a unit is bytes)",
                                  optarg);
            o->memory = v;
            break;
        }
        case 'c': {
            long v;
            if (!parse_long(optarg, 1, 255, &v))
                return lsl_errmsg(err, errlen, "invalid --cpus '%s' (1-255)", optarg);
            o->cpus = (unsigned)v;
            break;
        }
        case 'd':
            if (o->ndisks == VMM_MAX_DISKS)
                return lsl_errmsg(err, errlen, "too many disks (at most %d)", VMM_MAX_DISKS);
            if (parse_disk(optarg, &o->disks[o->ndisks]) < 0)
                return lsl_errmsg(err, errlen, "invalid --disk '%s' (FILE or FILE,ro)", optarg);
            o->ndisks++;
            break;
        case OPT_DISK_SLOTS: {
            long v;
            if (!parse_long(optarg, 0, VMM_MAX_DISK_SLOTS, &v))
                return lsl_errmsg(err, errlen, "invalid --disk-slots '%s' (0-%d)", optarg,
                                  VMM_MAX_DISK_SLOTS);
            o->disk_slots = (unsigned)v;
            break;
        }
        case OPT_NET:
            o->net = true;
            break;
        case OPT_SHARE:
            if (o->nshares == VMM_MAX_SHARES)
                return lsl_errmsg(err, errlen, "too many --share (at most %d)", VMM_MAX_SHARES);
            if (fs_share_parse(optarg, &o->shares[o->nshares], err, errlen) < 0)
                return -EINVAL;
            for (unsigned i = 0; i < o->nshares; i++)
                if (strcmp(o->shares[i].tag, o->shares[o->nshares].tag) == 0)
                    return lsl_errmsg(err, errlen, "--share tag '%s' given twice", o->shares[i].tag);
            o->nshares++;
            break;
        case OPT_ROOT:
            if (strncmp(optarg, "/dev/", 5) != 0 || strpbrk(optarg, " \t\n\""))
                return lsl_errmsg(err, errlen, "invalid --root '%s' (a guest device like /dev/vda)", optarg);
            o->root = optarg;
            break;
        case OPT_CONSOLE_LOG:
            o->console_log = optarg;
            break;
        case 'C':
            o->console = true;
            break;
        case OPT_STATS:
            o->stats = true;
            break;
        case OPT_KVM:
            o->kvm_dev = optarg;
            break;
        case OPT_VSOCK:
            if (!*optarg)
                return lsl_errmsg(err, errlen, "invalid --vsock '' (a unix socket path)");
            o->vsock = optarg;
            break;
        case OPT_SERVICE:
            if (!*optarg)
                return lsl_errmsg(err, errlen, "invalid --service '' (a directory)");
            o->service = optarg;
            break;
        case OPT_NO_FORWARD:
            o->forward.enabled = false;
            break;
        case OPT_FORWARD_PORTS:
            if (lsl_fwd_portset_parse(optarg, &o->forward.allow) < 0)
                return lsl_errmsg(err, errlen,
                                  "invalid --forward-ports '%s' (ports and ranges: 22, 8000-8100)", optarg);
            o->forward.allow_all = false;
            break;
        case OPT_FORWARD_EXCLUDE:
            if (lsl_fwd_portset_parse(optarg, &o->forward.deny) < 0)
                return lsl_errmsg(err, errlen,
                                  "invalid --forward-exclude '%s' (ports and ranges: 22, 8000-8100)", optarg);
            break;
        case OPT_FORWARD_SOCKET:
            if (lsl_fwd_socks_add(&o->sockets, optarg) < 0 || o->sockets.s[o->sockets.n - 1].host[0] != '/')
                return lsl_errmsg(err, errlen,
                                  "invalid --forward-socket '%s' ([NAME:]/guest/path=/host/path, each host "
                                  "path once, at most %d)",
                                  optarg, LSL_FWD_SOCKS_MAX);
            break;
        case OPT_LOG:
            if ((o->log_level = log_level_parse(optarg)) < 0)
                return lsl_errmsg(err, errlen, "invalid --log '%s' (error, warn, info or debug)", optarg);
            break;
        case OPT_INTEROP:
            if (optarg[0] != '/')
                return lsl_errmsg(err, errlen, "invalid --interop '%s' (an absolute program path)", optarg);
            o->interop = optarg;
            break;
        case OPT_SOCKET_FD: {
            long v;
            if (!parse_long(optarg, 3, INT_MAX, &v) || o->nsocket_fds >= LSL_FWD_SOCKS_MAX)
                return lsl_errmsg(err, errlen, "invalid --socket-fd '%s' (an open fd above 2, at most %d)",
                                  optarg, LSL_FWD_SOCKS_MAX);
            o->socket_fds[o->nsocket_fds++] = (int)v;
            break;
        }
        case OPT_WAKER:
            if (optarg[0] != '/')
                return lsl_errmsg(err, errlen, "invalid --waker '%s' (an absolute program path)", optarg);
            o->waker = optarg;
            break;
        case OPT_IDLE: {
            long v;
            if (!parse_long(optarg, -LSL_IDLE_TIMEOUT_MAX_S, LSL_IDLE_TIMEOUT_MAX_S, &v))
                return lsl_errmsg(err, errlen, "invalid --idle-timeout '%s' (seconds, negative: never)",
                                  optarg);
            o->idle_timeout = v < 0 ? -1 : (int)v;
            break;
        }
        case OPT_CID: {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            /* 0-2 are the hypervisor, local and host; U32_MAX is VMADDR_CID_ANY; the config field is 64-bit
             * but Linux guests use 32-bit CIDs. */
            if (errno || *end || end == optarg || optarg[0] == '-' || v < 3 || v >= 0xffffffffull)
                return lsl_errmsg(err, errlen, "invalid --cid '%s' (3-4294967294)", optarg);
            o->cid = v;
            break;
        }
        case 'h':
            o->help = true;
            return 0;
        case 'V':
            o->version = true;
            return 0;
        case ':':
            return lsl_errmsg(err, errlen, "option '%s' needs a value", argv[optind - 1]);
        default:
            return lsl_errmsg(err, errlen, "unknown option '%s' (see --help)", argv[optind - 1]);
        }
    }
    if (optind < argc) {
        /* Anything after the options (with or without "--") is the guest command. */
        o->command = &argv[optind];
    }
    if (!o->kernel)
        return lsl_errmsg(err, errlen, "no kernel given (--kernel FILE)");
    /* The service's distributions expect a network, as under WSL; lsl starts it with --service alone (its
     * argv has no room left for one more flag without growing it, which is the CLI's to do). */
    if (o->service)
        o->net = true;
    /* The network takes one of the virtio-mmio devices the disks could have had. */
    if (o->ndisks + o->disk_slots + o->net + o->nshares > VMM_MAX_DISKS_TOTAL)
        return lsl_errmsg(err, errlen, "%u disks and %u disk slots are too many (at most %d together)",
                          o->ndisks, o->disk_slots, VMM_MAX_DISKS_TOTAL);
    return 0;
}
