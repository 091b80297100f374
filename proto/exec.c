/* EXEC payload codec (proto/exec.h). The decoder treats its input as hostile: every count is bounded by the
 * bytes that could hold it before anything is allocated, and every string must end inside the payload. */
#include "exec.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

_Static_assert(sizeof(struct lsl_exec) == LSL_EXEC_FIXED_SIZE, "struct lsl_exec must match the wire layout");

static bool env_entry_ok(const char *s)
{
    return s[0] != '=' && strchr(s, '=') != NULL;
}

size_t lsl_exec_size(const struct lsl_exec_msg *m)
{
    const char *fixed[] = {m->cwd ? m->cwd : "", m->user ? m->user : "", m->distro ? m->distro : ""};
    size_t len = LSL_EXEC_FIXED_SIZE;

    if (m->argc < 1 || !m->argv || (m->envc && !m->env))
        return 0;
    for (size_t i = 0; i < 3; i++)
        len += strlen(fixed[i]) + 1;
    for (uint32_t i = 0; i < m->argc; i++) {
        if (!m->argv[i])
            return 0;
        len += strlen(m->argv[i]) + 1;
    }
    for (uint32_t i = 0; i < m->envc; i++) {
        if (!m->env[i] || !env_entry_ok(m->env[i]))
            return 0;
        len += strlen(m->env[i]) + 1;
    }
    return len > LSL_FRAME_MAX ? 0 : len;
}

static uint8_t *put_string(uint8_t *p, const char *s)
{
    size_t n = strlen(s) + 1;

    memcpy(p, s, n);
    return p + n;
}

size_t lsl_exec_encode(const struct lsl_exec_msg *m, uint8_t *out, size_t len)
{
    size_t need = lsl_exec_size(m);
    uint8_t *p = out;

    if (need == 0 || len < need)
        return 0;
    lsl_put_u32(p, m->flags);
    memcpy(p + 4, m->stdio, 3);
    p[7] = 0;
    lsl_put_u16(p + 8, m->rows);
    lsl_put_u16(p + 10, m->cols);
    lsl_put_u32(p + 12, m->argc);
    lsl_put_u32(p + 16, m->envc);
    p += LSL_EXEC_FIXED_SIZE;
    p = put_string(p, m->cwd ? m->cwd : "");
    p = put_string(p, m->user ? m->user : "");
    p = put_string(p, m->distro ? m->distro : "");
    for (uint32_t i = 0; i < m->argc; i++)
        p = put_string(p, m->argv[i]);
    for (uint32_t i = 0; i < m->envc; i++)
        p = put_string(p, m->env[i]);
    return need;
}

/* Takes the next NUL-terminated string from [*pos, end); NULL when no NUL is left inside the payload. */
static char *next_string(char **pos, char *end)
{
    char *s = *pos, *nul;

    if (s >= end)
        return NULL;
    nul = memchr(s, '\0', (size_t)(end - s));
    if (!nul)
        return NULL;
    *pos = nul + 1;
    return s;
}

int lsl_exec_decode(const uint8_t *data, size_t len, struct lsl_exec_msg *m)
{
    size_t nstr, strings, arrays;
    char *pos, *end;
    uint8_t *block;

    *m = (struct lsl_exec_msg){0};
    if (len < LSL_EXEC_FIXED_SIZE || len > LSL_FRAME_MAX)
        return -EPROTO;
    m->flags = lsl_get_u32(data);
    memcpy(m->stdio, data + 4, 3);
    m->rows = lsl_get_u16(data + 8);
    m->cols = lsl_get_u16(data + 10);
    m->argc = lsl_get_u32(data + 12);
    m->envc = lsl_get_u32(data + 16);
    if ((m->flags & ~(uint32_t)LSL_EXEC_FLAGS_KNOWN) || data[7] != 0)
        return -EPROTO;
    for (int i = 0; i < 3; i++)
        if (m->stdio[i] != LSL_STDIO_PIPE && m->stdio[i] != LSL_STDIO_PTY)
            return -EPROTO;
    /* Each string takes at least its NUL, which bounds the counts before anything is allocated. */
    strings = len - LSL_EXEC_FIXED_SIZE;
    nstr = (size_t)m->argc + m->envc + 3;
    if (m->argc < 1 || nstr > strings)
        return -EPROTO;

    /* One block: the argv and env arrays (each NULL-terminated), then a copy of the strings. */
    arrays = ((size_t)m->argc + 1 + m->envc + 1) * sizeof(char *);
    block = malloc(arrays + strings);
    if (!block)
        return -ENOMEM;
    m->storage = block;
    m->argv = (char **)block;
    m->env = m->argv + m->argc + 1;
    pos = (char *)block + arrays;
    end = pos + strings;
    memcpy(pos, data + LSL_EXEC_FIXED_SIZE, strings);
    m->cwd = next_string(&pos, end);
    m->user = m->cwd ? next_string(&pos, end) : NULL;
    m->distro = m->user ? next_string(&pos, end) : NULL;
    if (!m->distro)
        goto bad;
    for (uint32_t i = 0; i < m->argc; i++)
        if (!(m->argv[i] = next_string(&pos, end)))
            goto bad;
    m->argv[m->argc] = NULL;
    for (uint32_t i = 0; i < m->envc; i++)
        if (!(m->env[i] = next_string(&pos, end)) || !env_entry_ok(m->env[i]))
            goto bad;
    m->env[m->envc] = NULL;
    if (pos != end) /* trailing bytes: the counts and the strings disagree */
        goto bad;
    return 0;
bad:
    lsl_exec_msg_free(m);
    return -EPROTO;
}

void lsl_exec_msg_free(struct lsl_exec_msg *m)
{
    free(m->storage);
    *m = (struct lsl_exec_msg){0};
}
