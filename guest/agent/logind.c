/* See logind.h. One connection per session asked for: authenticate as root (EXTERNAL), agree on passing
 * fds, Hello, then logind's CreateSession with what pam_systemd would send for a terminal or a command,
 * and the reply's fd kept. Nothing here waits past SESSION_BOUND_MS: the first session of a user includes
 * starting the user's manager, which logind finishes before it answers. */
#include "logind.h"

#include "distro_enter.h"
#include "../init/fileio.h"
#include "io.h"
#include "unix_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define BUS_SOCKET       "/run/dbus/system_bus_socket"
#define SESSION_BOUND_MS 30000
#define FDS_MAX          8
#define CREATE_SERIAL    2

bool agent_logind_usable(void)
{
    return lsl_distro_init_is_systemd(1) && access(BUS_SOCKET, F_OK) == 0;
}

struct conn {
    int fd;
    uint8_t *buf; /* DBUS_MSG_MAX bytes */
    size_t len;
    int fds[FDS_MAX];
    size_t nfds;
    long long deadline;
};

/* More bytes (and any fds with them) into c->buf: their count, or -errno (-ETIMEDOUT at the deadline). */
static ssize_t more(struct conn *c)
{
    if (c->len >= DBUS_MSG_MAX)
        return -EMSGSIZE;
    for (;;) {
        long long left = c->deadline - lsl_now_ms();
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (left <= 0)
            return -ETIMEDOUT;
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return -ETIMEDOUT;
        size_t got;
        ssize_t n = unix_recv_fds(c->fd, c->buf + c->len, DBUS_MSG_MAX - c->len, c->fds + c->nfds,
                                  FDS_MAX - c->nfds, &got);
        if (n < 0)
            return n;
        c->nfds += got;
        if (n == 0)
            return -ECONNRESET;
        c->len += (size_t)n;
        return n;
    }
}

