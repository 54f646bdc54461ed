/* The fleet limiter's script (common/lua/limiter.lua) against the real
 * Redis, on a clock the tests pass (ARGV[3]): continuous refill, reserve
 * (now, ahead, refused), settle (refund and debt, a failed call's refund),
 * learned limits (tighten only; configured ones win), the 429 cooldown and
 * its ramp, the fleet breaker's one probe, a clock that goes back. */
#include "fmacros.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "rclient.h"

TH_SUITE(limiter, .timeout = 60);

static char key[200];

/* Call op at clock ms with the NULL-terminated args; the reply (caller
 * frees). */
static redisReply *
lim(const char *op, long long ms, ...)
{
    const char *av[24];
    char clock[32], err[256];
    const char *keyv[1] = {key};
    struct skeys sk = {1, keyv, "test"};
    int n = 0;
    va_list ap;
    redisReply *r;

    snprintf(key, sizeof(key), KEY_LIM_PREFIX "{%s}", t.queue);
    snprintf(clock, sizeof(clock), "%lld", ms);
    av[n++] = op;
    av[n++] = clock;
    va_start(ap, ms);
    for (const char *a; n < 24 && (a = va_arg(ap, const char *)) != NULL;)
        av[n++] = a;
    va_end(ap);
    cr_assert_eq(
        rclient_append_script_keys(t.c, SCRIPT_LIMITER, &sk, n, av, NULL), 0);
    r = rclient_read(t.c, err, sizeof(err));
    cr_assert(r, "%s", err);
    cr_assert_neq(r->type, REDIS_REPLY_ERROR, "%s", r->str);
    return r;
}

/* reserve it ot at ms with ahead_ms: admitted (0/1), and *wait. */
static int
reserve(long long ms, const char *it, const char *ot, const char *ahead,
        long long *wait, char *why, size_t whylen)
{
    redisReply *r = lim("reserve", ms, it, ot, "tok", ahead, NULL);
    int adm;

    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    adm = (int)r->element[0]->integer;
    if (wait)
        *wait = r->element[1]->integer;
    if (why)
        snprintf(why, whylen, "%s", r->element[2]->str);
    freeReplyObject(r);
    return adm;
}

/* The field f of the state, as a number. */
static double
field(const char *f)
{
    redisReply *r = redisCommand(t.c, "HGET %s %s", key, f);
    double v;

    cr_assert(r);
    v = r->type == REDIS_REPLY_STRING ? atof(r->str) : 0;
    freeReplyObject(r);
    return v;
}

static void
config(long long ms, const char *r, const char *it, const char *ot,
       const char *tt)
{
    freeReplyObject(lim("config", ms, r, it, ot, tt, "tester", NULL));
}

Test(limiter, a_burst_is_refused_then_refills_continuously)
{
    long long w;
    char why[32];

    config(1000, "60", "0", "0", "0");
    for (int i = 0; i < 60; i++)
        cr_assert(reserve(1000, "10", "0", "0", NULL, NULL, 0), "try %d", i);
    /* the 61st within the same ms: one request refills in 1 s */
    cr_assert_not(reserve(1000, "10", "0", "0", &w, why, sizeof(why)));
    cr_assert_eq(w, 1000);
    cr_assert_str_eq(why, "limit:r");
    /* half a second later: half a request, still not enough */
    cr_assert_not(reserve(1500, "10", "0", "0", &w, NULL, 0));
    cr_assert_eq(w, 500);
    cr_assert(reserve(2000, "10", "0", "0", NULL, NULL, 0));
    /* no minute window: a minute of idleness refills to the figure only */
    cr_assert(reserve(200000, "10", "0", "0", NULL, NULL, 0));
    cr_assert_float_eq(field("v_r"), 59.0, 1e-9);
}

Test(limiter, waiters_are_scheduled_ahead_in_turn)
{
    long long w;
    char why[32];

    config(0, "60", "0", "0", "0");
    for (int i = 0; i < 60; i++)
        cr_assert(reserve(0, "0", "0", "0", NULL, NULL, 0));
    /* within the 2.5 s horizon: reserved now, each a second after the
     * last; beyond it: told when to ask again */
    cr_assert(reserve(0, "0", "0", "2500", &w, why, sizeof(why)));
    cr_assert_eq(w, 1000);
    cr_assert_str_eq(why, "ahead");
    cr_assert(reserve(0, "0", "0", "2500", &w, NULL, 0));
    cr_assert_eq(w, 2000);
    cr_assert_not(reserve(0, "0", "0", "2500", &w, NULL, 0));
    cr_assert_eq(w, 500);
}

