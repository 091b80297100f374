/* wsl.conf with lsl.conf over it, and wsl-distribution.conf: defaults, merging, quotes, booleans, warnings.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "distconf.h"

#include "warnings.h"

static bool str_is(const char *s, const char *want)
{
    return s && strcmp(s, want) == 0;
}

static void test_defaults(void)
{
    struct lsl_distconf d;
    CHECK_EQ(lsl_distconf_init(&d), 0);
    CHECK_EQ(lsl_distconf_parse(&d, NULL, NULL, collect), 0);
    CHECK(!d.boot_command && !d.boot_systemd && !d.user_default && !d.network_hostname);
    CHECK(d.network_generate_hosts && d.network_generate_resolv_conf);
    CHECK(d.automount_enabled && str_is(d.automount_root, "/mnt/") && !d.automount_options);
    CHECK(d.interop_enabled);
    CHECK(!d.oobe_command && !d.oobe_default_name);
    CHECK_EQ(d.oobe_default_uid, -1);
    lsl_distconf_free(&d);
}

static void test_merge(void)
{
    const char *wsl = "[boot]\n"
                      "systemd=true\n"
                      "command = \"service ssh start; echo ok\"\n"
                      "[user]\n"
                      "default=alice\n"
                      "[network]\n"
                      "hostname = wslhost\n"
                      "generateHosts = false\n"
                      "[automount]\n"
                      "root = /windir/\n"
                      "options = \"metadata,umask=22\"\n";
    const char *lsl = "[network]\n"
                      "hostname=lslhost\n"
                      "[automount]\n"
                      "enabled=no\n"
                      "[user]\n"
                      "default=\"bob\"\n";
    struct lsl_distconf d;
    nwarnings = 0;
    CHECK_EQ(lsl_distconf_init(&d), 0);
    CHECK_EQ(lsl_distconf_parse(&d, wsl, lsl, collect), 0);
    CHECK_EQ(nwarnings, 0);
    CHECK(d.boot_systemd);
    CHECK(str_is(d.boot_command, "service ssh start; echo ok")); /* quotes stripped, ';' inside kept */
    CHECK(str_is(d.user_default, "bob"));                        /* lsl.conf wins ... */
    CHECK(str_is(d.network_hostname, "lslhost"));
    CHECK(!d.automount_enabled);
    CHECK(!d.network_generate_hosts); /* ... key by key: what it does not set stays */
    CHECK(d.network_generate_resolv_conf);
    CHECK(str_is(d.automount_root, "/windir/"));
    CHECK(str_is(d.automount_options, "metadata,umask=22"));
    lsl_distconf_free(&d);
}

