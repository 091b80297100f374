/* wsl.conf's [automount] options as the host shares' bind mounts take them (guest/distro/automount_opts.h),
 * and what the shares' change daemon makes of the server's event records (guest/distro/share_watch.h). */
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>

#include "automount_opts.h"
#include "check.h"
#include "fs_notify.h"
#include "share_watch.h"

static void test_applied(void)
{
    struct automount_opts o;
    char w[256] = "";
    CHECK_EQ(automount_opts_parse("ro,noexec,nosuid,nodev,noatime", 1000, 1000, &o, w, sizeof(w)), 0);
    CHECK_EQ(o.attr_set, AUTOMOUNT_ATTR_RDONLY | AUTOMOUNT_ATTR_NOEXEC | AUTOMOUNT_ATTR_NOSUID |
                             AUTOMOUNT_ATTR_NODEV | AUTOMOUNT_ATTR_NOATIME);
    CHECK_EQ(o.attr_clr, AUTOMOUNT_ATTR__ATIME);
    /* The last word wins, as with mount(8). */
    CHECK_EQ(automount_opts_parse("ro,rw,noexec,exec", 1000, 1000, &o, w, sizeof(w)), 0);
    CHECK_EQ(o.attr_set, 0);
    CHECK_EQ(o.attr_clr, AUTOMOUNT_ATTR_RDONLY | AUTOMOUNT_ATTR_NOEXEC);
    CHECK_EQ(automount_opts_parse("noatime,relatime", 1000, 1000, &o, w, sizeof(w)), 0);
    CHECK_EQ(o.attr_set, AUTOMOUNT_ATTR_RELATIME);
    CHECK_EQ(o.attr_clr, AUTOMOUNT_ATTR__ATIME);
    CHECK_EQ(automount_opts_parse(NULL, 1000, 1000, &o, w, sizeof(w)), 0);
    CHECK(o.attr_set == 0 && o.attr_clr == 0);
    /* uid=/gid= saying what the VM's owner is are fine. */
    CHECK_EQ(automount_opts_parse("uid=1000,gid=1000", 1000, 1000, &o, w, sizeof(w)), 0);
}

static void test_warned(void)
{
    struct automount_opts o;
    char w[256] = "";
    CHECK_EQ(automount_opts_parse("uid=0,ro,umask=022,metadata", 1000, 1000, &o, w, sizeof(w)), 1);
    CHECK_EQ(o.attr_set, AUTOMOUNT_ATTR_RDONLY);
    CHECK(strstr(w, "uid=0") && strstr(w, "1000:1000") && strstr(w, "not applied: umask=022,metadata"));
    CHECK(!strstr(w, "ro,"));
    w[0] = '\0';
    CHECK_EQ(automount_opts_parse("case=off", 1000, 1000, &o, w, sizeof(w)), 1);
    CHECK(strstr(w, "not applied: case=off") && !strstr(w, "host files"));
    /* A tiny buffer still gets a terminated line. */
    char small[8];
    CHECK_EQ(automount_opts_parse("fmask=1,dmask=2", 1000, 1000, &o, small, sizeof(small)), 1);
    CHECK(strlen(small) < sizeof(small));
}

static size_t put_event(uint8_t *buf, size_t pos, uint32_t mask, const char *path)
{
    struct lsl_fs_event ev = {.len = (uint32_t)((sizeof(ev) + strlen(path) + 1 + 7) & ~7u), .mask = mask};
    memset(buf + pos, 0, ev.len);
    memcpy(buf + pos, &ev, sizeof(ev));
    memcpy(buf + pos + sizeof(ev), path, strlen(path));
    return pos + ev.len;
}

static char touched[1024];
static void record(const char *path, enum share_act act, void *opaque)
{
    (void)opaque;
    size_t n = strlen(touched);
    snprintf(touched + n, sizeof(touched) - n, "%s%s:%c", n ? " " : "", path, "rmal"[act]);
}

static void test_share_watch_batch(void)
{
    uint8_t buf[1024];
    size_t n = 0;
    n = put_event(buf, n, IN_MODIFY, "src/main.c");
    n = put_event(buf, n, IN_CLOSE_WRITE, "top.txt");
    n = put_event(buf, n, IN_ATTRIB, "x");
    n = put_event(buf, n, IN_CREATE, "src/new.c");
    n = put_event(buf, n, IN_DELETE, "src/old.c");
    n = put_event(buf, n, IN_MOVED_FROM, "gone");
    n = put_event(buf, n, IN_Q_OVERFLOW, "");
    n = put_event(buf, n, IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE, "folded");
    touched[0] = '\0';
    CHECK_EQ(share_watch_batch(buf, n, record, NULL), 8);
    CHECK(strcmp(touched, "src/main.c:m top.txt:m x:a src/new.c:r src:r src/new.c:a src/old.c:r src:r src:a "
                          "gone:r :r :a :l folded:r :r folded:a") == 0);
    /* Records that break the contract end the batch: cut short, unaligned, unterminated, escaping. */
    CHECK_EQ(share_watch_batch(buf, n - 1, record, NULL), -1);
    const char *bad[] = {"/etc/passwd", "../out", "a/../../b", "a//b"};
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t m = put_event(buf, 0, IN_MODIFY, bad[i]);
        touched[0] = '\0';
        CHECK_EQ(share_watch_batch(buf, m, record, NULL), -1);
        CHECK(touched[0] == 0);
    }
    size_t m = put_event(buf, 0, IN_MODIFY, "abcdefg"); /* 8 + 8 bytes: the NUL is the last byte */
    buf[m - 1] = 'x';
    CHECK_EQ(share_watch_batch(buf, m, record, NULL), -1);
    struct lsl_fs_event odd = {.len = 12, .mask = IN_MODIFY};
    memcpy(buf, &odd, sizeof(odd));
    memcpy(buf + 8, "abc", 4);
    CHECK_EQ(share_watch_batch(buf, 16, record, NULL), -1);
    CHECK_EQ(share_watch_batch(buf, 0, record, NULL), 0);
}

int main(void)
{
    RUN(test_share_watch_batch);
    RUN(test_applied);
    RUN(test_warned);
    return CHECK_DONE();
}
