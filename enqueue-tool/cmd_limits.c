/* genq limits: the fleet limiter's state per limit key (the set
 * KEY_LIMITS; each key's hash read through limiter.lua's "show", which
 * refills the buckets to now): configured and learned limits, bucket
 * levels, cooldown, breaker -- as text or JSON (schemas/limits.schema.json);
 * and `genq limits set KEY --rpm N ...`, which stores configured limits as
 * a worker's --limit-* do (the last writer's win). The document is built
 * section by section (limits_sections[]): a new section is one function
 * and one table entry. */
#include "fmacros.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "docs.h"
#include "limits_budget.h"
#include "rclient.h"
#include "timefmt.h"

static const char limits_help[] =
    "usage: genq limits [--json]\n"
    "       genq limits set KEY [--rpm N] [--itpm N] [--otpm N] [--tpm N]\n"
    "       genq limits set [KEY] [--queue Q] [--budget-usd-day USD]\n"
    "           [--budget-usd-month USD] [--budget-tokens-day N]\n"
    "           [--budget-tokens-month N]\n\n"
    "Show the fleet-wide rate limiter's state per limit key (provider|API "
    "base|\nmodel class): configured and learned limits per minute, bucket "
    "levels now,\nthe 429 cooldown and the circuit breaker. With --json one "
    "object per key\n(JSONL, schemas/limits.schema.json).\n"
    "`set` stores configured limits for KEY (as a worker's --limit-* do; "
    "the\nlast writer's win, every worker uses them from its next call); "
    "limits not\ngiven keep their value, 0 removes one.\n\n"
    "  --rpm N        requests per minute\n"
    "  --itpm N       input tokens per minute\n"
    "  --otpm N       output tokens per minute\n"
    "  --tpm N        total tokens per minute (OpenAI)\n"
    "  --budget-usd-day USD, --budget-usd-month USD, --budget-tokens-day N,\n"
    "  --budget-tokens-month N\n"
    "                 spend caps per UTC day / calendar month, fleet-wide or\n"
    "                 with --queue for one queue (0 removes a cap); the "
    "budget\n                 section of every key's document shows them "
    "and the spend\n                 (as `genq budget`)\n" CLI_COMMON_HELP;

/* The buckets: limiter.lua's names, the flags' and the JSON's. */
static const struct {
    const char *b, *flag, *json;
} buckets[] = {{"r", "rpm", "requests"},
               {"it", "itpm", "input_tokens"},
               {"ot", "otpm", "output_tokens"},
               {"t", "tpm", "tokens"}};
#define NBUCKETS 4

/* A key's state: the fields of limiter.lua's "show" reply. */
struct lstate {
    const redisReply *r;
};

static const char *
sget(const struct lstate *s, const char *f)
{
    for (size_t i = 0; i + 1 < s->r->elements; i += 2)
        if (s->r->element[i]->type == REDIS_REPLY_STRING &&
            !strcmp(s->r->element[i]->str, f))
            return s->r->element[i + 1]->str;
    return NULL;
}

static double
snum(const struct lstate *s, const char *f)
{
    const char *v = sget(s, f);

    return v ? strtod(v, NULL) : 0;
}

/* Add the RFC 3339 time of field f (ms) to o as name, or null when 0. */
static void
add_time(cJSON *o, const char *name, const struct lstate *s, const char *f)
{
    double ms = snum(s, f);
    char ts[32];

    if (ms <= 0) {
        cJSON_AddNullToObject(o, name);
        return;
    }
    timefmt_rfc3339((int64_t)ms, ts);
    cJSON_AddStringToObject(o, name, ts);
}

static void
limits_doc_add_limits(cJSON *o, const struct lstate *s)
{
    cJSON *c = cJSON_AddObjectToObject(o, "configured");
    cJSON *l = cJSON_AddObjectToObject(o, "learned");
    char f[16];

    for (int i = 0; i < NBUCKETS; i++) {
        snprintf(f, sizeof(f), "c_%s", buckets[i].b);
        cJSON_AddNumberToObject(c, buckets[i].flag, snum(s, f));
        snprintf(f, sizeof(f), "l_%s", buckets[i].b);
        cJSON_AddNumberToObject(l, buckets[i].flag, snum(s, f));
    }
    add_time(c, "at", s, "c_at");
    cJSON_AddStringToObject(c, "by", sget(s, "c_by") ? sget(s, "c_by") : "");
}

