/* Kernel command-line assembly. */
#include "cmdline.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "boot.h"

static int append(struct boot_cmdline *c, const char *s, size_t n)
{
    char *b = realloc(c->buf, c->len + n + 1);
    if (!b)
        return -ENOMEM;
    memcpy(b + c->len, s, n);
    c->len += n;
    b[c->len] = '\0';
    c->buf = b;
    return 0;
}

int boot_cmdline_add(struct boot_cmdline *c, const char *frag)
{
    while (*frag == ' ' || *frag == '\t')
        frag++;
    size_t n = strlen(frag);
    while (n && (frag[n - 1] == ' ' || frag[n - 1] == '\t'))
        n--;
    if (!n)
        return c->buf ? 0 : append(c, "", 0);
    int r = 0;
    if (c->len)
        r = append(c, " ", 1);
    return r < 0 ? r : append(c, frag, n);
}

int boot_cmdline_add_root(struct boot_cmdline *c, const char *dev, bool readonly)
{
    int r = boot_cmdline_add(c, LSL_CMDLINE_ROOT);
    if (r >= 0)
        r = append(c, dev, strlen(dev));
    if (r >= 0)
        r = boot_cmdline_add(c, readonly ? LSL_CMDLINE_ROOTFLAGS "ro" : LSL_CMDLINE_ROOTFLAGS "rw");
    return r;
}

int boot_cmdline_add_command(struct boot_cmdline *c, char *const *argv)
{
    static const char hex[] = "0123456789abcdef";
    if (!argv || !argv[0])
        return -EINVAL;
    int r = boot_cmdline_add(c, LSL_CMDLINE_CMD);
    for (unsigned i = 0; r >= 0 && argv[i]; i++) {
        const unsigned char *a = (const unsigned char *)argv[i];
        size_t n = strlen(argv[i]) + 1; /* with its NUL */
        for (size_t j = 0; r >= 0 && j < n; j++) {
            char pair[2] = {hex[a[j] >> 4], hex[a[j] & 15]};
            r = append(c, pair, 2);
        }
    }
    return r;
}

bool boot_root_readonly(const struct vmm_options *o)
{
    if (!o->root || strncmp(o->root, "/dev/vd", 7) != 0 || !o->root[7] || o->root[8])
        return false;
    unsigned idx = (unsigned)(o->root[7] - 'a');
    return idx < o->ndisks && o->disks[idx].readonly;
}
