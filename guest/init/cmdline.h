/* Kernel command line parsing for lsl-init: key lookup and lsl.cmd= hex argv decoding.
 * Pure functions (no I/O, no globals) so they build with musl-gcc and the host gcc and can be unit-tested. */
#ifndef LSL_INIT_CMDLINE_H
#define LSL_INIT_CMDLINE_H

#include <stdbool.h>

/* Looks up key in a kernel command line such as the contents of /proc/cmdline.
 * key may be given with or without its trailing '=' ("lsl.cmd=" or "lsl.cmd").
 * Parameters are split on ASCII whitespace except inside double quotes, and double quotes are removed,
 * as the kernel does. A bare "--" ends the kernel's parameters (the rest belongs to init's argv), so the
 * search stops there. When a key occurs more than once the last occurrence wins, like the kernel.
 * A key present without '=' yields the empty string.
 * Returns 1 and a malloc'd copy of the value in *value_out (free() it) when found, 0 and *value_out = NULL
 * when absent, -EINVAL for a NULL argument or an empty key, -ENOMEM. */
int lsl_cmdline_get(const char *cmdline, const char *key, char **value_out);

/* Decodes the lsl.cmd= value: the hex encoding of "arg0\0arg1\0...argN\0" (lowercase per proto/boot.h;
 * uppercase digits are accepted too). Strict: non-empty, even length, hex digits only, last byte NUL.
 * Empty arguments (consecutive NULs) are kept, as an argv may contain them.
 * Returns argc (>= 1) and a NULL-terminated argv in *argv_out on success; the array and its strings are
 * one allocation, so a single free(*argv_out) releases everything. Returns -EINVAL for a malformed value
 * (or NULL arguments), -E2BIG when argc would not fit an int, -ENOMEM. *argv_out is NULL on failure. */
int lsl_hex_argv_decode(const char *hex, char ***argv_out);

/* Parses the lsl.rootflags= value: "ro" or "rw"; NULL (key absent) means rw.
 * Returns 0 and sets *read_only_out, or -EINVAL for any other value (*read_only_out untouched). */
int lsl_rootflags_parse(const char *value, bool *read_only_out);

#endif
