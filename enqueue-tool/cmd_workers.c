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

/* The worker documents of the live workers (beat within stale seconds)
 * appended to arr, in beat order; with forget, the dead are first removed
 * from the registry (genq workers; the dashboard never changes state on a
 * read). 0, or -1 after printing the problem for cmd (docs.h). */
int
workers_docs(struct cli *c, double stale, int forget, cJSON *arr,
             const char *cmd)
{
    long long now = time_now_ms(), cutoff;
    redisReply *r, *beats;
    char cut[32];

    cutoff = now - (long long)(stale * 1000);
    snprintf(cut, sizeof(cut), "(%lld", cutoff);
    /* forget the dead: their ids, then their descriptions */
    r = forget
            ? rclient_command(cli_rc(c, KEY_WORKERS_BEAT),
                              "ZRANGEBYSCORE %s -inf %s", KEY_WORKERS_BEAT, cut)
            : NULL;
    if (r && r->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < r->elements; i++) {
            redisReply *d =
                rclient_command(cli_rc(c, KEY_WORKERS), "HDEL %s %s",
                                KEY_WORKERS, r->element[i]->str);
            int bad = !d || d->type == REDIS_REPLY_ERROR;

            if (d)
                freeReplyObject(d);
            d = bad ? NULL
                    : rclient_command(cli_rc(c, KEY_WORKERS_BEAT), "ZREM %s %s",
                                      KEY_WORKERS_BEAT, r->element[i]->str);
            bad = bad || !d || d->type == REDIS_REPLY_ERROR;
            if (d)
                freeReplyObject(d);
            if (bad) /* not one call more (each waits out a CLUSTERDOWN) */
                break;
        }
    }
    if (r)
        freeReplyObject(r);
    beats = rclient_command(cli_rc(c, KEY_WORKERS_BEAT),
                            "ZRANGEBYSCORE %s %lld +inf WITHSCORES",
                            KEY_WORKERS_BEAT, cutoff);
    if (!beats || beats->type != REDIS_REPLY_ARRAY) {
        cli_redis_fail(c, cmd, beats, NULL);
        return -1;
    }
    for (size_t i = 0; i + 1 < beats->elements; i += 2) {
        const char *id = beats->element[i]->str;
        long long beat = strtoll(beats->element[i + 1]->str, NULL, 10);
        redisReply *d = rclient_command(cli_rc(c, KEY_WORKERS), "HGET %s %s",
                                        KEY_WORKERS, id);
        cJSON *o;
        char ts[32], started[32];
        cJSON *sm;

        if (!d || d->type == REDIS_REPLY_ERROR) {
            /* not one call more (each waits out a CLUSTERDOWN) */
            freeReplyObject(beats);
            cli_redis_fail(c, cmd, d, NULL);
            return -1;
        }
        o = d->type == REDIS_REPLY_STRING ? cJSON_Parse(d->str) : NULL;
        freeReplyObject(d);
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
            freeReplyObject(beats);
            cli_fail(cmd, "out of memory");
            return -1;
        }
    }
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
