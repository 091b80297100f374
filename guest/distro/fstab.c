/* See fstab.h. Runs in the distribution's init after pivot_root, so every path (the fstab itself, mount
 * points, bind sources) resolves inside the distribution: what it names is its own business, as with
 * `mount -a` run by its root. */
#include "fstab.h"

#include "accounts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define FSTAB_MAX (1u << 20) /* far more than any fstab */

/* getmntent's escapes: \ and three octal digits. */
static void unescape(char *s)
{
    char *out = s;

    for (; *s; s++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
            s[3] <= '7') {
            *out++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
            s += 3;
        } else {
            *out++ = *s;
        }
    }
    *out = '\0';
}

static char *next_field(char **p)
{
    char *start = *p + strspn(*p, " \t");

    if (!*start) {
        *p = start;
        return NULL;
    }
    *p = start + strcspn(start, " \t");
    if (**p)
        *(*p)++ = '\0';
    return start;
}

int fstab_parse_line(char *line, struct fstab_entry *e)
{
    char *p = line, *opts;

    line[strcspn(line, "\r\n")] = '\0';
    e->spec = next_field(&p);
    if (!e->spec || e->spec[0] == '#')
        return 0;
    e->file = next_field(&p);
    e->type = next_field(&p);
    if (!e->file || !e->type)
        return -1;
    opts = next_field(&p);
    unescape(e->spec);
    unescape(e->file);
    unescape(e->type);
    if (opts)
        unescape(opts);
    e->opts = opts ? opts : "defaults";
    return 1;
}

/* mount(8)'s own options: set or clear a flag of mount(2). */
static const struct {
    const char *name;
    unsigned long flag;
    bool clear;
} flag_opts[] = {
    {"ro", MS_RDONLY, false},          {"rw", MS_RDONLY, true},
    {"nosuid", MS_NOSUID, false},      {"suid", MS_NOSUID, true},
    {"nodev", MS_NODEV, false},        {"dev", MS_NODEV, true},
    {"noexec", MS_NOEXEC, false},      {"exec", MS_NOEXEC, true},
    {"sync", MS_SYNCHRONOUS, false},   {"async", MS_SYNCHRONOUS, true},
    {"dirsync", MS_DIRSYNC, false},    {"noatime", MS_NOATIME, false},
    {"atime", MS_NOATIME, true},       {"nodiratime", MS_NODIRATIME, false},
    {"diratime", MS_NODIRATIME, true}, {"relatime", MS_RELATIME, false},
    {"norelatime", MS_RELATIME, true}, {"strictatime", MS_STRICTATIME, false},
    {"lazytime", MS_LAZYTIME, false},  {"nolazytime", MS_LAZYTIME, true},
    {"mand", MS_MANDLOCK, false},      {"nomand", MS_MANDLOCK, true},
    {"silent", MS_SILENT, false},      {"loud", MS_SILENT, true},
};

