/* The lsl CLI's pure parts: wsl.exe's grammar with the distribution verbs, archive format detection and
 * export format names, and lsl-distro's file framing. */
#include <errno.h>
#include <string.h>

#include "archive.h"
#include "args.h"
#include "check.h"
#include "distro_vm.h"

static int parse(struct lsl_args *a, const char *const *argv)
{
    char err[256];
    int argc = 0;
    while (argv[argc])
        argc++;
    return lsl_args_parse(argc, (char **)argv, a, err, sizeof(err));
}

static void test_run_grammar(void)
{
    struct lsl_args a;
    /* Named arrays: the parsed fields point into them. */
    const char *exec_argv[] = {"lsl", "-d", "Debian", "-u", "me", "--", "ls", "-l", NULL};
    CHECK_EQ(parse(&a, exec_argv), 0);
    CHECK(a.action == LSL_ACT_EXEC && !strcmp(a.distro, "Debian") && !strcmp(a.user, "me") &&
          !strcmp(a.argv[0], "ls"));
    const char *system_argv[] = {"lsl", "--system", "echo", "hi", NULL};
    CHECK_EQ(parse(&a, system_argv), 0);
    CHECK(a.action == LSL_ACT_SHELL && a.system && !strcmp(a.shell_line, "echo hi"));
    lsl_args_free(&a);
    /* --shell-type: none execs the words as they are, login keeps the line for a login shell. */
    const char *none_argv[] = {"lsl", "--shell-type", "none", "echo", "$HOME", NULL};
    CHECK_EQ(parse(&a, none_argv), 0);
    CHECK(a.action == LSL_ACT_EXEC && !strcmp(a.argv[0], "echo") && !strcmp(a.argv[1], "$HOME"));
    CHECK(a.argv[2] == NULL);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--shell-type=login", "echo", "$0", NULL}), 0);
    CHECK(a.action == LSL_ACT_SHELL && a.shell_type == LSL_SHELL_LOGIN && !strcmp(a.shell_line, "echo $0"));
    lsl_args_free(&a);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--shell-type", "none", NULL}), 0);
    CHECK(a.action == LSL_ACT_LOGIN && a.shell_type == LSL_SHELL_NONE);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--shell-type", "bash", "true", NULL}), -EINVAL);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--shell-type", NULL}), -EINVAL);
    /* --force only with --shutdown. */
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--shutdown", "--force", NULL}), 0);
    CHECK(a.action == LSL_ACT_SHUTDOWN && a.force);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--force", "true", NULL}), -EINVAL);
    /* A verb only counts first, as with wsl.exe: later it is the command's. */
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--", "lsl", "--import", NULL}), 0);
    CHECK(a.action == LSL_ACT_EXEC);
}

static void test_verbs(void)
{
    struct lsl_args a;
    const char *import_argv[] = {"lsl", "--import", "x", "/d", "f.tar", "--vhd", NULL};
    CHECK_EQ(parse(&a, import_argv), 0);
    CHECK(a.action == LSL_ACT_IMPORT && !strcmp(a.name, "x") && !strcmp(a.dir, "/d") &&
          !strcmp(a.file, "f.tar") && a.vhd);
    const char *export_argv[] = {"lsl", "--export", "x", "-", "--format", "tar.zst", NULL};
    CHECK_EQ(parse(&a, export_argv), 0);
    CHECK(a.action == LSL_ACT_EXPORT && !strcmp(a.file, "-") && !strcmp(a.format, "tar.zst"));
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "-l", "-v", NULL}), 0);
    CHECK(a.action == LSL_ACT_LIST && a.verbose && !a.quiet);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--list", "--running", "-q", NULL}), 0);
    CHECK(a.running && a.quiet);
    const char *install_argv[] = {"lsl", "--install", NULL};
    CHECK_EQ(parse(&a, install_argv), 0);
    CHECK(a.action == LSL_ACT_INSTALL && !strcmp(a.name, ""));
    const char *install2_argv[] = {"lsl",        "--install", "Debian",      "--name", "d2",
                                   "--location", "/x",        "--no-launch", NULL};
    CHECK_EQ(parse(&a, install2_argv), 0);
    CHECK(!strcmp(a.name, "Debian") && !strcmp(a.new_name, "d2") && !strcmp(a.dir, "/x") && a.no_launch);
    const char *manage_argv[] = {"lsl", "--manage", "x", "--resize", "10GB", NULL};
    CHECK_EQ(parse(&a, manage_argv), 0);
    CHECK(a.action == LSL_ACT_MANAGE && !strcmp(a.resize, "10GB"));
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "-t", "x", NULL}), 0);
    CHECK(a.action == LSL_ACT_TERMINATE);
    /* Wrong: missing arguments, extra ones, unknown options, two --manage actions. */
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--import", "x", "/d", NULL}), -EINVAL);
    CHECK(a.action == LSL_ACT_IMPORT); /* so main can tell a usage error of a verb (exit 2) */
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--unregister", "a", "b", NULL}), -EINVAL);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--list", "--bogus", NULL}), -EINVAL);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--manage", "x", "--resize", "1G", "--move", "/y", NULL}),
             -EINVAL);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--manage", "x", NULL}), -EINVAL);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--list", "--online", "-v", NULL}), -EINVAL);
}

