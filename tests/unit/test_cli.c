/* The lsl CLI's host-side parts: wsl.exe's grammar with the distribution verbs, archive format detection and
 * export format names, lsl-distro's file framing, and what lsl leaves on disk: private directories, disk
 * images and exports (other local users must not read a distribution), an export's partial file made
 * exclusively. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "args.h"
#include "check.h"
#include "config.h"
#include "distro_vm.h"
#include "exitcodes.h"
#include "own_user.h"
#include "image.h"
#include "paths.h"
#include "registry.h"
#include "verbs/distro_store.h"
#include "verbs/verbs.h"

static char tmp[] = "/tmp/lsl-cli-XXXXXX";

static mode_t mode_of(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 ? st.st_mode & 07777 : (mode_t)-1;
}

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
    const char *exec_argv[] = {"lsl", "-d", "Debian", "-u", "me", "-e", "ls", "-l", NULL};
    CHECK_EQ(parse(&a, exec_argv), 0);
    CHECK(a.action == LSL_ACT_EXEC && !strcmp(a.distro, "Debian") && !strcmp(a.user, "me") &&
          !strcmp(a.argv[0], "ls") && !strcmp(a.argv[1], "-l") && !a.argv[2]);
    const char *system_argv[] = {"lsl", "--system", "echo", "hi", NULL};
    CHECK_EQ(parse(&a, system_argv), 0);
    CHECK(a.action == LSL_ACT_SHELL && a.system && !strcmp(a.shell_line, "echo hi"));
    lsl_args_free(&a);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--debug-shell", NULL}), 0);
    CHECK(a.action == LSL_ACT_LOGIN && a.system);
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
    CHECK(a.action == LSL_ACT_SHELL && !strcmp(a.shell_line, "lsl --import"));
    lsl_args_free(&a);
}

/* Item 1 of issue 12: `--` only ends lsl's options (wsl.exe's meaning); -e, or --shell-type none, execs. */
static void test_double_dash(void)
{
    struct lsl_args a;
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--", "exit 42", NULL}), 0);
    CHECK(a.action == LSL_ACT_SHELL && !strcmp(a.shell_line, "exit 42"));
    lsl_args_free(&a);
    /* Joined as ssh joins them: with single spaces, quoting left to the user. */
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "-d", "x", "--", "echo", "$HOME", "a  b", "|", "wc", NULL}),
             0);
    CHECK(a.action == LSL_ACT_SHELL && !strcmp(a.shell_line, "echo $HOME a  b | wc") &&
          !strcmp(a.distro, "x"));
    lsl_args_free(&a);
    /* Options after -- are the command's. */
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--", "-d", "--help", NULL}), 0);
    CHECK(a.action == LSL_ACT_SHELL && !strcmp(a.shell_line, "-d --help") && !a.distro);
    lsl_args_free(&a);
    /* Nothing after it: the login shell, as without it. */
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--", NULL}), 0);
    CHECK(a.action == LSL_ACT_LOGIN);
    /* --shell-type none execs the words after -- too. */
    const char *none[] = {"lsl", "--shell-type", "none", "--", "echo", "$0", NULL};
    CHECK_EQ(parse(&a, none), 0);
    CHECK(a.action == LSL_ACT_EXEC && !strcmp(a.argv[0], "echo") && !strcmp(a.argv[1], "$0") && !a.argv[2]);
    /* -e and --exec: the argv as it is, -- included. */
    const char *exec[] = {"lsl", "--exec", "sh", "-c", "exit 3", NULL};
    CHECK_EQ(parse(&a, exec), 0);
    CHECK(a.action == LSL_ACT_EXEC && !strcmp(a.argv[2], "exit 3"));
    const char *exec_dashes[] = {"lsl", "-e", "--", "x", NULL};
    CHECK_EQ(parse(&a, exec_dashes), 0);
    CHECK(a.action == LSL_ACT_EXEC && !strcmp(a.argv[0], "--"));
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "-e", NULL}), -EINVAL);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--status", "--", "x", NULL}), -EINVAL);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--status", "--json", NULL}), 0);
    CHECK(a.action == LSL_ACT_STATUS && a.json);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--json", NULL}), -EINVAL); /* --json goes with --status */
}

