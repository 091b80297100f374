/* Catalog parsing and validation with json-c: lsl's format ("distributions") and WSL's
 * ("ModernDistributions"). A catalog comes from any file or URL ~/.lslconfig names, and its fields end up on
 * command lines (mmdebstrap's, lsl-fetch's), in file names and on the terminal: every field is checked
 * for its kind here, when the catalog is read, so nothing later has to wonder (a mirror of
 * "--customize-hook=..." would otherwise run a host command through mmdebstrap). */
#include "catalog.h"
#include "json.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "io.h"
#include "macro.h"
#include "registry.h" /* lsl_distro_name_valid: a catalog name becomes a distro name */

const char *lsl_catalog_arch(void)
{
#if defined(__x86_64__)
    return "amd64";
#elif defined(__aarch64__)
    return "arm64";
#else
#error "lsl knows no catalog architecture for this CPU"
#endif
}

const struct lsl_catalog_download *lsl_catalog_download_for(const struct lsl_catalog_entry *e,
                                                            const char *arch)
{
    const struct lsl_catalog_download *d = strcmp(arch, "amd64") == 0   ? &e->amd64
                                           : strcmp(arch, "arm64") == 0 ? &e->arm64
                                                                        : NULL;
    return d && d->url ? d : NULL;
}

const struct lsl_catalog_entry *lsl_catalog_find(const struct lsl_catalog *cat, const char *name)
{
    for (size_t i = 0; i < cat->n; i++)
        if (strcasecmp(cat->entries[i].name, name) == 0)
            return &cat->entries[i];
    return NULL;
}

const struct lsl_catalog_entry *lsl_catalog_default(const struct lsl_catalog *cat)
{
    for (size_t i = 0; i < cat->n; i++)
        if (cat->entries[i].is_default)
            return &cat->entries[i];
    return NULL;
}

static void entry_free(struct lsl_catalog_entry *e)
{
    free(e->name);
    free(e->friendly_name);
    free(e->source);
    free(e->amd64.url);
    free(e->amd64.sha256);
    free(e->arm64.url);
    free(e->arm64.sha256);
    if (e->bootstrap) {
        struct lsl_catalog_bootstrap *b = e->bootstrap;
        free(b->tool);
        free(b->suite);
        free(b->variant);
        free(b->mirror);
        for (size_t i = 0; i < b->ninclude; i++)
            free(b->include[i]);
        free(b->include);
        free(b);
    }
    *e = (struct lsl_catalog_entry){0};
}

void lsl_catalog_free(struct lsl_catalog *cat)
{
    for (size_t i = 0; i < cat->n; i++)
        entry_free(&cat->entries[i]);
    free(cat->entries);
    *cat = (struct lsl_catalog){0};
}

/* Parsing state: the first problem found, as the one error line. */
struct parse {
    const char *origin;
    char *err;
    size_t errlen;
    int ret;
};

static int fail(struct parse *p, const char *entry, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct parse *p, const char *entry, const char *fmt, ...)
{
    char why[256], name[LSL_DISTRO_NAME_MAX + 8];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    /* The entry's name is not checked yet: shown with anything unprintable as '?', and cut short. */
    snprintf(name, sizeof(name), "%s", entry ? entry : "");
    for (char *c = name; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
            *c = '?';
    if (entry && strlen(entry) >= sizeof(name))
        memcpy(name + sizeof(name) - 4, "...", 4);
    if (entry)
        snprintf(p->err, p->errlen, "%s: entry '%s': %s", p->origin, name, why);
    else
        snprintf(p->err, p->errlen, "%s: %s", p->origin, why);
    return p->ret = -EINVAL;
}

static int oom(struct parse *p)
{
    snprintf(p->err, p->errlen, "%s: out of memory", p->origin);
    return p->ret = -ENOMEM;
}

/* A member's value, NULL if absent (or a JSON null: where that matters, json_object_object_get_ex tells). */
static json_object *member(const json_object *o, const char *key)
{
    json_object *v = NULL;
    json_object_object_get_ex(o, key, &v);
    return v;
}

/* Only a JSON true: json_object_get_boolean would take 1 or "yes" too. */
static bool is_true(const json_object *v)
{
    return json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

/* --- the kinds of fields --- */

enum kind {
    K_TEXT,    /* shown to the user: no control characters (a terminal would obey them) */
    K_URL,     /* http, https or file; printable ASCII without blanks */
    K_SUITE,   /* a Debian suite or codename ("bookworm", "stable-backports"), or an mmdebstrap variant */
    K_PACKAGE, /* a Debian package name, by Debian policy */
};
#define TEXT_MAX  4096
#define URL_MAX   4096
#define SUITE_MAX 64
#define PKG_MAX   128

static bool text_ok(const char *s)
{
    const unsigned char *c = (const unsigned char *)s;
    for (; *c; c++)
        /* C0 controls and DEL, and C1 controls as UTF-8 writes them (C2 80 to C2 9F). */
        if (*c < 0x20 || *c == 0x7f || (c[0] == 0xc2 && c[1] >= 0x80 && c[1] <= 0x9f))
            return false;
    return c - (const unsigned char *)s <= TEXT_MAX;
}

static bool url_ok(const char *url)
{
    static const char *const schemes[] = {"https://", "http://", "file://"};
    const char *rest = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(schemes) && !rest; i++)
        if (strncmp(url, schemes[i], strlen(schemes[i])) == 0)
            rest = url + strlen(schemes[i]);
    if (!rest || !*rest || strlen(url) > URL_MAX)
        return false;
    for (const unsigned char *c = (const unsigned char *)url; *c; c++)
        if (*c <= ' ' || *c >= 0x7f)
            return false;
    return true;
}

/* [a-z0-9] first, then those and extra; min..max characters. */
static bool word_ok(const char *s, const char *extra, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (n < min || n > max || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
        return false;
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || (*c && strchr(extra, *c))))
            return false;
    return true;
}

