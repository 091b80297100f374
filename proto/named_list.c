/* See named_list.h. */
#include "named_list.h"

#include <errno.h>
#include <string.h>

#include "frame.h"

size_t lsl_named_entry_size(const char *name, const char *tail)
{
    return LSL_NAMED_FIXED + 1 + strlen(name) + (tail ? 1 + strlen(tail) : 0);
}

size_t lsl_named_entry_put(uint8_t *out, const uint8_t fixed[LSL_NAMED_FIXED], const char *name,
                           const char *tail)
{
    size_t name_len = strlen(name), pos = LSL_NAMED_FIXED + 1 + name_len;

    memcpy(out, fixed, LSL_NAMED_FIXED);
    out[LSL_NAMED_FIXED] = (uint8_t)name_len;
    memcpy(out + LSL_NAMED_FIXED + 1, name, name_len);
    if (tail) {
        size_t tail_len = strlen(tail);
        out[pos] = (uint8_t)tail_len;
        memcpy(out + pos + 1, tail, tail_len);
        pos += 1 + tail_len;
    }
    return pos;
}

long lsl_named_list_decode(const uint8_t *data, size_t len, size_t max, bool empty_ok, size_t tail_max,
                           int (*each)(size_t i, const uint8_t *fixed, const char *name, const char *tail,
                                       void *opaque),
                           void *opaque)
{
    const size_t head = LSL_NAMED_FIXED + 1;
    size_t pos = 4, count;

    if (len < 4 || tail_max > LSL_NAMED_TAIL_MAX)
        return -EPROTO;
    count = lsl_get_u32(data);
    if (count > max)
        return -EPROTO;
    for (size_t i = 0; i < count; i++) {
        char name[LSL_DISTRO_NAME_MAX + 1], tail[LSL_NAMED_TAIL_MAX + 1] = "";
        size_t name_len, tail_len = 0;

        if (len - pos < head)
            return -EPROTO;
        name_len = data[pos + LSL_NAMED_FIXED];
        if ((name_len == 0 && !empty_ok) || name_len > LSL_DISTRO_NAME_MAX || len - pos - head < name_len)
            return -EPROTO;
        memcpy(name, data + pos + head, name_len);
        name[name_len] = '\0';
        /* A NUL inside the name makes it shorter than its length: strlen tells them apart. */
        if (strlen(name) != name_len || (name_len && !lsl_distro_name_valid(name)))
            return -EPROTO;
        if (tail_max) {
            size_t at = pos + head + name_len;
            if (len - at < 1 || (tail_len = data[at]) > tail_max || len - at - 1 < tail_len)
                return -EPROTO;
            memcpy(tail, data + at + 1, tail_len);
            tail[tail_len] = '\0';
            if (strlen(tail) != tail_len)
                return -EPROTO;
            tail_len++;
        }
        if (each(i, data + pos, name, tail, opaque) != 0)
            return -EPROTO;
        pos += head + name_len + tail_len;
    }
    return pos == len ? (long)count : -EPROTO;
}
