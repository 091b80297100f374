/* See conffile.h. A port of WSL's ParseConfigFile (parse mode) to a string cursor. Two places where WSL's
 * code is not followed, on purpose: a CRLF line counts once (WSL counts the CR's line twice in its warnings),
 * and a broken [section] header keeps the section before it (WSL keeps a cut-off prefix of the broken name).
 * No line length limit: the files are read whole and bounded by their readers. */
#include "conffile.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void lsl_warn(lsl_warn_fn warn, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (warn)
        warn(line);
    else
        fprintf(stderr, "lsl: %s\n", line);
}

int lsl_parse_bool(const char *s, bool *out)
{
    /* WSL's ParseBool: nothing else, so generateHosts=yes is a warning there and here. */
    if (!strcmp(s, "1") || !strcasecmp(s, "true"))
        return *out = true, 0;
    if (!strcmp(s, "0") || !strcasecmp(s, "false"))
        return *out = false, 0;
    return -EINVAL;
}

int lsl_parse_int(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 0);
    if (!*s || *end || errno || v < INT_MIN || v > INT_MAX)
        return -EINVAL;
    *out = (int)v;
    return 0;
}

/* A growing string: names and values have no length limit but the file's. */
struct str {
    char *s;
    size_t len, cap;
};

static int str_add(struct str *b, char c)
{
    if (b->len + 1 >= b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        char *s = realloc(b->s, cap);
        if (!s)
            return -ENOMEM;
        b->s = s;
        b->cap = cap;
    }
    b->s[b->len++] = c;
    b->s[b->len] = '\0';
    return 0;
}

static void str_clear(struct str *b)
{
    b->len = 0;
    if (b->s)
        b->s[0] = '\0';
}

struct parser {
    const char *p;
    int line;
    const char *name;
    lsl_warn_fn warn;
    struct str section, key, value;
};

static bool hspace(char c)
{
    return c == ' ' || c == '\t';
}

static bool eol(char c)
{
    return c == '\0' || c == '\n' || c == '\r';
}

/* What WSL's InvalidLine does: everything up to the next newline goes (a CR does not end the line here). */
static void skip_line(struct parser *ps)
{
    while (*ps->p && *ps->p != '\n')
        ps->p++;
}

static void invalid(struct parser *ps, int line, const char *why)
{
    lsl_warn(ps->warn, "%s:%d: %s (line ignored)", ps->name, line, why);
    skip_line(ps);
}

/* A name: a letter, then letters and digits (WSL: isalpha, then isalnum). */
static int read_name(struct parser *ps, struct str *out)
{
    str_clear(out);
    if (str_add(out, *ps->p++) < 0)
        return -ENOMEM;
    while (isalnum((unsigned char)*ps->p))
        if (str_add(out, *ps->p++) < 0)
            return -ENOMEM;
    return 0;
}

/* "[name]", then blanks and the end of the line or a comment. ps->p is at the '['. */
static int parse_section(struct parser *ps)
{
    struct str name = {0};
    int r = 0;
    ps->p++;
    if (!isalpha((unsigned char)*ps->p)) {
        invalid(ps, ps->line, "invalid section name: a letter, then letters and digits");
        return 0;
    }
    if ((r = read_name(ps, &name)) < 0)
        goto out;
    if (*ps->p != ']') {
        invalid(ps, ps->line, "expected ']' after the section name");
        goto out;
    }
    ps->p++;
    while (hspace(*ps->p))
        ps->p++;
    if (*ps->p == '#') {
        skip_line(ps);
    } else if (!eol(*ps->p)) {
        invalid(ps, ps->line, "expected the end of the line after ']'");
        goto out;
    }
    free(ps->section.s);
    ps->section = name;
    return 0;
out:
    free(name.s);
    return r;
}

/* `key = value`; ps->p is at the key's first letter. */
static int parse_key(struct parser *ps, lsl_ini_handler handler, void *user)
{
    int line = ps->line;
    if (read_name(ps, &ps->key) < 0)
        return -ENOMEM;
    while (hspace(*ps->p))
        ps->p++;
    if (*ps->p != '=') {
        char why[128];
        snprintf(why, sizeof(why), "expected '=' after '%.64s'", ps->key.s);
        invalid(ps, line, why);
        return 0;
    }
    ps->p++;
    while (hspace(*ps->p))
        ps->p++;
    str_clear(&ps->value);
    bool quoted = false;
    size_t trimmed = 0; /* the length without trailing blanks (a quote keeps the blanks before it) */
    while (!eol(*ps->p)) {
        char c = *ps->p++, add = c;
        if (c == '"') {
            quoted = !quoted;
            add = 0;
        } else if (c == '\\') {
            char e = *ps->p;
            if (e)
                ps->p++;
            switch (e) {
            case '\\':
            case '"':
                add = e;
                break;
            case 'b':
                add = '\b';
                break;
            case 'n':
                add = '\n';
                break;
            case 't':
                add = '\t';
                break;
            case '\r':
                add = 0; /* as WSL: dropped (so a CRLF after a backslash still ends the value) */
                break;
            case '\n':
                add = 0; /* the value goes on on the next line */
                ps->line++;
                break;
            default: {
                char why[64];
                if (e > 0x20 && e < 0x7f)
                    snprintf(why, sizeof(why), "invalid escape '\\%c'", e);
                else
                    snprintf(why, sizeof(why), "invalid escape: a '\\' before 0x%02x",
                             (unsigned)(unsigned char)e);
                invalid(ps, line, why);
                return 0;
            }
            }
        } else if (c == '#' && !quoted) {
            skip_line(ps); /* a comment: the value ends before it */
            break;
        }
        if (add && str_add(&ps->value, add) < 0)
            return -ENOMEM;
        if (!hspace(c))
            trimmed = ps->value.len;
    }
    if (quoted) {
        invalid(ps, line, "a '\"' is not closed");
        return 0;
    }
    if (ps->value.s)
        ps->value.s[trimmed] = '\0';
    handler(user, line, ps->section.s ? ps->section.s : "", ps->key.s, ps->value.s ? ps->value.s : "");
    return 0;
}

int lsl_ini_parse_string(const char *text, const char *name, lsl_warn_fn warn, lsl_ini_handler handler,
                         void *user)
{
    struct parser ps = {.p = text ? text : "", .line = 1, .name = name, .warn = warn};
    int r = 0;
    while (*ps.p && r == 0) {
        while (hspace(*ps.p))
            ps.p++;
        char c = *ps.p;
        if (c == '\n') {
            ps.p++;
            ps.line++;
        } else if (c == '\r') {
            ps.p++; /* a lone CR separates lines too, as in WSL, without counting one */
        } else if (c == '#') {
            skip_line(&ps);
        } else if (c == '[') {
            r = parse_section(&ps);
        } else if (isalpha((unsigned char)c)) {
            r = parse_key(&ps, handler, user);
        } else if (c) {
            invalid(&ps, ps.line, "expected a key (a letter, then letters and digits) or a [section]");
        }
    }
    free(ps.section.s);
    free(ps.key.s);
    free(ps.value.s);
    return r;
}
