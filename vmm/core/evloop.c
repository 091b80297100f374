/* epoll-based event loop for the I/O thread. */
#include "evloop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct evloop_source {
    int fd;
    evloop_fn fn; /* NULL once deleted */
    void *opaque;
    struct evloop_source *next;
};

int evloop_init(struct evloop *l)
{
    memset(l, 0, sizeof(*l));
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0)
        return -errno;
    l->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (l->wake_fd < 0)
        return -errno;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wake_fd, &ev) < 0)
        return -errno;
    return 0;
}

int evloop_add(struct evloop *l, int fd, uint32_t events, evloop_fn fn, void *opaque)
{
    struct evloop_source *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    *s = (struct evloop_source){.fd = fd, .fn = fn, .opaque = opaque, .next = l->sources};
    struct epoll_event ev = {.events = events, .data.ptr = s};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int e = errno;
        free(s);
        return -e;
    }
    l->sources = s;
    return 0;
}

/* A callback may delete any source, also one whose event waits later in the same epoll batch: the source is
 * only marked dead here and freed once the batch is done, so that event finds it dead instead of freed. */
int evloop_del(struct evloop *l, int fd)
{
    for (struct evloop_source **p = &l->sources; *p; p = &(*p)->next) {
        if ((*p)->fd != fd)
            continue;
        struct evloop_source *s = *p;
        *p = s->next;
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
        s->fn = NULL;
        s->next = l->dead;
        l->dead = s;
        return 0;
    }
    return -ENOENT;
}

static void free_list(struct evloop_source *s)
{
    while (s) {
        struct evloop_source *next = s->next;
        free(s);
        s = next;
    }
}

int evloop_run_once(struct evloop *l, int timeout_ms)
{
    struct epoll_event evs[32];
    int n = epoll_wait(l->epfd, evs, 32, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    int r = 0;
    for (int i = 0; i < n; i++) {
        struct evloop_source *s = evs[i].data.ptr;
        if (!s) {
            uint64_t v;
            if (read(l->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN) {
                r = -errno;
                break;
            }
            continue;
        }
        if (s->fn)
            s->fn(s->opaque, evs[i].events);
    }
    free_list(l->dead);
    l->dead = NULL;
    return r;
}

int evloop_run(struct evloop *l)
{
    while (!__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE)) {
        int r = evloop_run_once(l, -1);
        if (r < 0)
            return r;
    }
    return 0;
}

void evloop_stop(struct evloop *l)
{
    __atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
    uint64_t one = 1;
    ssize_t r = write(l->wake_fd, &one, sizeof(one));
    (void)r;
}

void evloop_free(struct evloop *l)
{
    free_list(l->sources);
    free_list(l->dead);
    l->sources = l->dead = NULL;
    if (l->epfd >= 0)
        close(l->epfd);
    if (l->wake_fd >= 0)
        close(l->wake_fd);
}
