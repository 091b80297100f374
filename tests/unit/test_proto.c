/* proto/: the contracts both sides use. Each codec against its own counterpart and against hostile input. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "activity.h"
#include "check.h"
#include "control.h"
#include "distro.h"
#include "exec.h"
#include "frame.h"

static void test_exec_roundtrip(void)
{
    char *argv[] = {"sh", "-c", "echo \"$1\"", "", NULL};
    char *env[] = {"A=1", "EMPTY=", "PATH=/bin", NULL};
    struct lsl_exec_msg m = {.flags = LSL_EXEC_LOGIN,
                             .stdio = {LSL_STDIO_PIPE, LSL_STDIO_PTY, LSL_STDIO_PIPE},
                             .rows = 24,
                             .cols = 80,
                             .cwd = "~/src",
                             .user = "alice",
                             .distro = "Debian",
                             .argc = 4,
                             .envc = 3,
                             .argv = argv,
                             .env = env};
    size_t len = lsl_exec_size(&m);
    CHECK(len > LSL_EXEC_FIXED_SIZE);
    uint8_t *buf = malloc(len);
    CHECK_EQ(lsl_exec_encode(&m, buf, len), len);
    CHECK_EQ(lsl_exec_encode(&m, buf, len - 1), 0); /* no room: nothing */
    struct lsl_exec_msg d;
    CHECK_EQ(lsl_exec_decode(buf, len, &d), 0);
    CHECK_EQ(d.flags, LSL_EXEC_LOGIN);
    CHECK(d.stdio[1] == LSL_STDIO_PTY && d.rows == 24 && d.cols == 80);
    CHECK(!strcmp(d.cwd, "~/src") && !strcmp(d.user, "alice") && !strcmp(d.distro, "Debian"));
    CHECK_EQ(d.argc, 4);
    CHECK(!strcmp(d.argv[2], "echo \"$1\"") && !strcmp(d.argv[3], "") && d.argv[4] == NULL);
    CHECK_EQ(d.envc, 3);
    CHECK(!strcmp(d.env[1], "EMPTY=") && d.env[3] == NULL);
    lsl_exec_msg_free(&d);

    /* Every truncation and a trailing byte are refused. */
    for (size_t cut = 0; cut < len; cut++)
        CHECK_EQ(lsl_exec_decode(buf, cut, &d), -EPROTO);
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, buf, len);
    longer[len] = 'x';
    CHECK_EQ(lsl_exec_decode(longer, len + 1, &d), -EPROTO);
    /* Counts that the bytes cannot hold fail before any allocation. */
    lsl_put_u32(buf + 12, 0xffffffffu);
    CHECK_EQ(lsl_exec_decode(buf, len, &d), -EPROTO);
    free(longer);
    free(buf);

    /* What cannot be sent is not encoded. */
    char *bad_env[] = {"NOEQUALS", NULL};
    struct lsl_exec_msg b = {.argc = 1, .argv = argv, .envc = 1, .env = bad_env};
    CHECK_EQ(lsl_exec_size(&b), 0);
    b.envc = 0;
    b.argc = 0;
    CHECK_EQ(lsl_exec_size(&b), 0);
}

static void test_frame_encode(void)
{
    uint8_t out[16];
    CHECK_EQ(lsl_frame_encode(out, sizeof(out), LSL_CLOCK, "12345678", 8), 16);
    CHECK_EQ(lsl_get_u32(out), LSL_CLOCK);
    CHECK_EQ(lsl_get_u32(out + 4), 8);
    CHECK_EQ(lsl_frame_encode(out, 15, LSL_CLOCK, "12345678", 8), 0);
    CHECK_EQ(lsl_frame_encode(out, 8, LSL_SHUTDOWN, NULL, 0), 8);
}

