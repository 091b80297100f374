/* lsl-vmm --share TAG=HOSTDIR[,OPTION...]: the share's tag, host directory and policy (share.h). */
#include "share.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"

void fs_share_defaults(struct fs_share *s, const char *tag, const char *path)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->tag, sizeof(s->tag), "%s", tag);
    s->path = path;
    s->uid = FS_DEFAULT_UID;
    s->gid = FS_DEFAULT_GID;
    s->timeout_ms = FS_DEFAULT_TIMEOUT_MS;
    s->watched_ms = FS_DEFAULT_WATCHED_MS;
    s->keep_cache = true;
    s->readdirplus = FS_READDIRPLUS_AUTO;
    s->threads = FS_DEFAULT_THREADS;
    s->xdev = true;
    s->dax_mib = FS_DEFAULT_DAX_MIB;
}

/* The tag travels to the guest's sysfs and mount table: letters, digits and ._- only, 1 to 36 of them. */
static bool tag_ok(const char *t, size_t len)
{
    if (len == 0 || len > FS_TAG_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = t[i];
        if (!(('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

static bool parse_uint(const char *v, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    if (*v < '0' || *v > '9')
        return false;
    unsigned long x = strtoul(v, &end, 10);
    if (errno || *end || x > max)
        return false;
    *out = x;
    return true;
}

static int parse_onoff(const char *v, bool *out)
{
    if (strcmp(v, "on") == 0 || strcmp(v, "1") == 0)
        *out = true;
    else if (strcmp(v, "off") == 0 || strcmp(v, "0") == 0)
        *out = false;
    else
        return -1;
    return 0;
}

/* 1: opt was an option and is applied; 0: not an option (part of the path); -1: an option with a bad value.
 */
static int apply_option(const char *opt, struct fs_share *s)
{
    const char *eq = strchr(opt, '=');
    size_t klen = eq ? (size_t)(eq - opt) : strlen(opt);
    const char *v = eq ? eq + 1 : NULL;
    unsigned long x;
#define KEY(k) (klen == strlen(k) && strncmp(opt, k, klen) == 0)
    if (!v) {
        if (KEY("ro"))
            s->readonly = true;
        else if (KEY("rw"))
            s->readonly = false;
        else
            return 0;
        return 1;
    }
    if (KEY("uid") || KEY("gid")) {
        /* (uid_t)-1 means "unchanged" to chown: never a real owner. */
        if (!parse_uint(v, 0xfffffffeul, &x))
            return -1;
        *(KEY("uid") ? &s->uid : &s->gid) = (uint32_t)x;
    } else if (KEY("timeout") || KEY("watched")) {
        if (!parse_uint(v, 3600ul * 1000, &x))
            return -1;
        *(KEY("timeout") ? &s->timeout_ms : &s->watched_ms) = (uint32_t)x;
    } else if (KEY("writeback")) {
        return parse_onoff(v, &s->writeback) < 0 ? -1 : 1;
    } else if (KEY("keep_cache")) {
        return parse_onoff(v, &s->keep_cache) < 0 ? -1 : 1;
    } else if (KEY("xdev")) {
        return parse_onoff(v, &s->xdev) < 0 ? -1 : 1;
    } else if (KEY("threads")) {
        if (!parse_uint(v, FS_THREADS_MAX, &x))
            return -1;
        s->threads = (unsigned)x;
    } else if (KEY("dax")) {
        /* The guest maps the window in 2 MiB ranges: an even number of MiB. */
        if (!parse_uint(v, FS_DAX_MIB_MAX, &x) || (x & 1))
            return -1;
        s->dax_mib = (uint32_t)x;
    } else if (KEY("readdirplus")) {
        if (strcmp(v, "auto") == 0)
            s->readdirplus = FS_READDIRPLUS_AUTO;
        else if (strcmp(v, "always") == 0)
            s->readdirplus = FS_READDIRPLUS_ALWAYS;
        else if (strcmp(v, "never") == 0)
            s->readdirplus = FS_READDIRPLUS_NEVER;
        else
            return -1;
    } else {
        return 0;
    }
#undef KEY
    return 1;
}

int fs_share_parse(char *arg, struct fs_share *s, char *err, size_t errlen)
{
    char *eq = strchr(arg, '=');
    if (!eq)
        return lsl_errmsg(err, errlen, "invalid --share '%s' (TAG=HOSTDIR[,ro])", arg);
    *eq = '\0';
    if (!tag_ok(arg, strlen(arg)))
        return lsl_errmsg(err, errlen, "invalid --share tag '%s' (1-%d of A-Z a-z 0-9 . _ -)", arg,
                          FS_TAG_MAX);
    fs_share_defaults(s, arg, eq + 1);
    char *path = eq + 1;
    /* Options come off the end; the first comma-separated tail that is no option ends the list. */
    char *comma;
    while ((comma = strrchr(path, ',')) != NULL) {
        int r = apply_option(comma + 1, s);
        if (r < 0)
            return lsl_errmsg(err, errlen, "invalid --share option '%s' for tag '%s'", comma + 1, s->tag);
        if (r == 0)
            break;
        *comma = '\0';
    }
    if (!*path)
        return lsl_errmsg(err, errlen, "invalid --share '%s=' (no host directory)", s->tag);
    s->path = path;
    return 0;
}