static void
limits_doc_add_buckets(cJSON *o, const struct lstate *s)
{
    cJSON *bs = cJSON_AddObjectToObject(o, "buckets");
    char f[16];

    for (int i = 0; i < NBUCKETS; i++) {
        double lim;
        cJSON *b;
        snprintf(f, sizeof(f), "c_%s", buckets[i].b);
        lim = snum(s, f);
        if (lim <= 0) {
            snprintf(f, sizeof(f), "l_%s", buckets[i].b);
            lim = snum(s, f);
        }
        if (lim <= 0)
            continue; /* not metered */
        b = cJSON_AddObjectToObject(bs, buckets[i].json);
        snprintf(f, sizeof(f), "v_%s", buckets[i].b);
        cJSON_AddNumberToObject(b, "limit_per_min", lim);
        cJSON_AddNumberToObject(b, "level", floor(snum(s, f) * 1000) / 1000);
    }
}

static void
limits_doc_add_cooldown(cJSON *o, const struct lstate *s)
{
    cJSON *c = cJSON_AddObjectToObject(o, "cooldown");

    cJSON_AddBoolToObject(c, "active", snum(s, "cool") > snum(s, "now"));
    add_time(c, "until", s, "cool");
    cJSON_AddNumberToObject(c, "responses_429", snum(s, "n_429"));
}

static void
limits_doc_add_breaker(cJSON *o, const struct lstate *s)
{
    cJSON *b = cJSON_AddObjectToObject(o, "breaker");
    double now = snum(s, "now"), until = snum(s, "b_until");

    cJSON_AddStringToObject(b, "state",
                            until <= 0    ? "closed"
                            : now < until ? "open"
                                          : "half-open");
    add_time(b, "until", s, "b_until");
    cJSON_AddNumberToObject(b, "failures_in_a_row", snum(s, "b_fails"));
}

static void
limits_doc_add_counts(cJSON *o, const struct lstate *s)
{
    cJSON_AddNumberToObject(o, "admitted", snum(s, "n_adm"));
    cJSON_AddNumberToObject(o, "delayed", snum(s, "n_delay"));
}

/* The sections of a key's document, in order. */
static void (*const limits_sections[])(cJSON *, const struct lstate *) = {
    limits_doc_add_limits, limits_doc_add_buckets, limits_doc_add_cooldown,
    limits_doc_add_breaker, limits_doc_add_counts};

/* Call limiter.lua's op for key id with args; the reply, or NULL with
 * the reason printed. */
static redisReply *
lim_call(struct cli *c, const char *id, const char *op, int argc,
         const char **args)
{
    char key[700], err[256];
    redisReply *r;
    const char *keyv[1] = {key};
    struct skeys sk = {1, keyv, id};
    const char *av[12];

    if (key_limit_state(key, sizeof(key), id) < 0 || argc > 10) {
        cli_fail("limits", "'%s' is not a limit key", id);
        return NULL;
    }
    av[0] = op;
    av[1] = "";
    for (int i = 0; i < argc; i++)
        av[2 + i] = args[i];
    if (rclient_append_script_keys(cli_rc(c, key), SCRIPT_LIMITER, &sk,
                                   argc + 2, av, NULL) < 0) {
        cli_fail("limits", "out of memory");
        return NULL;
    }
    r = rclient_read(cli_rc(c, key), err, sizeof(err));
    if (!r)
        cli_fail("limits", "%s", err);
    return r;
}

static void print_text(const cJSON *o);

/* The fleet's budget ({"budget": {...}}, limits_budget.h), read once per
 * command; NULL after a Redis error (printed). The caller frees it. */
static cJSON *
budget_read(struct cli *c)
{
    cJSON *doc = cJSON_CreateObject();
    char err[512] = "out of memory";

    if (!doc || limits_budget_section(cli_rc(c, KEY_BUDGET_CAPS), doc, err,
                                      sizeof(err)) < 0) {
        cJSON_Delete(doc);
        cli_fail("limits", "redis: reading the budget: %s", err);
        return NULL;
    }
    return doc;
}

/* Print key id's document: JSON with a copy of budget's section, or text
 * (the budget is printed once, after the keys). */
static int
emit_key(struct cli *c, const char *id, const cJSON *budget)
{
    cJSON *o = limits_doc_key(c, id), *b;

    if (!o)
        return EXIT_FAIL;
    if (!c->json) {
        print_text(o);
        cJSON_Delete(o);
        return EXIT_OK;
    }
    b = cJSON_Duplicate(cJSON_GetObjectItem(budget, "budget"), 1);
    if (!b || !cJSON_AddItemToObject(o, "budget", b)) {
        cJSON_Delete(b);
        cJSON_Delete(o);
        return cli_fail("limits", "out of memory");
    }
    return cli_print_json(o) < 0 ? EXIT_FAIL : EXIT_OK; /* frees o */
}