static void test_control(void)
{
    char buf[LSL_CONTROL_LINE_MAX + 1], line[128];
    struct lsl_ctl_request r = {.verb = LSL_CTL_ATTACH, .id = "0123abcd", .path = "/home/a b/ext4.img"};
    const char *why;
    int n = lsl_ctl_format(&r, buf, sizeof(buf));
    CHECK(n > 0 && !strcmp(buf, "attach 0123abcd /home/a b/ext4.img\n"));
    buf[n - 1] = '\0';
    struct lsl_ctl_request p;
    CHECK_EQ(lsl_ctl_parse(buf, &p, &why), 0);
    CHECK(p.verb == LSL_CTL_ATTACH && !strcmp(p.id, "0123abcd") && !strcmp(p.path, "/home/a b/ext4.img"));

    /* What the parser would refuse cannot be formatted either. */
    struct lsl_ctl_request bad[] = {
        {.verb = LSL_CTL_ATTACH, .id = "a b", .path = "/x"},
        {.verb = LSL_CTL_ATTACH, .id = "ok", .path = "relative"},
        {.verb = LSL_CTL_ATTACH, .id = "ok", .path = "/x\nshutdown"},
        {.verb = LSL_CTL_DETACH, .id = "abcdefghijklmnopqrstu"},
        {.verb = (enum lsl_ctl_verb)99},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_EQ(lsl_ctl_format(&bad[i], buf, sizeof(buf)), -EINVAL);
    r = (struct lsl_ctl_request){.verb = LSL_CTL_STATUS};
    CHECK_EQ(lsl_ctl_format(&r, line, 4), -ENAMETOOLONG);

    /* balloon: plain decimal MiB, 0 to 16 TiB. */
    r = (struct lsl_ctl_request){.verb = LSL_CTL_BALLOON, .mib = 512};
    n = lsl_ctl_format(&r, buf, sizeof(buf));
    CHECK(n > 0 && !strcmp(buf, "balloon 512\n"));
    buf[n - 1] = '\0';
    CHECK(lsl_ctl_parse(buf, &p, &why) == 0 && p.verb == LSL_CTL_BALLOON && p.mib == 512);
    snprintf(line, sizeof(line), "balloon 0");
    CHECK(lsl_ctl_parse(line, &p, &why) == 0 && p.mib == 0);
    snprintf(line, sizeof(line), "balloon %u", LSL_CTL_BALLOON_MAX_MIB);
    CHECK(lsl_ctl_parse(line, &p, &why) == 0 && p.mib == LSL_CTL_BALLOON_MAX_MIB);
    r.mib = LSL_CTL_BALLOON_MAX_MIB + 1;
    CHECK_EQ(lsl_ctl_format(&r, buf, sizeof(buf)), -EINVAL);

    static const char *const refused[] = {"",
                                          "stat",
                                          "status x",
                                          "attach",
                                          "attach id",
                                          "attach id rel",
                                          "detach",
                                          "detach a/b",
                                          "attach  /x",
                                          "shutdown now",
                                          "balloon",
                                          "balloon -1",
                                          "balloon 012",
                                          "balloon 16777217",
                                          "balloon 1 2",
                                          "balloon x",
                                          "balloon 1x",
                                          "balloon ",
                                          "balloon +5"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        snprintf(line, sizeof(line), "%s", refused[i]);
        CHECK_EQ(lsl_ctl_parse(line, &p, &why), -EINVAL);
        CHECK(why && why[0]);
    }

    char reply[] = "ok\nversion 1\nstate running\nidle_timeout_s -1\nsessions 3";
    struct lsl_ctl_reply rep;
    char v[32];
    int64_t x;
    CHECK_EQ(lsl_ctl_reply_parse(reply, &rep), 0);
    CHECK(rep.ok && !rep.value[0]);
    CHECK(lsl_ctl_field(rep.body, "state", v, sizeof(v)) && !strcmp(v, "running"));
    CHECK(!lsl_ctl_field(rep.body, "stat", v, sizeof(v)));
    CHECK(lsl_ctl_field_i64(rep.body, "idle_timeout_s", &x) && x == -1);
    CHECK(lsl_ctl_field_i64(rep.body, "sessions", &x) && x == 3);
    char slot[] = "ok 7\n", err[] = "error no free disk slot\n", old[] = "state running\n";
    CHECK(lsl_ctl_reply_parse(slot, &rep) == 0 && rep.ok && !strcmp(rep.value, "7"));
    CHECK(lsl_ctl_reply_parse(err, &rep) == 0 && !rep.ok && !strcmp(rep.error, "no free disk slot"));
    CHECK_EQ(lsl_ctl_reply_parse(old, &rep), -EPROTO);
}

static void test_distro_rules(void)
{
    CHECK(lsl_distro_name_valid("Debian") && lsl_distro_name_valid("a.b_c-1"));
    CHECK(!lsl_distro_name_valid("") && !lsl_distro_name_valid(".x") && !lsl_distro_name_valid("-x"));
    CHECK(!lsl_distro_name_valid("a/b") && !lsl_distro_name_valid("a b") && !lsl_distro_name_valid(NULL));
    char longname[LSL_DISTRO_NAME_MAX + 2];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    CHECK(!lsl_distro_name_valid(longname));
    longname[LSL_DISTRO_NAME_MAX] = '\0';
    CHECK(lsl_distro_name_valid(longname));
    CHECK(lsl_disk_id_valid("abcdefghijklmnopqrst") && !lsl_disk_id_valid("abcdefghijklmnopqrstu"));
    CHECK(!lsl_disk_id_valid("") && !lsl_disk_id_valid("a\tb") && !lsl_disk_id_valid("\xc3\xa9"));

    char *mount[] = {"lsl-distro", "mount", "D", "id", NULL},
         *start[] = {"lsl-distro", "start", "D", "a=b", "c=d"};
    char *stop2[] = {"lsl-distro", "stop", "D", "id", "x"}, *list1[] = {"lsl-distro", "list", "x"};
    CHECK_EQ(lsl_distro_verb_parse(4, mount), LSL_DISTRO_MOUNT);
    CHECK_EQ(lsl_distro_verb_parse(3, mount), -1);
    CHECK_EQ(lsl_distro_verb_parse(5, start), LSL_DISTRO_START);
    CHECK_EQ(lsl_distro_verb_parse(3, start), LSL_DISTRO_START);
    CHECK_EQ(lsl_distro_verb_parse(4, stop2), LSL_DISTRO_STOP);
    CHECK_EQ(lsl_distro_verb_parse(5, stop2), -1);
    CHECK_EQ(lsl_distro_verb_parse(3, list1), -1);
    CHECK_EQ(lsl_distro_verb_parse(2, list1), LSL_DISTRO_LIST);
    CHECK(!strcmp(lsl_distro_verb_name(LSL_DISTRO_EXPORT), "export"));
    CHECK(lsl_archive_format_valid("zst") && !lsl_archive_format_valid("rar"));
}

static void test_file_frames(void)
{
    char hdr[64], text[256];
    int n = lsl_file_frame_header(hdr, sizeof(hdr), "/etc/wsl.conf", 5);
    CHECK(n > 0 && !strcmp(hdr, "@@lsl-file /etc/wsl.conf 5\n"));
    CHECK_EQ(lsl_file_frame_header(hdr, sizeof(hdr), "/a b", 1), -1);
    /* A file holding a header of its own and a NUL is taken by its length, not its look. */
    size_t len = (size_t)snprintf(text, sizeof(text), "%sab\n@@c\n", hdr);
    text[n + 1] = '\0';
    struct lsl_file_frame f;
    size_t pos = 0;
    CHECK_EQ(lsl_file_frame_next(text, len, &pos, &f), 1);
    CHECK(!strcmp(f.path, "/etc/wsl.conf") && f.len == 5 && f.data[1] == '\0' &&
          !memcmp(f.data + 2, "\n@@", 3));
    CHECK_EQ(lsl_file_frame_next(text, len, &pos, &f), -1); /* "c\n" left: not a frame */
    pos = 0;
    CHECK_EQ(lsl_file_frame_next(text, 0, &pos, &f), 0);
    const char *bad[] = {"@@lsl-file /x\n", "@@lsl-file  5\nhello", "@@lsl-file /x -1\n",
                         "@@lsl-file /x 5\nab", "@@lsl-file /x 99999999999999999999999\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pos = 0;
        CHECK_EQ(lsl_file_frame_next(bad[i], strlen(bad[i]), &pos, &f), -1);
    }
}

static void test_activity(void)
{
    struct lsl_activity a[3] = {{"Debian", 0, LSL_KEEP_ALWAYS, ""},
                                {"a", 7, LSL_KEEP_NEVER, "sleep,nginx.service"},
                                {"x.y_z-1", 0xffffffffu, 0, ""}},
                        d[LSL_ACTIVITY_MAX];
    uint8_t buf[256];
    size_t n, len = lsl_activity_encode(a, 3, buf, sizeof(buf));

    CHECK_EQ(len, 4 + 3 * 6 + 6 + 1 + 7 + 19);
    CHECK_EQ(lsl_activity_size(a, 3), len);
    CHECK_EQ(lsl_activity_decode(buf, len, d, &n), 0);
    CHECK_EQ(n, 3);
    CHECK(!strcmp(d[0].name, "Debian") && d[0].processes == 0 && d[0].keep == LSL_KEEP_ALWAYS &&
          !strcmp(d[0].what, "") && !strcmp(d[1].name, "a") && d[1].processes == 7 &&
          d[1].keep == LSL_KEEP_NEVER && !strcmp(d[1].what, "sleep,nginx.service"));
    /* What the processes are: only bytes a status line may hold, at most LSL_ACTIVITY_WHAT_MAX. */
    size_t what_at = 4 + 6 + 6 + 4 + 1 + 1 + 1; /* entry 1's first byte of what */
    CHECK_EQ(buf[what_at - 1], 19);
    buf[what_at + 5] = ' '; /* "sleep nginx.service" */
    CHECK_EQ(lsl_activity_decode(buf, len, d, &n), -EPROTO);
    buf[what_at + 5] = ':';
    CHECK_EQ(lsl_activity_decode(buf, len, d, &n), -EPROTO);
    buf[what_at + 5] = '\0';
    CHECK_EQ(lsl_activity_decode(buf, len, d, &n), -EPROTO);
    buf[what_at + 5] = ',';
    buf[what_at - 1] = 20; /* longer than what follows */
    CHECK_EQ(lsl_activity_decode(buf, len, d, &n), -EPROTO);
    buf[what_at - 1] = 19;
    CHECK_EQ(lsl_activity_decode(buf, len, d, &n), 0);
    strcpy(a[1].what, "a=b");
    CHECK_EQ(lsl_activity_size(a, 3), 0);
    memset(a[1].what, 'x', LSL_ACTIVITY_WHAT_MAX);
    a[1].what[LSL_ACTIVITY_WHAT_MAX] = '\0';
    uint8_t big[512];
    size_t big_len = lsl_activity_encode(a, 3, big, sizeof(big));
    CHECK_EQ(big_len, len - 19 + LSL_ACTIVITY_WHAT_MAX);
    CHECK_EQ(lsl_activity_decode(big, big_len, d, &n), 0);
    CHECK_EQ(strlen(d[1].what), LSL_ACTIVITY_WHAT_MAX);
    big[what_at - 1] = LSL_ACTIVITY_WHAT_MAX + 1; /* one more than a reply may hold */
    memmove(big + what_at + LSL_ACTIVITY_WHAT_MAX + 1, big + what_at + LSL_ACTIVITY_WHAT_MAX,
            big_len - what_at - LSL_ACTIVITY_WHAT_MAX);
    big[what_at + LSL_ACTIVITY_WHAT_MAX] = 'x';
    CHECK_EQ(lsl_activity_decode(big, big_len + 1, d, &n), -EPROTO);
    strcpy(a[1].what, "sleep,nginx.service");
    /* The count is capped below the keepAlive bits. */
    CHECK(!strcmp(d[2].name, "x.y_z-1") && d[2].processes == LSL_ACTIVITY_PROCESSES_MAX &&
          d[2].keep == LSL_KEEP_AUTO);
    /* What each holds for the idle stop: keepAlive keeps the VM up with nothing running, or lets it go. */
    CHECK_EQ(lsl_activity_holding(&d[0]), 1);
    CHECK_EQ(lsl_activity_holding(&d[1]), 0);
    CHECK_EQ(lsl_activity_holding(&d[2]), LSL_ACTIVITY_PROCESSES_MAX);
    d[0].processes = 5;
    CHECK_EQ(lsl_activity_holding(&d[0]), 5);
    /* keepAlive 3 is no value; an encoder refuses one either. */
    lsl_put_u32(buf + 4, 0xc0000000u);
    CHECK_EQ(lsl_activity_decode(buf, len, d, &n), -EPROTO);
    lsl_put_u32(buf + 4, 0);
    a[0].keep = 3;
    CHECK_EQ(lsl_activity_size(a, 3), 0);
    a[0].keep = 0;
    /* Nothing runs: a count of zero, and no room is no frame. */
    CHECK_EQ(lsl_activity_encode(a, 0, buf, sizeof(buf)), 4);
    CHECK_EQ(lsl_activity_decode(buf, 4, d, &n), 0);
    CHECK_EQ(n, 0);
    CHECK_EQ(lsl_activity_encode(a, 3, buf, len - 1), 0);

    /* Every truncation, a trailing byte, too many entries, a bad name or length are refused. */
    len = lsl_activity_encode(a, 3, buf, sizeof(buf));
    for (size_t cut = 0; cut < len; cut++)
        CHECK_EQ(lsl_activity_decode(buf, cut, d, &n), -EPROTO);
    buf[len] = 0;
    CHECK_EQ(lsl_activity_decode(buf, len + 1, d, &n), -EPROTO);
    lsl_put_u32(buf, LSL_ACTIVITY_MAX + 1);
    CHECK_EQ(lsl_activity_decode(buf, len, d, &n), -EPROTO);
    lsl_put_u32(buf, 3);
    buf[4 + 4] = 0; /* the first name's length */
    CHECK_EQ(lsl_activity_decode(buf, len, d, &n), -EPROTO);
    buf[4 + 4] = 6;
    buf[4 + 5] = '/'; /* "/ebian" */
    CHECK_EQ(lsl_activity_decode(buf, len, d, &n), -EPROTO);
    buf[4 + 5] = '\0'; /* a NUL inside */
    CHECK_EQ(lsl_activity_decode(buf, len, d, &n), -EPROTO);
    buf[4 + 5] = 'D';
    CHECK_EQ(lsl_activity_decode(buf, len, d, &n), 0);
    /* The largest reply the agent may send: every slot's distribution with the longest name and what. */
    static struct lsl_activity full[LSL_ACTIVITY_MAX];
    static uint8_t big_reply[LSL_ACTIVITY_REPLY_MAX];
    for (size_t i = 0; i < LSL_ACTIVITY_MAX; i++) {
        memset(full[i].name, 'a', LSL_DISTRO_NAME_MAX);
        full[i].name[0] = (char)('A' + i);
        memset(full[i].what, 'w', LSL_ACTIVITY_WHAT_MAX);
    }
    CHECK_EQ(lsl_activity_encode(full, LSL_ACTIVITY_MAX, big_reply, sizeof(big_reply)),
             LSL_ACTIVITY_REPLY_MAX);
    CHECK(LSL_ACTIVITY_REPLY_MAX <= LSL_FRAME_MAX);
    strcpy(a[0].name, "bad name");
    CHECK_EQ(lsl_activity_size(a, 1), 0);
    CHECK_EQ(lsl_activity_size(a, LSL_ACTIVITY_MAX + 1), 0);
}

static void test_start_output(void)
{
    char buf[512], text[1024];
    struct lsl_distro_out o;
    size_t pos = 0, len = 0;
    int n;

    n = lsl_distro_out_format(buf, sizeof(buf), LSL_DISTRO_OUT_USER_YES, "alice");
    CHECK(n > 0 && !strcmp(buf, "user yes alice\n"));
    memcpy(text + len, buf, (size_t)n), len += (size_t)n;
    n = lsl_distro_out_format(buf, sizeof(buf), LSL_DISTRO_OUT_USER_NO, "ghost");
    memcpy(text + len, buf, (size_t)n), len += (size_t)n;
    /* A warning quoting a hostile fstab: a newline in it cannot start a line of its own. */
    n = lsl_distro_out_format(buf, sizeof(buf), LSL_DISTRO_OUT_WARNING, "bad\nuser yes root\x7f");
    CHECK(n > 0 && !strcmp(buf, "warning bad?user yes root?\n"));
    memcpy(text + len, buf, (size_t)n), len += (size_t)n;
    memcpy(text + len, "future thing\n", 13), len += 13;
    memcpy(text + len, "warning last", 12), len += 12; /* no newline at the end */

    CHECK_EQ(lsl_distro_out_next(text, len, &pos, &o), 1);
    CHECK(o.kind == LSL_DISTRO_OUT_USER_YES && !strcmp(o.text, "alice"));
    CHECK_EQ(lsl_distro_out_next(text, len, &pos, &o), 1);
    CHECK(o.kind == LSL_DISTRO_OUT_USER_NO && !strcmp(o.text, "ghost"));
    CHECK_EQ(lsl_distro_out_next(text, len, &pos, &o), 1);
    CHECK(o.kind == LSL_DISTRO_OUT_WARNING && !strcmp(o.text, "bad?user yes root?"));
    CHECK_EQ(lsl_distro_out_next(text, len, &pos, &o), -1); /* skipped, not the end */
    CHECK_EQ(lsl_distro_out_next(text, len, &pos, &o), 1);
    CHECK(o.kind == LSL_DISTRO_OUT_WARNING && !strcmp(o.text, "last"));
    CHECK_EQ(lsl_distro_out_next(text, len, &pos, &o), 0);
    CHECK_EQ(pos, len);

    /* Long texts are cut to the limit; a received line over it or with control bytes is refused. */
    memset(text, 'x', 600);
    text[600] = '\0';
    n = lsl_distro_out_format(buf, sizeof(buf), LSL_DISTRO_OUT_WARNING, text);
    CHECK_EQ(n, (int)strlen("warning ") + LSL_DISTRO_OUT_TEXT_MAX + 1);
    CHECK_EQ(lsl_distro_out_format(buf, 20, LSL_DISTRO_OUT_WARNING, text), -1);
    len = (size_t)snprintf(text, sizeof(text), "warning %0300d\n", 1);
    pos = 0;
    CHECK_EQ(lsl_distro_out_next(text, len, &pos, &o), -1);
    pos = 0;
    CHECK_EQ(lsl_distro_out_next("user no a\tb\n", 12, &pos, &o), -1);
}

int main(void)
{
    RUN(test_exec_roundtrip);
    RUN(test_frame_encode);
    RUN(test_control);
    RUN(test_distro_rules);
    RUN(test_file_frames);
    RUN(test_activity);
    RUN(test_start_output);
    return CHECK_DONE();
}
