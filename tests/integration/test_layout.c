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
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* Wait up to 5 s for KEY_LAYOUT to hold LAYOUT_VERSION (a worker starting
 * sets or upgrades it); out gets the last value read. */
static void
layout_wait_ours(char *out, size_t n)
{
    for (int i = 0; i < 100; i++) {
        layout_get(out, n);
        if (!strcmp(out, LAYOUT_VERSION))
            return;
        th_sleep_ms(50);
    }
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
    cr_assert_eq(rc, 3, "genq-worker exits 3 (EXIT STATUS): %s", err);
    cr_assert(strstr(err, want), "genq-worker says: %s", err);
    free(out);
    free(err);

    layout_get(v, sizeof(v));
    cr_assert_str_eq(v, "999", "a refused Redis is left as it was");
}

/* The argv of a pool of two workers on the test database (url). */
#define POOL_ARGC 10
static void
pool_argv(const char *argv[POOL_ARGC])
{
    const char *a[POOL_ARGC] = {th_bin("genq-worker"),
                                "--redis",
                                url,
                                "--queue",
                                "layout-q",
                                "--processes",
                                "2",
                                "--api-base",
                                getenv("GENQ_TEST_MOCK_URL"),
                                NULL};

    memcpy(argv, a, sizeof(a));
}

/* A pool refused by the layout stops, saying so once: the supervisor asks
 * before forking; a child refused later exits 3, which ends the pool (the
 * others are stopped, none restarted: a restart would be refused again,
 * forever). The suite's timeout fails a pool that keeps going. */
Test(layout, pool_stops_on_refusal)
{
    const char *worker[POOL_ARGC];
    const char *const env[] = {"GENQ_API_KEY=test-key", NULL};
    char *out = NULL, *err = NULL;
    int rc;

    use_db(13);
    pool_argv(worker);
    freeReplyObject(redisCommand(c, "SET %s 999", KEY_LAYOUT));
    rc = th_run(worker, env, NULL, 0, &out, &err);
    cr_assert_eq(rc, 3, "the pool exits 3: %s", err);
    cr_assert(strstr(err, "holds genq layout version 999"), "says why: %s",
              err);
    cr_assert(
        !strstr(strstr(err, "holds genq layout") + 1, "holds genq layout"),
        "says it once: %s", err);
    cr_assert(!strstr(err, "restarting"), "no restart: %s", err);
    free(out);
    free(err);
}

/* The ids of the clients of database db but ours (CLIENT LIST), at most n. */
static int
clients_of_db(int db, long long *ids, int n)
{
    redisReply *me = redisCommand(c, "CLIENT ID");
    redisReply *r = redisCommand(c, "CLIENT LIST");
    char tag[16];
    int k = 0;

    cr_assert(me && me->type == REDIS_REPLY_INTEGER);
    cr_assert(r && r->type == REDIS_REPLY_STRING);
    snprintf(tag, sizeof(tag), " db=%d ", db);
    for (char *line = r->str; line && *line && k < n;) {
        char *nl = strchr(line, '\n');
        long long id = strtoll(line + 3, NULL, 10); /* "id=N ..." */
        if (nl)
            *nl = '\0';
        if (strstr(line, tag) && id != me->integer)
            ids[k++] = id;
        line = nl ? nl + 1 : NULL;
    }
    freeReplyObject(me);
    freeReplyObject(r);
    return k;
}

/* A child refused later (the layout changed under a running pool, then the
 * connection dropped) exits 3 and the pool stops instead of restarting it. */
Test(layout, pool_stops_when_a_child_is_refused)
{
    const char *worker[POOL_ARGC];
    long long ids[16];
    int n = 0, rc;
    pid_t pid;

    use_db(12);
    pool_argv(worker);
    pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        setenv("GENQ_API_KEY", "test-key", 1);
        if (!freopen("/dev/null", "w", stderr))
            _exit(127);
        th_exec(worker);
    }
    /* both children up: a main and a wake connection each */
    for (int i = 0; i < 200 && n < 4; i++) {
        n = clients_of_db(12, ids, 16);
        if (n < 4)
            usleep(50 * 1000);
    }
    cr_assert_geq(n, 4, "the pool's children connected");
    freeReplyObject(redisCommand(c, "SET %s 999", KEY_LAYOUT));
    for (int i = 0; i < n; i++)
        freeReplyObject(redisCommand(c, "CLIENT KILL ID %lld", ids[i]));
    rc = th_wait(pid, 20);
    if (rc < 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    cr_assert_eq(rc, 3, "the pool exits 3 (got %d)", rc);
}

/* Layout 1 named the budget keys without the {budget} hash tag: a genq of
 * layout 2 or later renames the caps and the current spend on connect (one
 * script) and sets the version, genq (cli) and genq-worker (worker) alike;
 * the caps an operator set survive, the old names are gone. A Redis at
 * layout 2 holds no inline job, one at layout 3 only done members of one id
 * (layout.h): the same script just sets the version, renaming nothing (a
 * key under a layout-1 name stays as it is). */
