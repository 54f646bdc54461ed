/* Redis Cluster basics (common/cluster.c): CRC16 and key slots against
 * Redis's own reference values, hash tags, MOVED/ASK/TRYAGAIN parsing, the
 * slot map from a CLUSTER SLOTS reply, and redis-cluster:// URLs. */
#include "fmacros.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "cluster.h"
#include "keys.h"
#include "rclient.h"

Test(cluster, crc16_reference)
{
    /* the check value of CRC16/XMODEM, and Redis's cluster spec example */
    cr_assert_eq(cluster_crc16("123456789", 9), 0x31c3);
    cr_assert_eq(cluster_key_slot("123456789", 9), 0x31c3 & 16383);
    cr_assert_eq(cluster_crc16("", 0), 0);
}

static int
slot(const char *k)
{
    return cluster_key_slot(k, strlen(k));
}

Test(cluster, key_slots_and_hash_tags)
{
    /* values of CLUSTER KEYSLOT on Redis 7.0 */
    cr_assert_eq(slot("foo"), 12182);
    cr_assert_eq(slot("bar"), 5061);
    cr_assert_eq(slot("{qa}"), 2031);
    cr_assert_eq(slot("{qb}"), 14220);
    /* the tag is the text between the first '{' and the next '}' */
    cr_assert_eq(slot("genq:{qa}:ready"), slot("qa"));
    cr_assert_eq(slot("genq:{qa}:jobs"), slot("genq:{qa}:wake"));
    cr_assert_eq(slot("x{user1000}.following"), slot("user1000"));
    cr_assert_eq(slot("foo{}{bar}"), slot("foo{}{bar}"), "empty tag: whole");
    cr_assert_neq(slot("foo{}{bar}"), slot("bar"), "empty first tag: whole");
    cr_assert_eq(slot("foo{{bar}}zap"), slot("{bar"));
    cr_assert_eq(slot("foo{bar}{zap}"), slot("bar"));
    cr_assert_eq(slot("nobrace{"), cluster_crc16("nobrace{", 8) & 16383);
}

/* Every key of a queue and every multi-key script's keys share one slot. */
Test(cluster, genq_keys_one_slot_per_script)
{
    struct qkeys k;
    char day[KEY_BUDGET_LEN], month[KEY_BUDGET_LEN], st[128];

    cr_assert_eq(qkeys_init(&k, "jobs-7"), 0);
    for (int i = 0; i < QK_COUNT; i++)
        cr_assert_eq(slot(k.key[i]), slot("jobs-7"), "%s", k.key[i]);
    cr_assert_eq(slot(k.wake), slot("jobs-7"));
    cr_assert_eq(slot(k.inbox), slot("jobs-7"));
    cr_assert_eq(slot(k.notify), slot("jobs-7"));
    qkeys_stage(&k, "run1", 1, st, sizeof(st));
    cr_assert_eq(slot(st), slot("jobs-7"));
    /* budget.lua: caps, day, month */
    key_budget_day(day, sizeof(day), 1796558400LL, NULL);
    key_budget_month(month, sizeof(month), 1796558400LL, NULL);
    cr_assert_eq(slot(day), slot(KEY_BUDGET_CAPS));
    cr_assert_eq(slot(month), slot(KEY_BUDGET_CAPS));
    /* limiter.lua: one key with its own tag */
    cr_assert_eq(key_limit_state(st, sizeof(st), "openai|https://x|gpt"), 0);
    cr_assert_eq(slot(st), slot("openai|https://x|gpt"));
}

/* A queue's script call: EVALSHA SHA 1 genq:{Q}:meta genq:{Q}: ARGV...
 * (rclient_qkeys): one key, routed to the queue's slot; the scripts build
 * the other names from the prefix (prelude.lua). */
Test(cluster, queue_script_argv_one_key_in_the_slot)
{
    struct qkeys k;
    const char *args[] = {"a1", "a2"};
    const char **av;
    size_t *al;
    int n;

    cr_assert_eq(qkeys_init(&k, "jobs-7"), 0);
    n = rclient_build_argv("EVALSHA", "sha", &k, 2, args, NULL, &av, &al);
    cr_assert_eq(n, 7);
    cr_assert_str_eq(av[2], "1", "numkeys");
    cr_assert_str_eq(av[3], "genq:{jobs-7}:meta");
    cr_assert_eq(slot(av[3]), slot("jobs-7"));
    cr_assert_str_eq(av[4], "genq:{jobs-7}:", "ARGV[1] is the prefix");
    cr_assert_str_eq(av[5], "a1");
    cr_assert_eq(al[6], 2);
    free(av);
    free(al);
}