/* reserve_n: many tries in one call get, in order, what one reserve call
 * each would have: admitted, scheduled ahead in turn, then refused; the
 * counters count each; a batch in the half-open breaker has one probe. */
Test(limiter, a_batch_of_reservations_is_served_in_order)
{
    redisReply *r;

    config(0, "2", "0", "0", "0");
    r = lim("reserve_n", 0, "2500", "0", "0", "0", "a", "0", "0", "b", "0", "0",
            "c", "0", "0", "d", "0", "0", "e", NULL);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 16);
    cr_assert_eq(r->element[15]->integer, 0, "no room left");
    /* two admitted now; one request refills in 30 s at 2/min: past the
     * 2.5 s horizon, so the rest are told to ask again */
    long long want[5][2] = {{1, 0}, {1, 0}, {0, 27500}, {0, 27500}, {0, 27500}};
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(r->element[3 * i]->integer, want[i][0], "try %d", i);
        cr_assert_eq(r->element[3 * i + 1]->integer, want[i][1], "try %d", i);
    }
    cr_assert_str_eq(r->element[2]->str, "ok");
    cr_assert_str_eq(r->element[8]->str, "limit:r");
    freeReplyObject(r);
    cr_assert_float_eq(field("n_adm"), 2.0, 1e-9);
    cr_assert_float_eq(field("n_delay"), 3.0, 1e-9);
    cr_assert_float_eq(field("v_r"), 0.0, 1e-9);
    /* the breaker half open: the first of a batch probes, the rest wait */
    config(0, "0", "0", "0", "0");
    for (int i = 0; i < 3; i++)
        freeReplyObject(lim("bfail", 0, "0", "60000", "0", "3", NULL));
    r = lim("reserve_n", 600, "0", "0", "0", "0", "p", "0", "0", "q", NULL);
    cr_assert_eq(r->elements, 7);
    cr_assert_eq(r->element[6]->integer, 0, "no early starts: breaker");
    cr_assert_eq(r->element[0]->integer, 1);
    cr_assert_str_eq(r->element[2]->str, "probe");
    cr_assert_eq(r->element[3]->integer, 0);
    cr_assert_str_eq(r->element[5]->str, "breaker");
    freeReplyObject(r);
    r = redisCommand(t.c, "HGET %s b_probe", key);
    cr_assert(r && r->type == REDIS_REPLY_STRING);
    cr_assert_str_eq(r->str, "p");
    freeReplyObject(r);
    /* closed again: nothing metered leaves all the room there is */
    freeReplyObject(lim("bok", 700, NULL));
    r = lim("reserve_n", 700, "0", "0", "0", "0", "x", NULL);
    cr_assert_eq(r->elements, 4);
    cr_assert_eq(r->element[3]->integer, 1000000000);
    freeReplyObject(r);
    /* 100 requests a minute, full a minute later: 98 usable (2 % kept
     * back), one reserved now: room for 95 more above the headroom */
    config(700, "100", "0", "0", "0");
    r = lim("reserve_n", 60700, "0", "0.02", "0", "0", "y", NULL);
    cr_assert_eq(r->element[0]->integer, 1);
    cr_assert_eq(r->element[3]->integer, 95);
    freeReplyObject(r);
}

