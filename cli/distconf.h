/* A distro's own configuration, parsed on the host from file contents the guest hands over: /etc/wsl.conf
 * with /etc/lsl.conf over it (key by key), and /etc/wsl-distribution.conf (first-boot OOBE settings). */
#ifndef LSL_CLI_DISTCONF_H
#define LSL_CLI_DISTCONF_H

#include <stdbool.h>

#include "config.h" /* lsl_warn_fn */
#include "distro.h" /* LSL_DISTRO_UMASK_DEFAULT, WSL's 0022 too */

#define LSL_HOSTNAME_MAX 64

struct lsl_distconf {
    /* wsl.conf / lsl.conf; strings are NULL when unset */
    char *boot_command;          /* [boot] command: run as root at distro start */
    int boot_systemd;            /* [boot] systemd: 1, 0, or -1 unset (on where the distro has systemd) */
    int boot_keep_alive;         /* [boot] keepAlive (lsl's): 1, 0, or -1 unset (what runs keeps the VM up) */
    int boot_init_timeout_ms;    /* [boot] initTimeout: the wait for systemd's boot, or -1 unset */
    char *user_default;          /* [user] default */
    char *network_hostname;      /* [network] hostname, cleaned as WSL cleans it (lsl_hostname_clean) */
    bool network_generate_hosts; /* [network] generateHosts, default true */
    bool network_generate_resolv_conf; /* [network] generateResolvConf, default true */
    bool automount_enabled;            /* [automount] enabled, default true */
    char *automount_root;              /* [automount] root, default "/mnt/" */
    char *automount_options;           /* [automount] options */
    bool automount_mount_fstab;        /* [automount] mountFsTab, default true: mount -a at start */
    int filesystem_umask;              /* [filesystem] umask, default 0022 (0 to 0777) */
    bool interop_enabled;              /* [interop] enabled, default true */
    bool interop_append_windows_path;  /* [interop] appendWindowsPath: parsed, no meaning on Linux hosts */
    /* wsl-distribution.conf */
    char *oobe_command;      /* [oobe] command: first-boot setup, e.g. creating the user */
    int oobe_default_uid;    /* [oobe] defaultUid, -1 if absent */
    char *oobe_default_name; /* [oobe] defaultName: the distro name suggested at install */
};

/* Defaults (allocates automount_root). Returns 0 or -ENOMEM. */
int lsl_distconf_init(struct lsl_distconf *d);
void lsl_distconf_free(struct lsl_distconf *d);
/* Parses wsl.conf, then lsl.conf over it (either may be NULL: file absent), as WSL reads wsl.conf
 * (conffile.h). Unknown keys, bad values and a key set twice in one file are warnings naming
 * /etc/<file>:LINE; a bad value keeps the default, a repeated key the file's first value, an invalid hostname
 * is cleaned. Returns 0 or -ENOMEM: no content is an error. */
int lsl_distconf_parse(struct lsl_distconf *d, const char *wsl_conf, const char *lsl_conf, lsl_warn_fn warn);
/* Parses /etc/wsl-distribution.conf ([oobe]; [shortcut] and [windowsterminal] are ignored silently). */
int lsl_distconf_parse_distribution(struct lsl_distconf *d, const char *text, lsl_warn_fn warn);
/* A hostname as WSL's CleanHostname leaves it: 1-64 letters, digits, '-' and at most one '.', neither of
 * those first or last, no '-' after a '-' or a '.', no '.' after a '-'. */
bool lsl_hostname_valid(const char *name);
/* WSL's CleanHostname: drops the characters that break those rules, cuts to 64, drops a trailing '-' or '.';
 * nothing left is "localhost". out gets a valid hostname. */
void lsl_hostname_clean(const char *in, char out[LSL_HOSTNAME_MAX + 1]);

#endif
