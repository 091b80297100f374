/* Fuzz target: the EXEC payload decoder (proto/exec.h lsl_exec_decode), the first thing the guest's agent
 * reads from a session. An accepted payload gives exactly what the agent will use (argc and envc strings,
 * NULL-terminated arrays, env entries NAME=value), and the host's encoder turns it back into the same bytes:
 * the layout has one spelling. */
#include <errno.h>

#include "exec.h"
#include "fuzz.h"

static void check_string(const char *s)
{
    FUZZ_CHECK(s != NULL);
    (void)strlen(s); /* terminated inside its allocation, or ASan says otherwise */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Its own allocation, so a read past the payload's end is found. */
    uint8_t *copy = malloc(size ? size : 1);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, data, size);
    struct lsl_exec_msg m;
    int r = lsl_exec_decode(copy, size, &m);
    if (r < 0) {
        FUZZ_CHECK(r == -EPROTO || r == -ENOMEM);
    } else {
        FUZZ_CHECK(r == 0);
        FUZZ_CHECK(m.argc >= 1 && size >= LSL_EXEC_FIXED_SIZE + m.argc + m.envc + 3);
        for (int i = 0; i < 3; i++)
            FUZZ_CHECK(m.stdio[i] == LSL_STDIO_PIPE || m.stdio[i] == LSL_STDIO_PTY);
        FUZZ_CHECK((m.flags & ~(uint32_t)LSL_EXEC_FLAGS_KNOWN) == 0);
        check_string(m.cwd);
        check_string(m.user);
        check_string(m.distro);
        for (uint32_t i = 0; i < m.argc; i++)
            check_string(m.argv[i]);
        FUZZ_CHECK(m.argv[m.argc] == NULL);
        for (uint32_t i = 0; i < m.envc; i++) {
            check_string(m.env[i]);
            FUZZ_CHECK(m.env[i][0] != '=' && strchr(m.env[i], '=') != NULL);
        }
        FUZZ_CHECK(m.env[m.envc] == NULL);

        /* What the agent accepted, the client's encoder writes byte for byte. */
        FUZZ_CHECK(lsl_exec_size(&m) == size);
        uint8_t *again = malloc(size);
        FUZZ_CHECK(again != NULL);
        FUZZ_CHECK(lsl_exec_encode(&m, again, size) == size);
        FUZZ_CHECK(memcmp(again, copy, size) == 0);
        free(again);
        lsl_exec_msg_free(&m);
    }
    free(copy);
    return 0;
}
