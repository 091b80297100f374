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

/* Lists whose entries have a tail (ACTIVITY_REPLY's) carry after the name another length byte and that many
 * bytes of text of the list's own, no NUL among them. tail NULL: the list has none. */

/* The bytes entry name takes (its fixed part and tail included). */
size_t lsl_named_entry_size(const char *name, const char *tail);
/* Writes one entry at out (room for lsl_named_entry_size(name, tail)); returns its size. */
size_t lsl_named_entry_put(uint8_t *out, const uint8_t fixed[LSL_NAMED_FIXED], const char *name,
                           const char *tail);

/* Walks the list in data[len]: at most max entries; each name a valid distribution name (or empty, where
 * empty_ok), with no NUL inside; where tail_max, each tail at most tail_max bytes with no NUL; nothing after
 * the last. Calls each(i, fixed, name, tail, opaque) per entry, in order (name NUL-terminated, at most
 * LSL_DISTRO_NAME_MAX; tail NUL-terminated, "" in lists without). Returns the count, or -EPROTO (also when
 * each returns non-zero). */
long lsl_named_list_decode(const uint8_t *data, size_t len, size_t max, bool empty_ok, size_t tail_max,
                           int (*each)(size_t i, const uint8_t *fixed, const char *name, const char *tail,
                                       void *opaque),
                           void *opaque);

#define LSL_NAMED_TAIL_MAX 255

#endif
