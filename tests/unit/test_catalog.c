/* The distro catalog: the shipped distros/catalog.json, WSL's manifest format, and bad catalogs rejected with
 * the entry named; every field checked by its kind (a catalog from a URL cannot smuggle options into
 * mmdebstrap), and mmdebstrap's command line itself. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "check.h"
#include "exitcodes.h"
#include "paths.h"
#include "verbs/verbs.h"

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
         "t.json: entry 'X': bootstrap.suite is missing"},
        {"{\"distributions\": [{\"name\": \"X\", \"bootstrap\": {\"tool\": \"mmdebstrap\", \"suite\": \"s\", "
         "\"include\": [\"ok\", 3]}}]}",
         "t.json: entry 'X': bootstrap.include[1] is not a Debian package name"},
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

/* One bootstrap entry with the given field JSON spliced in; checks the refusal names entry and field. */
static void expect_refused(const char *bootstrap, const char *top, const char *error)
{
    char json[2048], err[512] = "";
    struct lsl_catalog cat;
    snprintf(json, sizeof(json),
             "{\"distributions\": [{\"name\": \"Evil\"%s, \"bootstrap\": {\"tool\": \"mmdebstrap\"%s}}]}",
             top, bootstrap);
    int r = lsl_catalog_parse(&cat, json, "evil.json", err, sizeof(err));
    CHECK_EQ(r, -EINVAL);
    CHECK_EQ(cat.n, 0);
    if (strncmp(err, error, strlen(error)) != 0 || strchr(err, '\n')) {
        fprintf(stderr, "%s\n  got '%s', want '%s...'\n", json, err, error);
        CHECK(!"error message");
    }
}

/* A catalog can come from any URL in ~/.lslconfig: fields that would become options of mmdebstrap (or leave
 * the cache directory, or reach the terminal) are refused when it is read, with one line naming the entry
 * and the field. */
static void test_injection(void)
{
    const char *suite = ", \"suite\": \"bookworm\"";
    static const struct {
        const char *field, *error;
    } bootstrap[] = {
        {", \"suite\": \"bookworm\", \"mirror\": \"--customize-hook=touch /tmp/x\"",
         "evil.json: entry 'Evil': bootstrap.mirror is not an http, https or file URL"},
        {", \"suite\": \"bookworm\", \"mirror\": \"http://deb.debian.org/debian --customize-hook=touch\"",
         "evil.json: entry 'Evil': bootstrap.mirror is not an http"},
        {", \"suite\": \"bookworm\", \"mirror\": \"http://x/\\ndeb http://y/ sid main\"",
         "evil.json: entry 'Evil': bootstrap.mirror is not an http"},
        {", \"suite\": \"bookworm\", \"mirror\": \"/etc/apt/sources.list\"",
         "evil.json: entry 'Evil': bootstrap.mirror is not an http"},
        {", \"suite\": \"bookworm\", \"mirror\": \"http://\"", "evil.json: entry 'Evil': bootstrap.mirror"},
        {", \"suite\": \"--customize-hook=touch /tmp/x\"",
         "evil.json: entry 'Evil': bootstrap.suite is not a Debian suite name"},
        {", \"suite\": \"../../../etc/x\"", "evil.json: entry 'Evil': bootstrap.suite is not a Debian suite"},
        {", \"suite\": \"Bookworm\"", "evil.json: entry 'Evil': bootstrap.suite is not a Debian suite"},
        {", \"suite\": \"bookworm\", \"variant\": \"--setup-hook=x\"",
         "evil.json: entry 'Evil': bootstrap.variant is not a Debian suite name"},
        {", \"suite\": \"bookworm\", \"variant\": \"minbase extra\"",
         "evil.json: entry 'Evil': bootstrap.variant"},
        {", \"suite\": \"bookworm\", \"include\": [\"sudo\", \"--customize-hook=touch /tmp/x\"]",
         "evil.json: entry 'Evil': bootstrap.include[1] is not a Debian package name"},
        {", \"suite\": \"bookworm\", \"include\": [\"sudo,--x\"]",
         "evil.json: entry 'Evil': bootstrap.include[0] is not a Debian package name"},
        {", \"suite\": \"bookworm\", \"include\": [\"./evil.deb\"]",
         "evil.json: entry 'Evil': bootstrap.include[0]"},
        {", \"suite\": \"bookworm\", \"include\": [\"a\"]", "evil.json: entry 'Evil': bootstrap.include[0]"},
        {", \"suite\": \"bookworm\", \"include\": [\"Sudo\"]",
         "evil.json: entry 'Evil': bootstrap.include[0]"},
    };
    for (size_t i = 0; i < sizeof(bootstrap) / sizeof(bootstrap[0]); i++)
        expect_refused(bootstrap[i].field, "", bootstrap[i].error);
    expect_refused(suite, ", \"friendlyName\": \"\\u001b]0;pwned\\u0007Debian\"",
                   "evil.json: entry 'Evil': friendlyName has control characters");
    expect_refused(suite, ", \"friendlyName\": \"a\\u009b31mb\"", "evil.json: entry 'Evil': friendlyName");
    expect_refused(suite, ", \"source\": \"x\\ny\"",
                   "evil.json: entry 'Evil': source has control characters");

    /* Downloads: the URL is lsl-fetch's argument. The entry's own name is shown unprintables and all
     * replaced. */
    static const struct {
        const char *json, *error;
    } download[] = {
        {"{\"distributions\": [{\"name\": \"D\", \"download\": {\"amd64\": {\"url\": \"https://a b\", "
         "\"sha256\": " SHA "}}}]}",
         "t.json: entry 'D': amd64.url is not an http, https or file URL"},
        {"{\"distributions\": [{\"name\": \"D\", \"download\": {\"amd64\": {\"url\": \"-ohttps://a\", "
         "\"sha256\": " SHA "}}}]}",
         "t.json: entry 'D': amd64.url is not an http"},
        {"{\"distributions\": [{\"name\": \"D\\u001b[2J\", \"download\": {\"amd64\": {\"url\": "
         "\"https://a\", "
         "\"sha256\": \"00\"}}}]}",
         "t.json: entry 'D?[2J': name has control characters"},
        {"{\"ModernDistributions\": {\"X\": [{\"Name\": \"W\", \"FriendlyName\": \"\\u001b[31mred\", "
         "\"Amd64Url\": {\"Url\": \"https://x\", \"Sha256\": " SHA "}}]}}",
         "t.json: entry 'W': FriendlyName has control characters"},
        {"{\"ModernDistributions\": {\"X\": [{\"Name\": \"W\", \"Amd64Url\": {\"Url\": \"https://x\\ty\", "
         "\"Sha256\": " SHA "}}]}}",
         "t.json: entry 'W': amd64.url is not an http"},
    };
    for (size_t i = 0; i < sizeof(download) / sizeof(download[0]); i++) {
        struct lsl_catalog cat;
        char err[512] = "";
        CHECK_EQ(lsl_catalog_parse(&cat, download[i].json, "t.json", err, sizeof(err)), -EINVAL);
        if (strncmp(err, download[i].error, strlen(download[i].error)) != 0) {
            fprintf(stderr, "download case %zu: got '%s', want '%s...'\n", i, err, download[i].error);
            CHECK(!"error message");
        }
    }

    /* What real catalogs hold still passes. */
    const char *good = "{\"distributions\": [{\"name\": \"G\", \"friendlyName\": \"Debian GNU/Linux 12 — ü\","
                       " \"bootstrap\": {\"tool\": \"mmdebstrap\", \"suite\": \"bookworm-backports\","
                       " \"variant\": \"minbase\", \"mirror\": \"http://deb.debian.org/debian\","
                       " \"include\": [\"libstdc++6\", \"g++-12\", \"python3.11\", \"x11-common\"]}}]}";
    struct lsl_catalog cat;
    char err[512] = "";
    CHECK_EQ(lsl_catalog_parse(&cat, good, "g.json", err, sizeof(err)), 0);
    if (err[0])
        fprintf(stderr, "%s\n", err);
    lsl_catalog_free(&cat);
}

