/* ~/.lslconfig: the [lsl]/[wsl2] keys, the environment overrides, sizes, and the INI reading shared with the
 * per-distro wsl.conf. Like WSL, nothing in the file is fatal: a bad line is a warning and the default stays.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "size.h"

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
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return *out = true, 0;
        if (strcasecmp(s, no[i]) == 0)
            return *out = false, 0;
    }
    return -EINVAL;
}

/* libinih's handler has no line number (INI_HANDLER_LINENO is a build option of the library), so lines are
 * fed through our own reader, which counts them and screens out what libinih would reject silently. */
struct ini_reader {
    const char *pos;
    int line;
    const char *name;
    lsl_warn_fn warn;
    lsl_ini_handler handler;
    void *user;
    int error;
};

static char *ini_read_line(char *buf, int size, void *stream)
{
    struct ini_reader *r = stream;
    if (!*r->pos)
        return NULL;
    const char *eol = strchr(r->pos, '\n');
    size_t len = eol ? (size_t)(eol - r->pos) : strlen(r->pos);
    const char *line = r->pos;
    r->pos += len + (eol ? 1 : 0);
    r->line++;
    /* Leading blanks go: libinih would take an indented line as the continuation of the previous value,
     * which neither WSL nor a user expects. */
    while (len && (*line == ' ' || *line == '\t'))
        line++, len--;
    while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    const char *why = NULL;
    if (len + 2 > (size_t)size)
        why = "line too long";
    else if (len && *line == '[' && !memchr(line, ']', len))
        why = "section header without ']'";
    else if (len && *line != '[' && *line != '#' && *line != ';' && !memchr(line, '=', len) &&
             !memchr(line, ':', len))
        why = "expected 'key = value'";
    if (why) {
        lsl_warn(r->warn, "%s:%d: %s (ignored)", r->name, r->line, why);
        len = 0;
    }
    memcpy(buf, line, len);
    buf[len] = '\n';
    buf[len + 1] = '\0';
    return buf;
}

static int ini_on_key(void *user, const char *section, const char *key, const char *value)
{
    struct ini_reader *r = user;
    size_t len = strlen(value);
    /* WSL strips one pair of double quotes around a value. */
    if (len >= 2 && value[0] == '"' && value[len - 1] == '"')
        value++, len -= 2;
    char *v = strndup(value, len);
    if (!v) {
        r->error = -ENOMEM;
        return 0;
    }
    r->handler(r->user, r->line, section, key, v);
    free(v);
    return 1;
}

int lsl_ini_parse_string(const char *text, const char *name, lsl_warn_fn warn, lsl_ini_handler handler,
                         void *user)
{
    struct ini_reader r = {.pos = text, .name = name, .warn = warn, .handler = handler, .user = user};
    int e = ini_parse_stream(ini_read_line, &r, ini_on_key, &r);
    if (r.error)
        return r.error;
    if (e == -2)
        return -ENOMEM;
    if (e > 0) /* our reader screens every line libinih rejects; keep a warning in case it ever differs */
        lsl_warn(warn, "%s:%d: cannot parse (ignored)", name, e);
    return 0;
}

void lsl_config_init(struct lsl_config *c)
{
    *c = (struct lsl_config){
        .memory = LSL_CONFIG_DEFAULT_MEMORY,
        .processors = LSL_CONFIG_DEFAULT_PROCESSORS,
        .vm_idle_timeout_ms = LSL_CONFIG_DEFAULT_IDLE_TIMEOUT_MS,
        .default_vhd_size = LSL_CONFIG_DEFAULT_VHD_SIZE,
    };
}

void lsl_config_free(struct lsl_config *c)
{
    free(c->kernel);
    free(c->kernel_cmdline);
    free(c->catalog);
    c->kernel = c->kernel_cmdline = c->catalog = NULL;
}

static void set_string(char **slot, const char *value)
{
    char *copy = *value ? strdup(value) : NULL;
    if (*value && !copy)
        return; /* out of memory: keep the previous value; the caller's next allocation will report it */
    free(*slot);
    *slot = copy;
}

struct config_parse {
    struct lsl_config *c;
    const char *name;
    lsl_warn_fn warn;
    char last_unknown_section[128];
};

