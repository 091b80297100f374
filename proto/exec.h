/* The EXEC payload of proto/agent.h (struct lsl_exec, then cwd, user, distro, argv and env as NUL-terminated
 * strings): the one encoder the host's session client uses and the one decoder the guest's agent uses, so
 * the byte layout is written down once. */
#ifndef LSL_PROTO_EXEC_H
#define LSL_PROTO_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include "agent.h"

#define LSL_EXEC_FIXED_SIZE 20u /* struct lsl_exec on the wire */

/* An EXEC request. Encoding reads argc/envc entries of argv/env (env may be NULL with envc 0); decoding
 * fills every field, with the strings and both arrays (NULL-terminated) in one allocation that
 * lsl_exec_msg_free releases. */
struct lsl_exec_msg {
    uint32_t flags;   /* LSL_EXEC_* */
    uint8_t stdio[3]; /* enum lsl_stdio_mode for stdin, stdout, stderr */
    uint16_t rows, cols;
    const char *cwd;    /* "" = the user's home, "~/DIR" below it */
    const char *user;   /* "" = root */
    const char *distro; /* "" = the system root */
    uint32_t argc, envc;
    char **argv; /* argc >= 1 entries ("" as argv[0]: the user's login shell) */
    char **env;  /* "NAME=value" entries */
    void *storage;
};

/* The encoded size of m, or 0 when it cannot be sent: no argv, an env entry without '=' or starting with
 * one, or more than LSL_FRAME_MAX bytes. */
size_t lsl_exec_size(const struct lsl_exec_msg *m);
/* Encodes m into out, which holds lsl_exec_size(m) bytes. Returns that size, or 0 as lsl_exec_size does. */
size_t lsl_exec_encode(const struct lsl_exec_msg *m, uint8_t *out, size_t len);
/* Decodes a received payload. Returns 0, -EPROTO for anything malformed (sizes, counts, unterminated strings,
 * trailing bytes, unknown flags or modes, nonzero reserved byte, env entries without '='), or -ENOMEM. */
int lsl_exec_decode(const uint8_t *data, size_t len, struct lsl_exec_msg *m);
void lsl_exec_msg_free(struct lsl_exec_msg *m);

#endif
