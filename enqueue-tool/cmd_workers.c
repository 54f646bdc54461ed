/* genq workers: the live worker processes of the fleet, from the registry
 * each worker heartbeats (hash KEY_WORKERS + zset KEY_WORKERS_BEAT);
 * entries whose beat is older than --stale S are forgotten. */
#include "fmacros.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "docs.h"
#include "rclient.h"
#include "timefmt.h"

static const char workers_help[] =
    "usage: genq workers [--stale S] [--json]\n\n"
    "List live worker processes: id (host:pid:tag), genq version, queues,\n"
    "jobs in flight, concurrency, start time and last heartbeat (workers beat "
    "every 5 s,\n"
    "and within a second of going idle); IN FLIGHT is as of that beat.\n"
    "Workers silent for more than --stale seconds (default 30) are dead:\n"
    "they are removed from the registry and not listed.\n"
    "With --json one object per worker (JSONL): id, pid, queues, in_flight,\n"
    "concurrency, provider, version, started_at, last_beat_at, beat_age_s.\n\n"
    "  --stale S      seconds without a beat after which a worker is "
    "forgotten\n" CLI_COMMON_HELP;

/* Redis Cluster: add "nodes": {queue: "host:port"} to worker document o. */
static void
workers_nodes(cJSON *o)
{
    cJSON *q, *nodes = cJSON_CreateObject();

    if (!nodes)
        return;
    cJSON_ArrayForEach(q, cJSON_GetObjectItem(o, "queues"))
    {
        char node[300];
        if (cJSON_IsString(q) && cli_node(q->valuestring, node, sizeof(node)))
            cJSON_AddStringToObject(nodes, q->valuestring, node);
    }
    cJSON_AddItemToObject(o, "nodes", nodes);
}

/* cmd key, then the ids among r's elements (from first, every step), as
 * one call (rclient_command_argv) to the node of key. Its reply, NULL on
 * failure (out of memory: c->rc's errstr says so). */
static redisReply *
ids_call(struct cli *c, const char *cmd, const char *key, const redisReply *r,
         size_t first, size_t step)
{
    size_t n = (r->elements - first + step - 1) / step, k = 2;
    const char **av = malloc(sizeof(*av) * (n + 2));
    redisReply *rep;

    if (!av) {
        snprintf(c->rc->errstr, sizeof(c->rc->errstr), "out of memory");
        return NULL;
    }
    av[0] = cmd;
    av[1] = key;
    for (size_t i = first; i < r->elements; i += step)
        av[k++] = r->element[i]->str;
    rep = rclient_command_argv(cli_rc(c, key), (int)k, av, NULL);
    free(av);
    return rep;
}

/* The worker documents of the live workers (beat within stale seconds)
 * appended to arr, in beat order; with forget, the dead are first removed
 * from the registry (genq workers; the dashboard never changes state on a
 * read). 0, or -1 after printing the problem for cmd (docs.h). */
