/* The idle stop's decision, kept apart from the service's I/O so that it is tested on its own
 * (tests/unit/test_idle.c). The VM is idle when no session is open and nothing that sessions left behind runs
 * in a distribution (`setsid -f`, `cmd &`: WSL keeps a distribution up for those too). Sessions are counted
 * every tick, for free; the processes are asked of the guest (an ACTIVITY errand) only when the idle timeout
 * has run out, and then again every IDLE_RECHECK_NS while some run, never while sessions are open. The VM
 * stops when the timeout has run out and the guest says nothing runs, or does not answer (a guest that
 * cannot answer must not keep a VM up forever). */
#ifndef LSL_SERVICE_IDLE_H
#define LSL_SERVICE_IDLE_H

#include <stdbool.h>
#include <stdint.h>

#define IDLE_RECHECK_NS 5000000000ull  /* between two questions while processes run */
#define IDLE_ANSWER_NS  15000000000ull /* a question unanswered this long counts as "nothing runs" */

struct idle {
    int64_t timeout_ns; /* < 0: the VM never stops by itself */
    uint64_t since; /* when the quiet time began (no sessions, nothing running); 0 while sessions are open */
    uint64_t asked; /* when the question in flight was asked, 0 if none */
    uint64_t answered; /* when the last answer came, 0 if none yet */
    bool busy;         /* the last answer since the last session counted processes */
};

enum idle_do {
    IDLE_NOTHING,
    IDLE_ASK,  /* ask the guest what runs; then idle_answer() */
    IDLE_STOP, /* stop the VM */
};

static inline void idle_init(struct idle *s, int timeout_s)
{
    *s = (struct idle){.timeout_ns = timeout_s < 0 ? -1 : (int64_t)timeout_s * 1000000000};
}

static inline bool idle_expired(const struct idle *s, uint64_t now)
{
    return s->since && now - s->since >= (uint64_t)s->timeout_ns;
}

/* Once a second. sessions: the open sessions, the question's own connection not counted (while a question is
 * in flight only its deadline counts: its connection is not told apart from a session's). */
static inline enum idle_do idle_tick(struct idle *s, uint64_t now, unsigned sessions)
{
    if (s->timeout_ns < 0)
        return IDLE_NOTHING;
    if (s->asked) {
        if (now - s->asked < IDLE_ANSWER_NS)
            return IDLE_NOTHING;
        s->asked = 0;
        s->busy = false;
        return !sessions && idle_expired(s, now) ? IDLE_STOP : IDLE_NOTHING;
    }
    if (sessions) {
        s->since = 0;
        s->busy = false;
        return IDLE_NOTHING;
    }
    if (!s->since)
        s->since = now;
    if (s->busy ? now - s->answered >= IDLE_RECHECK_NS : idle_expired(s, now)) {
        s->asked = now;
        return IDLE_ASK;
    }
    return IDLE_NOTHING;
}

/* A question asked for another reason (lsl --status wants a fresh count): its answer counts the same. */
static inline void idle_asked(struct idle *s, uint64_t now)
{
    s->asked = now;
}

/* The answer, once the guest has closed the question's connection: ok false when it gave none (an error, an
 * older guest), processes the count summed over the distributions; sessions as for idle_tick, exact now. */
static inline enum idle_do idle_answer(struct idle *s, uint64_t now, unsigned sessions, bool ok,
                                       uint64_t processes)
{
    s->asked = 0;
    s->answered = now;
    if (sessions) {
        s->since = 0;
        s->busy = false;
        return IDLE_NOTHING;
    }
    if (ok && processes) {
        s->busy = true;
        s->since = now; /* the quiet time starts again: the idle timeout counts from the last of them */
        return IDLE_NOTHING;
    }
    s->busy = false;
    if (!s->since)
        s->since = now;
    return s->timeout_ns >= 0 && idle_expired(s, now) ? IDLE_STOP : IDLE_NOTHING;
}

/* What keeps the VM up, for lsl --status. */
enum idle_reason {
    IDLE_REASON_NEVER,     /* no idle timeout */
    IDLE_REASON_SESSIONS,  /* sessions are open */
    IDLE_REASON_PROCESSES, /* processes sessions left behind run */
    IDLE_REASON_COUNTING,  /* nothing: the idle stop comes in idle_left_ms() */
};

static inline enum idle_reason idle_reason(const struct idle *s, unsigned sessions)
{
    if (s->timeout_ns < 0)
        return IDLE_REASON_NEVER;
    if (sessions)
        return IDLE_REASON_SESSIONS;
    return s->busy ? IDLE_REASON_PROCESSES : IDLE_REASON_COUNTING;
}

/* Milliseconds until the idle stop while counting down (0 once the guest is being asked), else -1. */
static inline int64_t idle_left_ms(const struct idle *s, uint64_t now, unsigned sessions)
{
    if (idle_reason(s, sessions) != IDLE_REASON_COUNTING)
        return -1;
    if (!s->since)
        return s->timeout_ns / 1000000; /* the first tick without sessions has not come yet */
    uint64_t end = s->since + (uint64_t)s->timeout_ns;
    return end > now ? (int64_t)((end - now) / 1000000) : 0;
}

#endif