/* mmdebstrap's command line for a bootstrap entry, as lsl --install builds it: a fake mmdebstrap on PATH
 * records its arguments (and fails, so nothing is imported). Options end with "--" before the suite, the
 * target and the mirror. */
static void test_bootstrap_argv(void)
{
    char dir[] = "/tmp/lsl-catalog-XXXXXX", path[512], line[4096];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/mmdebstrap", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fprintf(f, "#!/bin/sh\nfor a; do printf '%%s|' \"$a\"; done > '%s/argv'\nexit 1\n", dir);
    fclose(f);
    chmod(path, 0755);
    snprintf(path, sizeof(path), "%s/catalog.json", dir);
    f = fopen(path, "w");
    fprintf(f, "{\"distributions\": [{\"name\": \"B\", \"bootstrap\": {\"tool\": \"mmdebstrap\", "
               "\"suite\": \"bookworm\", \"variant\": \"minbase\", \"include\": [\"sudo\", \"less\"], "
               "\"mirror\": \"http://deb.debian.org/debian\"}}]}");
    fclose(f);
    snprintf(path, sizeof(path), "%s/.lslconfig", dir);
    f = fopen(path, "w");
    fprintf(f, "[wsl2]\ncatalog = %s/catalog.json\n", dir);
    fclose(f);
    char *old_path = getenv("PATH") ? strdup(getenv("PATH")) : NULL,
         *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    char cache[512];
    snprintf(cache, sizeof(cache), "%s/cache", dir);
    setenv("PATH", dir, 1);
    setenv("HOME", dir, 1);
    setenv("XDG_CACHE_HOME", cache, 1);
    struct lsl_paths p = {0};
    snprintf(p.runtime, sizeof(p.runtime), "%s", dir);
    snprintf(p.state, sizeof(p.state), "%s", dir);
    struct lsl_args a = {.action = LSL_ACT_INSTALL, .name = "B", .no_launch = true};
    CHECK_EQ(lsl_verb_install(&p, &a), LSL_EXIT_FAILURE);
    snprintf(path, sizeof(path), "%s/argv", dir);
    f = fopen(path, "r");
    CHECK(f && fgets(line, sizeof(line), f));
    if (f)
        fclose(f);
    char want[1024];
    snprintf(want, sizeof(want),
             "--mode=auto|--quiet|--variant=minbase|--include=sudo,less|--|bookworm|%s/lsl/downloads/"
             "B-bookworm-minbase-",
             cache);
    CHECK(strncmp(line, want, strlen(want)) == 0);
    CHECK(strstr(line, ".tar.partial.tar|http://deb.debian.org/debian|") != NULL);
    if (strncmp(line, want, strlen(want)) != 0)
        fprintf(stderr, "mmdebstrap got: %s\n", line);
    if (old_path)
        setenv("PATH", old_path, 1);
    if (old_home)
        setenv("HOME", old_home, 1);
    unsetenv("XDG_CACHE_HOME");
    free(old_path);
    free(old_home);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK_EQ(system(cmd), 0);
}

int main(void)
{
    RUN(test_shipped_catalog);
    RUN(test_arch);
    RUN(test_rejected);
    RUN(test_wsl_manifest);
    RUN(test_injection);
    RUN(test_bootstrap_argv);
    return CHECK_DONE();
}
