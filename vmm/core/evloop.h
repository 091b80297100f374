/* The VMM's I/O thread: one epoll loop serving queue kicks (ioeventfds), signals and console input. */
#ifndef LSL_EVLOOP_H
#define LSL_EVLOOP_H

#include <stdint.h>

typedef void (*evloop_fn)(void *opaque, uint32_t events);

struct evloop_source;

struct evloop {
    int epfd;
    int wake_fd;
    int stop;
    struct evloop_source *sources;
};

int evloop_init(struct evloop *l);
/* Watches fd for `events` (EPOLLIN...); fn runs in the loop thread. */
int evloop_add(struct evloop *l, int fd, uint32_t events, evloop_fn fn, void *opaque);
int evloop_del(struct evloop *l, int fd);
/* Runs until evloop_stop(); returns 0 or -errno. */
int evloop_run(struct evloop *l);
/* Thread-safe (and async-signal-safe): makes evloop_run return. */
void evloop_stop(struct evloop *l);
void evloop_free(struct evloop *l);

#endif
