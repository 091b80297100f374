/* Fuzz target: the control socket (proto/control.h, vmm/service/control.c) with the disk-slot requests
 * behind it (vmm/devices/blk_slots.c, fake drives as in tests/unit/test_blk_slots.c). Clients send lines
 * of any bytes, in pieces, one after another or all at once (more than the service serves at a time), ended
 * by a newline or by the end of their stream; each must get exactly one reply whose first line is "ok[
 * VALUE]" or "error MESSAGE" (an error being that line alone), never hang the loop, and the slot table must
 * stay consistent. The parser alone must refuse what it refuses with a reason, and what it accepts must
 * format back into the same line (proto/control.h has one spelling of a request); the client's reply parser
 * takes the raw input as a reply too.
 *
 * Input: struct config, then the clients' lines separated by '\n'. Attach paths are mapped into a temporary
 * directory holding a few images (good, empty, odd-sized, a directory, a symlink to a good one): a fuzzer
 * must not open the machine's files, least of all read-write. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control.h"
#include "core/evloop.h"
#include "devices/blk_slots.h"
#include "fuzz.h"
#include "service/service.h"
#include "unix_socket.h"

#define MAX_LINES 24

struct config {
    uint8_t slots; /* disk slots: % (LSL_DISK_SLOTS_MAX + 1) */
    uint8_t flags; /* bit 0: all clients connect before any is served; bit 1: the first line is over
                    * LSL_CONTROL_LINE_MAX; bit 2: every line ends with the stream, not a newline */
    uint8_t chunk; /* the lines go out in pieces of chunk + 1 bytes, the loop running in between */
};

struct fake_drive {
    int fd;
    unsigned inserts, ejects;
};

static char dir[64], sock_path[128];
static const char *const images[] = {"good.img", "other.img", "empty.img", "odd.img", "dir", "link.img"};
static struct fake_drive drives[LSL_DISK_SLOTS_MAX];
static struct blk_slots slots;
static unsigned nslots;

static void fake_insert(void *drive, const char *id, int fd, uint64_t sectors)
{
    struct fake_drive *d = drive;
    FUZZ_CHECK(d->fd == -1 && fd >= 0 && sectors > 0 && lsl_disk_id_valid(id));
    d->fd = fd;
    d->inserts++;
}

static void fake_eject(void *drive)
{
    struct fake_drive *d = drive;
    FUZZ_CHECK(d->fd >= 0);
    close(d->fd);
    d->fd = -1;
    d->ejects++;
}

static const struct blk_slot_ops fake_ops = {.insert = fake_insert, .eject = fake_eject};

static void dir_remove(void)
{
    char p[160];
    for (size_t i = 0; i < sizeof(images) / sizeof(images[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, images[i]);
        FUZZ_CHECK(unlink(p) == 0 || rmdir(p) == 0);
    }
    FUZZ_CHECK(rmdir(dir) == 0); /* control_free took its socket */
}

static void make_image(const char *name, off_t size)
{
    char p[160];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    int fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FUZZ_CHECK(fd >= 0 && ftruncate(fd, size) == 0);
    close(fd);
}

/* The images and the socket, in a directory made for one input and removed with it: nothing may outlive
 * the input, as make check's replay ends without exit handlers. */
static void dir_make(void)
{
    snprintf(dir, sizeof(dir), "/tmp/lsl-fuzz-control-XXXXXX");
    FUZZ_CHECK(mkdtemp(dir) != NULL);
    snprintf(sock_path, sizeof(sock_path), "%s/control", dir);
    make_image("good.img", 1 << 20);
    make_image("other.img", 4096);
    make_image("empty.img", 0);
    make_image("odd.img", 1000);
    char p[160], target[160];
    snprintf(p, sizeof(p), "%s/dir", dir);
    FUZZ_CHECK(mkdir(p, 0700) == 0);
    snprintf(p, sizeof(p), "%s/link.img", dir);
    snprintf(target, sizeof(target), "%s/good.img", dir);
    FUZZ_CHECK(symlink(target, p) == 0);
}

/* The path a request names, inside the temporary directory: one of the images when its last component
 * names one, else a file that is not there (the name kept, spaces and all, so messages carry it). */
static void sandbox(const char *path, char *out, size_t len)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (size_t i = 0; i < sizeof(images) / sizeof(images[0]); i++) {
        if (strcmp(base, images[i]) == 0) {
            snprintf(out, len, "%s/%s", dir, images[i]);
            return;
        }
    }
    int n = snprintf(out, len, "%s/missing-", dir);
    for (const char *p = path; *p && (size_t)n + 1 < len; p++)
        out[n++] = *p == '/' ? '_' : *p;
    out[n] = '\0';
}

