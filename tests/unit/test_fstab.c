/* The fstab parsers of lsl-distro (guest/distro/fstab.c): getmntent's line rules and mount(8)'s options. */
#include <string.h>
#include <errno.h>
#include <sys/mount.h>

#include "check.h"
#include "fstab.h"

static void test_lines(void)
{
    struct fstab_entry e;
    char line[256];

    strcpy(line, "tmpfs\t/mnt/a\\040b  tmpfs size=1m,mode=0700 0 0\n");
    CHECK_EQ(fstab_parse_line(line, &e), 1);
    CHECK(!strcmp(e.spec, "tmpfs") && !strcmp(e.file, "/mnt/a b") && !strcmp(e.type, "tmpfs"));
    CHECK(!strcmp(e.opts, "size=1m,mode=0700"));
    strcpy(line, "/srv /mnt/srv none bind");
    CHECK_EQ(fstab_parse_line(line, &e), 1);
    CHECK(!strcmp(e.opts, "bind"));
    strcpy(line, "proc /proc proc"); /* no options: the defaults */
    CHECK_EQ(fstab_parse_line(line, &e), 1);
    CHECK(!strcmp(e.opts, "defaults"));
    strcpy(line, "   # a comment");
    CHECK_EQ(fstab_parse_line(line, &e), 0);
    strcpy(line, " \t\r\n");
    CHECK_EQ(fstab_parse_line(line, &e), 0);
    strcpy(line, "/dev/x /mnt");
    CHECK_EQ(fstab_parse_line(line, &e), -1);
    strcpy(line, "a\\134b \\011/c\\12 t"); /* \\ and a tab decoded; a short escape left alone */
    CHECK_EQ(fstab_parse_line(line, &e), 1);
    CHECK(!strcmp(e.spec, "a\\b") && !strcmp(e.file, "\t/c\\12"));
}

static void test_opts(void)
{
    struct fstab_opts o;

    CHECK_EQ(fstab_parse_opts("defaults", &o), 0);
    CHECK(o.flags == 0 && !o.bind && !o.noauto && o.data[0] == '\0');
    CHECK_EQ(fstab_parse_opts("ro,nosuid,size=1m,noexec,mode=0700,x-systemd.automount,_netdev,nofail", &o),
             0);
    CHECK_EQ(o.flags, MS_RDONLY | MS_NOSUID | MS_NOEXEC);
    CHECK(!strcmp(o.data, "size=1m,mode=0700") && o.nofail);
    CHECK_EQ(fstab_parse_opts("ro,rw,noatime,atime,relatime", &o), 0); /* the last word wins */
    CHECK_EQ(o.flags, MS_RELATIME);
    CHECK_EQ(fstab_parse_opts("rbind,ro,rshared", &o), 0);
    CHECK(o.bind && o.flags == (MS_REC | MS_RDONLY) && o.propagation == (MS_SHARED | MS_REC));
    CHECK_EQ(fstab_parse_opts("noauto,user", &o), 0);
    CHECK(o.noauto && o.flags == (MS_NOEXEC | MS_NOSUID | MS_NODEV));
    CHECK_EQ(fstab_parse_opts(",,x-mount.mkdir=0755,,uid=1000,", &o), 0);
    CHECK(o.mkdir && !strcmp(o.data, "uid=1000"));
    char big[2100];
    memset(big, 'a', sizeof(big));
    for (size_t i = 100; i < sizeof(big); i += 100)
        big[i] = ',';
    big[sizeof(big) - 1] = '\0';
    CHECK_EQ(fstab_parse_opts(big, &o), -E2BIG);
}

int main(void)
{
    RUN(test_lines);
    RUN(test_opts);
    return CHECK_DONE();
}
