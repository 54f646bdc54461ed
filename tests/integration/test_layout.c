/* The Redis layout version (common/layout.c, KEY_LAYOUT): the first genq
 * program that connects sets it, and `genq` and `genq-worker` both refuse,
 * with one clear message, a Redis whose version they do not know. Each
 * test runs in a database of its own (the key is global; the other tests
 * share db 0). */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "layout.h"
#include "rclient.h"

static redisContext *c;
static char url[320];

/* Connect to database db (one per test: they run in parallel) and remove
 * its KEY_LAYOUT; url is then the URL of that database. */
static void
use_db(int db)
{
    struct redis_url u;
    char err[256];
    const char *base = getenv("GENQ_TEST_REDIS_URL");
    redisReply *r;

    cr_assert(base, "GENQ_TEST_REDIS_URL not set: run through make test");
    cr_assert(redisurl_parse(base, &u, err, sizeof(err)) == 0, "%s", err);
    snprintf(url, sizeof(url), "redis://%s:%d/%d", u.host, u.port, db);
    c = redisConnect(u.host, u.port);
    cr_assert(c && !c->err);
    r = redisCommand(c, "SELECT %d", db);
    cr_assert(r && r->type != REDIS_REPLY_ERROR);
    freeReplyObject(r);
    freeReplyObject(redisCommand(c, "DEL %s", KEY_LAYOUT));
}

static void
teardown(void)
{
    if (c) {
        freeReplyObject(redisCommand(c, "DEL %s", KEY_LAYOUT));
        redisFree(c);
    }
    c = NULL;
}

TestSuite(layout, .fini = teardown, .timeout = 30);

/* The value of KEY_LAYOUT in the test database; "(nil)" when absent. */
static void
layout_get(char *out, size_t n)
{
    redisReply *r = redisCommand(c, "GET %s", KEY_LAYOUT);

    cr_assert(r);
    snprintf(out, n, "%s", r->type == REDIS_REPLY_STRING ? r->str : "(nil)");
    freeReplyObject(r);
}

Test(layout, absent_is_set_to_ours)
{
    const char *argv[] = {th_bin("genq"), "stats", "--redis", url, NULL};
    char *out = NULL, *err = NULL, v[32];

    use_db(14);
    layout_get(v, sizeof(v));
    cr_assert_str_eq(v, "(nil)");
    /* absent: set; then ours again: accepted, unchanged */
    for (int run = 0; run < 2; run++) {
        int rc = th_run(argv, NULL, NULL, 0, &out, &err);
        cr_assert_eq(rc, 0, "run %d: %s", run, err);
        layout_get(v, sizeof(v));
        cr_assert_str_eq(v, LAYOUT_VERSION);
        free(out);
        free(err);
    }
}

Test(layout, unknown_version_refused)
{
    const char *stats[] = {th_bin("genq"), "stats", "--redis", url, NULL};
    const char *worker[] = {th_bin("genq-worker"),
                            "--redis",
                            url,
                            "--queue",
                            "layout-q",
                            "--api-base",
                            getenv("GENQ_TEST_MOCK_URL"),
                            NULL};
    const char *const env[] = {"GENQ_API_KEY=test-key", NULL};
    char *out = NULL, *err = NULL, want[200], v[32];
    int rc;

    use_db(15);
    freeReplyObject(redisCommand(c, "SET %s 999", KEY_LAYOUT));
    snprintf(want, sizeof(want),
             "Redis at 127.0.0.1:%s/%d holds genq layout version 999; this "
             "genq knows layout " LAYOUT_VERSION,
             getenv("GENQ_TEST_REDIS_PORT"), 15);

    rc = th_run(stats, NULL, NULL, 0, &out, &err);
    cr_assert_eq(rc, 1, "genq stats exits as on other connection errors");
    cr_assert(strstr(err, want), "genq stats says: %s", err);
    cr_assert(!strstr(out, "queue"), "nothing printed: %s", out);
    free(out);
    free(err);

    rc = th_run(worker, env, NULL, 0, &out, &err);
    cr_assert_eq(rc, 1, "genq-worker exits 1: %s", err);
    cr_assert(strstr(err, want), "genq-worker says: %s", err);
    free(out);
    free(err);

    layout_get(v, sizeof(v));
    cr_assert_str_eq(v, "999", "a refused Redis is left as it was");
}