/* Item 6: usage errors. */
static void test_usage_errors(void)
{
    struct lsl_args a;
    char err[256];
    const char *twice[] = {"lsl", "-d", "a", "--distribution", "b", "true", NULL};
    CHECK_EQ(lsl_args_parse(6, (char **)twice, &a, err, sizeof(err)), -EINVAL);
    CHECK(strstr(err, "twice") != NULL);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "-d", "a", "-d", "a", NULL}), -EINVAL);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--distribution=a", "-d", "b", NULL}), -EINVAL);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "-l", "-q", "-v", NULL}), -EINVAL);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "-l", "--verbose", "--quiet", NULL}), -EINVAL);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "-l", "--all", "--running", NULL}), -EINVAL);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "-l", "--online", "--all", NULL}), -EINVAL);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "-l", "--all", "-v", NULL}), 0);
    CHECK(a.all && a.verbose);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "-l", "--running", "-q", NULL}), 0);
    /* Issue 17: --user and --no-user, for --install and --import only; a name every distribution takes. */
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--import", "x", "/d", "f", "--user", "alice", NULL}), 0);
    CHECK(!strcmp(a.new_user, "alice") && !a.no_user);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--install", "Debian", "--no-user", NULL}), 0);
    CHECK(!a.new_user && a.no_user);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--install", "--user=bob", "--no-user", NULL}), -EINVAL);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--install", "--user", "Bob", NULL}), -EINVAL);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--install", "--user", "-x", NULL}), -EINVAL);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--export", "x", "f", "--no-user", NULL}), -EINVAL);
    /* An image is copied whole: stdin cannot be one (as --export --vhd). */
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--import", "x", "/d", "-", "--vhd", NULL}), -EINVAL);
    CHECK(lsl_user_name_valid("_a-1") && lsl_user_name_valid("a23456789012345678901234567890ab"));
    CHECK(!lsl_user_name_valid("") && !lsl_user_name_valid("1a") && !lsl_user_name_valid("a.b") &&
          !lsl_user_name_valid("a23456789012345678901234567890abc") && !lsl_user_name_valid("a b"));
}

/* On a terminal, the name is asked for: an empty line or the end of input keep the planned one, a bad answer
 * is asked again (three times at most). */
static const char *asked(const char *input, char *said, size_t said_len)
{
    static struct lsl_own_user u;
    u = (struct lsl_own_user){.name = "alice", .uid = 1000, .gid = 1000};
    FILE *in = fmemopen((void *)input, strlen(input), "r"), *out = fmemopen(said, said_len, "w");
    CHECK(in && out);
    lsl_own_user_ask(in, out, "debian", &u);
    fclose(in);
    fclose(out);
    CHECK(u.uid == 1000 && u.gid == 1000);
    return u.name;
}

static void test_own_user_ask(void)
{
    char said[1024];
    CHECK(strcmp(asked("\n", said, sizeof(said)), "alice") == 0);
    CHECK(strstr(said, "debian") && strstr(said, "[alice]"));
    CHECK(strcmp(asked("", said, sizeof(said)), "alice") == 0);
    CHECK(strcmp(asked("bob\n", said, sizeof(said)), "bob") == 0);
    CHECK(strcmp(asked("Bob\n1x\ncarol\r\n", said, sizeof(said)), "carol") == 0);
    CHECK(strstr(said, "'Bob' is no user name") && strstr(said, "'1x' is no user name"));
    CHECK(strcmp(asked("A\nB\nC\ndave\n", said, sizeof(said)), "alice") == 0); /* three tries */
    CHECK(strcmp(asked("a23456789012345678901234567890abc\n", said, sizeof(said)), "alice") == 0);
    /* Ctrl-C while it waits (SIGINT as at a terminal, not ignored as in a background job): no user of
     * one's own, and SIGINT's handling back as it was. */
    struct sigaction dfl = {.sa_handler = SIG_DFL}, before;
    sigemptyset(&dfl.sa_mask);
    CHECK(sigaction(SIGINT, &dfl, &before) == 0);
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    FILE *in = fdopen(pfd[0], "r"), *out = fmemopen(said, sizeof(said), "w");
    pid_t parent = getpid(), child = fork();
    if (child == 0) {
        usleep(200 * 1000);
        kill(parent, SIGINT);
        _exit(0);
    }
    struct lsl_own_user u = {.name = "alice", .uid = 1000, .gid = 1000};
    lsl_own_user_ask(in, out, "debian", &u);
    fclose(out);
    CHECK(u.name[0] == '\0' && strstr(said, "root stays"));
    CHECK(waitpid(child, NULL, 0) == child);
    struct sigaction now;
    CHECK(sigaction(SIGINT, NULL, &now) == 0 && now.sa_handler == SIG_DFL);
    fclose(in);
    close(pfd[1]);
    /* Ignored (a background job), it stays ignored. */
    struct sigaction ign = {.sa_handler = SIG_IGN};
    sigemptyset(&ign.sa_mask);
    CHECK(sigaction(SIGINT, &ign, NULL) == 0);
    CHECK(strcmp(asked("\n", said, sizeof(said)), "alice") == 0);
    CHECK(sigaction(SIGINT, &before, &now) == 0 && now.sa_handler == SIG_IGN);
}

