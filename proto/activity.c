/* The ACTIVITY_REPLY payload (proto/activity.h). */
#include "activity.h"

#include <errno.h>
#include <string.h>

#include "frame.h"

size_t lsl_activity_size(const struct lsl_activity *a, size_t n)
{
    size_t len = 4;

    if (n > LSL_ACTIVITY_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!lsl_distro_name_valid(a[i].name))
            return 0;
        len += 4 + 1 + strlen(a[i].name);
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
        size_t name_len = strlen(a[i].name);

        lsl_put_u32(out + pos, a[i].processes);
        out[pos + 4] = (uint8_t)name_len;
        memcpy(out + pos + 5, a[i].name, name_len);
        pos += 5 + name_len;
    }
    return len;
}

int lsl_activity_decode(const uint8_t *data, size_t len, struct lsl_activity out[LSL_ACTIVITY_MAX], size_t *n)
{
    size_t pos = 4, count;

    *n = 0;
    if (len < 4)
        return -EPROTO;
    count = lsl_get_u32(data);
    if (count > LSL_ACTIVITY_MAX)
        return -EPROTO;
    for (size_t i = 0; i < count; i++) {
        size_t name_len;

        if (len - pos < 5)
            return -EPROTO;
        name_len = data[pos + 4];
        if (name_len == 0 || name_len > LSL_DISTRO_NAME_MAX || len - pos - 5 < name_len)
            return -EPROTO;
        out[i].processes = lsl_get_u32(data + pos);
        memcpy(out[i].name, data + pos + 5, name_len);
        out[i].name[name_len] = '\0';
        /* A NUL inside the name makes it shorter than its length: strlen then tells them apart. */
        if (strlen(out[i].name) != name_len || !lsl_distro_name_valid(out[i].name))
            return -EPROTO;
        pos += 5 + name_len;
    }
    if (pos != len)
        return -EPROTO;
    *n = count;
    return 0;
}
