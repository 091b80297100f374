/* The idle stop's decision (vmm/service/idle.h): sessions keep the VM up; when the timeout runs out the guest
 * is asked what sessions left running, processes keep it up and are asked about again every few seconds
 * (never while sessions are open), and no answer stops it as before. Time is simulated, one tick a second. */
#include <stdio.h>

#include "check.h"
#include "service/idle.h"

#define S 1000000000ull

/* Ticks once a second from *now to until (exclusive) with the given sessions; returns the first action that
 * is not IDLE_NOTHING (and leaves *now at it), or IDLE_NOTHING. */
static enum idle_do run(struct idle *st, uint64_t *now, uint64_t until, unsigned sessions)
{
    for (; *now < until; *now += S) {
        enum idle_do d = idle_tick(st, *now, sessions);
        if (d != IDLE_NOTHING)
            return d;
    }
    return IDLE_NOTHING;
}

static void test_sessions_keep_it_up(void)
{
    struct idle st;
    uint64_t now = 100 * S;
    idle_init(&st, 5);
    CHECK_EQ(run(&st, &now, now + 60 * S, 1), IDLE_NOTHING); /* a minute of one session: nothing asked */
    CHECK_EQ(idle_reason(&st, 1), IDLE_REASON_SESSIONS);
    CHECK_EQ(idle_left_ms(&st, now, 1), -1);
    uint64_t closed = now;
    CHECK_EQ(run(&st, &now, now + 60 * S, 0), IDLE_ASK); /* the timeout runs out: ask first */
    CHECK_EQ(now, closed + 5 * S);
    /* Nothing runs: stop. */
    CHECK_EQ(idle_answer(&st, now + S / 10, 0, true, 0), IDLE_STOP);
}

static void test_processes_keep_it_up(void)
{
    struct idle st;
    uint64_t now = 10 * S;
    idle_init(&st, 5);
    CHECK_EQ(run(&st, &now, now + 60 * S, 0), IDLE_ASK);
    CHECK_EQ(idle_answer(&st, now, 0, true, 1), IDLE_NOTHING); /* a setsid -f sleep: busy */
    CHECK_EQ(idle_reason(&st, 0), IDLE_REASON_PROCESSES);
    CHECK_EQ(idle_left_ms(&st, now, 0), -1);
    /* Asked again every IDLE_RECHECK_NS while it runs, for as long as it runs. */
    for (int i = 0; i < 10; i++) {
        uint64_t answered = now;
        CHECK_EQ(run(&st, &now, now + 60 * S, 0), IDLE_ASK);
        CHECK(now - answered >= IDLE_RECHECK_NS && now - answered < IDLE_RECHECK_NS + S);
        CHECK_EQ(idle_answer(&st, now, 0, true, 2), IDLE_NOTHING);
    }
    /* It ends: the timeout counts from the last answer that saw it, so the next answer stops the VM once
     * that is past (a 5 s timeout, asked 5 s after). */
    CHECK_EQ(run(&st, &now, now + 60 * S, 0), IDLE_ASK);
    CHECK_EQ(idle_answer(&st, now, 0, true, 0), IDLE_STOP);
}

static void test_longer_timeout_counts_from_the_end(void)
{
    struct idle st;
    uint64_t now = 10 * S;
    idle_init(&st, 60);
    CHECK_EQ(run(&st, &now, now + 120 * S, 0), IDLE_ASK);
    CHECK_EQ(idle_answer(&st, now, 0, true, 1), IDLE_NOTHING);
    uint64_t last_busy = now;
    CHECK_EQ(run(&st, &now, now + 120 * S, 0), IDLE_ASK);
    /* Gone now, but the timeout counts from the last answer that saw it: no stop yet. */
    CHECK_EQ(idle_answer(&st, now, 0, true, 0), IDLE_NOTHING);
    CHECK_EQ(idle_reason(&st, 0), IDLE_REASON_COUNTING);
    int64_t left = idle_left_ms(&st, now, 0);
    CHECK(left > 50000 && left <= 55000);
    CHECK_EQ(run(&st, &now, now + 120 * S, 0), IDLE_ASK);
    CHECK(now - last_busy >= 60 * S && now - last_busy < 61 * S);
    CHECK_EQ(idle_answer(&st, now, 0, true, 0), IDLE_STOP);
}

