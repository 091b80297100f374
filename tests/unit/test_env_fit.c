/* The agent's fitting of LANG, LC_* and TERM against scratch roots: no glibc layout, locale directories, a
 * locale archive the test writes (and broken ones), one made by the host's localedef when it has one, and
 * terminfo trees. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "env_fit.h"

static char root[] = "/tmp/lsl-locale-test.XXXXXX";

static void run(const char *cmd)
{
    if (system(cmd) != 0)
        fprintf(stderr, "setup failed: %s\n", cmd);
}

static void mkdirs(const char *sub)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s/usr/lib/locale/%s'", root, sub);
    run(cmd);
}

/* glibc's layout: header, name hash table (hash, name offset, record offset), strings. */
static void write_archive(const char *const *names, size_t n, uint32_t bad_offset)
{
    uint8_t buf[4096] = {0};
    uint32_t head[8] = {0xde020109u, 1, 64, (uint32_t)n, (uint32_t)n + 1, 1024, 0, 2048};
    memcpy(buf, head, sizeof(head));
    uint32_t str = 1024;
    for (size_t i = 0; i < n; i++) {
        uint32_t ent[3] = {0x1234, bad_offset ? bad_offset : str, 0};
        memcpy(buf + 64 + (i + 1) * 12, ent, sizeof(ent)); /* slot 0 stays empty */
        memcpy(buf + str, names[i], strlen(names[i]) + 1);
        str += (uint32_t)strlen(names[i]) + 1;
    }
    if (bad_offset && bad_offset < sizeof(buf))
        memset(buf + bad_offset, 'e', sizeof(buf) - bad_offset); /* a name that runs off the end */
    char path[256];
    snprintf(path, sizeof(path), "%s/usr/lib/locale/locale-archive", root);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(buf, 1, sizeof(buf), f);
        fclose(f);
    }
}

static void test_not_glibc(void)
{
    /* No /usr/lib/locale: musl and others take any name; nothing is changed. */
    CHECK_EQ(agent_locale_find(root, "en_US.UTF-8"), AGENT_LOCALE_UNKNOWN);
    CHECK(agent_locale_substitute(root, "xx_YY.UTF-8") == NULL);
}

static void test_directories(void)
{
    mkdirs("C.utf8");
    mkdirs("de_DE.utf8");
    CHECK_EQ(agent_locale_find(root, "C"), AGENT_LOCALE_AVAILABLE);
    CHECK_EQ(agent_locale_find(root, "POSIX"), AGENT_LOCALE_AVAILABLE);
    CHECK_EQ(agent_locale_find(root, "C.UTF-8"), AGENT_LOCALE_AVAILABLE); /* normalised to C.utf8 */
    CHECK_EQ(agent_locale_find(root, "de_DE.UTF-8"), AGENT_LOCALE_AVAILABLE);
    CHECK_EQ(agent_locale_find(root, "de_DE.utf8"), AGENT_LOCALE_AVAILABLE);
    CHECK_EQ(agent_locale_find(root, "en_US.UTF-8"), AGENT_LOCALE_MISSING);
    CHECK_EQ(agent_locale_find(root, "../../../etc"), AGENT_LOCALE_MISSING);
    /* Missing UTF-8 becomes C.UTF-8, anything else C; what exists stays. */
    CHECK(!strcmp(agent_locale_substitute(root, "en_US.UTF-8") ?: "", "C.UTF-8"));
    CHECK(!strcmp(agent_locale_substitute(root, "fr_FR.utf-8@euro") ?: "", "C.UTF-8"));
    CHECK(!strcmp(agent_locale_substitute(root, "fr_FR.ISO-8859-15") ?: "", "C"));
    CHECK(!strcmp(agent_locale_substitute(root, "fr_FR") ?: "", "C"));
    CHECK(agent_locale_substitute(root, "de_DE.UTF-8") == NULL);
    CHECK(agent_locale_substitute(root, "") == NULL);

    char lang[] = "LANG=en_US.UTF-8", all[] = "LC_ALL=de_DE.UTF-8", time[] = "LC_TIME=xx_XX",
         term[] = "TERM=xterm";
    char *env[] = {lang, all, time, term, NULL}, *owned[5] = {0};
    CHECK_EQ(agent_env_fit(root, NULL, env, owned), 0);
    CHECK(!strcmp(env[0], "LANG=C.UTF-8") && env[1] == all && !strcmp(env[2], "LC_TIME=C") && env[3] == term);
    CHECK(owned[0] == env[0] && owned[1] == env[2] && owned[2] == NULL);
    for (int i = 0; i < 5; i++)
        free(owned[i]);
}

