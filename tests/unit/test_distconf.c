/* wsl.conf with lsl.conf over it, and wsl-distribution.conf, read as WSL reads them: defaults, merging, WSL's
 * grammar (quotes, comments, escapes, CRLF, case), its value rules (booleans, integers, the first of a
 * repeated key, hostnames cleaned), and warnings that never make a distribution unusable. */
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
    CHECK(!d.boot_command && d.boot_systemd == -1 && d.boot_keep_alive == -1 &&
          d.boot_init_timeout_ms == -1 && !d.user_default && !d.network_hostname);
    CHECK(d.network_generate_hosts && d.network_generate_resolv_conf);
    CHECK(d.automount_enabled && str_is(d.automount_root, "/mnt/") && !d.automount_options);
    CHECK(d.interop_enabled);
    CHECK(d.automount_mount_fstab);
    CHECK_EQ(d.filesystem_umask, 0022);
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
    const char *lsl = "[boot]\n"
                      "keepAlive=true\n"
                      "[network]\n"
                      "hostname=lslhost\n"
                      "[automount]\n"
                      "enabled=false\n"
                      "[user]\n"
                      "default=\"bob\"\n";
    struct lsl_distconf d;
    nwarnings = 0;
    CHECK_EQ(lsl_distconf_init(&d), 0);
    CHECK_EQ(lsl_distconf_parse(&d, wsl, lsl, collect), 0);
    CHECK_EQ(nwarnings, 0);
    CHECK_EQ(d.boot_systemd, 1);
    CHECK_EQ(d.boot_keep_alive, 1);
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

/* d from a wsl.conf setting one key, the warnings counted from zero. */
static void parse_value(struct lsl_distconf *d, const char *section, const char *key, const char *value)
{
    char text[128];
    snprintf(text, sizeof(text), "[%s]\n%s = %s\n", section, key, value);
    nwarnings = 0;
    CHECK_EQ(lsl_distconf_init(d), 0);
    CHECK_EQ(lsl_distconf_parse(d, text, NULL, collect), 0);
}

/* [boot] initTimeout: WSL's milliseconds, 0 (no wait) to an hour; anything else warns and keeps the default.
 */
