/* The global configuration ~/.lslconfig (lsl's .wslconfig: [lsl] or [wsl2]) and the INI reading (libinih with
 * line numbers) that the per-distro wsl.conf shares. Order of precedence: built-in defaults, then the file,
 * then the LSL_* environment variables. */
#ifndef LSL_CLI_CONFIG_H
#define LSL_CLI_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

/* Receives one warning, without the "lsl: " prefix or a newline. NULL prints "lsl: <line>" on stderr. */
typedef void (*lsl_warn_fn)(const char *line);

#define LSL_CONFIG_DEFAULT_MEMORY          (2ull << 30)
#define LSL_CONFIG_MIN_MEMORY              (64ull << 20) /* lsl-vmm refuses less */
#define LSL_CONFIG_DEFAULT_PROCESSORS      2
#define LSL_CONFIG_MAX_PROCESSORS          1024
#define LSL_CONFIG_DEFAULT_IDLE_TIMEOUT_MS 60000
#define LSL_CONFIG_DEFAULT_VHD_SIZE        (1ull << 40) /* WSL's default: 1 TiB, sparse */

struct lsl_config {
    uint64_t memory;              /* guest RAM in bytes */
    unsigned processors;          /* vCPUs */
    char *kernel;                 /* absolute path of a custom kernel, NULL = the built one */
    char *kernel_cmdline;         /* appended to the kernel command line, NULL = nothing */
    long long vm_idle_timeout_ms; /* VM shutdown after this long without sessions, -1 = never */
    uint64_t default_vhd_size;    /* maximum size of a new distro's ext4 image, bytes */
    char *catalog;                /* URL or file overriding the built-in distro catalog, NULL = built-in */
};

/* Defaults, no allocation. */
void lsl_config_init(struct lsl_config *c);
void lsl_config_free(struct lsl_config *c);
/* lsl_config_init, then the file at path. A missing file gives the defaults; unknown keys and bad values are
 * warnings (the default stays). Returns 0, or -errno after one error line if the file exists but cannot be
 * read. */
int lsl_config_load(struct lsl_config *c, const char *path, lsl_warn_fn warn);
/* The same from text; name is what warnings call it (e.g. "~/.lslconfig"). Does not reset c first. */
int lsl_config_parse_string(struct lsl_config *c, const char *text, const char *name, lsl_warn_fn warn);
/* LSL_VM_MEMORY (size), LSL_VM_CPUS, LSL_VM_IDLE_TIMEOUT (seconds, negative = never) and LSL_KERNEL override
 * the file. Bad values warn and leave the file's value. */
void lsl_config_apply_env(struct lsl_config *c, lsl_warn_fn warn);

/* --- shared with distconf.c --- */

/* Formats one warning and hands it to warn (or stderr). */
void lsl_warn(lsl_warn_fn warn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Called per key with the value's surrounding double quotes stripped; line is the 1-based line number. */
typedef void (*lsl_ini_handler)(void *user, int line, const char *section, const char *key,
                                const char *value);
/* Parses INI text with libinih. Lines libinih rejects and over-long lines are one warning each (and
 * skipped), named "name:LINE". Returns 0 or -ENOMEM. */
int lsl_ini_parse_string(const char *text, const char *name, lsl_warn_fn warn, lsl_ini_handler handler,
                         void *user);
/* true/false/yes/no/on/off/1/0, case-insensitive. Returns 0 or -EINVAL. */
int lsl_parse_bool(const char *s, bool *out);

#endif
