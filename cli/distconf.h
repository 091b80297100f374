/* A distro's own configuration, parsed on the host from file contents the guest hands over: /etc/wsl.conf
 * with /etc/lsl.conf over it (key by key), and /etc/wsl-distribution.conf (first-boot OOBE settings). */
#ifndef LSL_CLI_DISTCONF_H
#define LSL_CLI_DISTCONF_H

#include <stdbool.h>

#include "config.h" /* lsl_warn_fn */

#define LSL_HOSTNAME_MAX 64

struct lsl_distconf {
    /* wsl.conf / lsl.conf; strings are NULL when unset */
    char *boot_command;                /* [boot] command: run as root at distro start */
    bool boot_systemd;                 /* [boot] systemd: parsed only */
    char *user_default;                /* [user] default */
    char *network_hostname;            /* [network] hostname, validated */
    bool network_generate_hosts;       /* [network] generateHosts, default true */
    bool network_generate_resolv_conf; /* [network] generateResolvConf, default true */
    bool automount_enabled;            /* [automount] enabled, default true */
    char *automount_root;              /* [automount] root, default "/mnt/" */
    char *automount_options;           /* [automount] options */
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
/* Parses wsl.conf, then lsl.conf over it (either may be NULL: file absent). Unknown keys, bad values and
 * invalid hostnames are warnings naming /etc/<file>:LINE; the earlier value stays. Returns 0 or -ENOMEM. */
int lsl_distconf_parse(struct lsl_distconf *d, const char *wsl_conf, const char *lsl_conf, lsl_warn_fn warn);
/* Parses /etc/wsl-distribution.conf ([oobe]; [shortcut] and [windowsterminal] are ignored silently). */
int lsl_distconf_parse_distribution(struct lsl_distconf *d, const char *text, lsl_warn_fn warn);
/* RFC 1123 label: 1-64 of [A-Za-z0-9-], no '-' at either end. */
bool lsl_hostname_valid(const char *name);

#endif
