/* The VMM's I/O thread: one epoll loop serving queue kicks (ioeventfds), signals, the vsock sockets and the
 * service's control socket and timer. */
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
    struct evloop_source *dead; /* deleted during the current batch, freed after it */
};

int evloop_init(struct evloop *l);
/* Watches fd for `events` (EPOLLIN...); fn runs in the loop thread. */
int evloop_add(struct evloop *l, int fd, uint32_t events, evloop_fn fn, void *opaque);
/* Stops watching fd; its callback is not called again, even for an event of the batch being run. */
int evloop_del(struct evloop *l, int fd);
/* Runs until evloop_stop(); returns 0 or -errno. */
int evloop_run(struct evloop *l);
/* Waits up to timeout_ms (-1: no limit) and runs the callbacks of one batch of events; 0 or -errno. What
 * evloop_run repeats; tests run the loop piecemeal with it. */
int evloop_run_once(struct evloop *l, int timeout_ms);
/* Thread-safe (and async-signal-safe): makes evloop_run return. */
void evloop_stop(struct evloop *l);
void evloop_free(struct evloop *l);

#endif