static void test_no_polling_with_sessions(void)
{
    struct idle st;
    uint64_t now = 10 * S;
    idle_init(&st, 5);
    CHECK_EQ(run(&st, &now, now + 60 * S, 0), IDLE_ASK);
    CHECK_EQ(idle_answer(&st, now, 0, true, 3), IDLE_NOTHING);
    /* A session opens while processes run: no question for as long as it is open. */
    CHECK_EQ(run(&st, &now, now + 300 * S, 1), IDLE_NOTHING);
    /* It closes: a full timeout first, then the question. */
    uint64_t closed = now;
    CHECK_EQ(run(&st, &now, now + 60 * S, 0), IDLE_ASK);
    CHECK_EQ(now, closed + 5 * S);
    /* A session opened while the question was out: the answer stops nothing, the timeout starts over. */
    CHECK_EQ(idle_answer(&st, now, 1, true, 0), IDLE_NOTHING);
    CHECK_EQ(idle_reason(&st, 1), IDLE_REASON_SESSIONS);
}

static void test_no_answer(void)
{
    struct idle st;
    uint64_t now = 10 * S;
    idle_init(&st, 5);
    /* An older guest answers with an error: as before, the timeout alone decides. */
    CHECK_EQ(run(&st, &now, now + 60 * S, 0), IDLE_ASK);
    CHECK_EQ(idle_answer(&st, now, 0, false, 0), IDLE_STOP);
    /* A guest that never answers: stopped once the question's deadline passes. */
    idle_init(&st, 5);
    now = 10 * S;
    CHECK_EQ(run(&st, &now, now + 60 * S, 0), IDLE_ASK);
    uint64_t asked = now;
    now += S;
    CHECK_EQ(run(&st, &now, asked + IDLE_ANSWER_NS + 2 * S, 0), IDLE_STOP);
    CHECK(now - asked >= IDLE_ANSWER_NS);
}

static void test_never(void)
{
    struct idle st;
    uint64_t now = 10 * S;
    idle_init(&st, -1);
    CHECK_EQ(run(&st, &now, now + 3600 * S, 0), IDLE_NOTHING);
    CHECK_EQ(idle_reason(&st, 0), IDLE_REASON_NEVER);
    CHECK_EQ(idle_left_ms(&st, now, 0), -1);
    /* A question asked for --status changes nothing. */
    idle_asked(&st, now);
    CHECK_EQ(idle_answer(&st, now, 0, true, 0), IDLE_NOTHING);
    CHECK_EQ(run(&st, &now, now + 3600 * S, 0), IDLE_NOTHING);
}

static void test_status_question(void)
{
    struct idle st;
    uint64_t now = 10 * S;
    idle_init(&st, 30);
    CHECK_EQ(run(&st, &now, now + 10 * S, 0), IDLE_NOTHING);
    CHECK_EQ(idle_reason(&st, 0), IDLE_REASON_COUNTING);
    CHECK_EQ(idle_left_ms(&st, now, 0), 20000);
    /* --status asks before the timeout ran out, and a process runs: the VM is busy from now on. */
    idle_asked(&st, now);
    CHECK_EQ(idle_answer(&st, now, 0, true, 1), IDLE_NOTHING);
    CHECK_EQ(idle_reason(&st, 0), IDLE_REASON_PROCESSES);
    /* Nothing runs: the answer stops nothing before the timeout ran out. */
    CHECK_EQ(run(&st, &now, now + 60 * S, 0), IDLE_ASK);
    CHECK_EQ(idle_answer(&st, now, 0, true, 0), IDLE_NOTHING);
}

int main(void)
{
    RUN(test_sessions_keep_it_up);
    RUN(test_processes_keep_it_up);
    RUN(test_longer_timeout_counts_from_the_end);
    RUN(test_no_polling_with_sessions);
    RUN(test_no_answer);
    RUN(test_never);
    RUN(test_status_question);
    return CHECK_DONE();
}