static const struct {
    const char *name;
    unsigned long flags;
} propagation_opts[] = {
    {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
    {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

/* Options only mount(8) and other programs read: never the kernel's. */
static bool userspace_opt(const char *o)
{
    static const char *const names[] = {"defaults", "auto",   "nouser", "_netdev", "noowner",
                                        "nogroup",  "nofail", "noauto", "sw",      "pri"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(o, names[i]) == 0)
            return true;
    return strncmp(o, "x-", 2) == 0 || strncmp(o, "comment=", 8) == 0 || strncmp(o, "pri=", 4) == 0;
}

int fstab_parse_opts(const char *opts, struct fstab_opts *o)
{
    const char *p = opts;
    size_t dlen = 0;

    *o = (struct fstab_opts){0};
    while (*p) {
        size_t len = strcspn(p, ",");
        char opt[256];
        bool known = false;

        if (len == 0 || len >= sizeof(opt)) {
            if (len >= sizeof(opt))
                return -E2BIG;
            p++;
            continue;
        }
        memcpy(opt, p, len);
        opt[len] = '\0';
        p += len + (p[len] == ',');

        for (size_t i = 0; i < sizeof(flag_opts) / sizeof(flag_opts[0]) && !known; i++) {
            if (strcmp(opt, flag_opts[i].name) != 0)
                continue;
            o->flags = flag_opts[i].clear ? o->flags & ~flag_opts[i].flag : o->flags | flag_opts[i].flag;
            known = true;
        }
        for (size_t i = 0; i < sizeof(propagation_opts) / sizeof(propagation_opts[0]) && !known; i++) {
            if (strcmp(opt, propagation_opts[i].name) == 0) {
                o->propagation = propagation_opts[i].flags;
                known = true;
            }
        }
        if (known)
            continue;
        if (strcmp(opt, "bind") == 0 || strcmp(opt, "rbind") == 0) {
            o->bind = true;
            o->flags |= opt[0] == 'r' ? MS_REC : 0;
        } else if (strcmp(opt, "noauto") == 0) {
            o->noauto = true;
        } else if (strcmp(opt, "nofail") == 0) {
            o->nofail = true;
        } else if (strcmp(opt, "x-mount.mkdir") == 0 || strncmp(opt, "x-mount.mkdir=", 14) == 0) {
            o->mkdir = true;
        } else if (strcmp(opt, "user") == 0 || strcmp(opt, "users") == 0) {
            o->flags |= MS_NOEXEC | MS_NOSUID | MS_NODEV; /* what mount(8) makes of them */
        } else if (strcmp(opt, "owner") == 0 || strcmp(opt, "group") == 0) {
            o->flags |= MS_NOSUID | MS_NODEV;
        } else if (!userspace_opt(opt)) {
            if (dlen + (dlen ? 1 : 0) + len + 1 > sizeof(o->data))
                return -E2BIG;
            if (dlen)
                o->data[dlen++] = ',';
            memcpy(o->data + dlen, opt, len + 1);
            dlen += len;
        }
    }
    return 0;
}

/* Whether path is a mount point in /proc/self/mountinfo (field 5, escaped like fstab). */
static bool mounted_at(const char *path)
{
    char *text = NULL, *line, *save = NULL;
    bool found = false;

    if (agent_read_in_root("/", "/proc/self/mountinfo", FSTAB_MAX, &text) < 0)
        return false;
    for (line = strtok_r(text, "\n", &save); line && !found; line = strtok_r(NULL, "\n", &save)) {
        char *p = line, *target = NULL;

        for (int i = 0; i < 5; i++)
            target = next_field(&p);
        if (target) {
            unescape(target);
            found = strcmp(target, path) == 0;
        }
    }
    free(text);
    return found;
}

/* Tries each block file system the kernel has ("auto"), as mount(8) does without blkid. */
static int mount_auto(const char *spec, const char *file, unsigned long flags, const char *data)
{
    char *text = NULL, *line, *save = NULL;
    int err = ENODEV;

    if (agent_read_in_root("/", "/proc/filesystems", FSTAB_MAX, &text) < 0)
        return -ENODEV;
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "nodev", 5) == 0)
            continue;
        line += strspn(line, " \t");
        if (mount(spec, file, line, flags, data) == 0) {
            free(text);
            return 0;
        }
        if (errno != EINVAL && errno != ENODEV)
            err = errno; /* a telling failure (no device, busy) beats "not this type" */
    }
    free(text);
    return -err;
}

