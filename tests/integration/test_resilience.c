/* Operations under failure: Redis killed and restarted from its AOF during a
 * run, SIGTERM with hundreds of streams in flight, a pre-forked child
 * SIGKILLed. Each test runs its own redis-server (AOF, appendfsync always:
 * no acknowledged write may be lost) so it can kill it. */
#include "fmacros.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "rclient.h"

TestSuite(resilience, .timeout = 240);

struct rsrv {
    int port;
    char dir[256];
    char url[128];
    pid_t pid;
};

static void
rsrv_start(struct rsrv *s)
{
    char port[16];
    redisContext *c = NULL;

    snprintf(port, sizeof(port), "%d", s->port);
    s->pid = fork();
    cr_assert(s->pid >= 0);
    if (s->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execlp("redis-server", "redis-server", "--port", port, "--bind",
               "127.0.0.1", "--dir", s->dir, "--appendonly", "yes",
               "--appendfsync", "always", "--save", "", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        c = redisConnect("127.0.0.1", s->port);
        if (c && !c->err) {
            redisReply *r = redisCommand(c, "PING");
            int ok = r && r->type == REDIS_REPLY_STATUS;
            if (r)
                freeReplyObject(r);
            if (ok)
                break;
        }
        if (c)
            redisFree(c);
        c = NULL;
        th_sleep_ms(25);
    }
    cr_assert(c, "redis-server did not start on %d", s->port);
    /* wait until the AOF has been loaded */
    for (int i = 0; i < 200; i++) {
        redisReply *r = redisCommand(c, "INFO persistence");
        int loading = r && r->str && strstr(r->str, "loading:1");
        if (r)
            freeReplyObject(r);
        if (!loading)
            break;
        th_sleep_ms(25);
    }
    redisFree(c);
}

static void
rsrv_new(struct rsrv *s)
{
    memset(s, 0, sizeof(*s));
    s->port = th_free_port();
    snprintf(s->dir, sizeof(s->dir), "%s/redis-%d-%d", getenv("GENQ_TEST_TMP"),
             (int)getpid(), s->port);
    mkdir(s->dir, 0755);
    snprintf(s->url, sizeof(s->url), "redis://127.0.0.1:%d/0", s->port);
    rsrv_start(s);
}

static void
rsrv_kill(struct rsrv *s)
{
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
}

/* Reconnect t to server s (after a restart); 0 or -1. */
static int
reconnect(struct th *t, struct rsrv *s)
{
    struct redis_url u;
    char err[256];

    if (t->c)
        redisFree(t->c);
    redisurl_parse(s->url, &u, err, sizeof(err));
    t->c = rclient_connect(&u, 5.0, err, sizeof(err));
    return t->c ? 0 : -1;
}

Test(resilience, redis_killed_and_restarted_from_aof_twice)
{
    const int n = 2000;
    const char *mock_args[] = {"--latency-ms", "100", NULL};
    const char *args[] = {"--concurrency", "16", "--visibility-timeout", "5",
                          NULL};
    struct rsrv s;
    struct th t;
    char url[128], log[512];
    pid_t mock, w[2];
    char **ids;
    int done = 0;

    rsrv_new(&s);
    th_connect(&t, s.url, "r-aof");
    mock = th_mock_start(url, mock_args);
    ids = th_enqueue_n(&t, n, "AOF", 30);
    snprintf(log, sizeof(log), "%s/aof-workers.log", getenv("GENQ_TEST_TMP"));
    for (int i = 0; i < 2; i++)
        w[i] = th_worker_on(&t, s.url, url, log, args);
    for (int round = 0; round < 2; round++) {
        int target = (round + 1) * n / 3;
        while (done < target) {
            th_sleep_ms(20);
            done = th_wait_terminal(&t, ids, n, 0);
        }
        cr_assert(done < n, "the kill must come mid-run");
        rsrv_kill(&s);
        th_sleep_ms(700); /* workers see the outage and keep retrying */
        rsrv_start(&s);
        cr_assert(reconnect(&t, &s) == 0);
    }
    cr_assert_eq(th_wait_terminal(&t, ids, n, 120), n);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(waitpid(w[i], NULL, WNOHANG), 0, "worker %d crashed", i);
    th_stop(w[0]);
    th_stop(w[1]);
    th_stop(mock);
    cr_assert_eq(th_count_state(&t, (const char *const *)ids, n, "succeeded"),
                 n);
    {
        /* exactly one success per job in the completion feed (v 1 id ID
         * state ST queue Q) */
        redisReply *r =
            redisCommand(t.c, "XRANGE %s%s - +", t.k.prefix, QKEY_FEED);
        int *seen = calloc((size_t)n, sizeof(int)), idx;
        cr_assert(r && r->type == REDIS_REPLY_ARRAY && seen);
        for (size_t e = 0; e < r->elements; e++) {
            redisReply *f = r->element[e]->element[1];
            if (f->elements >= 6 && !strcmp(f->element[5]->str, "succeeded") &&
                sscanf(f->element[3]->str, "job-%d", &idx) == 1)
                seen[idx]++;
        }
        for (int i = 0; i < n; i++)
            cr_assert_eq(seen[i], 1, "%s succeeded %d times", ids[i], seen[i]);
        free(seen);
        freeReplyObject(r);
    }
    for (int i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    th_fini(&t);
    rsrv_kill(&s);
}

Test(resilience, sigterm_with_200_streams_in_flight)
{
    const int n = 200;
    const char *mock_args[] = {"--tokens-per-s", "20", "--article-tokens",
                               "400", NULL};
    const char *args[] = {"--concurrency", "250", "--drain-timeout", "2", NULL};
    struct rsrv s;
    struct th t;
    char url[128], st[64];
    pid_t mock, w;
    char **ids;
    int active = 0, rc, att;
    long t0;

    rsrv_new(&s);
    th_connect(&t, s.url, "r-drain");
    mock = th_mock_start(url, mock_args);
    ids = th_enqueue_n(&t, n, "Drain", 400);
    w = th_worker_on(&t, s.url, url, NULL, args);
    for (int k = 0; k < 200 && active < n; k++) {
        th_sleep_ms(50);
        active = th_count_state(&t, (const char *const *)ids, n, "active");
    }
    cr_assert_eq(active, n, "all 200 streams in flight");
    th_sleep_ms(500); /* the streams are mid-article now */
    kill(w, SIGTERM);
    t0 = 0;
    rc = -1;
    while (rc < 0 && t0 < 6000) {
        rc = th_wait(w, 0.05);
        t0 += 50;
    }
    cr_assert_eq(rc, 0, "exit 0 (got %d)", rc);
    cr_assert(t0 <= 2000 + 1500, "exited %ld ms after SIGTERM (drain 2 s)", t0);
    for (int i = 0; i < n; i++) {
        th_state(&t, ids[i], st, &att);
        cr_assert_str_eq(st, "queued", "%s handed back", ids[i]);
        cr_assert_eq(att, 0, "%s: attempt not counted", ids[i]);
        free(ids[i]);
    }
    free(ids);
    th_stop(mock);
    th_fini(&t);
    rsrv_kill(&s);
}

Test(resilience, killed_child_of_a_pool_is_restarted_and_its_jobs_recovered)
{
    const int n = 400;
    const char *mock_args[] = {"--latency-ms", "200", NULL};
    const char *args[] = {
        "--processes", "4", "--concurrency", "10", "--visibility-timeout",
        "2",           NULL};
    struct rsrv s;
    struct th t;
    char url[128], cmd[256], line[64];
    pid_t mock, pool, child = 0;
    char **ids;
    FILE *p;
    int kids_before = 0, kids_after = 0;

    rsrv_new(&s);
    th_connect(&t, s.url, "r-pool");
    mock = th_mock_start(url, mock_args);
    ids = th_enqueue_n(&t, n, "Pool", 20);
    pool = th_worker_on(&t, s.url, url, NULL, args);
    th_sleep_ms(800);
    snprintf(cmd, sizeof(cmd), "pgrep -P %d", (int)pool);
    p = popen(cmd, "r");
    cr_assert(p);
    while (fgets(line, sizeof(line), p)) {
        kids_before++;
        if (!child)
            child = (pid_t)atoi(line);
    }
    pclose(p);
    cr_assert_eq(kids_before, 4, "four children");
    kill(child, SIGKILL);
    th_sleep_ms(1500);
    p = popen(cmd, "r");
    cr_assert(p);
    while (fgets(line, sizeof(line), p))
        kids_after++;
    pclose(p);
    cr_assert_eq(kids_after, 4, "the killed child was replaced");
    cr_assert_eq(th_wait_terminal(&t, ids, n, 60), n);
    cr_assert_eq(th_count_state(&t, (const char *const *)ids, n, "succeeded"),
                 n, "the killed child's jobs were recovered");
    kill(pool, SIGTERM);
    cr_assert_eq(th_wait(pool, 10), 0, "the pool drains and exits 0");
    for (int i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    th_stop(mock);
    th_fini(&t);
    rsrv_kill(&s);
}

/* How many SCRIPT subcommand sub ("load", "exists") calls Redis counted
 * since CONFIG RESETSTAT (INFO commandstats), 0 when none. */
static long
script_calls(redisContext *c, const char *sub)
{
    redisReply *r = redisCommand(c, "INFO commandstats");
    char key[48];
    long n = 0;

    cr_assert(r && r->type == REDIS_REPLY_STRING);
    snprintf(key, sizeof(key), "cmdstat_script|%s:calls=", sub);
    const char *p = strstr(r->str, key);
    if (p)
        n = strtol(p + strlen(key), NULL, 10);
    freeReplyObject(r);
    return n;
}

/* Whether Redis has every script of the table (SCRIPT EXISTS). */
static int
scripts_all_cached(redisContext *c)
{
    const char *av[SCRIPT_EXISTS_ARGC];
    int n = scripts_exists_argv(av), all = 1;
    redisReply *r = redisCommandArgv(c, n, av, NULL);

    cr_assert(r && r->type == REDIS_REPLY_ARRAY && r->elements == SCRIPT_COUNT);
    for (size_t i = 0; i < r->elements; i++)
        all &= r->element[i]->type == REDIS_REPLY_INTEGER &&
               r->element[i]->integer == 1;
    freeReplyObject(r);
    return all;
}

/* A worker's connect asks SCRIPT EXISTS and loads only what Redis lacks:
 * none when a client loaded them before (SCRIPT LOAD of a cached script
 * hashes its whole text again), all of them after a SCRIPT FLUSH. */
Test(resilience, worker_loads_only_the_scripts_redis_lacks)
{
    const char *args[] = {"--concurrency", "4", NULL};
    struct rsrv s;
    struct th t;
    char url[128], log[512];
    pid_t mock, w;
    char **ids;
    redisReply *r;

    rsrv_new(&s);
    th_connect(&t, s.url, "r-scripts"); /* loads every script */
    mock = th_mock_start(url, NULL);
    snprintf(log, sizeof(log), "%s/scripts-worker.log",
             getenv("GENQ_TEST_TMP"));
    r = redisCommand(t.c, "CONFIG RESETSTAT");
    cr_assert(r && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    w = th_worker_on(&t, s.url, url, log, args);
    ids = th_enqueue_n(&t, 3, "SC", 30);
    cr_assert_eq(th_wait_terminal(&t, ids, 3, 30), 3);
    cr_assert(script_calls(t.c, "exists") >= 1, "the worker asks first");
    cr_assert_eq(script_calls(t.c, "load"), 0, "nothing was missing");
    th_stop(w);
    for (int i = 0; i < 3; i++)
        free(ids[i]);
    free(ids);

    r = redisCommand(t.c, "SCRIPT FLUSH");
    cr_assert(r && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    cr_assert(!scripts_all_cached(t.c));
    w = th_worker_on(&t, s.url, url, log, args);
    for (int i = 0; i < 200 && !scripts_all_cached(t.c); i++)
        th_sleep_ms(50);
    cr_assert(scripts_all_cached(t.c), "the worker loads every script");
    cr_assert(script_calls(t.c, "load") >= SCRIPT_COUNT);
    ids = th_enqueue_n(&t, 3, "SD", 30);
    cr_assert_eq(th_wait_terminal(&t, ids, 3, 30), 3);
    th_stop(w);
    th_stop(mock);
    for (int i = 0; i < 3; i++)
        free(ids[i]);
    free(ids);
    th_fini(&t);
    rsrv_kill(&s);
}
