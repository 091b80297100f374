/* The catalog of installable distros (`lsl --install NAME`, `lsl --list --online`): lsl's own JSON (the
 * shipped distros/catalog.json), or WSL's DistributionInfo.json "ModernDistributions" format, so the catalog=
 * setting can point at a WSL manifest too. An entry is either a download per architecture (url + sha256) or a
 * bootstrap recipe that builds the root filesystem locally with mmdebstrap. */
#ifndef LSL_CLI_CATALOG_H
#define LSL_CLI_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

struct lsl_catalog_download {
    char *url;    /* NULL: not available for this architecture */
    char *sha256; /* 64 lowercase hex digits */
};

struct lsl_catalog_bootstrap {
    char *tool;     /* "mmdebstrap", the only one known */
    char *suite;    /* e.g. "bookworm" */
    char *variant;  /* e.g. "minbase"; NULL = the tool's default */
    char *mirror;   /* NULL = the tool's default */
    char **include; /* extra packages */
    size_t ninclude;
};

struct lsl_catalog_entry {
    char *name;          /* what --install takes */
    char *friendly_name; /* what --list --online shows */
    char *source;        /* where the checksums come from (informational) */
    bool is_default;     /* what --install without a name picks */
    struct lsl_catalog_download amd64, arm64;
    struct lsl_catalog_bootstrap *bootstrap; /* NULL for downloads */
};

struct lsl_catalog {
    struct lsl_catalog_entry *entries;
    size_t n;
};

/* Parses and validates JSON text; origin names it in errors. On error returns -EINVAL (or -ENOMEM) with one
 * line in err naming the entry, e.g. "catalog.json: entry 'Foo': amd64.sha256 is not 64 hex digits", and
 * leaves cat empty. */
int lsl_catalog_parse(struct lsl_catalog *cat, const char *json, const char *origin, char *err,
                      size_t errlen);
/* The same from a file; -errno with the reason in err if it cannot be read. */
int lsl_catalog_load_file(struct lsl_catalog *cat, const char *path, char *err, size_t errlen);
void lsl_catalog_free(struct lsl_catalog *cat);

/* By name, case-insensitive. NULL if absent. */
const struct lsl_catalog_entry *lsl_catalog_find(const struct lsl_catalog *cat, const char *name);
/* The entry marked default, NULL if none. */
const struct lsl_catalog_entry *lsl_catalog_default(const struct lsl_catalog *cat);
/* This machine's architecture in catalog terms: "amd64" on x86_64, "arm64" on aarch64. */
const char *lsl_catalog_arch(void);
/* The download for arch ("amd64"/"arm64"), NULL if the entry has none for it (or is a bootstrap). */
const struct lsl_catalog_download *lsl_catalog_download_for(const struct lsl_catalog_entry *e,
                                                            const char *arch);

#endif
