/* Catalog parsing and validation with json-c: lsl's format ("distributions") and WSL's
 * ("ModernDistributions"). */
#include "catalog.h"
#include "json.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    if (entry)
        snprintf(p->err, p->errlen, "%s: entry '%s': %s", p->origin, entry, why);
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

/* Optional string member; NULL if absent, a failure if present but not a string. */
static int get_string(struct parse *p, const char *entry, const json_object *o, const char *key,
                      bool required, char **out)
{
    json_object *v;
    bool present = json_object_object_get_ex(o, key, &v);
    *out = NULL;
    if (!present && !required)
        return 0;
    if (!json_object_is_type(v, json_type_string) || !*json_object_get_string(v))
        return fail(p, entry, present ? "%s is not a non-empty string" : "%s is missing", key);
    return (*out = strdup(json_object_get_string(v))) ? 0 : oom(p);
}

static bool url_ok(const char *url)
{
    return strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0 ||
           strncmp(url, "file://", 7) == 0;
}

/* sha256 as 64 hex digits, lowercased; WSL's manifest also writes some as "0x..." */
static int set_download(struct parse *p, const char *entry, const char *arch, const char *url,
                        const char *sha, struct lsl_catalog_download *d)
{
    if (!url || !url_ok(url))
        return fail(p, entry, "%s.url is %s", arch, url ? "not an http, https or file URL" : "missing");
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
        if (!*name || name[0] == '-')
            return fail(p, entry, "bootstrap.include has an entry that is not a package name");
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
    if (get_string(p, entry, o, "tool", true, &b->tool) ||
        get_string(p, entry, o, "suite", true, &b->suite) ||
        get_string(p, entry, o, "variant", false, &b->variant) ||
        get_string(p, entry, o, "mirror", false, &b->mirror))
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
    int r = get_string(p, entry, o, "name", true, &e->name);
    if (!r)
        r = get_string(p, entry, o, "friendlyName", false, &e->friendly_name);
    if (!r)
        r = get_string(p, entry, o, "source", false, &e->source);
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

int lsl_catalog_load_file(struct lsl_catalog *cat, const char *path, char *err, size_t errlen)
{
    *cat = (struct lsl_catalog){0};
    FILE *f = fopen(path, "re");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(e));
        return -e;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    char buf[65536];
    size_t n;
    while (mem && (n = fread(buf, 1, sizeof(buf), f)) > 0)
        fwrite(buf, 1, n, mem);
    int e = ferror(f) ? EIO : !mem ? ENOMEM : 0;
    fclose(f);
    if (mem && fclose(mem) != 0 && !e)
        e = ENOMEM;
    if (e) {
        free(text);
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(e));
        return -e;
    }
    int r = lsl_catalog_parse(cat, text, path, err, errlen);
    free(text);
    return r;
}
