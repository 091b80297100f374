/* The I/O thread's event loop: a callback may delete any source, also one whose event is waiting later in
 * the same batch (the control socket's tick drops clients that way), and that source is then not called. */
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "check.h"
#include "core/evloop.h"
#include "io.h"

static struct evloop loop;
static int fds[2];
static unsigned calls[2];

static void deletes_the_other(void *opaque, uint32_t events)
{
    unsigned me = (unsigned)(uintptr_t)opaque;
    (void)events;
    calls[me]++;
    evloop_del(&loop, fds[!me]);
    evloop_del(&loop, fds[me]);
}

static void test_delete_in_batch(void)
{
    CHECK_EQ(evloop_init(&loop), 0);
    for (unsigned i = 0; i < 2; i++) {
        fds[i] = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK); /* readable from the start: one batch holds both */
        CHECK_EQ(evloop_add(&loop, fds[i], EPOLLIN, deletes_the_other, (void *)(uintptr_t)i), 0);
    }
    CHECK_EQ(evloop_run_once(&loop, 1000), 0);
    CHECK_EQ(calls[0] + calls[1], 1);
    CHECK_EQ(evloop_del(&loop, fds[0]), -2); /* both gone */
    CHECK_EQ(evloop_run_once(&loop, 0), 0);
    CHECK_EQ(calls[0] + calls[1], 1);
    close(fds[0]);
    close(fds[1]);
    evloop_free(&loop);
}

static unsigned ticks;

static void count(void *opaque, uint32_t events)
{
    uint64_t v;
    (void)events;
    if (read(*(int *)opaque, &v, sizeof(v)) == sizeof(v))
        ticks++;
}

static void test_run_once_and_stop(void)
{
    CHECK_EQ(evloop_init(&loop), 0);
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    CHECK_EQ(evloop_add(&loop, fd, EPOLLIN, count, &fd), 0);
    uint64_t t0 = now_ns();
    CHECK_EQ(evloop_run_once(&loop, 50), 0); /* nothing ready: returns after the timeout */
    CHECK(now_ns() - t0 >= 40000000ull);
    CHECK_EQ(ticks, 0);
    uint64_t one = 1;
    CHECK(write(fd, &one, sizeof(one)) == sizeof(one));
    CHECK_EQ(evloop_run_once(&loop, 1000), 0);
    CHECK_EQ(ticks, 1);
    evloop_stop(&loop);
    CHECK_EQ(evloop_run(&loop), 0); /* stopped: returns at once */
    CHECK_EQ(evloop_del(&loop, fd), 0);
    close(fd);
    evloop_free(&loop);
}

int main(void)
{
    RUN(test_delete_in_batch);
    RUN(test_run_once_and_stop);
    return CHECK_DONE();
}
