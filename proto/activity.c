/* The ACTIVITY_REPLY payload (proto/activity.h). */
#include "activity.h"

#include <errno.h>
#include <string.h>

#include "frame.h"
#include "named_list.h"

bool lsl_activity_what_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("._-@+\\,", c));
}

static bool what_valid(const char *what)
{
    size_t len = strnlen(what, LSL_ACTIVITY_WHAT_MAX + 1);
    for (size_t i = 0; i < len; i++)
        if (!lsl_activity_what_char(what[i]))
            return false;
    return len <= LSL_ACTIVITY_WHAT_MAX;
}

size_t lsl_activity_size(const struct lsl_activity *a, size_t n)
{
    size_t len = 4;

    if (n > LSL_ACTIVITY_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!lsl_distro_name_valid(a[i].name) || a[i].keep > LSL_KEEP_NEVER || !what_valid(a[i].what))
            return 0;
        len += lsl_named_entry_size(a[i].name, a[i].what);
    }
    return len;
}

size_t lsl_activity_encode(const struct lsl_activity *a, size_t n, uint8_t *out, size_t cap)
{
    size_t len = lsl_activity_size(a, n), pos = 4;

    if (!len || len > cap)
        return 0;
    lsl_put_u32(out, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        uint8_t fixed[LSL_NAMED_FIXED];
        uint32_t procs =
            a[i].processes < LSL_ACTIVITY_PROCESSES_MAX ? a[i].processes : LSL_ACTIVITY_PROCESSES_MAX;
        lsl_put_u32(fixed, procs | (uint32_t)a[i].keep << 30);
        pos += lsl_named_entry_put(out + pos, fixed, a[i].name, a[i].what);
    }
    return len;
}

static int activity_entry(size_t i, const uint8_t *fixed, const char *name, const char *what, void *opaque)
{
    struct lsl_activity *out = opaque;

    if (!what_valid(what))
        return -1;
    memcpy(out[i].what, what, strlen(what) + 1);
    uint32_t v = lsl_get_u32(fixed);
    out[i].processes = v & LSL_ACTIVITY_PROCESSES_MAX;
    out[i].keep = (uint8_t)(v >> 30);
    memcpy(out[i].name, name, strlen(name) + 1);
    return out[i].keep > LSL_KEEP_NEVER ? -1 : 0;
}

uint32_t lsl_activity_holding(const struct lsl_activity *a)
{
    return a->keep == LSL_KEEP_NEVER ? 0 : a->keep == LSL_KEEP_ALWAYS && !a->processes ? 1 : a->processes;
}

int lsl_activity_decode(const uint8_t *data, size_t len, struct lsl_activity out[LSL_ACTIVITY_MAX], size_t *n)
{
    long count =
        lsl_named_list_decode(data, len, LSL_ACTIVITY_MAX, false, LSL_ACTIVITY_WHAT_MAX, activity_entry, out);

    *n = count < 0 ? 0 : (size_t)count;
    return count < 0 ? -EPROTO : 0;
}