Test(limiter, settle_refunds_and_runs_into_debt)
{
    long long w;

    config(0, "0", "1000", "0", "0");
    cr_assert(reserve(0, "500", "0", "0", NULL, NULL, 0));
    cr_assert_float_eq(field("v_it"), 500.0, 1e-9);
    /* estimated 500, used 200: 300 back */
    freeReplyObject(lim("settle", 0, "500", "0", "200", "0", "1", NULL));
    cr_assert_float_eq(field("v_it"), 800.0, 1e-9);
    /* estimated 0, used 900: debt */
    freeReplyObject(lim("settle", 0, "0", "0", "900", "0", "1", NULL));
    cr_assert_float_eq(field("v_it"), -100.0, 1e-9);
    cr_assert_not(reserve(0, "1", "0", "0", &w, NULL, 0));
    cr_assert_eq(w, 6060); /* 101 tokens at 1000 a minute */
    /* a failed call gives back all it reserved */
    cr_assert(reserve(7000, "16", "0", "0", NULL, NULL, 0));
    cr_assert_float_eq(field("v_it"), 2.0 / 3, 1e-3); /* 16.67 - 16 */
    freeReplyObject(lim("settle", 7000, "16", "0", "0", "0", "0", NULL));
    cr_assert_float_eq(field("v_it"), 16.0 + 2.0 / 3, 1e-3);
    /* a refund never fills past the figure */
    freeReplyObject(lim("settle", 7000, "5000", "0", "0", "0", "1", NULL));
    cr_assert_float_eq(field("v_it"), 1000.0, 1e-9);
}

Test(limiter, learned_limits_tighten_and_configured_ones_win)
{
    long long w;
    char why[32];

    /* nothing known yet: a call is not metered ("free") */
    cr_assert(reserve(0, "10", "0", "0", NULL, why, sizeof(why)));
    cr_assert_str_eq(why, "free");
    /* learned the first time, a bucket starts empty: calls already in
     * flight unmetered spent an unknown part of it */
    freeReplyObject(lim("learn", 0, "r", "100", "10", NULL));
    cr_assert_float_eq(field("l_r"), 100.0, 1e-9);
    cr_assert_float_eq(field("v_r"), 0.0, 1e-9);
    /* then it refills; a later, looser remaining does not loosen */
    freeReplyObject(lim("learn", 6000, "r", "100", "50", NULL));
    cr_assert_float_eq(field("v_r"), 10.0, 1e-9);
    /* headers that come with a settle are learned too */
    freeReplyObject(
        lim("settle", 6000, "0", "0", "0", "0", "1", "r", "100", "4", NULL));
    cr_assert_float_eq(field("v_r"), 4.0, 1e-9);
    for (int i = 0; i < 4; i++)
        cr_assert(reserve(6000, "0", "0", "0", NULL, NULL, 0));
    cr_assert_not(reserve(6000, "0", "0", "0", &w, NULL, 0));
    cr_assert_eq(w, 600); /* 100 a minute: one in 0.6 s */
    /* a configured figure wins over the learned one */
    config(6000, "6000", "0", "0", "0");
    freeReplyObject(lim("learn", 6000, "r", "100", "0", NULL));
    cr_assert_float_eq(field("v_r"), 0.0, 1e-9);
    cr_assert(reserve(6010, "0", "0", "0", NULL, NULL, 0)); /* 6000/min */
}

Test(limiter, a_429_cools_the_key_down_and_resumes_ramped)
{
    long long w;
    char why[32];
    redisReply *r;

    config(0, "60", "0", "0", "0");
    r = lim("cooldown", 1000, "2", "1000", "60000", NULL);
    cr_assert_eq(r->element[0]->integer, 3000);
    freeReplyObject(r);
    cr_assert_not(reserve(1500, "0", "0", "0", &w, why, sizeof(why)));
    cr_assert_eq(w, 1500);
    cr_assert_str_eq(why, "cooldown");
    /* at the end of the cooldown the bucket is empty: calls come back at
     * the refill rate, one a second, not all at once */
    cr_assert_not(reserve(3000, "0", "0", "0", &w, why, sizeof(why)));
    cr_assert_str_eq(why, "limit:r");
    cr_assert_eq(w, 1000);
    cr_assert(reserve(4000, "0", "0", "0", NULL, NULL, 0));
    cr_assert_not(reserve(4000, "0", "0", "0", NULL, NULL, 0));
    /* without retry-after: backoff from the base, doubling per 429 */
    r = lim("cooldown", 10000, "0", "100", "60000", NULL);
    cr_assert_eq(r->element[0]->integer, 10200); /* the 2nd 429 in a row */
    freeReplyObject(r);
    r = lim("cooldown", 10000, "0", "100", "60000", NULL);
    cr_assert_eq(r->element[0]->integer, 10400);
    freeReplyObject(r);
    cr_assert_float_eq(field("n_429"), 3.0, 1e-9);
}