static int parse_long_long(const char *s, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

/* kernel= takes an absolute path, or one under ~/ (WSL wants an absolute Windows path). */
static char *expand_home(const char *path)
{
    const char *home = getenv("HOME");
    char *out;
    if (path[0] == '~' && path[1] == '/' && home && *home)
        return asprintf(&out, "%s%s", home, path + 1) < 0 ? NULL : out;
    return path[0] == '/' ? strdup(path) : NULL;
}

static void config_on_key(void *user, int line, const char *section, const char *key, const char *value)
{
    struct config_parse *p = user;
    struct lsl_config *c = p->c;
    if (strcasecmp(section, "lsl") != 0 && strcasecmp(section, "wsl2") != 0) {
        /* One warning per unknown section, not per key in it. */
        if (strcmp(p->last_unknown_section, section) != 0 || !*section) {
            snprintf(p->last_unknown_section, sizeof(p->last_unknown_section), "%s", section);
            if (*section)
                lsl_warn(p->warn, "%s:%d: unknown section [%s] (ignored)", p->name, line, section);
            else
                lsl_warn(p->warn, "%s:%d: '%s' outside a section (ignored)", p->name, line, key);
        }
        return;
    }
    uint64_t size;
    long long n;
    if (strcasecmp(key, "memory") == 0) {
        if (parse_size(value, &size) < 0 || size < LSL_CONFIG_MIN_MEMORY)
            goto bad;
        c->memory = size;
    } else if (strcasecmp(key, "processors") == 0) {
        if (parse_long_long(value, 1, LSL_CONFIG_MAX_PROCESSORS, &n) < 0)
            goto bad;
        c->processors = (unsigned)n;
    } else if (strcasecmp(key, "kernel") == 0) {
        char *path = *value ? expand_home(value) : NULL;
        if (*value && !path)
            goto bad;
        free(c->kernel);
        c->kernel = path;
    } else if (strcasecmp(key, "kernelCommandLine") == 0) {
        set_string(&c->kernel_cmdline, value);
    } else if (strcasecmp(key, "vmIdleTimeout") == 0) {
        if (parse_long_long(value, LLONG_MIN, LLONG_MAX, &n) < 0)
            goto bad;
        c->vm_idle_timeout_ms = n < 0 ? -1 : n;
    } else if (strcasecmp(key, "defaultVhdSize") == 0) {
        if (parse_size(value, &size) < 0 || size == 0)
            goto bad;
        c->default_vhd_size = size;
    } else if (strcasecmp(key, "catalog") == 0) {
        set_string(&c->catalog, value);
    } else {
        lsl_warn(p->warn, "%s:%d: unknown key '%s' in [%s] (ignored)", p->name, line, key, section);
    }
    return;
bad:
    lsl_warn(p->warn, "%s:%d: invalid value '%s' for %s (default kept)", p->name, line, value, key);
}

int lsl_config_parse_string(struct lsl_config *c, const char *text, const char *name, lsl_warn_fn warn)
{
    struct config_parse p = {.c = c, .name = name, .warn = warn};
    return lsl_ini_parse_string(text, name, warn, config_on_key, &p);
}

static int read_file(const char *path, char **out)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 4096) {
            char *b = realloc(buf, cap + 65536);
            if (!b) {
                free(buf);
                fclose(f);
                return -ENOMEM;
            }
            buf = b, cap += 65536;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
    }
    int err = ferror(f) ? EIO : 0;
    fclose(f);
    if (err) {
        free(buf);
        return -err;
    }
    buf[len] = '\0';
    *out = buf;
    return 0;
}

int lsl_config_load(struct lsl_config *c, const char *path, lsl_warn_fn warn)
{
    lsl_config_init(c);
    char *text = NULL;
    int r = read_file(path, &text);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return log_errno(-r, "cannot read %s", path);
    /* Warnings name the file the way users write it. */
    char name[PATH_MAX];
    const char *home = getenv("HOME");
    size_t hl = home ? strlen(home) : 0;
    if (hl > 1 && strncmp(path, home, hl) == 0 && path[hl] == '/')
        snprintf(name, sizeof(name), "~%s", path + hl);
    else
        snprintf(name, sizeof(name), "%s", path);
    r = lsl_config_parse_string(c, text, name, warn);
    free(text);
    return r;
}

void lsl_config_apply_env(struct lsl_config *c, lsl_warn_fn warn)
{
    const char *e;
    uint64_t size;
    long long n;
    if ((e = getenv("LSL_VM_MEMORY")) && *e) {
        if (parse_size(e, &size) == 0 && size >= LSL_CONFIG_MIN_MEMORY)
            c->memory = size;
        else
            lsl_warn(warn, "ignoring LSL_VM_MEMORY='%s' (a size like 2G)", e);
    }
    if ((e = getenv("LSL_VM_CPUS")) && *e) {
        if (parse_long_long(e, 1, LSL_CONFIG_MAX_PROCESSORS, &n) == 0)
            c->processors = (unsigned)n;
        else
            lsl_warn(warn, "ignoring LSL_VM_CPUS='%s' (1 to %d)", e, LSL_CONFIG_MAX_PROCESSORS);
    }
    if ((e = getenv("LSL_VM_IDLE_TIMEOUT")) && *e) {
        if (parse_long_long(e, LLONG_MIN, LLONG_MAX / 1000, &n) == 0)
            c->vm_idle_timeout_ms = n < 0 ? -1 : n * 1000;
        else
            lsl_warn(warn, "ignoring LSL_VM_IDLE_TIMEOUT='%s' (seconds; negative = never)", e);
    }
    if ((e = getenv("LSL_KERNEL")) && *e)
        set_string(&c->kernel, e);
}
