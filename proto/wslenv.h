/* WSLENV's grammar, one home for both ways a variable crosses: the CLI passes the host's into a guest command
 * (cli/env.c), lsl-host passes the guest's to a host command (guest/distro/lsl_host.c). The rules are WSL's
 * own (UtilParseWslEnv in microsoft/WSL src/linux/init/util.cpp): "NAME[/FLAGS]" entries separated by ':',
 * flags u (into the guest only), w (out of the guest only), p (a path), l (a list of paths, ':'-separated).
 */
#ifndef LSL_PROTO_WSLENV_H
#define LSL_PROTO_WSLENV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum lsl_wslenv_way {
    LSL_WSLENV_INTO_GUEST,   /* host to guest: w entries stay */
    LSL_WSLENV_OUT_OF_GUEST, /* guest to host: u entries stay */
};

/* One entry that goes: name (len bytes, not NUL-terminated), mode 0 (as it is), 'p' or 'l'. A return below
 * 0 ends the walk with it. */
typedef int lsl_wslenv_entry_fn(const char *name, size_t len, char mode, void *opaque);

/* Calls fn for each entry of list that goes `way`, in order. Left out, as WSL leaves them: an empty name or
 * one holding '=', an entry for the other way only, an entry with a flag WSL does not know. Trailing blanks
 * of the list are ignored. Returns 0, or what fn returned below 0. */
int lsl_wslenv_each(const char *list, enum lsl_wslenv_way way, lsl_wslenv_entry_fn *fn, void *opaque);

/* One element of a p or l value (path, len bytes) in its new form, into out (room bytes, NUL-terminated):
 * its length, or -1 to keep the element as it is. */
typedef ssize_t lsl_wslenv_path_fn(const char *path, size_t len, char *out, size_t room, void *opaque);

/* value with each of its elements (the whole value for p, each ':'-separated one for l) through map:
 * malloc'd, NULL when out of memory. */
char *lsl_wslenv_map(const char *value, bool list, lsl_wslenv_path_fn *map, void *opaque);

#endif