Test(limiter, the_breaker_lets_one_probe_through_for_the_fleet)
{
    long long w;
    char why[32];
    redisReply *r;

    /* three API failures in a row open it (threshold 3) */
    for (int i = 0; i < 2; i++) {
        r = lim("bfail", 0, "0", "60000", "0", "3", NULL);
        cr_assert_eq(r->element[0]->integer, 0);
        freeReplyObject(r);
    }
    r = lim("bfail", 0, "0", "60000", "0", "3", NULL);
    cr_assert_eq(r->element[0]->integer, 500); /* 1 s x (0.5 + 0/2) */
    cr_assert_eq(r->element[1]->integer, 1);
    freeReplyObject(r);
    cr_assert_not(reserve(100, "0", "0", "0", &w, why, sizeof(why)));
    cr_assert_str_eq(why, "breaker");
    cr_assert_eq(w, 400);
    /* half open: the first caller is the probe, everyone else waits */
    cr_assert(reserve(600, "0", "0", "0", NULL, why, sizeof(why)));
    cr_assert_str_eq(why, "probe");
    cr_assert_not(reserve(600, "0", "0", "0", NULL, why, sizeof(why)));
    cr_assert_str_eq(why, "breaker");
    /* the probe failed: open again, twice as long */
    r = lim("bfail", 700, "0", "60000", "0", "3", NULL);
    cr_assert_eq(r->element[0]->integer, 1700);
    freeReplyObject(r);
    cr_assert(reserve(1700, "0", "0", "0", NULL, why, sizeof(why)));
    cr_assert_str_eq(why, "probe");
    /* it succeeded: closed for every worker */
    freeReplyObject(lim("settle", 1800, "0", "0", "0", "0", "1", NULL));
    cr_assert(reserve(1800, "0", "0", "0", NULL, why, sizeof(why)));
    cr_assert_str_eq(why, "free"); /* no limit known: not metered */
    cr_assert(reserve(1800, "0", "0", "0", NULL, why, sizeof(why)));
}

Test(limiter, a_clock_that_goes_back_refills_nothing)
{
    config(100000, "60", "0", "0", "0");
    for (int i = 0; i < 60; i++)
        cr_assert(reserve(100000, "0", "0", "0", NULL, NULL, 0));
    /* a failover to a replica 50 s behind: no refill, no negative one */
    cr_assert_not(reserve(50000, "0", "0", "0", NULL, NULL, 0));
    cr_assert_float_eq(field("v_r"), 0.0, 1e-9);
    /* time then moves on from the new clock */
    cr_assert(reserve(51000, "0", "0", "0", NULL, NULL, 0));
}

Test(limiter, a_different_configured_value_is_a_conflict)
{
    redisReply *r;

    r = lim("config", 0, "100", "0", "0", "0", "w1", NULL);
    cr_assert_eq(r->element[0]->integer, 0);
    freeReplyObject(r);
    r = lim("config", 0, "100", "0", "0", "0", "w2", NULL);
    cr_assert_eq(r->element[0]->integer, 0, "same values: no conflict");
    freeReplyObject(r);
    r = lim("config", 5, "200", "0", "0", "0", "w3", NULL);
    cr_assert_eq(r->element[0]->integer, 1);
    cr_assert_eq(r->element[1]->integer, 100);
    cr_assert_str_eq(r->element[5]->str, "w2");
    freeReplyObject(r);
    cr_assert_float_eq(field("c_r"), 200.0, 1e-9);
    cr_assert_float_eq(field("c_at"), 5.0, 1e-9);
}

Test(limiter, an_unknown_operation_is_an_error)
{
    const char *av[2] = {"nosuch", ""};
    const char *keyv[1];
    struct skeys sk = {1, keyv, "test"};
    char err[256];
    redisReply *r;

    snprintf(key, sizeof(key), KEY_LIM_PREFIX "{%s}", t.queue);
    keyv[0] = key;
    cr_assert_eq(
        rclient_append_script_keys(t.c, SCRIPT_LIMITER, &sk, 2, av, NULL), 0);
    /* rclient_read() turns an error reply into NULL and its message */
    r = rclient_read(t.c, err, sizeof(err));
    cr_assert_null(r);
    cr_assert(strstr(err, "unknown operation nosuch"), "%s", err);
}
