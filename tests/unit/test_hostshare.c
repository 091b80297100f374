/* The host share list and path translation both ways (proto/hostshare.h), and what the CLI makes of them:
 * the VM's record, a command's working directory (cwd mapping, --cd) and WSLENV /p through a share of "/". */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "env.h"
#include "hostshare.h"
#include "hostshares.h"
#include "agent.h"

static void test_parse(void)
{
    struct lsl_hostshares s;
    char err[200], text[256];
    CHECK_EQ(lsl_hostshares_parse(" host=/ ; data=/srv//data/ ;;", &s, err, sizeof(err)), 0);
    CHECK_EQ(s.n, 2);
    CHECK(strcmp(s.s[0].name, "host") == 0 && strcmp(s.s[0].host, "/") == 0);
    CHECK(strcmp(s.s[1].name, "data") == 0 && strcmp(s.s[1].host, "/srv/data") == 0);
    CHECK(lsl_hostshares_format(&s, text, sizeof(text)) > 0 && strcmp(text, "host=/;data=/srv/data") == 0);
    CHECK_EQ(lsl_hostshares_parse("", &s, err, sizeof(err)), 0);
    CHECK_EQ(s.n, 0);
    CHECK(lsl_hostshares_format(&s, text, sizeof(text)) == 0 && text[0] == '\0');
    /* A path with '=' belongs to the path; the name ends at the first one. */
    CHECK_EQ(lsl_hostshares_parse("x=/a=b", &s, err, sizeof(err)), 0);
    CHECK(strcmp(s.s[0].host, "/a=b") == 0);
    const char *bad[] = {"host",
                         "=/",
                         "host=relative",
                         "..=/",
                         ".x=/",
                         "-x=/",
                         "a/b=/",
                         "a=/;a=/b",
                         "a=/x\ny",
                         "a=/;b=/;c=/;d=/;e=/;f=/;g=/;h=/;i=/",
                         "0123456789012345678901234567890123456=/"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        CHECK_EQ(lsl_hostshares_parse(bad[i], &s, err, sizeof(err)), -EINVAL);
        CHECK(err[0] != '\0');
    }
}

static void test_normalize(void)
{
    char out[64];
    CHECK(lsl_path_normalize("/a/./b/../c//", out, sizeof(out)) == 0 && strcmp(out, "/a/c") == 0);
    CHECK(lsl_path_normalize("/../..", out, sizeof(out)) == 0 && strcmp(out, "/") == 0);
    CHECK(lsl_path_normalize("/a/..", out, sizeof(out)) == 0 && strcmp(out, "/") == 0);
    CHECK_EQ(lsl_path_normalize("a/b", out, sizeof(out)), -EINVAL);
    CHECK_EQ(lsl_path_normalize("/aaaaaaaaaa", out, 8), -ENAMETOOLONG);
}

static void test_translate(void)
{
    struct lsl_hostshares s;
    char err[200], out[256];
    CHECK_EQ(lsl_hostshares_parse("host=/;data=/srv/data", &s, err, sizeof(err)), 0);
    /* The closest share wins: /srv/data is data's, the rest is host's. */
    CHECK(lsl_hostshare_to_guest(&s, "/mnt/", "/srv/data/x", out, sizeof(out)) == 1 &&
          strcmp(out, "/mnt/data/x") == 0);
    CHECK(lsl_hostshare_to_guest(&s, "/mnt/", "/srv/database", out, sizeof(out)) == 1 &&
          strcmp(out, "/mnt/host/srv/database") == 0);
    CHECK(lsl_hostshare_to_guest(&s, "/mnt", "/", out, sizeof(out)) == 1 && strcmp(out, "/mnt/host") == 0);
    CHECK(lsl_hostshare_to_guest(&s, "/", "/home/me", out, sizeof(out)) == 1 &&
          strcmp(out, "/host/home/me") == 0);
    CHECK(lsl_hostshare_to_guest(&s, "/windir/", "/srv/data", out, sizeof(out)) == 1 &&
          strcmp(out, "/windir/data") == 0);
    CHECK_EQ(lsl_hostshare_to_guest(&s, "mnt", "/x", out, sizeof(out)), -EINVAL);
    CHECK_EQ(lsl_hostshare_to_guest(&s, "/mnt", "x", out, sizeof(out)), -EINVAL);
    CHECK(lsl_hostshare_to_host(&s, "/mnt/", "/mnt/host/etc/passwd", out, sizeof(out)) == 1 &&
          strcmp(out, "/etc/passwd") == 0);
    CHECK(lsl_hostshare_to_host(&s, "/mnt/", "/mnt/host", out, sizeof(out)) == 1 && strcmp(out, "/") == 0);
    CHECK(lsl_hostshare_to_host(&s, "/mnt/", "/mnt/data/a/../b", out, sizeof(out)) == 1 &&
          strcmp(out, "/srv/data/b") == 0);
    /* Lexical: ".." out of the mount point is the guest's /mnt, not the host's. */
    CHECK_EQ(lsl_hostshare_to_host(&s, "/mnt/", "/mnt/host/../etc", out, sizeof(out)), 0);
    CHECK_EQ(lsl_hostshare_to_host(&s, "/mnt/", "/mnt/hostile", out, sizeof(out)), 0);
    CHECK_EQ(lsl_hostshare_to_host(&s, "/mnt/", "/home", out, sizeof(out)), 0);
    CHECK_EQ(lsl_hostshare_to_guest(&s, "/mnt/", "/srv/data/x", out, 8), -ENAMETOOLONG);
    struct lsl_hostshares none = {0};
    CHECK_EQ(lsl_hostshare_to_guest(&none, "/mnt/", "/x", out, sizeof(out)), 0);
}

