/* Socket forwarding (proto/fwd.h OPEN_UNIX, ~/.lslconfig's socketForwarding): each configured host path is a
 * unix listener while the guest is up, and each connection it takes is relayed over a vsock stream of its own
 * to the guest forwarder, which connects to the guest socket in the distribution (Docker's by default: the
 * host's `docker` reaches dockerd in the VM). The path is ours alone: one a live socket serves (a Docker on
 * the host, another program) or a file that is not a socket is left as it is, retried each tick like a taken
 * port; on the way out the path is removed only while it is still the socket bound here. At an idle stop
 * the listeners go to lsl-wake instead (proto/wake.h), and come back adopted (--socket-fd). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/evloop.h"
#include "control.h"
#include "forward_int.h"
#include "io.h"
#include "log.h"
#include "unix_socket.h"

static void sock_ready(void *opaque, uint32_t events)
{
    (void)events;
    fwd_unix_accept(opaque);
}

static void check_close(struct fwd_sock_entry *e)
{
    if (e->check_fd < 0)
        return;
    evloop_del(e->f->loop, e->check_fd);
    close(e->check_fd);
    e->check_fd = -1;
}

/* STAT_UNIX's answer: the OK line and OPENED (its value kept), or anything else (not known). */
static void check_ready(void *opaque, uint32_t events)
{
    struct fwd_sock_entry *e = opaque;
    (void)events;
    for (;;) {
        uint32_t err;
        long n = lsl_fwd_handshake_parse(e->check_buf, e->check_len, true, &err);
        if (n != 0) {
            e->guest_err = n > 0 && err <= 4095 ? (int)err : -1;
            e->checked_at = now_ns();
            check_close(e);
            return;
        }
        ssize_t got =
            recv(e->check_fd, e->check_buf + e->check_len, sizeof(e->check_buf) - e->check_len, MSG_DONTWAIT);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (got <= 0 || (e->check_len += (size_t)got) == sizeof(e->check_buf)) {
            e->guest_err = -1;
            e->checked_at = now_ns();
            check_close(e);
            return;
        }
    }
}

void fwd_socks_check(struct fwd *f)
{
    for (size_t i = 0; i < f->nsocks; i++) {
        struct fwd_sock_entry *e = &f->socks[i];
        uint8_t payload[LSL_FWD_UNIX_OPEN_MAX];
        size_t len = lsl_fwd_unix_encode(&e->sock.guest, payload, sizeof(payload));
        if (e->lfd < 0 || e->check_fd >= 0 || !len ||
            (e->checked_at && now_ns() - e->checked_at < FWD_CHECK_FRESH_NS))
            continue;
        e->check_len = 0;
        e->check_asked = now_ns();
        e->check_fd = fwd_stream_open(f, LSL_FWD_STAT_UNIX, payload, len);
        if (e->check_fd >= 0 && evloop_add(f->loop, e->check_fd, EPOLLIN, check_ready, e) < 0) {
            close(e->check_fd);
            e->check_fd = -1;
        }
    }
}

static void sock_bind(struct fwd_sock_entry *e)
{
    int prev = e->err, r;
    struct stat st;

    if (e->adopted >= 0) {
        /* A listener handed over by lsl-wake (proto/wake.h): its backlog holds the clients that woke us. */
        r = e->adopted;
        e->adopted = -1;
        if (evloop_add(e->f->loop, r, EPOLLIN, sock_ready, e) < 0) {
            close(r);
            r = -ENOMEM;
        }
        st = (struct stat){.st_dev = e->dev, .st_ino = e->ino};
    } else if (unix_path_listening(e->sock.host) == 1) {
        r = -EADDRINUSE; /* a live socket serves the path (someone accepts, or its backlog is full) */
    } else {
        r = unix_listen(e->sock.host, 128);
        /* The file bound, so that the way out removes it and nothing someone put there since. */
        if (r >= 0 &&
            (stat(e->sock.host, &st) < 0 || evloop_add(e->f->loop, r, EPOLLIN, sock_ready, e) < 0)) {
            close(r);
            r = -ENOMEM;
        }
    }
    if (r < 0) {
        e->err = -r;
        if (e->err != prev) /* once per cause, not on every retry */
            log_warn("socket forwarding %s: %s", e->sock.host,
                     e->err == EADDRINUSE ? "a live socket is there already"
                     : e->err == EEXIST   ? "a file that is not a socket is there"
                                          : strerror(e->err));
        return;
    }
    e->lfd = r;
    e->err = 0;
    e->dev = st.st_dev;
    e->ino = st.st_ino;
    log_info("forwarding %s to the guest's %s%s%s", e->sock.host, e->sock.guest.distro,
             e->sock.guest.distro[0] ? ":" : "", e->sock.guest.path);
}

/* Closes e's listener: the bound one, or (all) one handed over and not yet served. Returns whether there was
 * one. What the guest said of its end is forgotten either way. */
static bool sock_close(struct fwd_sock_entry *e, bool all)
{
    check_close(e);
    e->guest_err = -1;
    e->checked_at = 0;
    if (e->lfd >= 0) {
        evloop_del(e->f->loop, e->lfd);
        close(e->lfd);
        e->lfd = -1;
        return true;
    }
    if (all && e->adopted >= 0) {
        close(e->adopted);
        e->adopted = -1;
        return true;
    }
    return false;
}

/* The guest went down (or the service goes): the path goes too. A listener handed over and not yet served
 * (the guest still booting) goes only with the service (all): its clients wait for the guest. */