static bool kind_ok(enum kind kind, const char *s)
{
    switch (kind) {
    case K_URL:
        return url_ok(s);
    case K_SUITE:
        return word_ok(s, "._-", 1, SUITE_MAX);
    case K_PACKAGE: /* Debian policy 5.6.1: [a-z0-9][a-z0-9+.-]+ */
        return word_ok(s, "+.-", 2, PKG_MAX);
    case K_TEXT:
    default:
        return text_ok(s);
    }
}

static const char *kind_says(enum kind kind)
{
    switch (kind) {
    case K_URL:
        return "is not an http, https or file URL";
    case K_SUITE:
        return "is not a Debian suite name (a-z, 0-9, '.', '_', '-')";
    case K_PACKAGE:
        return "is not a Debian package name (a-z, 0-9, '+', '.', '-')";
    case K_TEXT:
    default:
        return "has control characters or is too long";
    }
}

/* Checks one field's value by its kind; field names it in the error ("bootstrap.mirror"). */
static int check_kind(struct parse *p, const char *entry, const char *field, enum kind kind,
                      const char *value)
{
    return kind_ok(kind, value) ? 0 : fail(p, entry, "%s %s", field, kind_says(kind));
}

/* Optional string member of the given kind; NULL if absent, a failure if present but not a non-empty string
 * of that kind. field is how errors name it. */
static int get_string(struct parse *p, const char *entry, const json_object *o, const char *key,
                      const char *field, enum kind kind, bool required, char **out)
{
    json_object *v;
    bool present = json_object_object_get_ex(o, key, &v);
    *out = NULL;
    if (!present && !required)
        return 0;
    if (!json_object_is_type(v, json_type_string) || !*json_object_get_string(v))
        return fail(p, entry, present ? "%s is not a non-empty string" : "%s is missing", field);
    if (check_kind(p, entry, field, kind, json_object_get_string(v)))
        return p->ret;
    return (*out = strdup(json_object_get_string(v))) ? 0 : oom(p);
}

