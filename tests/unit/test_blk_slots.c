/* Disk slot bookkeeping and the attach/detach/disks control requests, with fake drives standing in for
 * virtio-blk (the real insert/eject only swap the medium under the device lock). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "control.h"
#include "devices/blk_slots.h"

struct fake_drive {
    char id[LSL_DISK_ID_MAX + 1];
    int fd;
    uint64_t sectors;
    unsigned inserts, ejects;
};

static void fake_insert(void *drive, const char *id, int fd, uint64_t sectors)
{
    struct fake_drive *d = drive;
    CHECK_EQ(d->fd, -1); /* never inserted into a full drive */
    snprintf(d->id, sizeof(d->id), "%s", id);
    d->fd = fd;
    d->sectors = sectors;
    d->inserts++;
}

static void fake_eject(void *drive)
{
    struct fake_drive *d = drive;
    CHECK(d->fd >= 0);
    close(d->fd);
    d->fd = -1;
    d->id[0] = '\0';
    d->sectors = 0;
    d->ejects++;
}

static const struct blk_slot_ops fake_ops = {.insert = fake_insert, .eject = fake_eject};
static struct fake_drive drives[LSL_DISK_SLOTS_MAX];
static char dir[] = "/tmp/lsl-test-slots.XXXXXX";

static void setup(struct blk_slots *s, unsigned n)
{
    memset(s, 0, sizeof(*s));
    s->ops = &fake_ops;
    s->n = n;
    for (unsigned i = 0; i < n; i++) {
        drives[i] = (struct fake_drive){.fd = -1};
        s->slot[i].drive = &drives[i];
    }
}

/* The reply to one request line as the service gives it (proto/control.h parses, the slots serve), or
 * "(not handled)" for a request that is not theirs. Static buffer: compare before the next call. */
static const char *req(struct blk_slots *s, const char *line)
{
    static char buf[16384];
    char *text = NULL, copy[8192];
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    struct lsl_ctl_request r;
    const char *why;
    bool handled = true;
    snprintf(copy, sizeof(copy), "%s", line);
    if (lsl_ctl_parse(copy, &r, &why) < 0)
        lsl_ctl_reply_error(out, "%s", why);
    else
        handled = blk_slots_request(s, &r, out);
    fclose(out);
    snprintf(buf, sizeof(buf), "%s", handled ? text : "(not handled)");
    free(text);
    return buf;
}

static const char *image(const char *name, off_t size)
{
    static char path[8][256];
    static unsigned next;
    char *p = path[next++ % 8];
    snprintf(p, 256, "%s/%s", dir, name);
    int fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    CHECK(ftruncate(fd, size) == 0);
    close(fd);
    return p;
}

static char line[8192];
static const char *fmt(const char *a, const char *b, const char *c)
{
    snprintf(line, sizeof(line), "%s %s%s%s", a, b, c ? " " : "", c ? c : "");
    return line;
}

#define CHECK_REPLY(s, request, want)                                                                        \
    do {                                                                                                     \
        const char *_got = req(s, request);                                                                  \
        if (strcmp(_got, want) != 0) {                                                                       \
            fprintf(stderr, "%s:%d: '%s' answered '%s', expected '%s'\n", __FILE__, __LINE__, request, _got, \
                    want);                                                                                   \
            check_failures++;                                                                                \
        }                                                                                                    \
    } while (0)

#define CHECK_ERROR(s, request, part)                                                                        \
    do {                                                                                                     \
        const char *_got = req(s, request);                                                                  \
        if (strncmp(_got, "error ", 6) != 0 || !strstr(_got, part) ||                                        \
            strchr(_got, '\n') != _got + strlen(_got) - 1) {                                                 \
            fprintf(stderr, "%s:%d: '%s' answered '%s', expected one error line with '%s'\n", __FILE__,      \
                    __LINE__, request, _got, part);                                                          \
            check_failures++;                                                                                \
        }                                                                                                    \
    } while (0)

static void test_id_valid(void)
{
    CHECK(lsl_disk_id_valid("t1"));
    CHECK(lsl_disk_id_valid("debian-12_x86.64"));
    CHECK(lsl_disk_id_valid("abcdefghijklmnopqrst")); /* 20 */
    CHECK(!lsl_disk_id_valid(""));
    CHECK(!lsl_disk_id_valid("abcdefghijklmnopqrstu")); /* 21 */
    CHECK(!lsl_disk_id_valid("a b"));
    CHECK(!lsl_disk_id_valid("a/b"));
    CHECK(!lsl_disk_id_valid("a\tb"));
    CHECK(!lsl_disk_id_valid("\xc3\xa9"));
}