static void test_verbs(void)
{
    struct lsl_args a;
    const char *import_argv[] = {"lsl", "--import", "x", "/d", "f.tar", "--vhd", NULL};
    CHECK_EQ(parse(&a, import_argv), 0);
    CHECK(a.action == LSL_ACT_IMPORT && !strcmp(a.name, "x") && !strcmp(a.dir, "/d") &&
          !strcmp(a.file, "f.tar") && a.vhd);
    /* WSL's --import-in-place NAME FILE: an image, never stdin, no DIR, no --vhd or --version of its own. */
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--import-in-place", "x", "d.img", "--no-user", NULL}), 0);
    CHECK(a.action == LSL_ACT_IMPORT && a.in_place && a.vhd && !a.dir && !strcmp(a.name, "x") &&
          !strcmp(a.file, "d.img") && a.no_user);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--import-in-place", "x", "-", NULL}), -EINVAL);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--import-in-place", "x", NULL}), -EINVAL);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--import-in-place", "x", "/d", "d.img", NULL}), -EINVAL);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--import-in-place", "x", "d.img", "--vhd", NULL}), -EINVAL);
    CHECK_EQ(parse(&a, import_argv), 0);
    CHECK(!a.in_place);
    /* wsl.exe's --set-version / --set-default-version: 2 is what every distribution is; 1 a usage error. */
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--set-version", "x", "2", NULL}), 0);
    CHECK(a.action == LSL_ACT_SET_VERSION && !strcmp(a.name, "x"));
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--set-default-version", "2", NULL}), 0);
    CHECK(a.action == LSL_ACT_SET_VERSION && !strcmp(a.name, ""));
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--set-version", "x", "1", NULL}), -EINVAL);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--set-default-version", "1", NULL}), -EINVAL);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--set-default-version", "3", NULL}), -EINVAL);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--set-version", "2", NULL}), -EINVAL);
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
    /* --vhd to stdout is refused by the arguments alone, before anything is looked up or stopped. */
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--export", "x", "-", "--vhd", NULL}), -EINVAL);
    CHECK(a.action == LSL_ACT_EXPORT);
    CHECK_EQ(parse(&a, (const char *[]){"lsl", "--export", "x", "x.img", "--vhd", NULL}), 0);
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

/* An export's FILE.lsl-partial: 0600 whatever the umask, never an existing file, never through a symlink. */
static void test_export_partial(void)
{
    char file[256], part[300], target[256], path[PATH_MAX];
    int fd = -1;
    snprintf(file, sizeof(file), "%s/out.tar", tmp);
    mode_t old = umask(0);
    CHECK_EQ(lsl_export_create_partial(file, path, sizeof(path), &fd), 0);
    umask(old);
    snprintf(part, sizeof(part), "%s.lsl-partial", file);
    CHECK(strcmp(path, part) == 0);
    CHECK(fd >= 0);
    CHECK_EQ(mode_of(part), 0600);
    if (fd >= 0)
        close(fd);
    /* There already (another export, or a killed one's): refused, and left alone. */
    CHECK_EQ(lsl_export_create_partial(file, path, sizeof(path), &fd), LSL_EXIT_EXISTS);
    CHECK_EQ(mode_of(part), 0600);
    unlink(part);
    /* Someone else's symlink where the partial file goes: not followed, nothing created where it points. */
    snprintf(target, sizeof(target), "%s/victim", tmp);
    CHECK_EQ(symlink(target, part), 0);
    CHECK_EQ(lsl_export_create_partial(file, path, sizeof(path), &fd), LSL_EXIT_EXISTS);
    CHECK(access(target, F_OK) < 0 && errno == ENOENT);
    unlink(part);
}

/* A distribution's disk is 0600, made or copied (--vhd import and export, a move across file systems),
 * whatever the umask; a copy never writes through a symlink at its destination. */
