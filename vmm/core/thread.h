/* The VMM's own threads (vCPUs, the NAT, virtio-fs), on stacks it maps itself so that they are never backed
 * by transparent huge pages. With THP "always" (Debian's kernels, and the emulated host's), glibc's default
 * 8 MiB stack is a THP-eligible mapping: a thread that reaches past the first, partial 2 MiB range of its
 * stack, or khugepaged passing by, makes 2 MiB of it resident at once — more than the rest of lsl-vmm's own
 * memory together, and at random. */
#ifndef LSL_THREAD_H
#define LSL_THREAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct vmm_thread {
    pthread_t id;
    void *map; /* guard page + stack */
    size_t map_len;
    bool started;
};

/* Starts fn(arg) on t, named name (top -H, --status find threads by it). The caller's signal mask is the
 * thread's. 0 or -errno, not logged. */
int vmm_thread_start(struct vmm_thread *t, const char *name, void *(*fn)(void *), void *arg);
/* Waits for a started thread to return and unmaps its stack; nothing for one never started. */
void vmm_thread_join(struct vmm_thread *t);

#endif
