/* Fuzz target: the host share list and path translation (proto/hostshare.h), which lsl-distro reads from its
 * start keys and lslpath from the map file and its argument, and the [automount] options a distribution's
 * wsl.conf gives (guest/distro/automount_opts.h). Input: list, root, path and options separated by NUL bytes
 * (a missing part is empty). Whatever comes in, an accepted list is valid and a translated path is absolute
 * and normalized, and translating it back lands where it started. */
#include <errno.h>

#include "automount_opts.h"
#include "fuzz.h"
#include "hostshare.h"

static char *next_part(const uint8_t **data, size_t *size)
{
    const uint8_t *nul = memchr(*data, '\0', *size);
    size_t len = nul ? (size_t)(nul - *data) : *size;
    char *s = fuzz_strdup(*data, len);
    *data += nul ? len + 1 : len;
    *size -= nul ? len + 1 : len;
    return s;
}

static bool normalized(const char *p)
{
    char again[LSL_HOSTSHARE_PATH_MAX + 64];
    return lsl_path_normalize(p, again, sizeof(again)) == 0 && strcmp(again, p) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *list = next_part(&data, &size), *root = next_part(&data, &size), *path = next_part(&data, &size),
         *opts = next_part(&data, &size);
    struct lsl_hostshares s, back;
    char err[256], text[LSL_HOSTSHARES_MAX * (LSL_HOSTSHARE_NAME_MAX + LSL_HOSTSHARE_PATH_MAX + 2) + 64];
    char guest[LSL_HOSTSHARE_PATH_MAX], host[LSL_HOSTSHARE_PATH_MAX], nroot[LSL_HOSTSHARE_PATH_MAX];

    int r = lsl_hostshares_parse(list, &s, err, sizeof(err));
    FUZZ_CHECK(r == 0 || (r == -EINVAL && err[0]));
    if (r == 0) {
        FUZZ_CHECK(s.n <= LSL_HOSTSHARES_MAX);
        for (size_t i = 0; i < s.n; i++)
            FUZZ_CHECK(lsl_hostshare_name_valid(s.s[i].name) && normalized(s.s[i].host));
        /* The canonical text reads back the same, and as a map too. */
        FUZZ_CHECK(lsl_hostshares_format(&s, text, sizeof(text)) >= 0);
        FUZZ_CHECK(lsl_hostshares_parse(text, &back, err, sizeof(err)) == 0 && back.n == s.n);
        if (lsl_path_normalize(root[0] ? root : "/mnt", nroot, sizeof(nroot)) == 0 &&
            lsl_hostshare_map_format(nroot, &s, text, sizeof(text)) > 0) {
            char mroot[LSL_HOSTSHARE_PATH_MAX];
            FUZZ_CHECK(lsl_hostshare_map_parse(text, mroot, &back) == 0 && back.n == s.n);
            FUZZ_CHECK(strcmp(mroot, nroot) == 0);
        }
        r = lsl_hostshare_to_guest(&s, root, path, guest, sizeof(guest));
        FUZZ_CHECK(r == 0 || r == 1 || r == -EINVAL || r == -ENAMETOOLONG);
        if (r == 1) {
            FUZZ_CHECK(normalized(guest));
            /* Back to the host: the same path (lexically), unless another share's mount point is nearer. */
            r = lsl_hostshare_to_host(&s, root, guest, host, sizeof(host));
            FUZZ_CHECK(r == 1 || r == -ENAMETOOLONG);
            if (r == 1)
                FUZZ_CHECK(normalized(host));
        }
        r = lsl_hostshare_to_host(&s, root, path, host, sizeof(host));
        FUZZ_CHECK(r == 0 || r == 1 || r == -EINVAL || r == -ENAMETOOLONG);
        if (r == 1)
            FUZZ_CHECK(normalized(host));
    }
    (void)lsl_hostshare_map_parse(list, nroot, &back);

    struct automount_opts o;
    char warning[200];
    warning[0] = '\0';
    r = automount_opts_parse(opts, 1000, 1000, &o, warning, sizeof(warning));
    FUZZ_CHECK((r == 0 && !warning[0]) || (r == 1 && warning[0] && strlen(warning) < sizeof(warning)));
    /* What mount_setattr takes: an atime mode only with the whole atime field cleared. */
    FUZZ_CHECK(!(o.attr_set & AUTOMOUNT_ATTR__ATIME) ||
               (o.attr_clr & AUTOMOUNT_ATTR__ATIME) == AUTOMOUNT_ATTR__ATIME);
    free(list);
    free(root);
    free(path);
    free(opts);
    return 0;
}