/* On a cluster the call declares the queue's slot guard after the meta key
 * (keys.h QKEY_GUARD): a key of the same slot that nothing writes, so that
 * Redis refuses the call while the slot migrates instead of stopping the
 * script half-way. */
Test(cluster, queue_script_declares_the_slot_guard_on_a_cluster)
{
    struct qkeys k;
    const char *args[] = {"a1"};
    const char **av;
    size_t *al;
    struct skeys sk;
    int n;

    cr_assert_eq(qkeys_init(&k, "jobs-7"), 0);
    sk = rclient_qkeys(&k, 0);
    cr_assert_eq(sk.n, 1, "one Redis: the meta key only");
    sk = rclient_qkeys(&k, 1);
    cr_assert_eq(sk.n, 2);
    n = rclient_build_argv_keys("EVALSHA", "sha", &sk, 1, args, NULL, &av, &al);
    cr_assert_eq(n, 7);
    cr_assert_str_eq(av[2], "2", "numkeys");
    cr_assert_str_eq(av[3], "genq:{jobs-7}:meta", "routed by the first");
    cr_assert_str_eq(av[4], "genq:{jobs-7}:slot-guard");
    cr_assert_eq(slot(av[4]), slot("jobs-7"));
    cr_assert_str_eq(av[5], "genq:{jobs-7}:", "ARGV[1] is the prefix");
    cr_assert_str_eq(av[6], "a1");
    free(av);
    free(al);
}

/* err parses as a redirection of kind to slot, host, port. */
static void
expect_redir(const char *err, enum cluster_redir kind, int slot,
             const char *host, int port)
{
    char h[64];
    int s = -1, p = -1;

    cr_assert_eq(cluster_redirect_parse(err, &s, h, sizeof(h), &p), kind, "%s",
                 err);
    cr_assert_eq(s, slot, "%s", err);
    cr_assert_str_eq(h, host, "%s", err);
    cr_assert_eq(p, port, "%s", err);
}