int
workers_docs(struct cli *c, double stale, int forget, cJSON *arr,
             const char *cmd)
{
    long long now = time_now_ms(), cutoff;
    redisReply *r, *beats, *descs;
    char cut[32];

    cutoff = now - (long long)(stale * 1000);
    snprintf(cut, sizeof(cut), "(%lld", cutoff);
    /* forget the dead: their ids, then their descriptions and beats, one
     * call each */
    r = forget
            ? rclient_command(cli_rc(c, KEY_WORKERS_BEAT),
                              "ZRANGEBYSCORE %s -inf %s", KEY_WORKERS_BEAT, cut)
            : NULL;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
        const char *const keys[2] = {KEY_WORKERS, KEY_WORKERS_BEAT};
        for (int k = 0; k < 2; k++) {
            redisReply *d = ids_call(c, k ? "ZREM" : "HDEL", keys[k], r, 0, 1);
            int bad = !d || d->type == REDIS_REPLY_ERROR;

            freeReplyObject(d); /* accepts NULL */
            if (bad) /* best effort: the next genq workers tries again */
                break;
        }
    }
    freeReplyObject(r);
    beats = rclient_command(cli_rc(c, KEY_WORKERS_BEAT),
                            "ZRANGEBYSCORE %s %lld +inf WITHSCORES",
                            KEY_WORKERS_BEAT, cutoff);
    if (!beats || beats->type != REDIS_REPLY_ARRAY) {
        cli_redis_fail(c, cmd, beats, NULL);
        return -1;
    }
    /* the descriptions of the live, one HMGET */
    descs =
        beats->elements ? ids_call(c, "HMGET", KEY_WORKERS, beats, 0, 2) : NULL;
    if (beats->elements && (!descs || descs->type != REDIS_REPLY_ARRAY ||
                            descs->elements != beats->elements / 2)) {
        freeReplyObject(beats);
        cli_redis_fail(c, cmd, descs, "unexpected reply");
        return -1;
    }
    for (size_t i = 0; i + 1 < beats->elements; i += 2) {
        long long beat = strtoll(beats->element[i + 1]->str, NULL, 10);
        const redisReply *d = descs->element[i / 2];
        cJSON *o;
        char ts[32], started[32];
        cJSON *sm;

        o = d->type == REDIS_REPLY_STRING ? cJSON_Parse(d->str) : NULL;
        if (!o)
            continue; /* beat without a description: a worker starting up */
        sm = cJSON_GetObjectItem(o, "started_ms");
        if (cJSON_IsNumber(sm)) {
            timefmt_rfc3339((int64_t)sm->valuedouble, started);
            cJSON_DeleteItemFromObject(o, "started_ms");
            cJSON_AddStringToObject(o, "started_at", started);
        }
        timefmt_rfc3339(beat, ts);
        cJSON_AddStringToObject(o, "last_beat_at", ts);
        cJSON_AddNumberToObject(o, "beat_age_s", (double)(now - beat) / 1000.0);
        if (cli_cluster()) /* Redis Cluster: the node of each queue */
            workers_nodes(o);
        if (!cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            freeReplyObject(descs);
            freeReplyObject(beats);
            cli_fail(cmd, "out of memory");
            return -1;
        }
    }
    freeReplyObject(descs);
    freeReplyObject(beats);
    return 0;
}

int
cmd_workers(int argc, char **argv)
{
    struct cli c;
    double stale = 30;
    struct cli_opt opts[] = {CLI_OPT_SECONDS("stale", 's', &stale, 1, 86400),
                             CLI_OPT_END};
    struct cli_cmd spec = {"workers", workers_help, NULL, opts, NULL, NULL, 0};
    cJSON *arr, *o;
    int first, rc, n = 0;

    if ((rc = cli_parse(&c, &spec, argc, argv, &first)) != CLI_NEXT)
        return rc;
    if (cli_connect(&c) < 0)
        return EXIT_FAIL;
    arr = cJSON_CreateArray();
    if (!arr || workers_docs(&c, stale, 1, arr, "workers") < 0) {
        if (!arr)
            cli_fail("workers", "out of memory");
        cJSON_Delete(arr);
        cli_close(&c);
        return EXIT_FAIL;
    }
    if (!c.json)
        printf("%-36s %-20s %-20s %9s %11s  %s\n", "WORKER", "VERSION",
               "QUEUES", "IN FLIGHT", "AS OF", "STARTED");
    cJSON_ArrayForEach(o, arr)
    {
        const char *started =
            cJSON_GetStringValue(cJSON_GetObjectItem(o, "started_at"));
        const char *version =
            cJSON_GetStringValue(cJSON_GetObjectItem(o, "version"));
        cJSON *age = cJSON_GetObjectItem(o, "beat_age_s"), *q;
        char queues[256] = "";

        n++;
        if (c.json) {
            cli_print_json(cJSON_Duplicate(o, 1));
            continue;
        }
        cJSON_ArrayForEach(q, cJSON_GetObjectItem(o, "queues"))
        {
            size_t l = strlen(queues);
            cJSON *nd = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "nodes"),
                                            cJSON_GetStringValue(q));
            snprintf(queues + l, sizeof(queues) - l, "%s%s%s%s", l ? "," : "",
                     cJSON_GetStringValue(q), nd ? "@" : "",
                     nd ? cJSON_GetStringValue(nd) : "");
        }
        printf("%-36s %-20s %-20s %4d/%-4d %6.1fs ago  %s\n",
               cJSON_GetStringValue(cJSON_GetObjectItem(o, "id")),
               version ? version : "-", queues,
               cJSON_GetObjectItem(o, "in_flight")
                   ? cJSON_GetObjectItem(o, "in_flight")->valueint
                   : 0,
               cJSON_GetObjectItem(o, "concurrency")
                   ? cJSON_GetObjectItem(o, "concurrency")->valueint
                   : 0,
               cJSON_IsNumber(age) ? age->valuedouble : 0.0,
               started ? started : "?");
    }
    if (!c.json)
        printf("%d live worker(s)\n", n);
    cJSON_Delete(arr);
    cli_close(&c);
    return EXIT_OK;
}
