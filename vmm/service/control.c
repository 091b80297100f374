/* The control socket's clients. It shares the I/O thread with every virtio device, so nothing here blocks:
 * clients are non-blocking, each gets LINE_DEADLINE_NS to send its line, replies that do not fit the socket
 * at once wait for EPOLLOUT (a client that takes none of it for REPLY_STALL_NS is dropped), and at most
 * MAX_CLIENTS are served at a time (more wait in the backlog). What a request does is the caller's. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control.h"
#include "io.h"
#include "log.h"
#include "macro.h"
#include "service.h"
#include "unix_socket.h"

#define MAX_CLIENTS      16
#define LINE_DEADLINE_NS 1000000000ull
#define REPLY_STALL_NS   5000000000ull

struct client {
    struct control *c;
    int fd;
    uint64_t deadline;
    size_t in_len;
    char in[LSL_CONTROL_LINE_MAX + 1];
    char *out; /* the reply, once the request is served */
    size_t out_len, out_off;
};

struct control {
    struct evloop *loop;
    control_serve_fn serve;
    void *opaque;
    char *path;
    int listen_fd;
    bool listening; /* in the loop; off while MAX_CLIENTS are served */
    struct client *clients[MAX_CLIENTS];
};

static void on_listen(void *opaque, uint32_t events);

static void client_close(struct client *cl)
{
    struct control *c = cl->c;
    for (unsigned i = 0; i < MAX_CLIENTS; i++)
        if (c->clients[i] == cl)
            c->clients[i] = NULL;
    evloop_del(c->loop, cl->fd);
    close(cl->fd);
    free(cl->out);
    free(cl);
    if (!c->listening && evloop_add(c->loop, c->listen_fd, EPOLLIN, on_listen, c) == 0)
        c->listening = true;
}

/* Sends what the socket takes; closes the client once the reply is out (or the client is gone). */
static void client_flush(struct client *cl)
{
    while (cl->out_off < cl->out_len) {
        ssize_t n = send(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return; /* the loop calls again on EPOLLOUT (registered when the reply was made) */
        if (n <= 0)
            break;
        cl->out_off += (size_t)n;
        cl->deadline = now_ns() + REPLY_STALL_NS; /* a slow reader is fine, one that stopped is not */
    }
    client_close(cl);
}

static void on_client(void *opaque, uint32_t events);

static void client_serve(struct client *cl)
{
    struct lsl_ctl_request r;
    const char *why;
    FILE *out = open_memstream(&cl->out, &cl->out_len);

    cl->in[strcspn(cl->in, "\r\n")] = '\0';
    if (!out) {
        client_close(cl);
        return;
    }
    if (lsl_ctl_parse(cl->in, &r, &why) < 0)
        lsl_ctl_reply_error(out, "%s", why);
    else
        cl->c->serve(cl->c->opaque, &r, out);
    if (fclose(out) != 0) {
        client_close(cl);
        return;
    }
    cl->deadline = now_ns() + REPLY_STALL_NS;
    /* From now on the client's readiness means room for the reply. */
    evloop_del(cl->c->loop, cl->fd);
    if (evloop_add(cl->c->loop, cl->fd, EPOLLOUT, on_client, cl) < 0) {
        client_close(cl);
        return;
    }
    client_flush(cl);
}

static void on_client(void *opaque, uint32_t events)
{
    struct client *cl = opaque;
    (void)events;
    if (cl->out) {
        client_flush(cl);
        return;
    }
    for (;;) {
        if (cl->in_len == LSL_CONTROL_LINE_MAX) {
            FILE *out = open_memstream(&cl->out, &cl->out_len);
            if (out) {
                lsl_ctl_reply_error(out, "request too long");
                fclose(out);
            }
            if (!cl->out) {
                client_close(cl);
                return;
            }
            cl->deadline = now_ns() + REPLY_STALL_NS;
            evloop_del(cl->c->loop, cl->fd);
            if (evloop_add(cl->c->loop, cl->fd, EPOLLOUT, on_client, cl) < 0)
                client_close(cl);
            else
                client_flush(cl);
            return;
        }
        ssize_t n = recv(cl->fd, cl->in + cl->in_len, LSL_CONTROL_LINE_MAX - cl->in_len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            /* End of stream ends the line too; nothing at all is no request. */
            if (n == 0 && cl->in_len)
                client_serve(cl);
            else
                client_close(cl);
            return;
        }
        bool line_done = memchr(cl->in + cl->in_len, '\n', (size_t)n) != NULL;
        cl->in_len += (size_t)n;
        cl->in[cl->in_len] = '\0';
        if (line_done || memchr(cl->in, '\r', cl->in_len)) {
            client_serve(cl);
            return;
        }
    }
}

static void on_listen(void *opaque, uint32_t events)
{
    struct control *c = opaque;
    (void)events;
    for (;;) {
        unsigned slot = 0;
        while (slot < MAX_CLIENTS && c->clients[slot])
            slot++;
        if (slot == MAX_CLIENTS) {
            /* Full: stop listening until a client leaves; the rest wait in the backlog. */
            evloop_del(c->loop, c->listen_fd);
            c->listening = false;
            return;
        }
        int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            return;
        struct client *cl = calloc(1, sizeof(*cl));
        if (!cl || evloop_add(c->loop, fd, EPOLLIN, on_client, cl) < 0) {
            free(cl);
            close(fd);
            continue;
        }
        *cl = (struct client){.c = c, .fd = fd, .deadline = now_ns() + LINE_DEADLINE_NS};
        c->clients[slot] = cl;
    }
}

void control_tick(struct control *c, uint64_t now)
{
    for (unsigned i = 0; i < MAX_CLIENTS; i++) {
        struct client *cl = c->clients[i];
        if (cl && now >= cl->deadline)
            client_close(cl); /* a client that does not send its line or take its reply is dropped */
    }
}

void control_free(struct control *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < MAX_CLIENTS; i++)
        if (c->clients[i])
            client_close(c->clients[i]);
    if (c->listen_fd >= 0) {
        if (c->listening)
            evloop_del(c->loop, c->listen_fd);
        unlink(c->path);
        close(c->listen_fd);
    }
    free(c->path);
    free(c);
}

int control_create(struct evloop *loop, const char *path, control_serve_fn serve, void *opaque,
                   struct control **out)
{
    struct control *c = calloc(1, sizeof(*c));
    if (!c)
        return log_errno(ENOMEM, "control socket");
    *c = (struct control){
        .loop = loop, .serve = serve, .opaque = opaque, .listen_fd = -1, .path = strdup(path)};
    if (!c->path) {
        free(c);
        return log_errno(ENOMEM, "control socket");
    }
    *out = c;
    c->listen_fd = unix_listen(path, 64);
    if (c->listen_fd < 0)
        return log_errno(-c->listen_fd, "cannot listen on %s", path);
    int r = evloop_add(loop, c->listen_fd, EPOLLIN, on_listen, c);
    if (r < 0)
        return log_errno(-r, "epoll");
    c->listening = true;
    return 0;
}