static void test_map(void)
{
    struct lsl_hostshares s, back;
    char err[200], text[256], root[LSL_HOSTSHARE_PATH_MAX];
    CHECK_EQ(lsl_hostshares_parse("host=/;d=/srv", &s, err, sizeof(err)), 0);
    CHECK(lsl_hostshare_map_format("/mnt", &s, text, sizeof(text)) > 0);
    CHECK(strcmp(text, "/mnt\nhost=/;d=/srv\n") == 0);
    CHECK_EQ(lsl_hostshare_map_parse(text, root, &back), 0);
    CHECK(strcmp(root, "/mnt") == 0 && back.n == 2 && strcmp(back.s[1].host, "/srv") == 0);
    CHECK_EQ(lsl_hostshare_map_parse("/mnt", root, &back), -EINVAL);
    CHECK_EQ(lsl_hostshare_map_parse("mnt\nhost=/\n", root, &back), -EINVAL);
    CHECK_EQ(lsl_hostshare_map_parse("/mnt\nhost\n", root, &back), -EINVAL);
}

static void test_record(void)
{
    struct lsl_host_view v = {0};
    CHECK_EQ(lsl_hostshares_record_parse("1001:1002\nhost=/;d=/srv\n", &v), 0);
    CHECK(v.uid == 1001 && v.gid == 1002 && v.shares.n == 2);
    CHECK_EQ(lsl_hostshares_record_parse("1000:1000\n\n", &v), 0);
    CHECK_EQ(v.shares.n, 0);
    CHECK_EQ(lsl_hostshares_record_parse("x:1\nhost=/\n", &v), -EINVAL);
    CHECK_EQ(lsl_hostshares_record_parse("1:1 host=/", &v), -EINVAL);
}

static void view(struct lsl_host_view *v, const char *list, const char *root)
{
    char err[200];
    *v = (struct lsl_host_view){0};
    CHECK_EQ(lsl_hostshares_parse(list, &v->shares, err, sizeof(err)), 0);
    snprintf(v->root, sizeof(v->root), "%s", root);
}

static void test_cwd(void)
{
    struct lsl_host_view v;
    char out[256], err[256];
    uint32_t flags = 0;
    view(&v, "host=/", "/mnt");
    /* lsl run in a shared host directory starts in its guest path, falling back to the home. */
    CHECK_EQ(lsl_exec_cwd(&v, NULL, "/home/me/proj", out, sizeof(out), &flags, err, sizeof(err)), 0);
    CHECK(strcmp(out, "/mnt/host/home/me/proj") == 0 && flags == LSL_EXEC_CWD_OR_HOME);
    /* --cd: ~ and guest paths as they were; a relative path is the host's. */
    flags = 0;
    CHECK(lsl_exec_cwd(&v, "~", "/x", out, sizeof(out), &flags, err, sizeof(err)) == 0 && !out[0] && !flags);
    CHECK(lsl_exec_cwd(&v, "~/sub", "/x", out, sizeof(out), &flags, err, sizeof(err)) == 0 &&
          strcmp(out, "~/sub") == 0 && !flags);
    CHECK(lsl_exec_cwd(&v, "/tmp", "/x", out, sizeof(out), &flags, err, sizeof(err)) == 0 &&
          strcmp(out, "/tmp") == 0 && !flags);
    CHECK(lsl_exec_cwd(&v, "../b/./c", "/home/me/a", out, sizeof(out), &flags, err, sizeof(err)) == 0 &&
          strcmp(out, "/mnt/host/home/me/b/c") == 0 && !flags);
    /* A distribution that mounts nothing: the home, and a host --cd is an error. */
    view(&v, "host=/", "");
    CHECK(lsl_exec_cwd(&v, NULL, "/home/me", out, sizeof(out), &flags, err, sizeof(err)) == 0 && !out[0]);
    err[0] = '\0';
    CHECK_EQ(lsl_exec_cwd(&v, "src", "/home/me", out, sizeof(out), &flags, err, sizeof(err)), -ENOENT);
    CHECK(strstr(err, "src") != NULL);
    /* Outside every share: the home; a relative --cd there is an error. */
    view(&v, "data=/srv", "/mnt/");
    CHECK(lsl_exec_cwd(&v, NULL, "/home/me", out, sizeof(out), &flags, err, sizeof(err)) == 0 && !out[0]);
    CHECK(lsl_exec_cwd(&v, NULL, "/srv/x", out, sizeof(out), &flags, err, sizeof(err)) == 0 &&
          strcmp(out, "/mnt/data/x") == 0);
    CHECK_EQ(lsl_exec_cwd(&v, ".", "/home/me", out, sizeof(out), &flags, err, sizeof(err)), -ENOENT);
}

static void test_env(void)
{
    struct lsl_host_view v;
    view(&v, "host=/;data=/srv", "/mnt");
    size_t n = lsl_host_view_env(&v);
    CHECK_EQ(n, 2);
    char *m = lsl_env_map_paths("/home/me:/srv/x::rel", true, v.env, n);
    CHECK(m && strcmp(m, "/mnt/host/home/me:/mnt/data/x::rel") == 0);
    free(m);
    m = lsl_env_map_paths("/", false, v.env, n);
    CHECK(m && strcmp(m, "/mnt/host/") == 0);
    free(m);
    view(&v, "host=/", "");
    CHECK_EQ(lsl_host_view_env(&v), 0);
}

int main(void)
{
    RUN(test_parse);
    RUN(test_normalize);
    RUN(test_translate);
    RUN(test_map);
    RUN(test_record);
    RUN(test_cwd);
    RUN(test_env);
    return CHECK_DONE();
}
