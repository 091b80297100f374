/* The distro catalog: the shipped distros/catalog.json, WSL's manifest format, and bad catalogs rejected with
 * the entry named. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "catalog.h"
#include "check.h"

#ifndef LSL_SOURCE_ROOT
#error "the build passes LSL_SOURCE_ROOT"
#endif

static void test_shipped_catalog(void)
{
    struct lsl_catalog cat;
    char err[512] = "";
    int r = lsl_catalog_load_file(&cat, LSL_SOURCE_ROOT "/distros/catalog.json", err, sizeof(err));
    CHECK_EQ(r, 0);
    if (r) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    const struct lsl_catalog_entry *def = lsl_catalog_default(&cat);
    CHECK(def && strcmp(def->name, "Debian") == 0);
    CHECK(def && def->bootstrap && strcmp(def->bootstrap->tool, "mmdebstrap") == 0 &&
          strcmp(def->bootstrap->suite, "bookworm") == 0 && def->bootstrap->ninclude > 0);
    CHECK(def && !lsl_catalog_download_for(def, "amd64"));
    const struct lsl_catalog_entry *ubuntu = lsl_catalog_find(&cat, "ubuntu-24.04");
    CHECK(ubuntu && strcmp(ubuntu->name, "Ubuntu-24.04") == 0 && !ubuntu->bootstrap);
    CHECK(lsl_catalog_find(&cat, "ALPINE") != NULL);
    CHECK(lsl_catalog_find(&cat, "fedoralinux-44") != NULL);
    CHECK(lsl_catalog_find(&cat, "archlinux") != NULL);
    CHECK(lsl_catalog_find(&cat, "Gentoo") == NULL);
    /* Every download entry can be fetched on amd64, every entry says where its checksum comes from. */
    for (size_t i = 0; i < cat.n; i++) {
        const struct lsl_catalog_entry *e = &cat.entries[i];
        CHECK(e->source && e->friendly_name);
        if (!e->bootstrap) {
            const struct lsl_catalog_download *d = lsl_catalog_download_for(e, "amd64");
            CHECK(d && strncmp(d->url, "https://", 8) == 0 && strlen(d->sha256) == 64);
        }
    }
    lsl_catalog_free(&cat);
}

