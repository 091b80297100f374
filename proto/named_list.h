/* Lists of distribution-named entries: a u32 count, then per entry 4 bytes of the list's own, a length byte
 * and a distribution name (not NUL-terminated). ACTIVITY_REPLY (activity.h) and PORTS (fwd.h) are such lists;
 * one walk here checks every count, length and name for both, one writer lays them out. */
#ifndef LSL_PROTO_NAMED_LIST_H
#define LSL_PROTO_NAMED_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "distro.h"

#define LSL_NAMED_FIXED 4 /* the list's own bytes of an entry */

/* The bytes entry name takes (its fixed part included). */
size_t lsl_named_entry_size(const char *name);
/* Writes one entry at out (room for lsl_named_entry_size(name)); returns its size. */
size_t lsl_named_entry_put(uint8_t *out, const uint8_t fixed[LSL_NAMED_FIXED], const char *name);

/* Walks the list in data[len]: at most max entries; each name a valid distribution name (or empty, where
 * empty_ok), with no NUL inside; nothing after the last. Calls each(i, fixed, name, opaque) per entry, in
 * order (name NUL-terminated, at most LSL_DISTRO_NAME_MAX). Returns the count, or -EPROTO (also when each
 * returns non-zero). */
long lsl_named_list_decode(const uint8_t *data, size_t len, size_t max, bool empty_ok,
                           int (*each)(size_t i, const uint8_t *fixed, const char *name, void *opaque),
                           void *opaque);

#endif