/* Mounts one entry. Returns 0, 1 when mount -a would skip it, or -errno with what failed in why. */
static int mount_entry(const struct fstab_entry *e, const struct fstab_opts *o, const char **why)
{
    char file[4096];
    size_t len = strlen(e->file);

    *why = "cannot mount";
    if (o->noauto || strcmp(e->type, "swap") == 0 || strcmp(e->file, "swap") == 0 ||
        strcmp(e->file, "none") == 0)
        return 1;
    if (e->file[0] != '/') {
        *why = "not an absolute mount point";
        return -EINVAL;
    }
    /* "/mnt/x/" is "/mnt/x", as in mountinfo. */
    while (len > 1 && e->file[len - 1] == '/')
        len--;
    if (len >= sizeof(file))
        return -ENAMETOOLONG;
    memcpy(file, e->file, len);
    file[len] = '\0';
    if (strcmp(file, "/") == 0 || mounted_at(file))
        return 1;
    if (strncmp(e->spec, "UUID=", 5) == 0 || strncmp(e->spec, "LABEL=", 6) == 0 ||
        strncmp(e->spec, "PARTUUID=", 9) == 0 || strncmp(e->spec, "PARTLABEL=", 10) == 0) {
        *why = "cannot find"; /* no udev links here, and a distribution has no disk but its own */
        return -ENODEV;
    }
    if (o->mkdir) {
        for (char *p = file + 1;; p++) {
            char c = *p;

            if (c != '/' && c != '\0')
                continue;
            *p = '\0';
            if (mkdir(file, 0755) < 0 && errno != EEXIST)
                return -errno;
            *p = c;
            if (!c)
                break;
        }
    }
    if (o->bind) {
        /* A bind mount takes no flags but MS_REC; the others need a remount of the new mount. */
        if (mount(e->spec, file, NULL, MS_BIND | (o->flags & MS_REC), NULL) < 0)
            return -errno;
        if ((o->flags & ~MS_REC) &&
            mount(NULL, file, NULL, MS_REMOUNT | MS_BIND | (o->flags & ~MS_REC), NULL) < 0) {
            int err = errno;

            (void)umount2(file, MNT_DETACH);
            *why = "cannot apply the options of";
            return -err;
        }
    } else if (strcmp(e->type, "auto") == 0) {
        int r = mount_auto(e->spec, file, o->flags, o->data[0] ? o->data : NULL);

        if (r < 0)
            return r;
    } else if (mount(e->spec, file, e->type, o->flags, o->data[0] ? o->data : NULL) < 0) {
        return -errno;
    }
    if (o->propagation && mount(NULL, file, NULL, o->propagation, NULL) < 0) {
        *why = "cannot set the propagation of";
        return -errno;
    }
    return 0;
}

int fstab_mount_all(char *warning, size_t warnlen)
{
    char *text = NULL, *line, *save = NULL, first[512] = "";
    long len = agent_read_in_root("/", "/etc/fstab", FSTAB_MAX, &text);
    int failed = 0, lineno = 0;

    warning[0] = '\0';
    if (len < 0) {
        if (len == -ENOENT)
            return 0;
        snprintf(warning, warnlen, "/etc/fstab: cannot read it: %s", strerror((int)-len));
        return 1;
    }
    /* strtok_r would skip empty lines, and with them the line numbers: split by hand. */
    for (line = text; line && *line; line = save) {
        struct fstab_entry e;
        struct fstab_opts o;
        const char *why;
        int r;

        save = strchr(line, '\n');
        if (save)
            *save++ = '\0';
        lineno++;
        r = fstab_parse_line(line, &e);
        if (r == 0)
            continue;
        if (r < 0) {
            if (!failed++)
                snprintf(first, sizeof(first), "line %d: no file system type", lineno);
            continue;
        }
        if (fstab_parse_opts(e.opts, &o) < 0) {
            if (!failed++)
                snprintf(first, sizeof(first), "line %d: options too long", lineno);
            continue;
        }
        r = mount_entry(&e, &o, &why);
        if (r < 0 && !o.nofail && !failed++)
            snprintf(first, sizeof(first), "line %d: %s %s on %s: %s", lineno, why, e.spec, e.file,
                     strerror(-r));
    }
    free(text);
    if (failed == 1)
        snprintf(warning, warnlen, "/etc/fstab: %s", first);
    else if (failed > 1)
        snprintf(warning, warnlen, "/etc/fstab: %d entries were not mounted; the first, %s", failed, first);
    return failed;
}
