/* ~/.lslconfig: the [lsl]/[wsl2] keys and the environment overrides. Like WSL, nothing in the file is fatal:
 * a bad line or value is a warning and the default stays; a key set twice keeps its first value. */
#include "config.h"

#include "boot.h" /* proto/: the reclaim policies */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "macro.h"
#include "size.h"
#include "fwd.h"

#define MAX_IDLE_TIMEOUT_MS (LSL_IDLE_TIMEOUT_MAX_S * 1000LL)

uint64_t lsl_config_default_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    uint64_t half = pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size / 2 : 2ull << 30;
    half &= ~((1ull << 20) - 1); /* whole MiB, as --memory takes it */
    return half < LSL_CONFIG_MIN_MEMORY ? LSL_CONFIG_MIN_MEMORY : half;
}

unsigned lsl_config_default_processors(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > LSL_CONFIG_MAX_PROCESSORS ? LSL_CONFIG_MAX_PROCESSORS : (unsigned)n;
}

void lsl_config_init(struct lsl_config *c)
{
    *c = (struct lsl_config){
        .memory = LSL_CONFIG_DEFAULT_MEMORY,
        .processors = LSL_CONFIG_DEFAULT_PROCESSORS,
        .vm_idle_timeout_ms = LSL_CONFIG_DEFAULT_IDLE_TIMEOUT_MS,
        .default_vhd_size = LSL_CONFIG_DEFAULT_VHD_SIZE,
        .share_uid = LSL_CONFIG_DEFAULT_SHARE_OWNER,
        .share_gid = LSL_CONFIG_DEFAULT_SHARE_OWNER,
        .localhost_forwarding = true,
        .memory_reclaim = LSL_RECLAIM_GRADUAL,
        .swap = -1,
    };
    char err[8];
    (void)lsl_hostshares_parse(LSL_HOSTSHARES_DEFAULT, &c->shares, err, sizeof(err));
    (void)lsl_fwd_socks_parse(LSL_FWD_SOCKS_DEFAULT, &c->sockets);
}

void lsl_config_free(struct lsl_config *c)
{
    free(c->kernel);
    free(c->kernel_cmdline);
    free(c->catalog);
    free(c->forward_ports);
    free(c->forward_exclude);
    free(c->swap_file);
    c->kernel = c->kernel_cmdline = c->catalog = c->forward_ports = c->forward_exclude = c->swap_file = NULL;
}

static void set_string(char **slot, const char *value)
{
    char *copy = *value ? strdup(value) : NULL;
    if (*value && !copy)
        return; /* out of memory: keep the previous value; the caller's next allocation will report it */
    free(*slot);
    *slot = copy;
}

enum config_key {
    K_MEMORY,
    K_PROCESSORS,
    K_KERNEL,
    K_CMDLINE,
    K_IDLE,
    K_VHD_SIZE,
    K_CATALOG,
    K_SHARES,
    K_SHARE_OWNER,
    K_SHARE_DAX,
    K_FORWARDING,
    K_FORWARD_PORTS,
    K_FORWARD_EXCLUDE,
    K_RECLAIM,
    K_SWAP,
    K_SWAP_FILE,
    K_SOCKETS,
    K_ISOLATED,
    K_COUNT
};
static const char *const key_names[K_COUNT] = {
    [K_MEMORY] = "memory",
    [K_PROCESSORS] = "processors",
    [K_KERNEL] = "kernel",
    [K_CMDLINE] = "kernelCommandLine",
    [K_IDLE] = "vmIdleTimeout",
    [K_VHD_SIZE] = "defaultVhdSize",
    [K_CATALOG] = "catalog",
    [K_SHARES] = "hostShares",
    [K_SHARE_OWNER] = "hostShareOwner",
    [K_SHARE_DAX] = "hostShareDax",
    [K_FORWARDING] = "localhostForwarding",
    [K_ISOLATED] = "isolated",
    [K_FORWARD_PORTS] = "localhostForwardingPorts",
    [K_FORWARD_EXCLUDE] = "localhostForwardingExclude",
    [K_RECLAIM] = "autoMemoryReclaim",
    [K_SWAP] = "swap",
    [K_SWAP_FILE] = "swapFile",
    [K_SOCKETS] = "socketForwarding",
};