/* sha256 as 64 hex digits, lowercased; WSL's manifest also writes some as "0x..." */
static int set_download(struct parse *p, const char *entry, const char *arch, const char *url,
                        const char *sha, struct lsl_catalog_download *d)
{
    if (!url || !url_ok(url))
        return fail(p, entry, "%s.url %s", arch, url ? kind_says(K_URL) : "is missing");
    if (!sha)
        return fail(p, entry, "%s.sha256 is missing", arch);
    if (strncasecmp(sha, "0x", 2) == 0)
        sha += 2;
    bool hex = strlen(sha) == 64;
    for (const char *c = sha; hex && *c; c++)
        hex = isxdigit((unsigned char)*c);
    if (!hex)
        return fail(p, entry, "%s.sha256 is not 64 hex digits", arch);
    if (!(d->url = strdup(url)) || !(d->sha256 = strdup(sha)))
        return oom(p);
    for (char *c = d->sha256; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return 0;
}

static int parse_lsl_download(struct parse *p, const char *entry, const json_object *o, const char *arch,
                              struct lsl_catalog_download *d)
{
    json_object *a;
    if (!json_object_object_get_ex(o, arch, &a))
        return 0;
    if (!json_object_is_type(a, json_type_object))
        return fail(p, entry, "download.%s is not an object", arch);
    return set_download(p, entry, arch, lsl_json_string(a, "url"), lsl_json_string(a, "sha256"), d);
}

static int parse_include(struct parse *p, const char *entry, const json_object *inc,
                         struct lsl_catalog_bootstrap *b)
{
    if (!json_object_is_type(inc, json_type_array))
        return fail(p, entry, "bootstrap.include is not an array");
    size_t n = json_object_array_length(inc);
    if (!(b->include = calloc(n + 1, sizeof(char *))))
        return oom(p);
    for (size_t i = 0; i < n; i++) {
        json_object *pkg = json_object_array_get_idx(inc, i);
        const char *name = json_object_is_type(pkg, json_type_string) ? json_object_get_string(pkg) : "";
        char field[48];
        snprintf(field, sizeof(field), "bootstrap.include[%zu]", i);
        if (check_kind(p, entry, field, K_PACKAGE, name))
            return p->ret;
        if (!(b->include[b->ninclude++] = strdup(name)))
            return oom(p);
    }
    return 0;
}

static int parse_bootstrap(struct parse *p, const char *entry, const json_object *o,
                           struct lsl_catalog_entry *e)
{
    if (!json_object_is_type(o, json_type_object))
        return fail(p, entry, "bootstrap is not an object");
    struct lsl_catalog_bootstrap *b = e->bootstrap = calloc(1, sizeof(*b));
    if (!b)
        return oom(p);
    if (get_string(p, entry, o, "tool", "bootstrap.tool", K_SUITE, true, &b->tool) ||
        get_string(p, entry, o, "suite", "bootstrap.suite", K_SUITE, true, &b->suite) ||
        get_string(p, entry, o, "variant", "bootstrap.variant", K_SUITE, false, &b->variant) ||
        get_string(p, entry, o, "mirror", "bootstrap.mirror", K_URL, false, &b->mirror))
        return p->ret;
    if (strcmp(b->tool, "mmdebstrap") != 0)
        return fail(p, entry, "bootstrap tool '%s' is unknown (only mmdebstrap)", b->tool);
    json_object *inc;
    return json_object_object_get_ex(o, "include", &inc) ? parse_include(p, entry, inc, b) : 0;
}

/* Checks what both formats share: a valid, unique name, exactly one way to get the root filesystem. */
static int check_entry(struct parse *p, const struct lsl_catalog *cat, const struct lsl_catalog_entry *e)
{
    if (!lsl_distro_name_valid(e->name))
        return fail(p, e->name, "the name is not a valid distro name");
    if (lsl_catalog_find(cat, e->name))
        return fail(p, e->name, "the name appears twice");
    if (e->is_default && lsl_catalog_default(cat))
        return fail(p, e->name, "a second default (the first is '%s')", lsl_catalog_default(cat)->name);
    bool download = e->amd64.url || e->arm64.url;
    if (download == !!e->bootstrap)
        return fail(p, e->name,
                    download ? "both a download and a bootstrap" : "neither a download nor a bootstrap");
    return 0;
}

static struct lsl_catalog_entry *new_entry(struct parse *p, struct lsl_catalog *cat)
{
    struct lsl_catalog_entry *grown = realloc(cat->entries, (cat->n + 1) * sizeof(*grown));
    if (!grown) {
        oom(p);
        return NULL;
    }
    cat->entries = grown;
    grown[cat->n] = (struct lsl_catalog_entry){0};
    return &grown[cat->n];
}

static int parse_lsl_entry(struct parse *p, const char *entry, const json_object *o,
                           struct lsl_catalog_entry *e)
{
    json_object *def, *download, *bootstrap;
    bool has_def = json_object_object_get_ex(o, "default", &def);
    bool has_download = json_object_object_get_ex(o, "download", &download);
    bool has_bootstrap = json_object_object_get_ex(o, "bootstrap", &bootstrap);
    int r = get_string(p, entry, o, "name", "name", K_TEXT, true, &e->name);
    if (!r)
        r = get_string(p, entry, o, "friendlyName", "friendlyName", K_TEXT, false, &e->friendly_name);
    if (!r)
        r = get_string(p, entry, o, "source", "source", K_TEXT, false, &e->source);
    if (!r && has_def && !json_object_is_type(def, json_type_boolean))
        r = fail(p, entry, "default is not true or false");
    e->is_default = is_true(def);
    if (!r && has_download && !json_object_is_type(download, json_type_object))
        r = fail(p, entry, "download is not an object");
    if (!r && has_download)
        r = parse_lsl_download(p, entry, download, "amd64", &e->amd64);
    if (!r && has_download)
        r = parse_lsl_download(p, entry, download, "arm64", &e->arm64);
    if (!r && has_download && !e->amd64.url && !e->arm64.url)
        r = fail(p, entry, "download has neither amd64 nor arm64");
    if (!r && has_bootstrap)
        r = parse_bootstrap(p, entry, bootstrap, e);
    return r;
}

static int parse_lsl_format(struct parse *p, struct lsl_catalog *cat, const json_object *list)
{
    size_t n = json_object_array_length(list);
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_array_get_idx(list, i);
        char label[32];
        snprintf(label, sizeof(label), "#%zu", i + 1);
        const char *name = lsl_json_string(o, "name");
        const char *entry = name ? name : label; /* errors name the entry, by position if it has no name */
        if (!json_object_is_type(o, json_type_object))
            return fail(p, entry, "not an object");
        struct lsl_catalog_entry *e = new_entry(p, cat);
        if (!e)
            return p->ret;
        int r = parse_lsl_entry(p, entry, o, e);
        if (!r)
            r = check_entry(p, cat, e);
        cat->n++; /* owned by cat from here, freed with it on failure */
        if (r)
            return r;
    }
    return 0;
}

