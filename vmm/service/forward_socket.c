/* Socket forwarding (proto/fwd.h OPEN_UNIX, ~/.lslconfig's socketForwarding): each configured host path is a
 * unix listener while the guest is up, and each connection it takes is relayed over a vsock stream of its own
 * to the guest forwarder, which connects to the guest socket in the distribution (Docker's by default: the
 * host's `docker` reaches dockerd in the VM). The path is ours alone: one a live socket serves (a Docker on
 * the host, another program) or a file that is not a socket is left as it is, retried each tick like a taken
 * port; on the way out the path is removed only while it is still the socket bound here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/evloop.h"
#include "control.h"
#include "forward_int.h"
#include "log.h"
#include "unix_socket.h"

static void sock_ready(void *opaque, uint32_t events)
{
    (void)events;
    fwd_unix_accept(opaque);
}

/* -EADDRINUSE when a live socket serves path (someone accepts, or its backlog is full). */
static int path_served(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
        return 0;
    int fd = unix_connect(path, true);
    if (fd >= 0)
        close(fd);
    return fd >= 0 || fd == -EAGAIN ? -EADDRINUSE : 0;
}

static void sock_bind(struct fwd_sock_entry *e)
{
    int prev = e->err, r = path_served(e->sock.host);
    struct stat st;

    if (r == 0)
        r = unix_listen(e->sock.host, 128);
    /* The file bound, so that the way out removes it and nothing someone put there since. */
    if (r >= 0 && (stat(e->sock.host, &st) < 0 || evloop_add(e->f->loop, r, EPOLLIN, sock_ready, e) < 0)) {
        close(r);
        r = -ENOMEM;
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

static void sock_unbind(struct fwd_sock_entry *e)
{
    struct stat st;
    if (e->lfd < 0)
        return;
    evloop_del(e->f->loop, e->lfd);
    close(e->lfd);
    e->lfd = -1;
    if (lstat(e->sock.host, &st) == 0 && st.st_dev == e->dev && st.st_ino == e->ino)
        unlink(e->sock.host);
}

int fwd_socks_create(struct fwd *f, const struct lsl_fwd_socks *socks)
{
    f->socks = calloc(socks->n ? socks->n : 1, sizeof(*f->socks));
    if (!f->socks)
        return -ENOMEM;
    f->nsocks = socks->n;
    for (size_t i = 0; i < socks->n; i++)
        f->socks[i] = (struct fwd_sock_entry){.f = f, .sock = socks->s[i], .lfd = -1};
    return 0;
}

void fwd_socks_tick(struct fwd *f, bool guest_up)
{
    for (size_t i = 0; i < f->nsocks; i++) {
        if (!guest_up)
            sock_unbind(&f->socks[i]);
        else if (f->socks[i].lfd < 0)
            sock_bind(&f->socks[i]);
    }
}

void fwd_socks_free(struct fwd *f)
{
    fwd_socks_tick(f, false);
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
        fprintf(out, "|%s",
                e->lfd >= 0            ? "listening"
                : e->err == EADDRINUSE ? "in-use"
                : e->err               ? "error"
                                       : "stopped");
    }
    fputc('\n', out);
}
