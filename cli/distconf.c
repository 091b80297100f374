/* wsl.conf, lsl.conf and wsl-distribution.conf: tables of the keys WSL defines, read with WSL's grammar
 * (conffile.c) and WSL's value rules (its booleans and integers, the first of a repeated key, hostnames
 * cleaned). WSL keys that mean nothing on a Linux host are accepted silently. */
#include "distconf.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum key_kind {
    KEY_STRING,
    KEY_BOOL,
    KEY_TRIBOOL,
    KEY_HOSTNAME,
    KEY_PATH,
    KEY_UID,
    KEY_UMASK,
    KEY_MILLIS,
    KEY_IGNORED
};

struct key {
    const char *section, *name;
    enum key_kind kind;
    size_t offset; /* into struct lsl_distconf */
};

#define FIELD(f) offsetof(struct lsl_distconf, f)
#define KEYS_MAX 48 /* entries of the longest table */

static const struct key wsl_conf_keys[] = {
    {"boot", "command", KEY_STRING, FIELD(boot_command)},
    {"boot", "systemd", KEY_TRIBOOL, FIELD(boot_systemd)},
    {"boot", "keepAlive", KEY_TRIBOOL, FIELD(boot_keep_alive)},
    {"boot", "protectBinfmt", KEY_IGNORED, 0},
    {"boot", "initTimeout", KEY_MILLIS, FIELD(boot_init_timeout_ms)},
    {"user", "default", KEY_STRING, FIELD(user_default)},
    {"network", "hostname", KEY_HOSTNAME, FIELD(network_hostname)},
    {"network", "generateHosts", KEY_BOOL, FIELD(network_generate_hosts)},
    {"network", "generateResolvConf", KEY_BOOL, FIELD(network_generate_resolv_conf)},
    {"automount", "enabled", KEY_BOOL, FIELD(automount_enabled)},
    {"automount", "root", KEY_PATH, FIELD(automount_root)},
    {"automount", "options", KEY_STRING, FIELD(automount_options)},
    {"automount", "mountFsTab", KEY_BOOL, FIELD(automount_mount_fstab)},
    {"automount", "ldconfig", KEY_IGNORED, 0},
    {"automount", "cgroups", KEY_IGNORED, 0},
    {"interop", "enabled", KEY_BOOL, FIELD(interop_enabled)},
    {"interop", "appendWindowsPath", KEY_BOOL, FIELD(interop_append_windows_path)},
    {"gpu", "enabled", KEY_IGNORED, 0},
    {"gpu", "appendLibPath", KEY_IGNORED, 0},
    {"time", "useWindowsTimezone", KEY_IGNORED, 0},
    {"filesystem", "umask", KEY_UMASK, FIELD(filesystem_umask)},
    {"fileServer", "enabled", KEY_IGNORED, 0},
    {"fileServer", "logFile", KEY_IGNORED, 0},
    {"fileServer", "logLevel", KEY_IGNORED, 0},
    {"fileServer", "logTruncate", KEY_IGNORED, 0},
    {"general", "guiApplications", KEY_IGNORED, 0},
    {NULL, NULL, 0, 0},
};

static const struct key distribution_conf_keys[] = {
    {"oobe", "command", KEY_STRING, FIELD(oobe_command)},
    {"oobe", "defaultUid", KEY_UID, FIELD(oobe_default_uid)},
    {"oobe", "defaultName", KEY_STRING, FIELD(oobe_default_name)},
    /* Windows Start-menu and Terminal integration: nothing to do on a Linux host. */
    {"shortcut", NULL, KEY_IGNORED, 0},
    {"windowsterminal", NULL, KEY_IGNORED, 0},
    {NULL, NULL, 0, 0},
};

_Static_assert(sizeof(wsl_conf_keys) / sizeof(wsl_conf_keys[0]) <= KEYS_MAX, "KEYS_MAX");
_Static_assert(sizeof(distribution_conf_keys) / sizeof(distribution_conf_keys[0]) <= KEYS_MAX, "KEYS_MAX");

bool lsl_hostname_valid(const char *name)
{
    char clean[LSL_HOSTNAME_MAX + 1];
    lsl_hostname_clean(name, clean);
    return name[0] && strcmp(clean, name) == 0;
}

void lsl_hostname_clean(const char *in, char out[LSL_HOSTNAME_MAX + 1])
{
    /* microsoft/WSL src/shared/inc/stringshared.h CleanHostname, character by character. */
    char buf[LSL_HOSTNAME_MAX + 1];
    size_t n = 0;
    bool dot = false;
    for (const char *p = in; *p; p++) {
        char c = *p, last = n ? buf[n - 1] : 0;
        if (c == '.') {
            if (dot || !n || last == '-')
                continue;
            dot = true;
        } else if (c == '-') {
            if (!n || last == '-' || last == '.')
                continue;
        } else if (!isalnum((unsigned char)c)) {
            continue;
        }
        if (n == LSL_HOSTNAME_MAX)
            break; /* the rest would be cut anyway */
        buf[n++] = c;
    }
    while (n && (buf[n - 1] == '.' || buf[n - 1] == '-'))
        n--;
    buf[n] = '\0';
    snprintf(out, LSL_HOSTNAME_MAX + 1, "%s", n ? buf : "localhost");
}

struct distconf_parse {
    struct lsl_distconf *d;
    const struct key *keys;
    const char *name;
    lsl_warn_fn warn;
    int error;
    int seen[KEYS_MAX]; /* per key of the table: the line that set it in this file, 0 if none yet */
};

static bool section_known(const struct key *keys, const char *section)
{
    for (const struct key *k = keys; k->section; k++)
        if (strcasecmp(k->section, section) == 0)
            return true;
    return false;
}