static int parse_wsl_entry(struct parse *p, struct lsl_catalog *cat, const char *flavor, const json_object *o,
                           bool in_default_flavor)
{
    const char *name = lsl_json_string(o, "Name");
    if (!name)
        return fail(p, NULL, "an entry of %s has no Name", flavor);
    struct lsl_catalog_entry *e = new_entry(p, cat);
    if (!e)
        return p->ret;
    cat->n++;
    if (!(e->name = strdup(name)))
        return oom(p);
    const char *friendly = lsl_json_string(o, "FriendlyName");
    if (friendly && check_kind(p, name, "FriendlyName", K_TEXT, friendly))
        return p->ret;
    if (friendly && !(e->friendly_name = strdup(friendly)))
        return oom(p);
    e->is_default = in_default_flavor && is_true(member(o, "Default"));
    static const struct {
        const char *key, *arch;
    } archs[] = {{"Amd64Url", "amd64"}, {"Arm64Url", "arm64"}};
    for (size_t i = 0; i < 2; i++) {
        json_object *a = member(o, archs[i].key);
        if (!json_object_is_type(a, json_type_object))
            continue;
        const char *url = lsl_json_string(a, "Url"), *sha = lsl_json_string(a, "Sha256");
        if (set_download(p, name, archs[i].arch, url, sha, i == 0 ? &e->amd64 : &e->arm64))
            return p->ret;
    }
    cat->n--; /* check_entry looks for duplicates among the entries before this one */
    int r = check_entry(p, cat, e);
    cat->n++;
    return r;
}

/* WSL: {"ModernDistributions": {"<flavor>": [{"Name", "FriendlyName", "Default", "Amd64Url": {"Url",
 * "Sha256"}, "Arm64Url"}]}, "Default": "<flavor>"}. The default is the Default entry of the default flavor.
 */
static int parse_wsl_format(struct parse *p, struct lsl_catalog *cat, const json_object *flavors,
                            const char *default_flavor)
{
    json_object_object_foreach(flavors, flavor, list)
    {
        if (!json_object_is_type(list, json_type_array))
            return fail(p, NULL, "ModernDistributions.%s is not an array", flavor);
        bool in_default_flavor = default_flavor && strcmp(flavor, default_flavor) == 0;
        size_t n = json_object_array_length(list);
        for (size_t i = 0; i < n; i++)
            if (parse_wsl_entry(p, cat, flavor, json_object_array_get_idx(list, i), in_default_flavor))
                return p->ret;
    }
    return 0;
}

int lsl_catalog_parse(struct lsl_catalog *cat, const char *json, const char *origin, char *err, size_t errlen)
{
    struct parse p = {.origin = origin, .err = err, .errlen = errlen};
    *cat = (struct lsl_catalog){0};
    json_object *root;
    bool valid = lsl_json_parse(json, &root);
    json_object *list = member(root, "distributions"), *modern = member(root, "ModernDistributions");
    if (!valid)
        fail(&p, NULL, "not valid JSON");
    else if (json_object_is_type(list, json_type_array))
        parse_lsl_format(&p, cat, list);
    else if (json_object_is_type(modern, json_type_object))
        parse_wsl_format(&p, cat, modern, lsl_json_string(root, "Default"));
    else
        fail(&p, NULL, "neither a \"distributions\" array nor WSL's \"ModernDistributions\"");
    if (!p.ret && cat->n == 0)
        fail(&p, NULL, "no distributions");
    json_object_put(root);
    if (p.ret)
        lsl_catalog_free(cat);
    return p.ret;
}

/* WSL's own manifest is about 30 KiB; a catalog is not read past this. */
#define CATALOG_MAX (16u << 20)

int lsl_catalog_load_file(struct lsl_catalog *cat, const char *path, char *err, size_t errlen)
{
    *cat = (struct lsl_catalog){0};
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(e));
        return -e;
    }
    _cleanup_free_ char *text = NULL;
    int r = read_fd_text(fd, CATALOG_MAX, &text, NULL);
    if (r < 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(-r));
        return r;
    }
    return lsl_catalog_parse(cat, text, path, err, errlen);
}