static void test_booleans(void)
{
    static const struct {
        const char *text;
        bool value;
    } cases[] = {
        {"true", true},   {"TRUE", true},   {"yes", true}, {"Yes", true}, {"1", true},
        {"false", false}, {"False", false}, {"no", false}, {"NO", false}, {"0", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[64];
        snprintf(text, sizeof(text), "[interop]\nenabled=%s\n", cases[i].text);
        struct lsl_distconf d;
        nwarnings = 0;
        CHECK_EQ(lsl_distconf_init(&d), 0);
        d.interop_enabled = !cases[i].value;
        CHECK_EQ(lsl_distconf_parse(&d, text, NULL, collect), 0);
        CHECK_EQ(d.interop_enabled, cases[i].value);
        CHECK_EQ(nwarnings, 0);
        lsl_distconf_free(&d);
    }
    struct lsl_distconf d;
    nwarnings = 0;
    CHECK_EQ(lsl_distconf_init(&d), 0);
    CHECK_EQ(lsl_distconf_parse(&d, "[network]\ngenerateResolvConf = maybe\n", NULL, collect), 0);
    CHECK(d.network_generate_resolv_conf);
    CHECK_EQ(nwarnings, 1);
    CHECK(strcmp(warnings[0],
                 "/etc/wsl.conf:2: invalid value 'maybe' for network.generateResolvConf (ignored)") == 0);
    lsl_distconf_free(&d);
}

static void test_warnings(void)
{
    const char *wsl = "[network]\n"
                      "hostnme=typo\n"
                      "[gpu]\n"
                      "enabled=false\n"
                      "[interop]\n"
                      "appendWindowsPath=false\n"
                      "[frobnicate]\n"
                      "x=1\n";
    const char *lsl = "stray=1\n"
                      "[network]\n"
                      "hostname=bad_name\n"
                      "[automount]\n"
                      "root=relative\n";
    struct lsl_distconf d;
    nwarnings = 0;
    CHECK_EQ(lsl_distconf_init(&d), 0);
    CHECK_EQ(lsl_distconf_parse(&d, wsl, lsl, collect), 0);
    CHECK_EQ(nwarnings, 5); /* gpu.enabled is a WSL key with no meaning here: accepted silently */
    CHECK(strcmp(warnings[0], "/etc/wsl.conf:2: unknown key 'hostnme' in [network] (ignored)") == 0);
    CHECK(strcmp(warnings[1], "/etc/wsl.conf:8: unknown key 'frobnicate.x' (ignored)") == 0);
    CHECK(strcmp(warnings[2], "/etc/lsl.conf:1: 'stray' outside a section (ignored)") == 0);
    CHECK(strstr(warnings[3], "/etc/lsl.conf:3: invalid value 'bad_name' for network.hostname") != NULL);
    CHECK(strstr(warnings[4], "/etc/lsl.conf:5: invalid value 'relative' for automount.root") != NULL);
    CHECK(!d.network_hostname);
    CHECK(!d.interop_append_windows_path);
    CHECK(str_is(d.automount_root, "/mnt/"));
    lsl_distconf_free(&d);
}

static void test_hostname(void)
{
    char longest[LSL_HOSTNAME_MAX + 2];
    memset(longest, 'h', sizeof(longest));
    longest[LSL_HOSTNAME_MAX] = '\0';
    CHECK(lsl_hostname_valid(longest));
    longest[LSL_HOSTNAME_MAX] = 'h';
    longest[LSL_HOSTNAME_MAX + 1] = '\0';
    CHECK(!lsl_hostname_valid(longest));
    CHECK(lsl_hostname_valid("my-box2"));
    CHECK(lsl_hostname_valid("A"));
    CHECK(!lsl_hostname_valid(""));
    CHECK(!lsl_hostname_valid("-box"));
    CHECK(!lsl_hostname_valid("box-"));
    CHECK(!lsl_hostname_valid("a.b"));
    CHECK(!lsl_hostname_valid("under_score"));
    CHECK(!lsl_hostname_valid("sp ace"));
}

static void test_distribution_conf(void)
{
    const char *text = "[oobe]\n"
                       "command = /usr/lib/wsl/oobe.sh\n"
                       "defaultUid = 1000\n"
                       "defaultName = \"MyDistro\"\n"
                       "[shortcut]\n"
                       "icon = /usr/lib/wsl/icon.ico\n"
                       "enabled = true\n"
                       "[windowsterminal]\n"
                       "profileTemplate = /usr/lib/wsl/terminal-profile.json\n";
    struct lsl_distconf d;
    nwarnings = 0;
    CHECK_EQ(lsl_distconf_init(&d), 0);
    CHECK_EQ(lsl_distconf_parse_distribution(&d, text, collect), 0);
    CHECK_EQ(nwarnings, 0);
    CHECK(str_is(d.oobe_command, "/usr/lib/wsl/oobe.sh"));
    CHECK_EQ(d.oobe_default_uid, 1000);
    CHECK(str_is(d.oobe_default_name, "MyDistro"));
    CHECK_EQ(lsl_distconf_parse_distribution(&d, "[oobe]\ndefaultUid=-3\nshell=bash\n", collect), 0);
    CHECK_EQ(d.oobe_default_uid, 1000);
    CHECK_EQ(nwarnings, 2);
    CHECK(strcmp(warnings[0],
                 "/etc/wsl-distribution.conf:2: invalid value '-3' for oobe.defaultUid (ignored)") == 0);
    CHECK(strcmp(warnings[1], "/etc/wsl-distribution.conf:3: unknown key 'shell' in [oobe] (ignored)") == 0);
    lsl_distconf_free(&d);
}

int main(void)
{
    RUN(test_defaults);
    RUN(test_merge);
    RUN(test_booleans);
    RUN(test_warnings);
    RUN(test_hostname);
    RUN(test_distribution_conf);
    return CHECK_DONE();
}
