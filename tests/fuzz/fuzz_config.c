/* Fuzz target: ~/.lslconfig (cli/config.h lsl_config_parse_string), the INI reader under it and the size
 * parser. A user's file, or one another tool wrote: never fatal, and the values kept must be in range. */
#include <errno.h>

#include "config.h"
#include "size.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_strdup(data, size);
    struct lsl_config c;
    lsl_config_init(&c);
    int r = lsl_config_parse_string(&c, text, "fuzz.lslconfig", fuzz_drop_warning);
    FUZZ_CHECK(r == 0 || r == -ENOMEM);
    /* Bad values are warnings that keep the default, so whatever was set is valid. */
    FUZZ_CHECK(c.memory >= LSL_CONFIG_MIN_MEMORY);
    FUZZ_CHECK(c.processors >= 1 && c.processors <= LSL_CONFIG_MAX_PROCESSORS);
    /* kernel= is absolute, or ~/ below $HOME, which is absolute anywhere lsl runs. */
    const char *home = getenv("HOME");
    FUZZ_CHECK(!c.kernel || c.kernel[0] == '/' || (home && home[0] != '/'));
    FUZZ_CHECK(c.vm_idle_timeout_ms >= -1);
    FUZZ_CHECK(c.default_vhd_size > 0);
    FUZZ_CHECK(!c.kernel_cmdline || *c.kernel_cmdline);
    FUZZ_CHECK(!c.catalog || *c.catalog);
    lsl_config_free(&c);

    /* The size parser alone, on the first line: also what --manage --resize takes. */
    char *nl = strchr(text, '\n');
    if (nl)
        *nl = '\0';
    uint64_t bytes;
    r = parse_size(text, &bytes);
    FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ERANGE);
    bool b;
    r = lsl_parse_bool(text, &b);
    FUZZ_CHECK(r == 0 || r == -EINVAL);
    free(text);
    return 0;
}