static void serve(void *opaque, const struct lsl_ctl_request *r, FILE *out)
{
    (void)opaque;
    struct lsl_ctl_request copy = *r;
    static char path[PATH_MAX + 256];
    if (r->verb == LSL_CTL_ATTACH) {
        sandbox(r->path, path, sizeof(path));
        copy.path = path;
    }
    if (blk_slots_request(&slots, &copy, out))
        return;
    switch (r->verb) {
    case LSL_CTL_STATUS:
        lsl_ctl_reply_ok(out, NULL);
        lsl_ctl_put(out, LSL_CTL_KEY_VERSION, "%d", LSL_CONTROL_VERSION);
        lsl_ctl_put(out, LSL_CTL_KEY_DISKS_ATTACHED, "%u", blk_slots_attached(&slots));
        break;
    default:
        lsl_ctl_reply_ok(out, NULL);
        break;
    }
}

/* The parser on its own: refusals have a reason, and what it accepts formats back into the same line. */
static void check_parse(const char *text, size_t len)
{
    char *line = malloc(len + 1);
    FUZZ_CHECK(line != NULL);
    memcpy(line, text, len);
    line[len] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    char *orig = strdup(line);
    FUZZ_CHECK(orig != NULL);
    struct lsl_ctl_request r;
    const char *why = NULL;
    int e = lsl_ctl_parse(line, &r, &why);
    if (e < 0) {
        FUZZ_CHECK(e == -EINVAL && why && why[0] && !strchr(why, '\n'));
    } else {
        FUZZ_CHECK(e == 0);
        char *again = malloc(LSL_CONTROL_LINE_MAX + 2);
        FUZZ_CHECK(again != NULL);
        int n = lsl_ctl_format(&r, again, LSL_CONTROL_LINE_MAX + 2);
        if (n == -ENAMETOOLONG) {
            FUZZ_CHECK(strlen(orig) + 1 > LSL_CONTROL_LINE_MAX);
        } else {
            FUZZ_CHECK(n > 0 && (size_t)n == strlen(orig) + 1);
            FUZZ_CHECK(memcmp(again, orig, (size_t)n - 1) == 0 && again[n - 1] == '\n');
        }
        free(again);
    }
    free(orig);
    free(line);
}

/* One reply as the service sent it. */
static void check_reply(char *reply, size_t len)
{
    FUZZ_CHECK(len > 0 && reply[len - 1] == '\n' && strlen(reply) == len);
    bool ok = strncmp(reply, "ok\n", 3) == 0 || (strncmp(reply, "ok ", 3) == 0 && reply[3] != '\n');
    bool error = strncmp(reply, "error ", 6) == 0 && reply[6] != '\n';
    FUZZ_CHECK(ok || error);
    if (error)
        FUZZ_CHECK(strchr(reply, '\n') == reply + len - 1); /* the one line */
    struct lsl_ctl_reply r;
    FUZZ_CHECK(lsl_ctl_reply_parse(reply, &r) == 0 && r.ok == ok);
}

static void check_slots(void)
{
    FUZZ_CHECK(slots.n == nslots && blk_slots_attached(&slots) <= nslots);
    for (unsigned i = 0; i < nslots; i++) {
        const struct blk_slot *s = &slots.slot[i];
        FUZZ_CHECK(!s->id[0] == (drives[i].fd < 0));
        FUZZ_CHECK(!s->id[0] || (lsl_disk_id_valid(s->id) && s->path));
        for (unsigned j = 0; j < i; j++)
            FUZZ_CHECK(!s->id[0] || strcmp(s->id, slots.slot[j].id) != 0); /* ids are unique */
    }
}

struct client {
    int fd;
    const char *line;
    size_t len, sent;
    bool eof_sent, done;
    char *reply;
    size_t reply_len, reply_cap;
};

/* Sends the next piece; once all is out, the end of the line (when flags say the stream ends it). */
static void client_send(struct client *c, size_t chunk, bool end_by_eof)
{
    if (c->sent < c->len) {
        size_t n = c->len - c->sent < chunk ? c->len - c->sent : chunk;
        ssize_t w = send(c->fd, c->line + c->sent, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0)
            c->sent += (size_t)w;
        else if (w < 0 && errno != EAGAIN)
            c->sent = c->len; /* the service closed on us (a reply to a line that is too long) */
    }
    if (c->sent == c->len && !c->eof_sent && (end_by_eof || c->len == 0 || c->line[c->len - 1] != '\n')) {
        shutdown(c->fd, SHUT_WR);
        c->eof_sent = true;
    }
}

