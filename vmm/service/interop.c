/* The interop listener (interop.h). The program is started per connection as service_spawn.h starts the
 * service's programs. A connection the program cannot be started for is closed, which the guest sees as a
 * reset. */
#include "interop.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../core/evloop.h"
#include "control.h" /* LSL_INTEROP_SOCKET */
#include "log.h"
#include "service_spawn.h"
#include "unix_socket.h"

struct interop {
    struct evloop *loop;
    int fd;
    bool added;
    char *program;
    char *dir;
    char *path;
    unsigned served, failed;
};

static void serve(struct interop *i, int conn)
{
    posix_spawn_file_actions_t fa;
    pid_t pid;
    char *argv[] = {i->program, i->dir, NULL};

    int r = posix_spawn_file_actions_init(&fa);
    if (r != 0) {
        log_warn("interop: %s", strerror(r));
        return;
    }
    (void)posix_spawn_file_actions_adddup2(&fa, conn, 0);
    r = service_spawn(&pid, i->program, argv, &fa);
    posix_spawn_file_actions_destroy(&fa);
    if (r != 0) {
        if (i->failed++ == 0) /* said once: every later connection fails the same way */
            log_warn("interop: cannot start %s: %s", i->program, strerror(r));
        return;
    }
    i->served++;
}

static void on_accept(void *opaque, uint32_t events)
{
    struct interop *i = opaque;
    (void)events;
    for (;;) {
        int conn = accept4(i->fd, NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0) {
            int err = errno; /* before the log line, which may change it */
            if (err == EINTR || err == ECONNABORTED)
                continue;
            if (err != EAGAIN)
                log_warn("interop: accept: %s", strerror(err));
            return;
        }
        serve(i, conn);
        close(conn);
    }
}

int interop_create(struct evloop *loop, const char *dir, const char *program, struct interop **out)
{
    struct interop *i = calloc(1, sizeof(*i));
    struct sigaction chld = {.sa_handler = SIG_DFL, .sa_flags = SA_NOCLDWAIT};
    int r;

    *out = NULL;
    if (!i || !(i->program = strdup(program)) || !(i->dir = strdup(dir)) ||
        asprintf(&i->path, "%s/" LSL_INTEROP_SOCKET, dir) < 0) {
        if (i) {
            free(i->program);
            free(i->dir);
        }
        free(i);
        return log_errno(ENOMEM, "interop");
    }
    i->loop = loop;
    i->fd = unix_listen(i->path, 64);
    if (i->fd < 0) {
        r = i->fd;
        log_error("interop: cannot listen at %s: %s", i->path, strerror(-r));
        i->fd = -1;
        interop_free(i);
        return r;
    }
    r = sigaction(SIGCHLD, &chld, NULL) < 0 ? -errno : evloop_add(loop, i->fd, EPOLLIN, on_accept, i);
    if (r < 0) {
        interop_free(i);
        return log_errno(-r, "interop");
    }
    i->added = true;
    *out = i;
    return 0;
}

unsigned interop_served(const struct interop *i)
{
    return i->served;
}

void interop_free(struct interop *i)
{
    if (!i)
        return;
    if (i->fd >= 0) {
        if (i->added)
            (void)evloop_del(i->loop, i->fd);
        close(i->fd);
        (void)unlink(i->path);
    }
    free(i->path);
    free(i->dir);
    free(i->program);
    free(i);
}
