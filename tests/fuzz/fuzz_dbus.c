/* Fuzz target: guest/agent/dbus_msg.h, what the agent reads from a distribution's system bus (logind.c):
 * dbus_msg_parse over a stream of messages, each one read as CreateSession's answer and as an error too.
 * Promises checked: a message's length is within what arrived and DBUS_MSG_MAX, its body within it, its
 * strings NUL-terminated; an accepted answer's strings fit their fields. Before the input, a call written
 * with dbus_call must parse back with its serial and signature. The whole input is the stream. */
#include <errno.h>

#include "dbus_msg.h"
#include "fuzz.h"

static void written_call_reads_back(void)
{
    uint8_t mem[256], out[1024];
    struct dbus_buf body = {.p = mem, .cap = sizeof(mem)};
    dbus_put_u32(&body, 1000);
    dbus_put_str(&body, "lsl");
    dbus_put_bool(&body, true);
    dbus_put_empty_dict(&body);
    size_t n = dbus_call(out, sizeof(out), 7, "org.freedesktop.login1", "/org/freedesktop/login1",
                         "org.freedesktop.login1.Manager", "CreateSession", "usba(sv)", &body);
    struct dbus_msg m;
    FUZZ_CHECK(n > 0 && dbus_msg_parse(out, n, &m) == (ssize_t)n);
    FUZZ_CHECK(m.type == DBUS_METHOD_CALL && m.serial == 7 && !strcmp(m.signature, "usba(sv)"));
    FUZZ_CHECK(m.body_len == body.len && !memcmp(m.body, mem, body.len));
    FUZZ_CHECK(dbus_msg_parse(out, n - 1, &m) == 0);                              /* incomplete */
    FUZZ_CHECK(dbus_call(out, 40, 7, NULL, "/", NULL, "Hello", NULL, NULL) == 0); /* too small: refused */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    written_call_reads_back();
    size_t at = 0;
    while (at < size) {
        struct dbus_msg m;
        ssize_t n = dbus_msg_parse(data + at, size - at, &m);
        if (n <= 0) {
            FUZZ_CHECK(n == 0 || n == -EBADMSG || n == -EMSGSIZE);
            break;
        }
        FUZZ_CHECK((size_t)n <= size - at && (size_t)n <= DBUS_MSG_MAX);
        FUZZ_CHECK(m.body >= data + at && m.body + m.body_len == data + at + n);
        FUZZ_CHECK(memchr(m.signature, '\0', sizeof(m.signature)) && memchr(m.error, '\0', sizeof(m.error)));
        struct logind_created c;
        if (dbus_parse_create_session(&m, &c) == 0) {
            FUZZ_CHECK(memchr(c.id, '\0', sizeof(c.id)) && memchr(c.runtime, '\0', sizeof(c.runtime)));
            FUZZ_CHECK(memchr(c.seat, '\0', sizeof(c.seat)));
        }
        char text[64];
        dbus_error_text(&m, text, sizeof(text));
        FUZZ_CHECK(memchr(text, '\0', sizeof(text)));
        at += (size_t)n;
    }
    return 0;
}