/* The document of key id, or NULL (Redis error: printed); docs.h. */
cJSON *
limits_doc_key(struct cli *c, const char *id)
{
    redisReply *r = lim_call(c, id, "show", 0, NULL);
    struct lstate s = {r};
    cJSON *o;

    if (!r)
        return NULL;
    if (r->type != REDIS_REPLY_ARRAY) {
        cli_redis_fail(c, "limits", r, "unexpected reply to show");
        return NULL;
    }
    o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "key", id);
        for (size_t i = 0;
             i < sizeof(limits_sections) / sizeof(limits_sections[0]); i++)
            limits_sections[i](o, &s);
    }
    freeReplyObject(r);
    return o;
}

static void
print_text(const cJSON *o)
{
    const cJSON *cf = cJSON_GetObjectItem(o, "configured");
    const cJSON *bs = cJSON_GetObjectItem(o, "buckets"), *b;
    const cJSON *cd = cJSON_GetObjectItem(o, "cooldown");
    const cJSON *br = cJSON_GetObjectItem(o, "breaker");

    printf("%s\n", cJSON_GetStringValue(cJSON_GetObjectItem(o, "key")));
    printf("  configured:");
    for (int i = 0; i < NBUCKETS; i++)
        printf(" %s %.0f", buckets[i].flag,
               cJSON_GetNumberValue(cJSON_GetObjectItem(cf, buckets[i].flag)));
    if (cJSON_IsString(cJSON_GetObjectItem(cf, "at")))
        printf(" (by %s at %s)",
               cJSON_GetStringValue(cJSON_GetObjectItem(cf, "by")),
               cJSON_GetStringValue(cJSON_GetObjectItem(cf, "at")));
    printf("\n  learned:   ");
    for (int i = 0; i < NBUCKETS; i++)
        printf(" %s %.0f", buckets[i].flag,
               cJSON_GetNumberValue(cJSON_GetObjectItem(
                   cJSON_GetObjectItem(o, "learned"), buckets[i].flag)));
    printf("\n  buckets:   ");
    if (!bs || !bs->child)
        printf(" none metered");
    cJSON_ArrayForEach(b, bs)
    {
        printf(" %s %.0f/%.0f", b->string,
               cJSON_GetNumberValue(cJSON_GetObjectItem(b, "level")),
               cJSON_GetNumberValue(cJSON_GetObjectItem(b, "limit_per_min")));
    }
    printf("\n  cooldown:   %s",
           cJSON_IsTrue(cJSON_GetObjectItem(cd, "active")) ? "until " : "none");
    if (cJSON_IsTrue(cJSON_GetObjectItem(cd, "active")))
        printf("%s", cJSON_GetStringValue(cJSON_GetObjectItem(cd, "until")));
    printf(" (429s: %.0f)\n  breaker:    %s\n  admitted %.0f, delayed %.0f\n",
           cJSON_GetNumberValue(cJSON_GetObjectItem(cd, "responses_429")),
           cJSON_GetStringValue(cJSON_GetObjectItem(br, "state")),
           cJSON_GetNumberValue(cJSON_GetObjectItem(o, "admitted")),
           cJSON_GetNumberValue(cJSON_GetObjectItem(o, "delayed")));
}

/* genq limits set KEY: store the configured limits (-1: keep). */
static int
limits_set(struct cli *c, const char *id, const long v[NBUCKETS],
           const cJSON *budget)
{
    redisReply *r;
    cJSON *o = limits_doc_key(c, id), *cf;
    char a[NBUCKETS][24];
    const char *args[NBUCKETS + 1];

    if (!o)
        return EXIT_FAIL;
    cf = cJSON_GetObjectItem(o, "configured");
    for (int i = 0; i < NBUCKETS; i++) {
        double keep =
            cJSON_GetNumberValue(cJSON_GetObjectItem(cf, buckets[i].flag));
        snprintf(a[i], sizeof(a[i]), "%.0f", v[i] >= 0 ? (double)v[i] : keep);
        args[i] = a[i];
    }
    cJSON_Delete(o);
    args[NBUCKETS] = "genq limits set";
    r = lim_call(c, id, "config", NBUCKETS + 1, args);
    if (!r)
        return EXIT_FAIL;
    if (r->type != REDIS_REPLY_ARRAY)
        return cli_redis_fail(c, "limits", r, "unexpected reply to config");
    freeReplyObject(r);
    r = rclient_command(cli_rc(c, KEY_LIMITS), "SADD %s %s", KEY_LIMITS, id);
    if (!r || r->type == REDIS_REPLY_ERROR)
        return cli_redis_fail(c, "limits", r, NULL);
    freeReplyObject(r);
    return emit_key(c, id, budget);
}

/* genq limits set [KEY] ...: the budget caps and/or KEY's rate limits;
 * then KEY's document (limits not given keep their value) and, as text,
 * the budget. */
