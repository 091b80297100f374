/* A distribution's account files (guest/agent/accounts.c): groups beyond musl's 32, users by name and UID,
 * and the bounded read that never leaves the distribution's root. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accounts.h"
#include "check.h"

static void test_groups(void)
{
    const char *text = "root:x:0:\n"
                       "u:x:1000:\n"
                       "wheel:x:10:root,u\n"
                       "audio:x:29:bob,u,carol\n"
                       "# not a group\n"
                       "broken:x:12\n"          /* three fields: skipped */
                       "badgid:x:1x:u\n"        /* not a number: skipped */
                       "again:x:10:u\n"         /* the same GID twice: once */
                       "primary:x:1000:u\n"     /* the primary GID listed: once, first */
                       "prefix:x:40:uu,xu,u2\n" /* names that only look alike */
                       "last:x:50:u";           /* no newline at the end */
    gid_t g[16];
    size_t n = agent_groups_parse(text, strlen(text), "u", 1000, g, 16);

    CHECK_EQ(n, 4);
    CHECK(g[0] == 1000 && g[1] == 10 && g[2] == 29 && g[3] == 50);
    /* Not a member anywhere: the primary alone; no room: what fits. */
    CHECK_EQ(agent_groups_parse(text, strlen(text), "nobody", 65534, g, 16), 1);
    CHECK_EQ(g[0], 65534);
    CHECK_EQ(agent_groups_parse(text, strlen(text), "u", 1000, g, 2), 2);
    CHECK_EQ(agent_groups_parse("", 0, "u", 1000, g, 16), 1);
}

/* 300 groups, far past musl's 32: every one arrives. */
static void test_many_groups(void)
{
    size_t cap = 300 * 40, len = 0;
    char *text = malloc(cap);
    gid_t *g = malloc(LSL_NGROUPS_MAX * sizeof(gid_t));

    for (int i = 0; i < 300; i++)
        len += (size_t)snprintf(text + len, cap - len, "g%d:x:%d:root,many\n", i, 3000 + 299 - i);
    CHECK_EQ(agent_groups_parse(text, len, "many", 2000, g, LSL_NGROUPS_MAX), 301);
    CHECK_EQ(g[0], 2000);
    for (int i = 1; i <= 300; i++)
        CHECK_EQ(g[i], 3000 + i - 1);
    free(text);
    free(g);
}

static void test_passwd(void)
{
    const char *text = "root:x:0:0:root:/root:/bin/sh\n"
                       "u:x:1000:1000:U:/home/u:/bin/sh\n"
                       "short:x:1001:1001\n"           /* four fields: no user */
                       "odd:x:1002:abc:O:/home/o:/x\n" /* a GID that is no number: no user */
                       "1234:x:1003:1003::/:/bin/sh";  /* a name of digits */

    CHECK(agent_passwd_has(text, strlen(text), "root"));
    CHECK(agent_passwd_has(text, strlen(text), "u"));
    CHECK(agent_passwd_has(text, strlen(text), "1000")); /* no such name, but that UID */
    CHECK(agent_passwd_has(text, strlen(text), "0"));
    CHECK(agent_passwd_has(text, strlen(text), "1234"));
    CHECK(!agent_passwd_has(text, strlen(text), "ghost"));
    CHECK(!agent_passwd_has(text, strlen(text), "short"));
    CHECK(!agent_passwd_has(text, strlen(text), "odd"));
    CHECK(!agent_passwd_has(text, strlen(text), "1001"));
    CHECK(!agent_passwd_has(text, strlen(text), "ro"));
    CHECK(!agent_passwd_has(text, strlen(text), ""));
}

/* A distribution whose /etc/passwd points out of it reads its own /x, not the host's. */
static void test_read_in_root(void)
{
    char dir[] = "/tmp/lsl-accounts.XXXXXX", path[256], *text;
    int fd;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/etc", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/etc/group", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK_EQ(write(fd, "g:x:1:u\n", 8), 8);
    close(fd);
    CHECK_EQ(agent_read_in_root(dir, "/etc/group", 100, &text), 8);
    CHECK(text && !strcmp(text, "g:x:1:u\n"));
    free(text);
    CHECK_EQ(agent_read_in_root(dir, "/etc/group", 7, &text), -EFBIG);
    CHECK(text == NULL);

    snprintf(path, sizeof(path), "%s/etc/passwd", dir);
    CHECK_EQ(symlink("/../../../../etc/hostname", path), 0);
    CHECK_EQ(agent_read_in_root(dir, "/etc/passwd", 100, &text), -ENOENT);
    snprintf(path, sizeof(path), "%s/etc/hostname", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK_EQ(write(fd, "inside\n", 7), 7);
    close(fd);
    CHECK_EQ(agent_read_in_root(dir, "etc/passwd", 100, &text), 7);
    CHECK(text && !strcmp(text, "inside\n"));
    free(text);

    /* A FIFO or a directory is no file, and does not hang the reader. */
    snprintf(path, sizeof(path), "%s/etc/fstab", dir);
    CHECK_EQ(mkfifo(path, 0644), 0);
    CHECK_EQ(agent_read_in_root(dir, "/etc/fstab", 100, &text), -EINVAL);
    CHECK_EQ(agent_read_in_root(dir, "/etc", 100, &text), -EINVAL);
    CHECK_EQ(agent_read_in_root(dir, "/etc/none", 100, &text), -ENOENT);

    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK_EQ(system(cmd), 0);
}

int main(void)
{
    RUN(test_groups);
    RUN(test_many_groups);
    RUN(test_passwd);
    RUN(test_read_in_root);
    return CHECK_DONE();
}