static void test_attach_detach(void)
{
    struct blk_slots s;
    setup(&s, 2);
    const char *a = image("a.img", 1 << 20), *b = image("b.img", 4096);
    CHECK_REPLY(&s, "disks", "ok\n");
    CHECK_REPLY(&s, fmt("attach", "t1", a), "ok 0\n");
    CHECK_EQ(drives[0].inserts, 1);
    CHECK_EQ(drives[0].sectors, 2048);
    CHECK(strcmp(drives[0].id, "t1") == 0);
    CHECK(drives[0].fd >= 0 && (fcntl(drives[0].fd, F_GETFL) & O_ACCMODE) == O_RDWR);
    CHECK(fcntl(drives[0].fd, F_GETFD) & FD_CLOEXEC);
    /* Idempotent: a second client attaching the same disk gets the same slot, nothing changes. */
    CHECK_REPLY(&s, fmt("attach", "t1", a), "ok 0\n");
    CHECK_EQ(drives[0].inserts, 1);
    CHECK_ERROR(&s, fmt("attach", "t1", b), "t1 is already attached to");
    CHECK_REPLY(&s, fmt("attach", "t2", b), "ok 1\n");
    CHECK_EQ(drives[1].sectors, 8);
    CHECK_EQ(blk_slots_attached(&s), 2);
    snprintf(line, sizeof(line), "ok\n0 t1 %s\n1 t2 %s\n", a, b);
    char want[8192];
    snprintf(want, sizeof(want), "%s", line);
    CHECK_REPLY(&s, "disks", want);
    CHECK_ERROR(&s, fmt("attach", "t3", image("c.img", 512)), "no free disk slot (2 in use)");

    CHECK_REPLY(&s, "detach t1", "ok\n");
    CHECK_EQ(drives[0].ejects, 1);
    CHECK_EQ(drives[0].fd, -1);
    CHECK_ERROR(&s, "detach t1", "t1 is not attached");
    CHECK_ERROR(&s, "detach no/such", "invalid disk id");
    CHECK_EQ(blk_slots_attached(&s), 1);
    /* The freed slot takes the next disk, even one that was attached before under this slot's old id. */
    CHECK_REPLY(&s, fmt("attach", "t3", a), "ok 0\n");
    CHECK_EQ(drives[0].inserts, 2);
    CHECK(strcmp(drives[0].id, "t3") == 0);
    snprintf(want, sizeof(want), "ok\n0 t3 %s\n1 t2 %s\n", a, b);
    CHECK_REPLY(&s, "disks", want);
    CHECK_REPLY(&s, "detach t3", "ok\n");
    CHECK_REPLY(&s, "detach t2", "ok\n");
    CHECK_REPLY(&s, "disks", "ok\n");
    CHECK_EQ(blk_slots_attached(&s), 0);
    blk_slots_release(&s);
}

static void test_same_file_twice(void)
{
    struct blk_slots s;
    setup(&s, 3);
    const char *a = image("same.img", 65536);
    CHECK_REPLY(&s, fmt("attach", "one", a), "ok 0\n");
    /* Another name for the same file (here a // in the path) is still the same image. */
    snprintf(line, sizeof(line), "attach two %s//same.img", dir);
    CHECK_ERROR(&s, line, "is already attached as one (slot 0)");
    CHECK_EQ(drives[1].inserts, 0);
    blk_slots_release(&s); /* frees the bookkeeping; the drives keep (and here leak) their fds */
    close(drives[0].fd);
}

static void test_bad_requests(void)
{
    struct blk_slots s;
    setup(&s, 1);
    char d[300];
    snprintf(d, sizeof(d), "%s/subdir", dir);
    CHECK(mkdir(d, 0700) == 0);
    CHECK_ERROR(&s, fmt("attach", "t1", d), "Is a directory");
    CHECK_ERROR(&s, "attach t1 /dev/null", "not a regular file");
    CHECK_ERROR(&s, fmt("attach", "t1", image("empty.img", 0)), "empty");
    CHECK_ERROR(&s, fmt("attach", "t1", image("odd.img", 1000)), "not a multiple of 512");
    snprintf(line, sizeof(line), "attach t1 %s/missing.img", dir);
    CHECK_ERROR(&s, line, "cannot open");
    CHECK_ERROR(&s, "attach t1 relative.img", "must be absolute");
    CHECK_ERROR(&s, "attach t1", "usage: attach ID PATH");
    CHECK_ERROR(&s, "attach t1 ", "usage: attach ID PATH");
    CHECK_ERROR(&s, "attach ", "usage");
    CHECK_ERROR(&s, fmt("attach", "bad/id", image("x.img", 512)), "invalid disk id");
    CHECK_ERROR(&s, fmt("attach", "abcdefghijklmnopqrstu", image("x.img", 512)), "invalid disk id");
    CHECK_EQ(drives[0].inserts, 0);
    CHECK_ERROR(&s, "attach", "usage: attach ID PATH");
    CHECK_ERROR(&s, "detach", "usage: detach ID");
    CHECK_ERROR(&s, "disks x", "takes no arguments");
    CHECK_ERROR(&s, "attachx t1 /a", "unknown request");
    CHECK_REPLY(&s, "status", "(not handled)");
    /* A path is the rest of the line: spaces are part of it. */
    snprintf(d, sizeof(d), "%s/with space", dir);
    CHECK(mkdir(d, 0700) == 0);
    const char *sp = image("with space/disk one.img", 512);
    CHECK_REPLY(&s, fmt("attach", "sp", sp), "ok 0\n");
    snprintf(line, sizeof(line), "ok\n0 sp %s\n", sp);
    char want[8192];
    snprintf(want, sizeof(want), "%s", line);
    CHECK_REPLY(&s, "disks", want);
    CHECK_REPLY(&s, "detach sp", "ok\n");
    blk_slots_release(&s);
}

static void test_no_slots(void)
{
    struct blk_slots s;
    setup(&s, 0);
    CHECK_ERROR(&s, fmt("attach", "t1", image("n.img", 512)), "no disk slots");
    CHECK_REPLY(&s, "disks", "ok\n");
    CHECK_ERROR(&s, "detach t1", "not attached");
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_id_valid);
    RUN(test_attach_detach);
    RUN(test_same_file_twice);
    RUN(test_bad_requests);
    RUN(test_no_slots);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    return CHECK_DONE();
}