static void test_archive(void)
{
    const char *names[] = {"en_US.utf8", "ja_JP.eucjp", "en_DK"};
    write_archive(names, 3, 0);
    CHECK_EQ(agent_locale_find(root, "en_US.UTF-8"), AGENT_LOCALE_AVAILABLE);
    CHECK_EQ(agent_locale_find(root, "ja_JP.EUC-JP"), AGENT_LOCALE_AVAILABLE);
    CHECK_EQ(agent_locale_find(root, "en_DK"), AGENT_LOCALE_AVAILABLE);
    CHECK_EQ(agent_locale_find(root, "en_GB.UTF-8"), AGENT_LOCALE_MISSING);
    /* Offsets past the end, a table larger than the file, a wrong magic, a short file: not found, no crash.
     */
    write_archive(names, 3, 1u << 30);
    CHECK_EQ(agent_locale_find(root, "en_US.UTF-8"), AGENT_LOCALE_MISSING);
    write_archive(names, 3, 4000); /* a string without its NUL inside the file */
    CHECK_EQ(agent_locale_find(root, "en_US.UTF-8"), AGENT_LOCALE_MISSING);
    char cmd[512];
    snprintf(
        cmd, sizeof(cmd),
        "{ printf '\\x09\\x01\\x02\\xde\\0\\0\\0\\0\\x10\\0\\0\\0\\xff\\xff\\xff\\x0f\\xff\\xff\\xff\\x0f'; "
        "head -c 4076 /dev/zero; } > '%s/usr/lib/locale/locale-archive'",
        root);
    run(cmd);
    CHECK_EQ(agent_locale_find(root, "en_US.UTF-8"), AGENT_LOCALE_MISSING);
    snprintf(cmd, sizeof(cmd), "printf 'garbage' > '%s/usr/lib/locale/locale-archive'", root);
    run(cmd);
    CHECK_EQ(agent_locale_find(root, "en_US.UTF-8"), AGENT_LOCALE_MISSING);
}

static void test_real_archive(void)
{
    /* What locale-gen writes, where the host can make one (Debian's locales package). */
    char cmd[768];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s/usr/lib/locale' && mkdir -p '%s/usr/lib/locale'", root, root);
    run(cmd);
    snprintf(cmd, sizeof(cmd),
             "command -v localedef >/dev/null && [ -f /usr/share/i18n/locales/en_US ] && "
             "localedef --prefix='%s' -i en_US -f UTF-8 en_US.UTF-8 >/dev/null 2>&1",
             root);
    if (system(cmd) != 0) {
        printf("  (no localedef with en_US here: the written archives above stand for it)\n");
        return;
    }
    CHECK_EQ(agent_locale_find(root, "en_US.UTF-8"), AGENT_LOCALE_AVAILABLE);
    CHECK_EQ(agent_locale_find(root, "en_US.utf8"), AGENT_LOCALE_AVAILABLE);
    CHECK_EQ(agent_locale_find(root, "de_DE.UTF-8"), AGENT_LOCALE_MISSING);
}

static void touch(const char *sub)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s/%s')\" && : > '%s/%s'", root, sub, root, sub);
    run(cmd);
}

static void test_terminfo(void)
{
    /* Nothing to fall back to: keep what the user has. */
    CHECK(agent_term_substitute(root, NULL, "xterm-kitty") == NULL);
    touch("usr/share/terminfo/x/xterm-256color");
    CHECK(!strcmp(agent_term_substitute(root, NULL, "xterm-kitty") ?: "", "xterm-256color"));
    CHECK(agent_term_substitute(root, NULL, "xterm-256color") == NULL);
    touch("lib/terminfo/78/xterm-kitty"); /* the hex spelling of the first letter */
    CHECK(agent_term_substitute(root, NULL, "xterm-kitty") == NULL);
    touch("home/u/.terminfo/a/alacritty");
    CHECK(agent_term_substitute(root, "/home/u", "alacritty") == NULL);
    CHECK(!strcmp(agent_term_substitute(root, "/home/v", "alacritty") ?: "", "xterm-256color"));
    CHECK(agent_term_substitute(root, NULL, "../../x/xterm-256color") == NULL);
    CHECK(agent_term_substitute(root, NULL, "") == NULL);

    char term[] = "TERM=foot", other[] = "TERM=foot", info[] = "TERMINFO=/opt/ti";
    char *env[] = {term, NULL}, *env2[] = {other, info, NULL}, *owned[2] = {0}, *owned2[3] = {0};
    CHECK_EQ(agent_env_fit(root, NULL, env, owned), 0);
    CHECK(!strcmp(env[0], "TERM=xterm-256color") && owned[0] == env[0]);
    CHECK_EQ(agent_env_fit(root, NULL, env2, owned2), 0); /* TERMINFO: the user's own entries */
    CHECK(env2[0] == other && owned2[0] == NULL);
    free(owned[0]);
}

int main(void)
{
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_not_glibc);
    RUN(test_directories);
    RUN(test_archive);
    RUN(test_real_archive);
    RUN(test_terminfo);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    run(cmd);
    return CHECK_DONE();
}