static void
upgrade_from(int from, int db, int worker)
{
    const char *stats[] = {th_bin("genq"), "stats", "--redis", url, NULL};
    const char *wk[] = {th_bin("genq-worker"), "--redis",    url,    "--queue",
                        "layout-up",           "--provider", "noop", NULL};
    char v[32];
    redisReply *r;

    use_db(db);
    freeReplyObject(redisCommand(c, "DEL genq:{budget}:caps"));
    freeReplyObject(redisCommand(c, "SET %s %d", KEY_LAYOUT, from));
    freeReplyObject(redisCommand(c, "HSET genq:budget:caps usd_day 7"));
    if (worker) {
        pid_t pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0)
            th_exec(wk);
        layout_wait_ours(v, sizeof(v));
        kill(pid, SIGTERM);
        cr_assert_eq(th_wait(pid, 10.0), 0, "the worker drains and exits 0");
    } else {
        cr_assert_eq(th_run(stats, NULL, NULL, 0, NULL, NULL), 0);
    }
    layout_get(v, sizeof(v));
    cr_assert_str_eq(v, LAYOUT_VERSION);
    if (from >= 2) {
        r = redisCommand(c, "EXISTS %s", KEY_BUDGET_CAPS);
        cr_assert(r && r->type == REDIS_REPLY_INTEGER && r->integer == 0,
                  "nothing renamed from layout %d", from);
        freeReplyObject(r);
        freeReplyObject(redisCommand(c, "DEL genq:budget:caps"));
        return;
    }
    r = redisCommand(c, "HGET %s usd_day", KEY_BUDGET_CAPS);
    cr_assert(r && r->type == REDIS_REPLY_STRING && !strcmp(r->str, "7"),
              "the caps kept under the new name");
    freeReplyObject(r);
    r = redisCommand(c, "EXISTS genq:budget:caps");
    cr_assert(r && r->type == REDIS_REPLY_INTEGER && r->integer == 0);
    freeReplyObject(r);
    freeReplyObject(redisCommand(c, "DEL %s", KEY_BUDGET_CAPS));
}

Test(layout, upgrade_from_1_cli)
{
    upgrade_from(1, 5, 0);
}
Test(layout, upgrade_from_1_worker)
{
    upgrade_from(1, 6, 1);
}
Test(layout, upgrade_from_2_cli)
{
    upgrade_from(2, 2, 0);
}
Test(layout, upgrade_from_2_worker)
{
    upgrade_from(2, 4, 1);
}
Test(layout, upgrade_from_3_cli)
{
    upgrade_from(3, 7, 0);
}
Test(layout, upgrade_from_3_worker)
{
    upgrade_from(3, 8, 1);
}
Test(layout, upgrade_from_4_cli)
{
    upgrade_from(4, 11, 0);
}
Test(layout, upgrade_from_4_worker)
{
    upgrade_from(4, 10, 1);
}

/* A running worker reads the layout version again every 5 s (not only on
 * connect): a Redis that a newer genq upgraded meanwhile (here: set to 999
 * by hand) ends it with exit 3, saying so, before its scripts touch a
 * layout they would misread. */
Test(layout, running_worker_stops_when_the_layout_changes)
{
    const char *wk[] = {th_bin("genq-worker"), "--redis",    url,    "--queue",
                        "layout-run",          "--provider", "noop", NULL};
    char v[32], log[256];
    pid_t pid;
    int rc, fd;

    use_db(9);
    snprintf(log, sizeof(log), "%s/layout-run-%d.log",
             getenv("GENQ_TEST_TMP") ? getenv("GENQ_TEST_TMP") : "/tmp",
             (int)getpid());
    pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0)
            dup2(fd, 2);
        th_exec(wk);
    }
    layout_wait_ours(v, sizeof(v));
    cr_assert_str_eq(v, LAYOUT_VERSION, "the worker set the layout");
    th_sleep_ms(300);
    cr_assert_eq(waitpid(pid, NULL, WNOHANG), 0, "still running");
    freeReplyObject(redisCommand(c, "SET %s 999", KEY_LAYOUT));
    rc = th_wait(pid, 15);
    if (rc < 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    cr_assert_eq(rc, 3, "exit 3 (EXIT STATUS), got %d", rc);
    {
        char *text = NULL;
        size_t len = 0;
        FILE *f = fopen(log, "r");
        cr_assert(f);
        cr_assert(getdelim(&text, &len, '\0', f) > 0);
        fclose(f);
        cr_assert(strstr(text, "holds genq layout version 999; this genq "
                               "knows layout " LAYOUT_VERSION),
                  "the worker says why: %s", text);
        free(text);
    }
    unlink(log);
}