static void test_init_timeout(void)
{
    static const struct {
        const char *text;
        int value, warnings;
    } cases[] = {
        {"10000", 10000, 0}, {"0", 0, 0},     {"3600000", 3600000, 0},
        {"3600001", -1, 1},  {"0x10", 16, 0}, /* WSL's integers, as [filesystem] umask's */
        {"-5", -1, 1},       {"", -1, 1},     {"10s", -1, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct lsl_distconf d;
        parse_value(&d, "boot", "initTimeout", cases[i].text);
        CHECK_EQ(d.boot_init_timeout_ms, cases[i].value);
        CHECK_EQ(nwarnings, cases[i].warnings);
        lsl_distconf_free(&d);
    }
    CHECK(strcmp(warnings[0], "/etc/wsl.conf:2: invalid value '10s' for boot.initTimeout: milliseconds, at "
                              "most 3600000 (default kept)") == 0);
}

static void test_booleans(void)
{
    static const struct {
        const char *text;
        bool value;
    } cases[] = {
        {"true", true}, {"TRUE", true}, {"1", true}, {"false", false}, {"False", false}, {"0", false},
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
                 "/etc/wsl.conf:2: invalid value 'maybe' for network.generateResolvConf: true or "
                 "false (default kept)") == 0);
    lsl_distconf_free(&d);
    /* WSL's booleans are true/false/1/0 only: yes, no, on, off warn and keep the default. */
    static const char *const not_wsl[] = {"yes", "no", "on", "off", "Yes"};
    for (size_t i = 0; i < sizeof(not_wsl) / sizeof(not_wsl[0]); i++) {
        char text[64];
        snprintf(text, sizeof(text), "[network]\ngenerateHosts=%s\n", not_wsl[i]);
        nwarnings = 0;
        CHECK_EQ(lsl_distconf_init(&d), 0);
        CHECK_EQ(lsl_distconf_parse(&d, text, NULL, collect), 0);
        CHECK(d.network_generate_hosts);
        CHECK_EQ(nwarnings, 1);
        lsl_distconf_free(&d);
    }
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
    CHECK(strcmp(warnings[3], "/etc/lsl.conf:3: 'bad_name' is no valid hostname; using 'badname'") == 0);
    CHECK(strstr(warnings[4], "/etc/lsl.conf:5: invalid value 'relative' for automount.root") != NULL);
    CHECK(str_is(d.network_hostname, "badname"));
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
    CHECK(lsl_hostname_valid("a.b")); /* WSL allows one dot */
    CHECK(!lsl_hostname_valid("a.b.c"));
    CHECK(!lsl_hostname_valid(""));
    CHECK(!lsl_hostname_valid("-box"));
    CHECK(!lsl_hostname_valid("box-"));
    CHECK(!lsl_hostname_valid("under_score"));
    CHECK(!lsl_hostname_valid("sp ace"));
    /* WSL's own cases (test/windows/UnitTests.cpp, its hostname test), then ours. */
    static const char *const cases[][2] = {
        {"SimpleHostname", "SimpleHostname"},
        {"Simple-Hostname", "Simple-Hostname"},
        {"Simple_Hostname", "SimpleHostname"},
        {"-hostname", "hostname"},
        {"--hostname", "hostname"},
        {"hostname.-", "hostname"},
        {".hostname", "hostname"},
        {"hostname.", "hostname"},
        {"host.name.", "host.name"},
        {"host..name", "host.name"},
        {"host|name", "hostname"},
        {".a-", "a"},
        {".a-b", "a-b"},
        {".", "localhost"},
        {"-", "localhost"},
        {"-.-", "localhost"},
        {"", "localhost"},
        {"my host", "myhost"},
        {"a--b", "a-b"},
        {"a-.b", "a-b"},
        {"a.-b", "a.b"},
        {"\xc3\xa9t\xc3\xa9", "t"},
        {"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz",
         "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl"},
        {"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk-lmn", /* cut after the '-' */
         "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[LSL_HOSTNAME_MAX + 1];
        lsl_hostname_clean(cases[i][0], out);
        if (strcmp(out, cases[i][1]) != 0)
            fprintf(stderr, "clean('%s') = '%s', want '%s'\n", cases[i][0], out, cases[i][1]);
        CHECK(strcmp(out, cases[i][1]) == 0);
        CHECK(lsl_hostname_valid(out));
    }
}

/* Item 8 of issue 12: no content makes a distribution unusable; the framing bug's files are read as WSL reads
 * them (its test WslConfWarnings), blank and CR-only lines included. */
static void test_any_content(void)
{
    static const char *const files[] = {
        "\r\n\r\n[foo]\r\na=b",
        "  \n  \n[network]\nhostname=ok\n",
        "\r\n",
        "  ",
        "[",
        "[]\n=\n\"\n\\\n#\n[a]b\n[a] x\nk=\"open\nk=a\\m\n\x01\x7f\xff\n",
        "[network]\nhostname=\n",
        "k=v\\",
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        struct lsl_distconf d;
        nwarnings = 0;
        CHECK_EQ(lsl_distconf_init(&d), 0);
        CHECK_EQ(lsl_distconf_parse(&d, files[i], files[i], collect), 0);
        lsl_distconf_free(&d);
    }
    struct lsl_distconf d;
    nwarnings = 0;
    CHECK_EQ(lsl_distconf_init(&d), 0);
    CHECK_EQ(lsl_distconf_parse(&d, "\r\n\r\n[foo]\r\na=b", NULL, collect), 0);
    CHECK_EQ(nwarnings, 1);
    CHECK(strcmp(warnings[0], "/etc/wsl.conf:4: unknown key 'foo.a' (ignored)") == 0);
    lsl_distconf_free(&d);
    /* Every broken line is one warning naming its line, and what follows still counts. */
    nwarnings = 0;
    CHECK_EQ(lsl_distconf_init(&d), 0);
    CHECK_EQ(lsl_distconf_parse(&d, "a=a\\m\n[=b\n[network\nx\n[user] junk\n; no\n[user]\n  default = u1  \n",
                                NULL, collect),
             0);
    CHECK_EQ(nwarnings, 6);
    CHECK(strcmp(warnings[0], "/etc/wsl.conf:1: invalid escape '\\m' (line ignored)") == 0);
    CHECK(strcmp(warnings[1],
                 "/etc/wsl.conf:2: invalid section name: a letter, then letters and digits (line "
                 "ignored)") == 0);
    CHECK(strcmp(warnings[2], "/etc/wsl.conf:3: expected ']' after the section name (line ignored)") == 0);
    CHECK(strcmp(warnings[3], "/etc/wsl.conf:4: expected '=' after 'x' (line ignored)") == 0);
    CHECK(strcmp(warnings[4], "/etc/wsl.conf:5: expected the end of the line after ']' (line ignored)") == 0);
    CHECK(strstr(warnings[5], "/etc/wsl.conf:6: expected a key") != NULL);
    CHECK(str_is(d.user_default, "u1"));
    lsl_distconf_free(&d);
    /* A NUL ends the text, as for any reader of it. */
    nwarnings = 0;
    CHECK_EQ(lsl_distconf_init(&d), 0);
    CHECK_EQ(lsl_distconf_parse(&d, "[user]\ndefault=a\0b\n", NULL, collect), 0);
    CHECK(str_is(d.user_default, "a"));
    lsl_distconf_free(&d);
}

/* Item 9: WSL's grammar and value rules. */
static void test_wsl_rules(void)
{
    struct lsl_distconf d;
    /* Case-insensitive names, quotes removed, '#' a comment outside quotes, the hostname cleaned. */
    nwarnings = 0;
    CHECK_EQ(lsl_distconf_init(&d), 0);
    CHECK_EQ(lsl_distconf_parse(&d,
                                "[NETWORK]\r\nHostName = \"my host\" # comment\r\n[Boot]\r\n"
                                "COMMAND = echo \"a # b\"c  # d\n[user]\ndefault=\"  x\"\n",
                                NULL, collect),
             0);
    CHECK(str_is(d.network_hostname, "myhost"));
    CHECK(str_is(d.boot_command, "echo a # bc"));
    CHECK(str_is(d.user_default, "  x"));
    CHECK_EQ(nwarnings, 1);
    CHECK(strcmp(warnings[0], "/etc/wsl.conf:2: 'my host' is no valid hostname; using 'myhost'") == 0);
    lsl_distconf_free(&d);
    /* A repeated key warns naming both lines and keeps the first value; also a repeated bad one. */
    nwarnings = 0;
    CHECK_EQ(lsl_distconf_init(&d), 0);
    CHECK_EQ(
        lsl_distconf_parse(&d,
                           "[user]\ndefault=first\n[network]\ngenerateHosts=yes\n[USER]\nDefault=second\n"
                           "[network]\ngenerateHosts=false\n",
                           "[user]\ndefault=lsl\ndefault=lsl2\n", collect),
        0);
    CHECK(str_is(d.user_default, "lsl")); /* lsl.conf still wins over wsl.conf */
    CHECK(d.network_generate_hosts);      /* the first generateHosts was bad: the default stays */
    CHECK_EQ(nwarnings, 4);
    CHECK(strstr(warnings[0], "/etc/wsl.conf:4: invalid value 'yes' for network.generateHosts") != NULL);
    CHECK(strcmp(warnings[1], "/etc/wsl.conf:6: user.default was set on line 2 already; that value stays") ==
          0);
    CHECK(strcmp(warnings[2], "/etc/wsl.conf:8: network.generateHosts was set on line 4 already; that value "
                              "stays") == 0);
    CHECK(strcmp(warnings[3], "/etc/lsl.conf:3: user.default was set on line 2 already; that value stays") ==
          0);
    lsl_distconf_free(&d);
    /* Escapes and a continued line. */
    nwarnings = 0;
    CHECK_EQ(lsl_distconf_init(&d), 0);
    CHECK_EQ(lsl_distconf_parse(&d,
                                "[boot]\ncommand = printf \\\"%s\\\\n\\\" a\\tb \\\n  c\n[user]\ndefault=u\n",
                                NULL, collect),
             0);
    CHECK(str_is(d.boot_command, "printf \"%s\\n\" a\tb   c"));
    CHECK(str_is(d.user_default, "u"));
    CHECK_EQ(nwarnings, 0);
    lsl_distconf_free(&d);
}

/* Item 10: [filesystem] umask (WSL's integer: 0-prefixed octal, else decimal) and [automount] mountFsTab. */
static void test_umask_fstab(void)
{
    static const struct {
        const char *text;
        int umask, warns;
    } cases[] = {
        {"0077", 077, 0}, {"077", 077, 0},   {"0", 0, 0},      {"18", 022, 0},
        {"0x3f", 077, 0}, {"0777", 0777, 0}, {"0999", 022, 1}, {"01000", 022, 1},
        {"-1", 022, 1},   {"u=rwx", 022, 1}, {"", 022, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct lsl_distconf d;
        parse_value(&d, "filesystem", "umask", cases[i].text);
        CHECK_EQ(d.filesystem_umask, cases[i].umask);
        CHECK_EQ(nwarnings, cases[i].warns);
        lsl_distconf_free(&d);
    }
    struct lsl_distconf d;
    CHECK_EQ(lsl_distconf_init(&d), 0);
    CHECK_EQ(lsl_distconf_parse(&d, "[automount]\nmountFsTab=false\n", NULL, collect), 0);
    CHECK(!d.automount_mount_fstab);
    lsl_distconf_free(&d);
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
                 "/etc/wsl-distribution.conf:2: invalid value '-3' for oobe.defaultUid (default kept)") == 0);
    CHECK(strcmp(warnings[1], "/etc/wsl-distribution.conf:3: unknown key 'shell' in [oobe] (ignored)") == 0);
    lsl_distconf_free(&d);
}

int main(void)
{
    RUN(test_defaults);
    RUN(test_merge);
    RUN(test_booleans);
    RUN(test_init_timeout);
    RUN(test_warnings);
    RUN(test_hostname);
    RUN(test_any_content);
    RUN(test_wsl_rules);
    RUN(test_umask_fstab);
    RUN(test_distribution_conf);
    return CHECK_DONE();
}
