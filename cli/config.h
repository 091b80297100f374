/* The global configuration ~/.lslconfig (lsl's .wslconfig: [lsl] or [wsl2], read with WSL's grammar:
 * conffile.h). Order of precedence: built-in defaults, then the file, then the LSL_* environment variables.
 */
#ifndef LSL_CLI_CONFIG_H
#define LSL_CLI_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "conffile.h"
#include "control.h" /* LSL_IDLE_TIMEOUT_MAX_S */
#include "fwd.h"     /* socketForwarding */
#include "hostshare.h"

/* WSL's defaults: half the host's RAM (the guest commits only what it touches, and gives back what it
 * frees: vmm/devices/balloon.c) and every host CPU (an idle vCPU costs nothing). */
#define LSL_CONFIG_DEFAULT_MEMORY          lsl_config_default_memory()
#define LSL_CONFIG_MIN_MEMORY              (64ull << 20) /* lsl-vmm refuses less */
#define LSL_CONFIG_DEFAULT_PROCESSORS      lsl_config_default_processors()
#define LSL_CONFIG_MAX_PROCESSORS          1024
#define LSL_CONFIG_DEFAULT_IDLE_TIMEOUT_MS 60000
/* The owner of host files in the guest: the first user every distribution's setup makes (WSL's OOBE too). */
#define LSL_CONFIG_DEFAULT_SHARE_OWNER 1000
#define LSL_CONFIG_DEFAULT_VHD_SIZE    (1ull << 40)  /* WSL's default: 1 TiB, sparse */
#define LSL_CONFIG_MAX_SWAP            (16ull << 40) /* the swap header counts 2^32 pages */
#define LSL_CONFIG_MAX_SHARE_DAX       (64ull << 30) /* lsl-vmm's FS_DAX_MIB_MAX */

uint64_t lsl_config_default_memory(void);
unsigned lsl_config_default_processors(void);

struct lsl_config {
    uint64_t memory;              /* guest RAM in bytes */
    unsigned processors;          /* vCPUs */
    char *kernel;                 /* absolute path of a custom kernel, NULL = the built one */
    char *kernel_cmdline;         /* appended to the kernel command line, NULL = nothing */
    long long vm_idle_timeout_ms; /* VM shutdown after this long without sessions, -1 = never; at most
                                   * LSL_IDLE_TIMEOUT_MAX_S seconds (larger values are clamped) */
    uint64_t default_vhd_size;    /* maximum size of a new distro's ext4 image, bytes */
    char *catalog;                /* URL or file overriding the built-in distro catalog, NULL = built-in */
    /* hostShares: the host directories every distribution sees (proto/hostshare.h: "NAME=HOSTDIR;...",
     * each at its [automount] root/NAME); default host=/ (/mnt/host), empty: none */
    struct lsl_hostshares shares;
    /* hostShareOwner = UID[:GID]: the guest owner of the host user's files, default 1000:1000 */
    unsigned share_uid, share_gid;
    /* hostShareDax: each share's DAX window in bytes (a multiple of 2 MB; 0, the default: none): large
     * host files are read in place instead of through the guest's page cache (vmm/fs/dax.c) */
    uint64_t share_dax;
    /* localhostForwarding (WSL's key, default true): guest listeners reach the host's 127.0.0.1 and ::1;
     * localhostForwardingPorts / localhostForwardingExclude: only these ports / not these ("22, 8000-8100";
     * NULL: not given), checked by proto/fwd.h and passed to lsl-vmm as they are */
    bool localhost_forwarding;
    /* autoMemoryReclaim (WSL's key): gradual (default), dropCache or disabled, as proto/boot.h spells it */
    const char *memory_reclaim;
    char *forward_ports, *forward_exclude;
    /* socketForwarding: guest unix sockets at host paths while the VM runs (proto/fwd.h: "[NAME:]GUEST=HOST;
     * ..."), host paths absolute or relative to the runtime directory; default Docker's socket at
     * docker.sock there; empty: none */
    struct lsl_fwd_socks sockets;
    /* swap (WSL's key): the guest's swap size in bytes, 0 = none, -1 = WSL's default (a quarter of memory,
     * rounded up to whole GB: lsl_config_swap_bytes); swapFile: where on the host, NULL = the state dir's
     * swap.img. The file is sparse and emptied at every VM start. */
    int64_t swap;
    char *swap_file;
    /* isolated (default false): the VM gets neither the host shares nor interop, the two ways the guest holds
     * the host user's own rights; for untrusted work. VM-wide: every distribution shares the one kernel. */
    bool isolated;
};

/* Defaults, no allocation. */
void lsl_config_init(struct lsl_config *c);
void lsl_config_free(struct lsl_config *c);
static inline void lsl_config_freep(struct lsl_config *c)
{
    lsl_config_free(c);
}
/* lsl_config_init, then the file at path. A missing file gives the defaults; unknown keys and bad values are
 * warnings (the default stays); a key set twice keeps its first value, as with WSL, and warns. Returns 0, or
 * -errno after one error line if the file exists but cannot be read. */
int lsl_config_load(struct lsl_config *c, const char *path, lsl_warn_fn warn);
/* The same from text; name is what warnings call it (e.g. "~/.lslconfig"). Does not reset c first. */
int lsl_config_parse_string(struct lsl_config *c, const char *text, const char *name, lsl_warn_fn warn);
/* LSL_VM_MEMORY (size), LSL_VM_CPUS, LSL_VM_IDLE_TIMEOUT (seconds, negative = never) and LSL_KERNEL override
 * the file. Bad values warn and leave the file's value. */
void lsl_config_apply_env(struct lsl_config *c, lsl_warn_fn warn);
/* The swap size the VM gets: swap= or its default. */
uint64_t lsl_config_swap_bytes(const struct lsl_config *c);
/* The idle timeout as lsl-vmm --idle-timeout takes it: whole seconds (rounded up), -1 for never. */
long long lsl_config_idle_timeout_s(const struct lsl_config *c);

#endif