static void client_recv(struct client *c)
{
    for (;;) {
        if (c->reply_cap - c->reply_len < 4096) {
            c->reply_cap = c->reply_cap * 2 + 8192;
            c->reply = realloc(c->reply, c->reply_cap);
            FUZZ_CHECK(c->reply != NULL);
        }
        ssize_t n = recv(c->fd, c->reply + c->reply_len, c->reply_cap - c->reply_len - 1, MSG_DONTWAIT);
        if (n > 0) {
            c->reply_len += (size_t)n;
            continue;
        }
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            c->done = true;
        return;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config cfg;
    if (size < sizeof(cfg))
        return 0;
    memcpy(&cfg, data, sizeof(cfg));
    data += sizeof(cfg), size -= sizeof(cfg);

    /* The client's parser on the raw bytes as a reply. */
    char *text = fuzz_strdup(data, size);
    struct lsl_ctl_reply rep;
    int64_t v;
    char field[64];
    if (lsl_ctl_reply_parse(text, &rep) == 0) {
        (void)lsl_ctl_field(rep.body, LSL_CTL_KEY_STATE, field, sizeof(field));
        (void)lsl_ctl_field_i64(rep.body, LSL_CTL_KEY_UPTIME_MS, &v);
        FUZZ_CHECK(rep.ok ? rep.error[0] == '\0' : rep.value[0] == '\0');
    }
    free(text);

    /* The lines: a long first one if asked, then the input's, each with its newline. */
    struct client cl[MAX_LINES];
    unsigned n = 0;
    char *long_line = NULL;
    if (cfg.flags & 2) {
        size_t len = LSL_CONTROL_LINE_MAX + 10;
        long_line = malloc(len);
        FUZZ_CHECK(long_line != NULL);
        for (size_t i = 0; i < len; i++)
            long_line[i] = size ? (char)data[i % size] : 'x';
        long_line[len - 1] = '\n';
        cl[n++] = (struct client){.line = long_line, .len = len};
    }
    for (size_t off = 0; off < size && n < MAX_LINES;) {
        const uint8_t *nl = memchr(data + off, '\n', size - off);
        size_t len = nl ? (size_t)(nl - (data + off)) + 1 : size - off;
        cl[n++] = (struct client){.line = (const char *)data + off, .len = len};
        off += len;
    }
    for (unsigned i = 0; i < n; i++)
        check_parse(cl[i].line, cl[i].len);

    nslots = cfg.slots % (LSL_DISK_SLOTS_MAX + 1);
    memset(&slots, 0, sizeof(slots));
    slots.ops = &fake_ops;
    slots.n = nslots;
    for (unsigned i = 0; i < nslots; i++) {
        drives[i] = (struct fake_drive){.fd = -1};
        slots.slot[i].drive = &drives[i];
    }
    dir_make();
    struct evloop loop;
    struct control *ctl = NULL;
    FUZZ_CHECK(evloop_init(&loop) == 0);
    FUZZ_CHECK(control_create(&loop, sock_path, serve, NULL, &ctl) == 0);

    size_t chunk = (size_t)cfg.chunk + 1;
    bool together = cfg.flags & 1, by_eof = cfg.flags & 4;
    for (unsigned first = 0; first < n;) {
        unsigned last = together ? n : first + 1;
        for (unsigned i = first; i < last; i++) {
            cl[i].fd = unix_connect(sock_path, true);
            FUZZ_CHECK(cl[i].fd >= 0);
        }
        /* Every client gets its whole reply within a bounded number of rounds: nothing waits for a
         * deadline (those are a second away) or for another client. */
        bool all_done = false;
        for (int round = 0; round < 20000 && !all_done; round++) {
            all_done = true;
            for (unsigned i = first; i < last; i++) {
                if (cl[i].done)
                    continue;
                client_send(&cl[i], chunk, by_eof);
                client_recv(&cl[i]);
                all_done &= cl[i].done;
            }
            FUZZ_CHECK(evloop_run_once(&loop, all_done ? 0 : 1) == 0);
        }
        FUZZ_CHECK(all_done);
        for (unsigned i = first; i < last; i++) {
            cl[i].reply[cl[i].reply_len] = '\0';
            check_reply(cl[i].reply, cl[i].reply_len);
            close(cl[i].fd);
            free(cl[i].reply);
        }
        check_slots();
        first = last;
    }

    control_free(ctl);
    evloop_free(&loop);
    for (unsigned i = 0; i < nslots; i++)
        if (drives[i].fd >= 0)
            close(drives[i].fd);
    blk_slots_release(&slots);
    dir_remove();
    free(long_line);
    return 0;
}