static void sock_unbind(struct fwd_sock_entry *e, bool all)
{
    struct stat st;
    if (sock_close(e, all) && lstat(e->sock.host, &st) == 0 && st.st_dev == e->dev && st.st_ino == e->ino)
        unlink(e->sock.host);
}

/* A handed-over listener no entry wants (socketForwarding changed while the VM was down): closed, and its
 * path removed once nothing listens there any more. */
static void drop_listener(int fd, const char *path)
{
    close(fd);
    unix_remove_stale(path);
    log_info("socket forwarding: %s is no longer configured; removed", path);
}

/* Takes listener fd for the entry of the same host path; the path must still be the socket (it is the
 * user's runtime directory: only lsl puts sockets there, but a file swapped in is never unlinked later). */
static void adopt(struct fwd *f, int fd)
{
    char path[LSL_FWD_HOST_PATH_MAX + 1];
    struct stat st;
    int r = unix_listener_path(fd, path, sizeof(path));
    if (r < 0) {
        log_warn("--socket-fd %d: not a listening unix socket with a path (%s); ignored", fd, strerror(-r));
        close(fd);
        return;
    }
    for (size_t i = 0; i < f->nsocks; i++) {
        struct fwd_sock_entry *e = &f->socks[i];
        if (strcmp(e->sock.host, path) != 0 || e->adopted >= 0)
            continue;
        if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
            log_warn("socket forwarding %s: the handed-over listener's path is gone; binding anew", path);
            close(fd);
            return;
        }
        /* Non-blocking for accept4's batches; close-on-exec for the programs we start. */
        (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
        e->adopted = fd;
        e->dev = st.st_dev;
        e->ino = st.st_ino;
        return;
    }
    drop_listener(fd, path);
}

int fwd_socks_create(struct fwd *f, const struct lsl_fwd_socks *socks, const int *fds, size_t nfds)
{
    f->socks = calloc(socks->n ? socks->n : 1, sizeof(*f->socks));
    if (!f->socks) {
        for (size_t i = 0; i < nfds; i++)
            close(fds[i]);
        return -ENOMEM;
    }
    f->nsocks = socks->n;
    for (size_t i = 0; i < socks->n; i++)
        f->socks[i] = (struct fwd_sock_entry){
            .f = f, .sock = socks->s[i], .lfd = -1, .adopted = -1, .guest_err = -1, .check_fd = -1};
    for (size_t i = 0; i < nfds; i++)
        adopt(f, fds[i]);
    return 0;
}

size_t fwd_socks_listeners(const struct fwd *f, int *fds, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < f->nsocks && n < max; i++) {
        const struct fwd_sock_entry *e = &f->socks[i];
        if (e->lfd >= 0 || e->adopted >= 0)
            fds[n++] = e->lfd >= 0 ? e->lfd : e->adopted;
    }
    return n;
}

void fwd_socks_forget(struct fwd *f)
{
    for (size_t i = 0; i < f->nsocks; i++) {
        (void)sock_close(&f->socks[i], true); /* the path stays: lsl-wake listens there now */
        f->socks[i].handed = true;
    }
}

void fwd_socks_tick(struct fwd *f, bool guest_up)
{
    for (size_t i = 0; i < f->nsocks; i++) {
        if (f->socks[i].handed)
            continue; /* lsl-wake's now */
        if (f->socks[i].check_fd >= 0 && f->now - f->socks[i].check_asked > FWD_HANDSHAKE_NS) {
            check_close(&f->socks[i]); /* a guest that does not answer: not known */
            f->socks[i].guest_err = -1;
        }
        if (!guest_up)
            sock_unbind(&f->socks[i], false);
        else if (f->socks[i].lfd < 0)
            sock_bind(&f->socks[i]);
    }
}

void fwd_socks_free(struct fwd *f)
{
    for (size_t i = 0; i < f->nsocks; i++)
        if (!f->socks[i].handed)
            sock_unbind(&f->socks[i], true);
    free(f->socks);
    f->socks = NULL;
    f->nsocks = 0;
}

/* A path in the status line: blanks separate entries and '|' fields there, so those (and '%', newlines)
 * are written %XX. */
static void put_path(FILE *out, const char *p)
{
    for (; *p; p++)
        if (*p == ' ' || *p == '|' || *p == '%' || *p == '\n' || *p == '\t')
            fprintf(out, "%%%02X", (unsigned char)*p);
        else
            fputc(*p, out);
}

void fwd_socks_status(const struct fwd *f, FILE *out)
{
    fputs(LSL_CTL_KEY_SOCKETS " ", out);
    for (size_t i = 0; i < f->nsocks; i++) {
        const struct fwd_sock_entry *e = &f->socks[i];
        if (i)
            fputc(' ', out);
        put_path(out, e->sock.host);
        fprintf(out, "|%s|", e->sock.guest.distro[0] ? e->sock.guest.distro : "-");
        put_path(out, e->sock.guest.path);
        /* Listening: whether the guest's end is there, as far as known ("no-guest": nothing at its path
         * in any running distribution, or that one's). */
        fprintf(out, "|%s",
                e->lfd >= 0 && e->check_fd >= 0   ? "checking"
                : e->lfd >= 0 && e->guest_err > 0 ? "no-guest"
                : e->lfd >= 0                     ? "listening"
                : e->err == EADDRINUSE            ? "in-use"
                : e->err                          ? "error"
                                                  : "stopped");
    }
    fputc('\n', out);
}
