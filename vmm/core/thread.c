/* See thread.h. */
#include "thread.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

/* glibc's default on Linux; what the threads were written for. Only what a thread touches is resident. */
#define STACK_SIZE (8u << 20)

int vmm_thread_start(struct vmm_thread *t, const char *name, void *(*fn)(void *), void *arg)
{
    size_t guard = (size_t)sysconf(_SC_PAGESIZE);
    *t = (struct vmm_thread){.map_len = guard + STACK_SIZE};
    t->map =
        mmap(NULL, t->map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (t->map == MAP_FAILED)
        return t->map = NULL, -errno;
    /* Before the first touch: the flag is the mapping's and stays on both parts the mprotect splits it into.
     */
    int r = 0;
    if (madvise(t->map, t->map_len, MADV_NOHUGEPAGE) < 0 &&
        errno != EINVAL) /* EINVAL: a kernel without THP */
        r = -errno;
    if (!r && mprotect((char *)t->map + guard, STACK_SIZE, PROT_READ | PROT_WRITE) < 0)
        r = -errno;
    pthread_attr_t attr;
    if (!r && (r = -pthread_attr_init(&attr)) == 0) {
        r = -pthread_attr_setstack(&attr, (char *)t->map + guard, STACK_SIZE);
        if (!r)
            r = -pthread_create(&t->id, &attr, fn, arg);
        pthread_attr_destroy(&attr);
    }
    if (r) {
        munmap(t->map, t->map_len);
        t->map = NULL;
        return r;
    }
    t->started = true;
    pthread_setname_np(t->id, name);
    return 0;
}

void vmm_thread_join(struct vmm_thread *t)
{
    if (!t->started)
        return;
    pthread_join(t->id, NULL);
    munmap(t->map, t->map_len);
    *t = (struct vmm_thread){0};
}
