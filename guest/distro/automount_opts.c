/* See automount_opts.h. Later options win over earlier ones (ro,rw is rw), as with mount(8). */
#include "automount_opts.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    uint64_t attr, mask; /* mask: the bits the option decides (the atime mode is one field) */
    bool clear;          /* the option turns attr off */
} attrs[] = {
    {"ro", AUTOMOUNT_ATTR_RDONLY, AUTOMOUNT_ATTR_RDONLY, false},
    {"rw", AUTOMOUNT_ATTR_RDONLY, AUTOMOUNT_ATTR_RDONLY, true},
    {"noexec", AUTOMOUNT_ATTR_NOEXEC, AUTOMOUNT_ATTR_NOEXEC, false},
    {"exec", AUTOMOUNT_ATTR_NOEXEC, AUTOMOUNT_ATTR_NOEXEC, true},
    {"nosuid", AUTOMOUNT_ATTR_NOSUID, AUTOMOUNT_ATTR_NOSUID, false},
    {"suid", AUTOMOUNT_ATTR_NOSUID, AUTOMOUNT_ATTR_NOSUID, true},
    {"nodev", AUTOMOUNT_ATTR_NODEV, AUTOMOUNT_ATTR_NODEV, false},
    {"dev", AUTOMOUNT_ATTR_NODEV, AUTOMOUNT_ATTR_NODEV, true},
    {"noatime", AUTOMOUNT_ATTR_NOATIME, AUTOMOUNT_ATTR__ATIME, false},
    {"relatime", AUTOMOUNT_ATTR_RELATIME, AUTOMOUNT_ATTR__ATIME, false},
    {"strictatime", AUTOMOUNT_ATTR_STRICTATIME, AUTOMOUNT_ATTR__ATIME, false},
    {"nodiratime", AUTOMOUNT_ATTR_NODIRATIME, AUTOMOUNT_ATTR_NODIRATIME, false},
    {"diratime", AUTOMOUNT_ATTR_NODIRATIME, AUTOMOUNT_ATTR_NODIRATIME, true},
};

/* "uid=N" / "gid=N" against the owner: true when it says the same. */
static bool same_id(const char *value, unsigned owner)
{
    char *end;
    unsigned long v = strtoul(value, &end, 10);

    return *value && !*end && v == owner;
}

/* Appends ", item" (or "item") to the list, cut quietly when full. */
static void add(char *list, size_t len, const char *item, size_t itemlen)
{
    size_t n = strlen(list);

    if (n + 2 + itemlen < len)
        snprintf(list + n, len - n, "%s%.*s", n ? "," : "", (int)itemlen, item);
}

int automount_opts_parse(const char *options, unsigned owner_uid, unsigned owner_gid,
                         struct automount_opts *o, char *warning, size_t warnlen)
{
    char unapplied[200] = "", owner[200] = "", opt[64];

    *o = (struct automount_opts){0};
    for (const char *p = options ? options : ""; *p;) {
        size_t len = strcspn(p, ",");
        bool known = false;

        if (len > 0 && len < sizeof(opt)) {
            memcpy(opt, p, len);
            opt[len] = '\0';
            for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]) && !known; i++) {
                if (strcmp(opt, attrs[i].name) != 0)
                    continue;
                known = true;
                if (attrs[i].clear) {
                    o->attr_set &= ~attrs[i].attr;
                    o->attr_clr |= attrs[i].attr;
                } else if (attrs[i].mask == AUTOMOUNT_ATTR__ATIME) {
                    /* One field: mount_setattr wants all of it cleared to set a mode. */
                    o->attr_set = (o->attr_set & ~AUTOMOUNT_ATTR__ATIME) | attrs[i].attr;
                    o->attr_clr |= AUTOMOUNT_ATTR__ATIME;
                } else {
                    o->attr_set |= attrs[i].attr;
                    o->attr_clr &= ~attrs[i].attr;
                }
            }
            if (!known && ((strncmp(opt, "uid=", 4) == 0 && same_id(opt + 4, owner_uid)) ||
                           (strncmp(opt, "gid=", 4) == 0 && same_id(opt + 4, owner_gid))))
                known = true;
            else if (!known && (strncmp(opt, "uid=", 4) == 0 || strncmp(opt, "gid=", 4) == 0)) {
                add(owner, sizeof(owner), opt, len);
                known = true;
            }
        }
        if (!known && len > 0)
            add(unapplied, sizeof(unapplied), p, len);
        p += len;
        if (*p == ',')
            p++;
    }
    if (!owner[0] && !unapplied[0])
        return 0;
    size_t n = (size_t)snprintf(warning, warnlen, "[automount] options");
    if (owner[0] && n < warnlen)
        n += (size_t)snprintf(warning + n, warnlen - n,
                              " %s: host files show as %u:%u in every distribution (hostShareOwner in "
                              "~/.lslconfig)",
                              owner, owner_uid, owner_gid);
    if (unapplied[0] && n < warnlen)
        snprintf(warning + n, warnlen - n, "%s not applied: %s", owner[0] ? ";" : "", unapplied);
    return 1;
}
