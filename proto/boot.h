/* The boot-time contract between lsl-vmm and lsl-init: what the VMM puts on the kernel command line,
 * what lsl-init prints when it is up, and how it hands the command's exit status back before poweroff.
 * Shared by host and guest; keep it free of anything but constants. */
#ifndef LSL_PROTO_BOOT_H
#define LSL_PROTO_BOOT_H

/* Kernel command line keys read by lsl-init (from /proc/cmdline). */
#define LSL_CMDLINE_CMD       "lsl.cmd="       /* argv as lowercase hex of "arg0\0arg1\0...argN\0" */
#define LSL_CMDLINE_ROOT      "lsl.root="      /* block device to mount and chroot into, e.g. /dev/vda */
#define LSL_CMDLINE_ROOTFLAGS "lsl.rootflags=" /* "ro" or "rw" (default rw) */
#define LSL_CMDLINE_AGENT     "lsl.agent="     /* "1": serve agent sessions on vsock (proto/agent.h) */
/* autoMemoryReclaim (WSL's key in ~/.lslconfig): how the guest keeps its page cache from pinning host memory
 * (guest/init/reclaim.c). Absent: gradual. */
#define LSL_CMDLINE_RECLAIM   "lsl.reclaim="
#define LSL_RECLAIM_GRADUAL   "gradual"
#define LSL_RECLAIM_DROPCACHE "dropcache"
#define LSL_RECLAIM_DISABLED  "disabled"
/* swap= (~/.lslconfig): a disk lsl-init makes a swap area at every boot, e.g. /dev/vdb. Absent: no swap. */
#define LSL_CMDLINE_SWAP "lsl.swap="
/* The host's DNS search domains, comma-separated (lsl-vmm --net; each [A-Za-z0-9._-], at most 6). */
#define LSL_CMDLINE_DNS_SEARCH "lsl.dns_search="

/* Printed by lsl-init on the console as soon as /proc is mounted: "<marker> uptime=<seconds>s". */
#define LSL_BOOT_MARKER "lsl-init: up"
/* Lines lsl-init prints with this prefix are copied by lsl-vmm to its stderr (the user needs them). */
#define LSL_INIT_ERROR_PREFIX "lsl-init: error: "

/* One-byte I/O port: lsl-init writes the exit status (0-255) here just before it powers the VM off.
 * lsl-vmm exits with the last value written; with none written it exits 0 on poweroff. */
#define LSL_EXIT_PORT 0x5f0

/* Exit codes of lsl-vmm that are not the guest command's own (chosen above common shell codes). */
#define LSL_VMM_EXIT_ERROR 125 /* bad options, unusable KVM, unreadable files: one line on stderr */
#define LSL_VMM_EXIT_PANIC 124 /* the guest kernel panicked: the panic line goes to stderr */

/* Exit statuses lsl-init reports for its own failures (like a shell's). */
#define LSL_INIT_EXIT_NOEXEC   126 /* command found but not executable */
#define LSL_INIT_EXIT_NOTFOUND 127 /* command not found */
#define LSL_INIT_EXIT_SETUP    125 /* could not mount the root disk or similar; error line printed */

#endif