static int
limits_set_cmd(struct cli *c, const char *id, const long v[NBUCKETS],
               const struct budget_set_ctx *bk)
{
    char err[512];
    cJSON *budget;
    int rc = EXIT_OK;

    if (bk->n > 0 && limits_budget_set(cli_rc(c, KEY_BUDGET_CAPS),
                                       c->queue_set ? c->queue : NULL, &bk->s,
                                       err, sizeof(err)) < 0)
        return cli_fail("limits set", "%s", err);
    budget = budget_read(c);
    if (!budget)
        return EXIT_FAIL;
    if (id && (v[0] >= 0 || v[1] >= 0 || v[2] >= 0 || v[3] >= 0))
        rc = limits_set(c, id, v, budget);
    else if (id) /* budgets are not per key: show KEY, change nothing */
        rc = emit_key(c, id, budget);
    if (rc == EXIT_OK && !c->json)
        limits_budget_print(cJSON_GetObjectItem(budget, "budget"));
    cJSON_Delete(budget);
    return rc;
}

int
cmd_limits(int argc, char **argv)
{
    struct cli c;
    long v[NBUCKETS] = {-1, -1, -1, -1};
    struct budget_set_ctx bk = {.n = 0, .cmd = "limits set"};
    struct cli_opt opts[] = {
        CLI_OPT_LONG("rpm", 1100, &v[0], 0, 1000000000000L, "a count >= 0"),
        CLI_OPT_LONG("itpm", 1101, &v[1], 0, 1000000000000L, "a count >= 0"),
        CLI_OPT_LONG("otpm", 1102, &v[2], 0, 1000000000000L, "a count >= 0"),
        CLI_OPT_LONG("tpm", 1103, &v[3], 0, 1000000000000L, "a count >= 0"),
        BUDGET_CLI_OPTS,
        CLI_OPT_END};
    struct cli_cmd spec = {"limits",       limits_help, NULL, opts,
                           budget_set_opt, &bk,         1};
    const char *id = NULL;
    cJSON *budget;
    redisReply *r;
    int first, rc, set = 0, rate;

    limits_budget_set_init(&bk.s);
    if ((rc = cli_parse(&c, &spec, argc, argv, &first)) != CLI_NEXT)
        return rc;
    if (first < argc && strcmp(argv[first], "set") != 0)
        return cli_usage_error("limits", "unknown subcommand '%s' (only 'set')",
                               argv[first]);
    set = first < argc;
    rate = v[0] >= 0 || v[1] >= 0 || v[2] >= 0 || v[3] >= 0;
    if (set && first + 2 < argc)
        return cli_usage_error("limits", "set takes one KEY (see `genq limits`"
                                         " for the keys)");
    if (set && first + 1 < argc)
        id = argv[first + 1];
    if (!set && (rate || bk.n > 0))
        return cli_usage_error("limits",
                               "--rpm/--itpm/--otpm/--tpm and "
                               "--budget-* go with `genq limits set`");
    if (set && !rate && bk.n == 0)
        return cli_usage_error("limits", "set: give at least one of --rpm, "
                                         "--itpm, --otpm, --tpm, --budget-*");
    if (set && rate && !id)
        return cli_usage_error("limits", "set: --rpm/--itpm/--otpm/--tpm need "
                                         "a KEY (see `genq limits`)");
    if (id && (strchr(id, '{') || strchr(id, '}') || !id[0]))
        return cli_usage_error("limits",
                               "KEY '%s': not a limit key (no '{', "
                               "'}'; see `genq limits`)",
                               id);
    if (cli_connect(&c) < 0)
        return EXIT_FAIL;
    if (set) {
        rc = limits_set_cmd(&c, id, v, &bk);
        cli_close(&c);
        return rc;
    }
    r = rclient_command(cli_rc(&c, KEY_LIMITS), "SMEMBERS %s", KEY_LIMITS);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        rc = cli_redis_fail(&c, "limits", r, "unexpected reply");
        cli_close(&c);
        return rc;
    }
    budget = budget_read(&c);
    rc = budget ? EXIT_OK : EXIT_FAIL;
    for (size_t i = 0; rc == EXIT_OK && i < r->elements; i++)
        rc = emit_key(&c, r->element[i]->str, budget);
    if (!c.json && rc == EXIT_OK && r->elements == 0)
        printf("no limit keys yet (workers register theirs on start)\n");
    if (!c.json && rc == EXIT_OK)
        limits_budget_print(cJSON_GetObjectItem(budget, "budget"));
    freeReplyObject(r);
    cJSON_Delete(budget);
    cli_close(&c);
    return rc;
}