static void test_arch(void)
{
#if defined(__x86_64__)
    CHECK(strcmp(lsl_catalog_arch(), "amd64") == 0);
#elif defined(__aarch64__)
    CHECK(strcmp(lsl_catalog_arch(), "arm64") == 0);
#endif
    const char *json = "{\"distributions\": [{\"name\": \"A\", \"download\": {\"arm64\": {\"url\": "
                       "\"https://e/a\", \"sha256\": \"" /* 64 hex */
                       "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff\"}}}]}";
    struct lsl_catalog cat;
    char err[256];
    CHECK_EQ(lsl_catalog_parse(&cat, json, "t.json", err, sizeof(err)), 0);
    CHECK_EQ(cat.n, 1);
    if (cat.n == 1) {
        CHECK(lsl_catalog_download_for(&cat.entries[0], "amd64") == NULL);
        const struct lsl_catalog_download *d = lsl_catalog_download_for(&cat.entries[0], "arm64");
        CHECK(d &&
              strcmp(d->sha256, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff") == 0);
        CHECK(lsl_catalog_default(&cat) == NULL);
    }
    lsl_catalog_free(&cat);
}

#define SHA "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\""

static void test_rejected(void)
{
    static const struct {
        const char *json, *error;
    } cases[] = {
        {"{not json", "t.json: not valid JSON"},
        {"{\"distributions\": []}", "t.json: no distributions"},
        {"{\"other\": 1}", "t.json: neither"},
        {"{\"distributions\": [{\"name\": \"X\", \"download\": {\"amd64\": {\"sha256\": " SHA "}}}]}",
         "t.json: entry 'X': amd64.url is missing"},
        {"{\"distributions\": [{\"name\": \"X\", \"download\": {\"amd64\": {\"url\": \"https://a\"}}}]}",
         "t.json: entry 'X': amd64.sha256 is missing"},
        {"{\"distributions\": [{\"name\": \"X\", \"download\": {\"amd64\": {\"url\": \"https://a\", "
         "\"sha256\": "
         "\"xyz\"}}}]}",
         "t.json: entry 'X': amd64.sha256 is not 64 hex digits"},
        {"{\"distributions\": [{\"name\": \"X\", \"download\": {\"amd64\": {\"url\": \"ftp://a\", "
         "\"sha256\": " SHA "}}}]}",
         "t.json: entry 'X': amd64.url is not an http, https or file URL"},
        {"{\"distributions\": [{\"friendlyName\": \"Nameless\"}]}", "t.json: entry '#1': name is missing"},
        {"{\"distributions\": [{\"name\": \"bad name\", \"bootstrap\": {\"tool\": \"mmdebstrap\", \"suite\": "
         "\"bookworm\"}}]}",
         "t.json: entry 'bad name': the name is not a valid distro name"},
        {"{\"distributions\": [{\"name\": \"X\"}]}", "t.json: entry 'X': neither a download nor a bootstrap"},
        {"{\"distributions\": [{\"name\": \"X\", \"bootstrap\": {\"tool\": \"debootstrap\", \"suite\": "
         "\"s\"}}]}",
         "t.json: entry 'X': bootstrap tool 'debootstrap' is unknown"},
        {"{\"distributions\": [{\"name\": \"X\", \"bootstrap\": {\"tool\": \"mmdebstrap\"}}]}",
         "t.json: entry 'X': suite is missing"},
        {"{\"distributions\": [{\"name\": \"X\", \"bootstrap\": {\"tool\": \"mmdebstrap\", \"suite\": \"s\", "
         "\"include\": [\"ok\", 3]}}]}",
         "t.json: entry 'X': bootstrap.include has an entry"},
        {"{\"distributions\": [{\"name\": \"X\", \"default\": true, \"bootstrap\": {\"tool\": "
         "\"mmdebstrap\", "
         "\"suite\": \"s\"}}, {\"name\": \"Y\", \"default\": true, \"bootstrap\": {\"tool\": \"mmdebstrap\", "
         "\"suite\": \"s\"}}]}",
         "t.json: entry 'Y': a second default (the first is 'X')"},
        {"{\"distributions\": [{\"name\": \"X\", \"bootstrap\": {\"tool\": \"mmdebstrap\", \"suite\": "
         "\"s\"}}, "
         "{\"name\": \"x\", \"bootstrap\": {\"tool\": \"mmdebstrap\", \"suite\": \"s\"}}]}",
         "t.json: entry 'x': the name appears twice"},
        {"{\"distributions\": [{\"name\": \"X\", \"default\": \"yes\", \"bootstrap\": {\"tool\": "
         "\"mmdebstrap\", "
         "\"suite\": \"s\"}}]}",
         "t.json: entry 'X': default is not true or false"},
        {"{\"distributions\": [{\"name\": \"X\", \"bootstrap\": {\"tool\": \"mmdebstrap\", \"suite\": "
         "\"s\"}, "
         "\"download\": {\"amd64\": {\"url\": \"https://a\", \"sha256\": " SHA "}}}]}",
         "t.json: entry 'X': both a download and a bootstrap"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct lsl_catalog cat;
        char err[256] = "";
        CHECK_EQ(lsl_catalog_parse(&cat, cases[i].json, "t.json", err, sizeof(err)), -EINVAL);
        CHECK_EQ(cat.n, 0);
        if (strncmp(err, cases[i].error, strlen(cases[i].error)) != 0) {
            fprintf(stderr, "case %zu: got '%s', want '%s...'\n", i, err, cases[i].error);
            CHECK(!"error message");
        }
    }
    struct lsl_catalog cat;
    char err[256];
    CHECK_EQ(lsl_catalog_load_file(&cat, "/nonexistent/catalog.json", err, sizeof(err)), -ENOENT);
    CHECK(strstr(err, "/nonexistent/catalog.json") != NULL);
}

/* WSL's DistributionInfo.json shape, as catalog= may point at it. */
static void test_wsl_manifest(void)
{
    const char *json =
        "{\"ModernDistributions\": {"
        "  \"Ubuntu\": [{\"Name\": \"Ubuntu\", \"FriendlyName\": \"Ubuntu\", \"Default\": true,"
        "    \"Amd64Url\": {\"Url\": \"https://u/a.wsl\", \"Sha256\": " SHA "},"
        "    \"Arm64Url\": {\"Url\": \"https://u/b.wsl\", \"Sha256\": " SHA "}}],"
        "  \"openSUSE\": [{\"Name\": \"openSUSE-Tumbleweed\", \"Default\": true,"
        "    \"Amd64Url\": {\"Url\": \"https://s/t.wsl\", \"Sha256\": "
        "\"0xD3FC19E7A28143AA68DBFC0D9BACD8F670F312BF29DC9CC44138A60975E755EA\"}}]},"
        " \"Default\": \"Ubuntu\", \"Distributions\": []}";
    struct lsl_catalog cat;
    char err[256] = "";
    CHECK_EQ(lsl_catalog_parse(&cat, json, "DistributionInfo.json", err, sizeof(err)), 0);
    CHECK_EQ(cat.n, 2);
    const struct lsl_catalog_entry *def = lsl_catalog_default(&cat);
    CHECK(def && strcmp(def->name, "Ubuntu") == 0);
    const struct lsl_catalog_entry *suse = lsl_catalog_find(&cat, "opensuse-tumbleweed");
    CHECK(suse && !suse->is_default && !lsl_catalog_download_for(suse, "arm64"));
    const struct lsl_catalog_download *d = suse ? lsl_catalog_download_for(suse, "amd64") : NULL;
    CHECK(d && strcmp(d->sha256, "d3fc19e7a28143aa68dbfc0d9bacd8f670f312bf29dc9cc44138a60975e755ea") == 0);
    lsl_catalog_free(&cat);

    const char *bad = "{\"ModernDistributions\": {\"X\": [{\"Name\": \"Broken\", \"Amd64Url\": {\"Url\": "
                      "\"https://x\", \"Sha256\": \"0x12\"}}]}}";
    CHECK_EQ(lsl_catalog_parse(&cat, bad, "m.json", err, sizeof(err)), -EINVAL);
    CHECK(strcmp(err, "m.json: entry 'Broken': amd64.sha256 is not 64 hex digits") == 0);
}

int main(void)
{
    RUN(test_shipped_catalog);
    RUN(test_arch);
    RUN(test_rejected);
    RUN(test_wsl_manifest);
    return CHECK_DONE();
}
