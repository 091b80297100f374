/* Builds the guest kernel command line: base options, device entries, and lsl-init's keys (proto/boot.h).
 * Pure string work, unit-tested. */
#ifndef LSL_CMDLINE_H
#define LSL_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>

#include "options.h"

struct boot_cmdline {
    char *buf;
    size_t len;
};

/* Appends a space-separated fragment (leading/trailing blanks of frag are dropped). */
int boot_cmdline_add(struct boot_cmdline *c, const char *frag);
int boot_cmdline_add_root(struct boot_cmdline *c, const char *dev, bool readonly);
/* lsl.cmd=<hex of "arg0\0arg1\0...">: binary-safe, immune to the kernel's quoting rules. */
int boot_cmdline_add_command(struct boot_cmdline *c, char *const *argv);
/* Whether --root names a disk given with ",ro" (/dev/vda is the first --disk). */
bool boot_root_readonly(const struct vmm_options *o);

#endif