static void test_archive_formats(void)
{
    unsigned char tar[512] = {0};
    memcpy(tar + 257, "ustar", 5);
    CHECK(!strcmp(lsl_archive_detect(tar, sizeof(tar)), "tar"));
    CHECK(!strcmp(lsl_archive_detect((const unsigned char *)"\x1f\x8b\x08", 3), "gz"));
    CHECK(!strcmp(lsl_archive_detect((const unsigned char *)"\xfd"
                                                            "7zXZ\0",
                                     6),
                  "xz"));
    CHECK(!strcmp(lsl_archive_detect((const unsigned char *)"\x28\xb5\x2f\xfd", 4), "zst"));
    CHECK(!strcmp(lsl_archive_detect((const unsigned char *)"BZh9", 4), "bz2"));
    CHECK(lsl_archive_detect((const unsigned char *)"hello", 5) == NULL);
    CHECK(lsl_archive_detect(tar, 100) == NULL); /* too short to tell */
    CHECK(!strcmp(lsl_archive_format_for(NULL, "/x/out.tar.zst"), "zst"));
    CHECK(!strcmp(lsl_archive_format_for(NULL, "a.tgz"), "gz"));
    CHECK(!strcmp(lsl_archive_format_for(NULL, "plain"), "tar"));
    CHECK(!strcmp(lsl_archive_format_for("tar.xz", "x.tar"), "xz"));
    CHECK(lsl_archive_format_for("rar", NULL) == NULL);
}

static void test_file_framing(void)
{
    struct lsl_distro_files f;
    const char *out = "@@lsl-file /etc/wsl.conf 12\n[user]\na=b\n\n\n@@lsl-file /etc/other 3\nxyz\n"
                      "@@lsl-file /etc/wsl-distribution.conf 0\n\n";
    CHECK_EQ(lsl_distro_files_parse(out, strlen(out), &f), 0);
    CHECK(f.wsl_conf && !strcmp(f.wsl_conf, "[user]\na=b\n\n"));
    CHECK(!f.lsl_conf && f.distribution_conf && !f.distribution_conf[0]);
    lsl_distro_files_free(&f);
    CHECK_EQ(lsl_distro_files_parse("", strlen(""), &f), 0);
    /* A length past the end, garbage, a huge length: refused, nothing leaked. */
    CHECK_EQ(lsl_distro_files_parse("@@lsl-file /etc/wsl.conf 99\nshort\n",
                                    strlen("@@lsl-file /etc/wsl.conf 99\nshort\n"), &f),
             -EPROTO);
    CHECK_EQ(lsl_distro_files_parse("hello\n", strlen("hello\n"), &f), -EPROTO);
    CHECK_EQ(lsl_distro_files_parse("@@lsl-file /etc/wsl.conf 18446744073709551615\nx\n",
                                    strlen("@@lsl-file /etc/wsl.conf 18446744073709551615\nx\n"), &f),
             -EPROTO);
    /* Content that starts with blank lines, CRs or spaces arrives byte for byte (the framing once skipped
     * them and then misread every length after). */
    const char *crlf = "@@lsl-file /etc/wsl.conf 19\n\r\n\r\n[foo]\r\na=b\r\n  x\n"
                       "@@lsl-file /etc/lsl.conf 2\n  \n";
    CHECK_EQ(lsl_distro_files_parse(crlf, strlen(crlf), &f), 0);
    CHECK(f.wsl_conf && !strcmp(f.wsl_conf, "\r\n\r\n[foo]\r\na=b\r\n  x"));
    CHECK(f.lsl_conf && !strcmp(f.lsl_conf, "  "));
    lsl_distro_files_free(&f);
}

static void test_running_list(void)
{
    CHECK(lsl_distro_in_list("a\nDebian\n", "Debian"));
    CHECK(lsl_distro_in_list("a\nDebian", "a"));
    CHECK(!lsl_distro_in_list("Debian\n", "Deb"));
    CHECK(!lsl_distro_in_list("rt\nw\n", "r"));
    CHECK(!lsl_distro_in_list(NULL, "a"));
    CHECK(!lsl_distro_in_list("", "a"));
}

int main(void)
{
    RUN(test_run_grammar);
    RUN(test_verbs);
    RUN(test_archive_formats);
    RUN(test_file_framing);
    RUN(test_running_list);
    return CHECK_DONE();
}