static void set_string(struct distconf_parse *p, char **slot, const char *value)
{
    char *copy = strdup(value);
    if (!copy) {
        p->error = -ENOMEM;
        return;
    }
    free(*slot);
    *slot = copy;
}

static void distconf_on_key(void *user, int line, const char *section, const char *name, const char *value)
{
    struct distconf_parse *p = user;
    const struct key *k = p->keys;
    for (; k->section; k++)
        if (strcasecmp(k->section, section) == 0 && (!k->name || strcasecmp(k->name, name) == 0))
            break;
    if (!k->section) {
        if (!*section)
            lsl_warn(p->warn, "%s:%d: '%s' outside a section (ignored)", p->name, line, name);
        else if (section_known(p->keys, section))
            lsl_warn(p->warn, "%s:%d: unknown key '%s' in [%s] (ignored)", p->name, line, name, section);
        else
            lsl_warn(p->warn, "%s:%d: unknown key '%s.%s' (ignored)", p->name, line, section, name);
        return;
    }
    size_t i = (size_t)(k - p->keys);
    if (k->name && p->seen[i]) {
        /* WSL's rule: the first one counts, even when its value was bad (the default then stays). */
        lsl_warn(p->warn, "%s:%d: %s.%s was set on line %d already; that value stays", p->name, line,
                 k->section, k->name, p->seen[i]);
        return;
    }
    p->seen[i] = line;
    void *field = (char *)p->d + k->offset;
    char host[LSL_HOSTNAME_MAX + 1];
    bool b;
    int n;
    switch (k->kind) {
    case KEY_IGNORED:
        return;
    case KEY_STRING:
        set_string(p, field, value);
        return;
    case KEY_BOOL:
    case KEY_TRIBOOL: /* an int: -1 until set */
        if (lsl_parse_bool(value, &b) < 0) {
            lsl_warn(p->warn, "%s:%d: invalid value '%s' for %s.%s: true or false (default kept)", p->name,
                     line, value, k->section, k->name);
            return;
        }
        if (k->kind == KEY_TRIBOOL)
            *(int *)field = b;
        else
            *(bool *)field = b;
        return;
    case KEY_HOSTNAME:
        /* WSL takes any value and cleans it; saying what became of it is the least surprise. */
        lsl_hostname_clean(value, host);
        if (strcmp(host, value) != 0)
            lsl_warn(p->warn, "%s:%d: '%s' is no valid hostname; using '%s'", p->name, line, value, host);
        set_string(p, field, host);
        return;
    case KEY_PATH:
        if (value[0] != '/')
            break;
        set_string(p, field, value);
        return;
    case KEY_UID:
        if (lsl_parse_int(value, &n) < 0 || n < 0)
            break;
        *(int *)field = n;
        return;
    case KEY_UMASK:
        if (lsl_parse_int(value, &n) < 0 || n < 0 || n > 0777)
            break;
        *(int *)field = n;
        return;
    case KEY_MILLIS:
        if (lsl_parse_int(value, &n) < 0 || n < 0 || n > LSL_DISTRO_INIT_TIMEOUT_MAX_MS) {
            lsl_warn(p->warn, "%s:%d: invalid value '%s' for %s.%s: milliseconds, at most %d (default kept)",
                     p->name, line, value, k->section, k->name, LSL_DISTRO_INIT_TIMEOUT_MAX_MS);
            return;
        }
        *(int *)field = n;
        return;
    }
    lsl_warn(p->warn, "%s:%d: invalid value '%s' for %s.%s (default kept)", p->name, line, value, k->section,
             k->name);
}

int lsl_distconf_init(struct lsl_distconf *d)
{
    *d = (struct lsl_distconf){
        .network_generate_hosts = true,
        .network_generate_resolv_conf = true,
        .automount_enabled = true,
        .automount_root = strdup("/mnt/"),
        .automount_mount_fstab = true,
        .filesystem_umask = LSL_DISTRO_UMASK_DEFAULT,
        .interop_enabled = true,
        .interop_append_windows_path = true,
        .oobe_default_uid = -1,
        .boot_systemd = -1,
        .boot_keep_alive = -1,
        .boot_init_timeout_ms = -1,
    };
    return d->automount_root ? 0 : -ENOMEM;
}

void lsl_distconf_free(struct lsl_distconf *d)
{
    free(d->boot_command);
    free(d->user_default);
    free(d->network_hostname);
    free(d->automount_root);
    free(d->automount_options);
    free(d->oobe_command);
    free(d->oobe_default_name);
    *d = (struct lsl_distconf){.oobe_default_uid = -1};
}

static int parse_one(struct lsl_distconf *d, const struct key *keys, const char *text, const char *name,
                     lsl_warn_fn warn)
{
    if (!text)
        return 0;
    struct distconf_parse p = {.d = d, .keys = keys, .name = name, .warn = warn};
    int r = lsl_ini_parse_string(text, name, warn, distconf_on_key, &p);
    return r < 0 ? r : p.error;
}

int lsl_distconf_parse(struct lsl_distconf *d, const char *wsl_conf, const char *lsl_conf, lsl_warn_fn warn)
{
    /* Parsing lsl.conf into the same struct after wsl.conf is what makes it win key by key. */
    int r = parse_one(d, wsl_conf_keys, wsl_conf, "/etc/wsl.conf", warn);
    return r < 0 ? r : parse_one(d, wsl_conf_keys, lsl_conf, "/etc/lsl.conf", warn);
}

int lsl_distconf_parse_distribution(struct lsl_distconf *d, const char *text, lsl_warn_fn warn)
{
    return parse_one(d, distribution_conf_keys, text, "/etc/wsl-distribution.conf", warn);
}
