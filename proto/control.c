/* Control socket grammar (proto/control.h). The service parses lines from any local client of its own user,
 * so the parser checks every argument; the CLI formats through the same rules so it cannot send what the
 * service would refuse. */
#include "control.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "distro.h"

static const struct {
    const char *name;
    unsigned nargs; /* attach's second argument is the rest of the line */
    bool number;    /* the argument is a count (balloon), not a disk id */
} verbs[] = {
    [LSL_CTL_STATUS] = {"status", 0},         [LSL_CTL_SHUTDOWN] = {"shutdown", 0},
    [LSL_CTL_CLOCK] = {"clock", 0},           [LSL_CTL_ATTACH] = {"attach", 2},
    [LSL_CTL_DETACH] = {"detach", 1},         [LSL_CTL_DISKS] = {"disks", 0},
    [LSL_CTL_BALLOON] = {"balloon", 1, true},
};
#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))

static bool path_ok(const char *p)
{
    return p && p[0] == '/' && !strpbrk(p, "\r\n");
}

int lsl_ctl_format(const struct lsl_ctl_request *r, char *buf, size_t len)
{
    int n;

    if ((unsigned)r->verb >= NVERBS)
        return -EINVAL;
    if (verbs[r->verb].number) {
        if (r->mib > LSL_CTL_BALLOON_MAX_MIB)
            return -EINVAL;
        n = snprintf(buf, len, "%s %" PRIu32 "\n", verbs[r->verb].name, r->mib);
    } else if (verbs[r->verb].nargs == 0) {
        n = snprintf(buf, len, "%s\n", verbs[r->verb].name);
    } else if (verbs[r->verb].nargs == 1) {
        if (!r->id || !lsl_disk_id_valid(r->id))
            return -EINVAL;
        n = snprintf(buf, len, "%s %s\n", verbs[r->verb].name, r->id);
    } else {
        if (!r->id || !lsl_disk_id_valid(r->id) || !path_ok(r->path))
            return -EINVAL;
        n = snprintf(buf, len, "%s %s %s\n", verbs[r->verb].name, r->id, r->path);
    }
    if (n < 0 || (size_t)n >= len || (size_t)n > LSL_CONTROL_LINE_MAX)
        return -ENAMETOOLONG;
    return n;
}

int lsl_ctl_parse(char *line, struct lsl_ctl_request *r, const char **why)
{
    char *args = strchr(line, ' ');
    size_t vlen = args ? (size_t)(args - line) : strlen(line);
    unsigned v;

    *r = (struct lsl_ctl_request){0};
    *why = "unknown request";
    for (v = 0; v < NVERBS; v++)
        if (strlen(verbs[v].name) == vlen && strncmp(line, verbs[v].name, vlen) == 0)
            break;
    if (v == NVERBS)
        return -EINVAL;
    r->verb = (enum lsl_ctl_verb)v;
    if (verbs[v].nargs == 0) {
        *why = "this request takes no arguments";
        return args ? -EINVAL : 0;
    }
    if (verbs[v].number) {
        /* Plain decimal only (no sign, no leading zero): the line formats back to itself. */
        const char *d = args ? args + 1 : "";
        size_t nd = strspn(d, "0123456789");
        *why = "usage: balloon MIB (0 to 16777216)";
        if (nd == 0 || nd > 8 || d[nd] || (d[0] == '0' && nd > 1) ||
            strtoul(d, NULL, 10) > LSL_CTL_BALLOON_MAX_MIB)
            return -EINVAL;
        r->mib = (uint32_t)strtoul(d, NULL, 10);
        return 0;
    }
    *why = verbs[v].nargs == 1 ? "usage: detach ID" : "usage: attach ID PATH";
    if (!args || !args[1])
        return -EINVAL;
    r->id = args + 1;
    if (verbs[v].nargs == 2) {
        char *sp = strchr(args + 1, ' ');
        if (!sp || !sp[1])
            return -EINVAL;
        *sp = '\0';
        r->path = sp + 1;
        if (!path_ok(r->path)) {
            *why = "the disk path must be absolute";
            return -EINVAL;
        }
    }
    if (!lsl_disk_id_valid(r->id)) {
        *why = "invalid disk id (1-20 characters of A-Z a-z 0-9 . _ -)";
        return -EINVAL;
    }
    return 0;
}

__attribute__((format(printf, 3, 0))) static void vline(FILE *out, const char *head, const char *fmt,
                                                        va_list ap)
{
    fputs(head, out);
    if (fmt && fmt[0]) {
        if (head[0] && head[strlen(head) - 1] != ' ')
            fputc(' ', out);
        vfprintf(out, fmt, ap);
    }
    fputc('\n', out);
}

void lsl_ctl_reply_ok(FILE *out, const char *value_fmt, ...)
{
    va_list ap;

    va_start(ap, value_fmt);
    vline(out, "ok", value_fmt, ap);
    va_end(ap);
}

void lsl_ctl_reply_error(FILE *out, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vline(out, "error", fmt, ap);
    va_end(ap);
}

void lsl_ctl_put(FILE *out, const char *key, const char *value_fmt, ...)
{
    va_list ap;

    va_start(ap, value_fmt);
    vline(out, key, value_fmt, ap);
    va_end(ap);
}

int lsl_ctl_reply_parse(char *text, struct lsl_ctl_reply *r)
{
    char *nl = strchr(text, '\n');

    *r = (struct lsl_ctl_reply){.value = "", .error = "", .body = ""};
    if (nl) {
        *nl = '\0';
        r->body = nl + 1;
    }
    if (strncmp(text, "ok", 2) == 0 && (text[2] == '\0' || text[2] == ' ')) {
        r->ok = true;
        r->value = text[2] ? text + 3 : "";
        return 0;
    }
    if (strncmp(text, "error ", 6) == 0) {
        r->error = text + 6;
        return 0;
    }
    r->error = "malformed reply from the VM service (is it from another lsl version? lsl --shutdown --force)";
    return -EPROTO;
}

bool lsl_ctl_field(const char *body, const char *key, char *out, size_t len)
{
    size_t klen = strlen(key);

    for (const char *p = body; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t llen = nl ? (size_t)(nl - p) : strlen(p);
        if (llen > klen && strncmp(p, key, klen) == 0 && p[klen] == ' ') {
            size_t vlen = llen - klen - 1;
            if (len) {
                if (vlen >= len)
                    vlen = len - 1;
                memcpy(out, p + klen + 1, vlen);
                out[vlen] = '\0';
            }
            return true;
        }
        p = nl ? nl + 1 : NULL;
    }
    return false;
}

bool lsl_ctl_field_i64(const char *body, const char *key, int64_t *v)
{
    char buf[32], *end;

    if (!lsl_ctl_field(body, key, buf, sizeof(buf)) || !buf[0])
        return false;
    errno = 0;
    long long x = strtoll(buf, &end, 10);
    if (errno || *end)
        return false;
    *v = x;
    return true;
}