struct config_parse {
    struct lsl_config *c;
    const char *name;
    lsl_warn_fn warn;
    char last_unknown_section[128];
    int seen[K_COUNT]; /* the line that set each key, 0 if none yet: [lsl] and [wsl2] are one section */
};

static int parse_long_long(const char *s, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

/* hostShareOwner: "UID" (the group the same number) or "UID:GID". */
static int parse_owner(const char *value, unsigned *uid, unsigned *gid)
{
    char num[24];
    const char *colon = strchr(value, ':');
    size_t n = colon ? (size_t)(colon - value) : strlen(value);
    long long u, g;
    if (n >= sizeof(num))
        return -EINVAL;
    memcpy(num, value, n);
    num[n] = '\0';
    if (parse_long_long(num, 0, 0xfffffffe, &u) < 0 ||
        (colon && parse_long_long(colon + 1, 0, 0xfffffffe, &g) < 0))
        return -EINVAL;
    *uid = (unsigned)u;
    *gid = colon ? (unsigned)g : (unsigned)u;
    return 0;
}

/* kernel= takes an absolute path, or one under ~/ (WSL wants an absolute Windows path). */
static char *expand_home(const char *path)
{
    const char *home = getenv("HOME");
    char *out;
    if (path[0] == '~' && path[1] == '/' && home && *home)
        return asprintf(&out, "%s%s", home, path + 1) < 0 ? NULL : out;
    return path[0] == '/' ? strdup(path) : NULL;
}

static void config_on_key(void *user, int line, const char *section, const char *key, const char *value)
{
    struct config_parse *p = user;
    struct lsl_config *c = p->c;
    if (strcasecmp(section, "lsl") != 0 && strcasecmp(section, "wsl2") != 0) {
        /* One warning per unknown section, not per key in it. */
        if (strcmp(p->last_unknown_section, section) != 0 || !*section) {
            snprintf(p->last_unknown_section, sizeof(p->last_unknown_section), "%s", section);
            if (*section)
                lsl_warn(p->warn, "%s:%d: unknown section [%s] (ignored)", p->name, line, section);
            else
                lsl_warn(p->warn, "%s:%d: '%s' outside a section (ignored)", p->name, line, key);
        }
        return;
    }
    enum config_key k = 0;
    while (k < K_COUNT && strcasecmp(key, key_names[k]) != 0)
        k++;
    if (k == K_COUNT) {
        lsl_warn(p->warn, "%s:%d: unknown key '%s' in [%s] (ignored)", p->name, line, key, section);
        return;
    }
    if (p->seen[k]) {
        /* WSL's rule: the first one counts, even when its value was bad (the default then stays). */
        lsl_warn(p->warn, "%s:%d: %s was set on line %d already; that value stays", p->name, line,
                 key_names[k], p->seen[k]);
        return;
    }
    p->seen[k] = line;
    uint64_t size;
    long long n;
    switch (k) {
    case K_MEMORY:
        if (parse_size(value, &size) < 0 || size < LSL_CONFIG_MIN_MEMORY)
            goto bad;
        c->memory = size;
        break;
    case K_PROCESSORS:
        if (parse_long_long(value, 1, LSL_CONFIG_MAX_PROCESSORS, &n) < 0)
            goto bad;
        c->processors = (unsigned)n;
        break;
    case K_KERNEL:
    case K_SWAP_FILE: {
        char *path = *value ? expand_home(value) : NULL, **slot = k == K_KERNEL ? &c->kernel : &c->swap_file;
        if (*value && !path)
            goto bad;
        free(*slot);
        *slot = path;
        break;
    }
    case K_SWAP:
        if (parse_size(value, &size) < 0 || size > LSL_CONFIG_MAX_SWAP)
            goto bad;
        c->swap = (int64_t)size;
        break;
    case K_CMDLINE:
        set_string(&c->kernel_cmdline, value);
        break;
    case K_IDLE:
        if (parse_long_long(value, LLONG_MIN, LLONG_MAX, &n) < 0)
            goto bad;
        /* A huge timeout means "hardly ever": the longest the VMM takes, said once. */
        if (n > MAX_IDLE_TIMEOUT_MS) {
            lsl_warn(p->warn,
                     "%s:%d: vmIdleTimeout %lld is over the maximum %lld ms (about 11 days); using that",
                     p->name, line, n, MAX_IDLE_TIMEOUT_MS);
            n = MAX_IDLE_TIMEOUT_MS;
        }
        c->vm_idle_timeout_ms = n < 0 ? -1 : n;
        break;
    case K_VHD_SIZE:
        if (parse_size(value, &size) < 0 || size == 0)
            goto bad;
        c->default_vhd_size = size;
        break;
    case K_CATALOG:
        set_string(&c->catalog, value);
        break;
    case K_SHARES: {
        struct lsl_hostshares shares;
        char why[160];
        if (lsl_hostshares_parse(value, &shares, why, sizeof(why)) < 0) {
            lsl_warn(p->warn, "%s:%d: invalid hostShares: %s (default kept)", p->name, line, why);
            return;
        }
        c->shares = shares;
        break;
    }
    case K_SHARE_OWNER:
        if (parse_owner(value, &c->share_uid, &c->share_gid) < 0)
            goto bad;
        break;
    case K_SHARE_DAX:
        /* The guest maps the window in 2 MiB ranges (vmm/fs/dax.c). */
        if (parse_size(value, &size) < 0 || size % (2u << 20) || size > LSL_CONFIG_MAX_SHARE_DAX)
            goto bad;
        c->share_dax = size;
        break;
    case K_FORWARDING:
        if (lsl_parse_bool(value, &c->localhost_forwarding) < 0)
            goto bad;
        break;
    case K_ISOLATED:
        if (lsl_parse_bool(value, &c->isolated) < 0)
            goto bad;
        break;
    case K_FORWARD_PORTS:
    case K_FORWARD_EXCLUDE: {
        /* Checked here, handed to lsl-vmm as written (--forward-ports, --forward-exclude). */
        struct lsl_fwd_portset *set = malloc(sizeof(*set));
        bool ok = set && lsl_fwd_portset_parse(value, set) == 0;
        free(set);
        if (!ok)
            goto bad;
        set_string(k == K_FORWARD_PORTS ? &c->forward_ports : &c->forward_exclude, value);
        /* An empty allow list is "no port", not "not given". */
        if (k == K_FORWARD_PORTS && !*value)
            set_string(&c->forward_ports, " ");
        break;
    }
    case K_SOCKETS: {
        /* Host paths as written, ~/ expanded here; a relative one is under the runtime directory (the CLI
         * makes it absolute when it starts the service). */
        struct lsl_fwd_socks socks;
        if (lsl_fwd_socks_parse(value, &socks) < 0)
            goto bad;
        for (size_t i = 0; i < socks.n; i++) {
            char *host = socks.s[i].host;
            if (host[0] != '~')
                continue;
            _cleanup_free_ char *abs = expand_home(host);
            if (!abs || strlen(abs) >= sizeof(socks.s[i].host))
                goto bad;
            memcpy(host, abs, strlen(abs) + 1);
        }
        c->sockets = socks;
        break;
    }
    case K_RECLAIM: {
        /* WSL's values, any case; the guest's policy (guest/init/reclaim.c) by its lsl.reclaim= name. */
        static const char *const policies[] = {LSL_RECLAIM_GRADUAL, LSL_RECLAIM_DROPCACHE,
                                               LSL_RECLAIM_DISABLED};
        size_t i = 0;
        while (i < sizeof(policies) / sizeof(policies[0]) && strcasecmp(value, policies[i]) != 0)
            i++;
        if (i == sizeof(policies) / sizeof(policies[0]))
            goto bad;
        c->memory_reclaim = policies[i];
        break;
    }
    case K_COUNT:
        break;
    }
    return;
bad:
    lsl_warn(p->warn, "%s:%d: invalid value '%s' for %s (default kept)", p->name, line, value, key);
}

int lsl_config_parse_string(struct lsl_config *c, const char *text, const char *name, lsl_warn_fn warn)
{
    struct config_parse p = {.c = c, .name = name, .warn = warn};
    return lsl_ini_parse_string(text, name, warn, config_on_key, &p);
}

/* Far more than any configuration file; a bigger one is not read into memory. */
#define CONFIG_FILE_MAX (1u << 20)

int lsl_config_load(struct lsl_config *c, const char *path, lsl_warn_fn warn)
{
    lsl_config_init(c);
    _cleanup_free_ char *text = NULL;
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 0;
    int r = fd < 0 ? -errno : read_fd_text(fd, CONFIG_FILE_MAX, &text, NULL);
    if (r < 0)
        return log_errno(-r, "cannot read %s", path);
    /* Warnings name the file the way users write it. */
    char name[PATH_MAX];
    const char *home = getenv("HOME");
    size_t hl = home ? strlen(home) : 0;
    if (hl > 1 && strncmp(path, home, hl) == 0 && path[hl] == '/')
        snprintf(name, sizeof(name), "~%s", path + hl);
    else
        snprintf(name, sizeof(name), "%s", path);
    return lsl_config_parse_string(c, text, name, warn);
}

void lsl_config_apply_env(struct lsl_config *c, lsl_warn_fn warn)
{
    const char *e;
    uint64_t size;
    long long n;
    if ((e = getenv("LSL_VM_MEMORY")) && *e) {
        if (parse_size(e, &size) == 0 && size >= LSL_CONFIG_MIN_MEMORY)
            c->memory = size;
        else
            lsl_warn(warn, "ignoring LSL_VM_MEMORY='%s' (a size like 2G)", e);
    }
    if ((e = getenv("LSL_VM_CPUS")) && *e) {
        if (parse_long_long(e, 1, LSL_CONFIG_MAX_PROCESSORS, &n) == 0)
            c->processors = (unsigned)n;
        else
            lsl_warn(warn, "ignoring LSL_VM_CPUS='%s' (1 to %d)", e, LSL_CONFIG_MAX_PROCESSORS);
    }
    if ((e = getenv("LSL_VM_IDLE_TIMEOUT")) && *e) {
        if (parse_long_long(e, LLONG_MIN, LLONG_MAX, &n) < 0) {
            lsl_warn(warn, "ignoring LSL_VM_IDLE_TIMEOUT='%s' (seconds; negative = never)", e);
        } else {
            if (n > LSL_IDLE_TIMEOUT_MAX_S) {
                lsl_warn(warn,
                         "LSL_VM_IDLE_TIMEOUT=%lld is over the maximum %d s (about 11 days); using that", n,
                         LSL_IDLE_TIMEOUT_MAX_S);
                n = LSL_IDLE_TIMEOUT_MAX_S;
            }
            c->vm_idle_timeout_ms = n < 0 ? -1 : n * 1000;
        }
    }
    if ((e = getenv("LSL_KERNEL")) && *e)
        set_string(&c->kernel, e);
}

uint64_t lsl_config_swap_bytes(const struct lsl_config *c)
{
    if (c->swap >= 0)
        return (uint64_t)c->swap;
    uint64_t gb = 1ull << 30;
    return (c->memory / 4 + gb - 1) / gb * gb;
}

long long lsl_config_idle_timeout_s(const struct lsl_config *c)
{
    long long ms =
        MIN(c->vm_idle_timeout_ms, MAX_IDLE_TIMEOUT_MS); /* clamped when parsed; a caller's own too */
    return ms < 0 ? -1 : (ms + 999) / 1000;
}
