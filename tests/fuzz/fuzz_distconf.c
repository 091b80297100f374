/* Fuzz target: a distribution's own configuration (cli/distconf.h), which the guest hands to the host: the
 * input is wsl.conf, lsl.conf and wsl-distribution.conf separated by NUL bytes (a missing part is an absent
 * file). Whatever the guest wrote, what is kept must be valid. */
#include <errno.h>

#include "distconf.h"
#include "fuzz.h"

/* The next NUL-separated part as a string of its own allocation; NULL when the input has no more parts. */
static char *next_part(const uint8_t **data, size_t *size, bool *more)
{
    if (!*more)
        return NULL;
    const uint8_t *nul = memchr(*data, '\0', *size);
    size_t len = nul ? (size_t)(nul - *data) : *size;
    char *s = fuzz_strdup(*data, len);
    *more = nul != NULL;
    *data += nul ? len + 1 : len;
    *size -= nul ? len + 1 : len;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t total = size;
    bool more = true;
    char *wsl = next_part(&data, &size, &more);
    char *lsl = next_part(&data, &size, &more);
    char *dist = next_part(&data, &size, &more);
    struct lsl_distconf d;
    FUZZ_CHECK(lsl_distconf_init(&d) == 0);
    int r = lsl_distconf_parse(&d, wsl, lsl, fuzz_drop_warning);
    FUZZ_CHECK(r == 0 || r == -ENOMEM);
    r = lsl_distconf_parse_distribution(&d, dist, fuzz_drop_warning);
    FUZZ_CHECK(r == 0 || r == -ENOMEM);
    /* Invalid values are warnings that keep the earlier value, so each kept one passes its own check. */
    FUZZ_CHECK(!d.network_hostname || lsl_hostname_valid(d.network_hostname));
    FUZZ_CHECK(d.automount_root && d.automount_root[0] == '/');
    FUZZ_CHECK(d.oobe_default_uid >= -1);
    FUZZ_CHECK(d.boot_init_timeout_ms >= -1 && d.boot_init_timeout_ms <= LSL_DISTRO_INIT_TIMEOUT_MAX_MS);
    const char *strings[] = {d.boot_command, d.user_default, d.automount_options, d.oobe_command,
                             d.oobe_default_name};
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
        FUZZ_CHECK(!strings[i] || strlen(strings[i]) <= total);
    lsl_distconf_free(&d);
    free(wsl);
    free(lsl);
    free(dist);
    return 0;
}