static void test_image_modes(void)
{
    char img[256], copy[256], link[256], target[256];
    snprintf(img, sizeof(img), "%s/ext4.img", tmp);
    snprintf(copy, sizeof(copy), "%s/copy.img", tmp);
    mode_t old = umask(0);
    int r = lsl_image_create(img, 64u << 20, "t");
    if (r < 0) { /* no e2fsprogs here: the copy still says what it must */
        fprintf(stderr, "  (no mke2fs: image creation not checked)\n");
        int fd = open(img, O_WRONLY | O_CREAT | O_EXCL, 0600);
        CHECK(fd >= 0 && ftruncate(fd, 1 << 20) == 0);
        close(fd);
    } else {
        CHECK_EQ(mode_of(img), 0600);
        CHECK_EQ(lsl_image_is_ext4(img), 1);
    }
    CHECK_EQ(lsl_image_copy(img, copy), 0);
    umask(old);
    CHECK_EQ(mode_of(copy), 0600);
    snprintf(link, sizeof(link), "%s/link.img", tmp);
    snprintf(target, sizeof(target), "%s/elsewhere", tmp);
    CHECK_EQ(symlink(target, link), 0);
    CHECK(lsl_image_copy(img, link) < 0);
    CHECK(access(target, F_OK) < 0);
    CHECK(mode_of(link) != (mode_t)-1); /* someone else's symlink is left as it was */
    /* An image an older lsl made 0644 becomes private when next used. */
    CHECK_EQ(chmod(copy, 0644), 0);
    lsl_image_make_private(copy);
    CHECK_EQ(mode_of(copy), 0600);
    unlink(img);
    unlink(copy);
    unlink(link);
}

/* The state directory holds every disk, the registry and the logs: 0700 when made, and an existing one left
 * 0755 by an older lsl is made private without a word. The runtime directory as before. */
static void test_paths_private(void)
{
    char home[256], state[300], rt[300], path[400];
    snprintf(home, sizeof(home), "%s/home", tmp);
    snprintf(state, sizeof(state), "%s/state", tmp);
    snprintf(rt, sizeof(rt), "%s/rt", tmp);
    CHECK_EQ(mkdir(home, 0755), 0);
    CHECK_EQ(mkdir(rt, 0700), 0);
    setenv("HOME", home, 1);
    setenv("XDG_STATE_HOME", state, 1);
    setenv("XDG_RUNTIME_DIR", rt, 1);
    mode_t old = umask(022);
    struct lsl_paths p;
    CHECK_EQ(lsl_paths_init(&p), 0);
    snprintf(path, sizeof(path), "%s/lsl", state);
    CHECK(strcmp(p.state, path) == 0);
    CHECK_EQ(mode_of(p.state), 0700);
    CHECK_EQ(mode_of(state), 0700); /* a parent it made, as the XDG spec asks */
    CHECK_EQ(mode_of(p.runtime), 0700);
    /* As an older lsl left them. */
    CHECK_EQ(chmod(p.state, 0755), 0);
    CHECK_EQ(chmod(p.runtime, 0755), 0);
    CHECK_EQ(lsl_paths_init(&p), 0);
    CHECK_EQ(mode_of(p.state), 0700);
    CHECK_EQ(mode_of(p.runtime), 0700);
    /* The default place, under ~/.local/state. */
    unsetenv("XDG_STATE_HOME");
    CHECK_EQ(lsl_paths_init(&p), 0);
    snprintf(path, sizeof(path), "%s/.local/state/lsl", home);
    CHECK(strcmp(p.state, path) == 0);
    CHECK_EQ(mode_of(p.state), 0700);
    umask(old);
}

/* Item 13 of issue 12: an export holds its distribution; a -t, --unregister, --manage or second export of it
 * is refused at once with LSL_EXIT_BUSY while it runs, and goes ahead once it is over. Items 15 and 11: what
 * --import and --install record for the first run, and the default user's fallback. */
