/* Fuzz target: the distro catalog (cli/catalog.h lsl_catalog_parse), lsl's own format and WSL's manifest. A
 * catalog may come from any URL in ~/.lslconfig, so it is input from the network: whatever it holds, an
 * accepted catalog keeps the promises of catalog.h and a refused one says why and is left empty. */
#include <ctype.h>
#include <errno.h>

#include "catalog.h"
#include "fuzz.h"
#include "registry.h" /* lsl_distro_name_valid: a catalog name becomes a distribution name */

static bool sha256_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!isdigit((unsigned char)s[n]) && !(s[n] >= 'a' && s[n] <= 'f'))
            return false;
    return n == 64;
}

static void check_download(const struct lsl_catalog_download *d)
{
    FUZZ_CHECK(!d->url == !d->sha256);
    if (d->url) {
        FUZZ_CHECK(*d->url);
        FUZZ_CHECK(sha256_ok(d->sha256));
    }
}

static void check_entry(const struct lsl_catalog *cat, const struct lsl_catalog_entry *e)
{
    FUZZ_CHECK(e->name && lsl_distro_name_valid(e->name));
    FUZZ_CHECK(lsl_catalog_find(cat, e->name) == e); /* names are unique, case-insensitively */
    check_download(&e->amd64);
    check_download(&e->arm64);
    bool download = e->amd64.url || e->arm64.url;
    FUZZ_CHECK(download != !!e->bootstrap); /* exactly one way to get the root filesystem */
    if (e->bootstrap) {
        const struct lsl_catalog_bootstrap *b = e->bootstrap;
        FUZZ_CHECK(b->tool && strcmp(b->tool, "mmdebstrap") == 0);
        FUZZ_CHECK(b->suite && *b->suite);
        for (size_t i = 0; i < b->ninclude; i++)
            FUZZ_CHECK(b->include[i] && *b->include[i] && b->include[i][0] != '-');
    }
    FUZZ_CHECK(!lsl_catalog_download_for(e, "amd64") || e->amd64.url);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *json = fuzz_strdup(data, size);
    struct lsl_catalog cat;
    char err[256] = "";
    int r = lsl_catalog_parse(&cat, json, "fuzz.json", err, sizeof(err));
    if (r < 0) {
        FUZZ_CHECK(r == -EINVAL || r == -ENOMEM);
        FUZZ_CHECK(*err);
        FUZZ_CHECK(cat.n == 0 && !cat.entries);
    } else {
        FUZZ_CHECK(r == 0);
        size_t defaults = 0;
        for (size_t i = 0; i < cat.n; i++) {
            check_entry(&cat, &cat.entries[i]);
            defaults += cat.entries[i].is_default;
        }
        FUZZ_CHECK(defaults <= 1);
        FUZZ_CHECK(!lsl_catalog_default(&cat) || lsl_catalog_default(&cat)->is_default);
    }
    lsl_catalog_free(&cat);
    free(json);
    return 0;
}
