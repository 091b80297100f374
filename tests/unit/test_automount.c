/* wsl.conf's [automount] options as the host shares' bind mounts take them (guest/distro/automount_opts.h).
 */
#include <string.h>

#include "automount_opts.h"
#include "check.h"

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

int main(void)
{
    RUN(test_applied);
    RUN(test_warned);
    return CHECK_DONE();
}