static void test_hold_and_first_run(void)
{
    struct lsl_paths p;
    CHECK_EQ(lsl_paths_init(&p), 0); /* test_paths_private's directories */
    CHECK_EQ(lsl_store_register(&p, "Held", "/d", "/d/ext4.img", "0123456789abcdef",
                                "[oobe]\ncommand=adduser\ndefaultUid=1000\n", "bob"),
             0);
    CHECK_EQ(lsl_store_register(&p, "imported", "/e", "/e/ext4.img", "0123456789abcde0", NULL, "alice"), 0);
    CHECK_EQ(lsl_store_register(&p, "rootonly", "/f", "/f/ext4.img", "0123456789abcde1", NULL, ""), 0);
    struct lsl_registry reg = {0}, reg2 = {0};
    struct lsl_distro *d;
    int hold = -1, hold2 = -1;
    CHECK_EQ(lsl_store_lookup_held(&p, "held", &reg, false, "export", &d, &hold), 0);
    CHECK(hold >= 0 && d && !strcmp(d->name, "Held") && !strcmp(d->oobe_command, "adduser") &&
          d->default_uid == 1000 && !d->oobe_done);
    time_t t0 = time(NULL);
    CHECK_EQ(lsl_store_lookup_held(&p, "HELD", &reg2, true, "unregister", &d, &hold2), LSL_EXIT_BUSY);
    CHECK(time(NULL) - t0 < 5 && hold2 < 0); /* refused at once: an export takes long */
    lsl_registry_close(&reg2);
    close(hold);
    lsl_registry_close(&reg);
    CHECK_EQ(lsl_store_lookup_held(&p, "held", &reg2, true, "unregister", &d, &hold2), 0);
    CHECK(hold2 >= 0);
    close(hold2);
    lsl_registry_close(&reg2);
    CHECK_EQ(lsl_store_lookup_held(&p, "nosuch", &reg2, false, "export", &d, &hold2), LSL_EXIT_NOT_FOUND);
    lsl_registry_close(&reg2);
    CHECK_EQ(lsl_store_lookup(&p, "imported", &reg, false, &d), 0);
    CHECK(d && !d->oobe_command[0] && d->default_uid == -1); /* --import: no first-run setup */
    /* ... but its own user (issue 17), with the ids the host user's files have there (hostShareOwner). */
    CHECK(!strcmp(d->new_user, "alice") && d->new_uid == LSL_CONFIG_DEFAULT_SHARE_OWNER &&
          d->new_gid == LSL_CONFIG_DEFAULT_SHARE_OWNER);
    lsl_registry_close(&reg);
    CHECK_EQ(lsl_store_lookup(&p, "held", &reg, false, &d), 0);
    CHECK(d && !d->new_user[0]); /* its OOBE makes its user */
    lsl_registry_close(&reg);
    CHECK_EQ(lsl_store_lookup(&p, "rootonly", &reg, false, &d), 0);
    CHECK(d && !d->new_user[0]); /* --no-user */
    lsl_registry_close(&reg);

    struct lsl_distro_run run = {.user = "", .missing = ""};
    CHECK(!strcmp(lsl_distro_default_user(&run, NULL), ""));
    CHECK(!strcmp(lsl_distro_default_user(&run, "u"), "u"));
    snprintf(run.missing, sizeof(run.missing), "u");
    CHECK(!strcmp(lsl_distro_default_user(&run, "u"), ""));  /* found missing at start: root */
    CHECK(!strcmp(lsl_distro_default_user(&run, "v"), "v")); /* set again since: asked for */
    snprintf(run.user, sizeof(run.user), "conf");
    CHECK(!strcmp(lsl_distro_default_user(&run, "v"), "conf")); /* wsl.conf's first */
}

/* An ordinary user's mmdebstrap needs a range of subordinate ids: by name or by uid, a count above 0. */
static void test_subids(void)
{
    char path[] = "/tmp/lsl-subid.XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char *text =
        "alice:100000:65536\n# a comment\n1005:200000:65536\nbobby:300000:0\nbo:1:x\n:400000:65536\n";
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    CHECK(lsl_has_subids(path, "alice", 1000));
    CHECK(lsl_has_subids(path, "carol", 1005));
    CHECK(lsl_has_subids(path, NULL, 1005));
    CHECK(!lsl_has_subids(path, "alic", 1000));
    CHECK(!lsl_has_subids(path, "bobby", 1001)); /* a count of 0 */
    CHECK(!lsl_has_subids(path, "bo", 1001));    /* no numbers */
    CHECK(!lsl_has_subids(path, NULL, 100));
    CHECK(!lsl_has_subids(path, "", 100)); /* an empty $USER matches no line without a name */
    CHECK(!lsl_has_subids("/nonexistent/subuid", "alice", 1000));
    unlink(path);
}

int main(void)
{
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_run_grammar);
    RUN(test_verbs);
    RUN(test_subids);
    RUN(test_double_dash);
    RUN(test_usage_errors);
    RUN(test_archive_formats);
    RUN(test_file_framing);
    RUN(test_running_list);
    RUN(test_export_partial);
    RUN(test_image_modes);
    RUN(test_paths_private);
    RUN(test_hold_and_first_run);
    RUN(test_own_user_ask);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", tmp);
    return CHECK_DONE();
}