static void consume(struct conn *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* One "\r\n"-ended line of the authentication into line: 0, or -errno. */
static int auth_line(struct conn *c, char *line, size_t len)
{
    for (;;) {
        uint8_t *end = memchr(c->buf, '\n', c->len);
        if (end) {
            size_t n = (size_t)(end - c->buf) + 1;
            snprintf(line, len, "%.*s", (int)(n >= 2 && end[-1] == '\r' ? n - 2 : n - 1), (char *)c->buf);
            consume(c, n);
            return 0;
        }
        ssize_t r = more(c);
        if (r < 0)
            return (int)r;
    }
}

/* Authentication (pipelined, as sd-bus does it), then Hello and CreateSession. */
static int request(struct conn *c, uid_t uid, const char *tty, char *why, size_t whylen)
{
    char uid_text[16], auth[96], line[256];
    int n = snprintf(uid_text, sizeof(uid_text), "%u", (unsigned)geteuid()), k;
    k = snprintf(auth, sizeof(auth), "%cAUTH EXTERNAL ", '\0');
    for (int i = 0; i < n; i++)
        k += snprintf(auth + k, sizeof(auth) - (size_t)k, "%02x", (unsigned char)uid_text[i]);
    k += snprintf(auth + k, sizeof(auth) - (size_t)k, "\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\n");
    int r = write_full(c->fd, auth, (size_t)k);
    if (r < 0)
        return snprintf(why, whylen, "cannot write to the system bus: %s", strerror(-r)), r;
    if ((r = auth_line(c, line, sizeof(line))) < 0 || strncmp(line, "OK ", 3) != 0) {
        snprintf(why, whylen, "the system bus refused us: %s", r < 0 ? strerror(-r) : line);
        return r < 0 ? r : -EACCES;
    }
    if ((r = auth_line(c, line, sizeof(line))) < 0 || strcmp(line, "AGREE_UNIX_FD") != 0) {
        snprintf(why, whylen, "the system bus passes no fds: %s", r < 0 ? strerror(-r) : line);
        return r < 0 ? r : -EPROTO;
    }

    /* What pam_systemd sends for a login on a terminal: a user session there. */
    uint8_t body_mem[512], out[1024];
    struct dbus_buf body = {.p = body_mem, .cap = sizeof(body_mem)};
    dbus_put_u32(&body, (uint32_t)uid);
    dbus_put_u32(&body, 0); /* the leader: the caller */
    dbus_put_str(&body, "lsl");
    dbus_put_str(&body, "tty");
    dbus_put_str(&body, "user");
    dbus_put_str(&body, ""); /* desktop */
    dbus_put_str(&body, ""); /* seat */
    dbus_put_u32(&body, 0);  /* vtnr */
    dbus_put_str(&body, tty);
    dbus_put_str(&body, ""); /* display */
    dbus_put_bool(&body, false);
    dbus_put_str(&body, ""); /* remote user */
    dbus_put_str(&body, ""); /* remote host */
    dbus_put_empty_dict(&body);
    size_t hello = dbus_call(out, sizeof(out), 1, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                             "org.freedesktop.DBus", "Hello", NULL, NULL);
    size_t create = hello
                        ? dbus_call(out + hello, sizeof(out) - hello, CREATE_SERIAL, "org.freedesktop.login1",
                                    "/org/freedesktop/login1", "org.freedesktop.login1.Manager",
                                    "CreateSession", "uusssssussbssa(sv)", &body)
                        : 0;
    if (!create)
        return snprintf(why, whylen, "the request does not fit"), -ENAMETOOLONG;
    if ((r = write_full(c->fd, out, hello + create)) < 0)
        return snprintf(why, whylen, "cannot write to the system bus: %s", strerror(-r)), r;
    return 0;
}

/* The reply to CreateSession (others are read past): the session's fd, or -errno. */
static int reply(struct conn *c, struct logind_created *s, char *why, size_t whylen)
{
    for (;;) {
        struct dbus_msg m;
        ssize_t n = dbus_msg_parse(c->buf, c->len, &m);
        if (n < 0)
            return snprintf(why, whylen, "unreadable message from the system bus"), (int)n;
        if (n == 0) {
            ssize_t r = more(c);
            if (r < 0)
                return snprintf(why, whylen, "no answer from logind: %s", strerror((int)-r)), (int)r;
            continue;
        }
        if (m.reply_serial != CREATE_SERIAL || (m.type != DBUS_METHOD_RETURN && m.type != DBUS_ERROR)) {
            consume(c, (size_t)n);
            continue;
        }
        if (m.type == DBUS_ERROR) {
            char text[160];
            dbus_error_text(&m, text, sizeof(text));
            snprintf(why, whylen, "logind: %s%s%s", m.error, text[0] ? ": " : "", text);
            return -EPERM;
        }
        /* The fds of this message are the last unix_fds received. */
        if (dbus_parse_create_session(&m, s) < 0 || m.unix_fds > c->nfds || s->fd_index >= m.unix_fds)
            return snprintf(why, whylen, "logind's answer is not CreateSession's"), -EBADMSG;
        size_t at = c->nfds - m.unix_fds + s->fd_index;
        int fd = c->fds[at];
        c->fds[at] = -1;
        return fd;
    }
}

int agent_logind_session(uid_t uid, const char *tty, struct logind_created *s, char *why, size_t whylen)
{
    struct conn c = {.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0),
                     .buf = malloc(DBUS_MSG_MAX),
                     .deadline = lsl_now_ms() + SESSION_BOUND_MS};
    struct sockaddr_un sa = {.sun_family = AF_UNIX, .sun_path = BUS_SOCKET};
    int r;
    if (c.fd < 0 || !c.buf) {
        r = c.fd < 0 ? -errno : -ENOMEM;
        snprintf(why, whylen, "%s", strerror(-r));
    } else if (connect(c.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        r = -errno;
        snprintf(why, whylen, "cannot reach the system bus: %s", strerror(-r));
    } else if ((r = request(&c, uid, tty, why, whylen)) == 0) {
        r = reply(&c, s, why, whylen);
        if (r >= 0 && s->existing) { /* already in one: never, for a process just made a session leader */
            close(r);
            r = -EEXIST;
            snprintf(why, whylen, "logind: already in session %s", s->id);
        }
    }
    for (size_t i = 0; i < c.nfds; i++)
        if (c.fds[i] >= 0)
            close(c.fds[i]);
    if (c.fd >= 0)
        close(c.fd);
    free(c.buf);
    return r;
}