Test(cluster, redirects)
{
    char host[64];
    int s = -1, port = -1;

    expect_redir("MOVED 3999 127.0.0.1:6381", CLUSTER_REDIR_MOVED, 3999,
                 "127.0.0.1", 6381);
    expect_redir("ASK 16383 ::1:7000", CLUSTER_REDIR_ASK, 16383, "::1", 7000);
    cr_assert_eq(cluster_redirect_parse("TRYAGAIN Multiple keys request "
                                        "during rehashing of slot",
                                        &s, host, sizeof(host), &port),
                 CLUSTER_REDIR_RETRY);
    cr_assert_eq(cluster_redirect_parse("CLUSTERDOWN The cluster is down", &s,
                                        host, sizeof(host), &port),
                 CLUSTER_REDIR_RETRY);
    /* malformed or other errors: not a redirection */
    const char *bad[] = {
        "MOVED",         "MOVED 16384 h:1",     "MOVED x h:1",
        "MOVED 1 h",     "MOVED 1 h:0",         "MOVED 1 :6379",
        "ASK 1 h:99999", "ERR unknown command", "NOSCRIPT"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(
            cluster_redirect_parse(bad[i], &s, host, sizeof(host), &port),
            CLUSTER_REDIR_NONE, "%s", bad[i]);
    cr_assert_eq(cluster_redirect_parse(NULL, &s, host, sizeof(host), &port),
                 CLUSTER_REDIR_NONE);
    /* a host longer than the buffer is refused, not cut */
    cr_assert_eq(cluster_redirect_parse("MOVED 1 averyveryverylonghostname:1",
                                        &s, host, 8, &port),
                 CLUSTER_REDIR_NONE);
}

/* Reply objects for cluster_map_load(), built by hand. */
static redisReply *
r_new(int type, long long v, const char *str)
{
    redisReply *r = calloc(1, sizeof(*r));
    r->type = type;
    r->integer = v;
    if (str) {
        r->str = strdup(str);
        r->len = strlen(str);
    }
    return r;
}
#define r_int(v) r_new(REDIS_REPLY_INTEGER, v, NULL)
#define r_str(s) r_new(REDIS_REPLY_STRING, 0, s)
static redisReply *
r_arr(size_t n, ...)
{
    redisReply *r = calloc(1, sizeof(*r));
    va_list ap;
    r->type = REDIS_REPLY_ARRAY;
    r->elements = n;
    r->element = calloc(n, sizeof(*r->element));
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        r->element[i] = va_arg(ap, redisReply *);
    va_end(ap);
    return r;
}

Test(cluster, map_from_cluster_slots)
{
    struct cluster_map *m = malloc(sizeof(*m));
    char err[128];
    redisReply *r = r_arr(
        3,
        r_arr(4, r_int(0), r_int(5460),
              r_arr(3, r_str("127.0.0.1"), r_int(7000), r_str("id0")),
              r_arr(3, r_str("127.0.0.1"), r_int(7003), r_str("replica"))),
        r_arr(3, r_int(5461), r_int(10922), r_arr(2, r_str(""), r_int(7001))),
        r_arr(3, r_int(10923), r_int(16383),
              r_arr(2, r_str("10.0.0.3"), r_int(7002))));

    cluster_map_init(m);
    cr_assert_eq(cluster_map_load(m, r, "seed.example", err, sizeof(err)), 0,
                 "%s", err);
    cr_assert_eq(m->nnodes, 3, "masters only");
    cr_assert_str_eq(m->node[m->slot[0]].host, "127.0.0.1");
    cr_assert_eq(m->node[m->slot[5460]].port, 7000);
    cr_assert_str_eq(m->node[m->slot[5461]].host, "seed.example",
                     "an empty address is the seed's");
    cr_assert_eq(m->node[m->slot[16383]].port, 7002);
    cr_assert_eq(cluster_map_key(m, "genq:{qb}:ready"), m->slot[14220]);
    /* a node already known keeps its index */
    cr_assert_eq(cluster_map_node(m, "10.0.0.3", 7002), m->slot[16383]);
    freeReplyObject(r);

    /* malformed: refused, map unchanged */
    r = r_arr(1, r_arr(3, r_int(10), r_int(5), r_arr(2, r_str("h"), r_int(1))));
    cr_assert_eq(cluster_map_load(m, r, "s", err, sizeof(err)), -1);
    cr_assert(strstr(err, "malformed"), "%s", err);
    cr_assert_eq(m->node[m->slot[16383]].port, 7002);
    freeReplyObject(r);
    r = r_str("x");
    r->type = REDIS_REPLY_ERROR;
    cr_assert_eq(cluster_map_load(m, r, "s", err, sizeof(err)), -1);
    cr_assert(strstr(err, "CLUSTER SLOTS: x"), "%s", err);
    freeReplyObject(r);
    free(m);
}

Test(cluster, url)
{
    struct redis_url u;
    char err[256], host[64];
    int port;

    unsetenv("GENQ_REDIS_PASSWORD");
    cr_assert_eq(redisurl_parse("redis-cluster://app:s%40cret@10.0.0.1:7000,"
                                "node-b:7001",
                                &u, err, sizeof(err)),
                 0, "%s", err);
    cr_assert_str_eq(u.user, "app");
    cr_assert_str_eq(u.pass, "s@cret");
    cr_assert_str_eq(u.host, "10.0.0.1");
    cr_assert_eq(u.port, 7000);
    cr_assert_str_eq(u.cluster, "10.0.0.1:7000,node-b:7001");
    cr_assert_eq(u.cluster_node, 0);
    cr_assert_eq(cluster_url_seed(&u, 1, host, sizeof(host), &port), 0);
    cr_assert_str_eq(host, "node-b");
    cr_assert_eq(port, 7001);
    cr_assert_eq(cluster_url_seed(&u, 2, host, sizeof(host), &port), -1);
    redisurl_describe(&u, host, sizeof(host));
    cr_assert_str_eq(host, "cluster:10.0.0.1:7000,node-b:7001");

    const char *bad[][2] = {
        {"redis-cluster://h:7000/1", "database 0 only"},
        {"redis-cluster://h:7000?x=1", "no database or query"},
        {"redis-cluster://h", "not host:port"},
        {"redis-cluster://h:0", "not host:port"},
        {"redis-cluster://h:7000,", "empty seed"},
        {"redis-cluster://pw@", "missing"},
        {"redis-cluster://user:topsecret@h:99999", "not host:port"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(redisurl_parse(bad[i][0], &u, err, sizeof(err)), -1, "%s",
                     bad[i][0]);
        cr_assert(strstr(err, bad[i][1]), "%s: %s", bad[i][0], err);
        cr_assert(!strstr(err, "topsecret"), "%s", err);
    }
}
