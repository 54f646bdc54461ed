/* genq dlq requeue | purge: move dead jobs back to the queue, or delete them
 * for good. Filters are evaluated client-side over pages of the dead set
 * (dlq_pager); given ids go through the pipelined id window (idwin.c); the
 * matching ids go to the dlq_requeue / dlq_purge scripts in pipelined
 * batches (atomic per job). */
#include "fmacros.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlq.h"
#include "idwin.h"
#include "rclient.h"

#define SCAN_PAGE    500
#define CHANGE_BATCH 1000
#define ID_WINDOW    4

struct change {
    struct dlqopt *o;
    int purge;
    const char *cmd;
    char **batch; /* ids of the batch being filled (owned) */
    int n;
    /* the calls in flight, oldest first: their ids (owned: a call the
     * cluster refused is made again with them, idwin_read_call) */
    struct {
        char **ids;
        int n;
    } pending[ID_WINDOW * 2 + 2];
    int npending;
    long matched, changed, skipped;
};

static void
batch_clear(struct change *ch)
{
    ops_free_strs(ch->batch, ch->n);
    ch->n = 0;
}

/* The script of the change and its arguments before the ids. */
static enum script_id
change_script(const struct change *ch, const char **keep, int *npre)
{
    *keep = ch->o->keep_attempts ? "1" : "0";
    *npre = ch->purge ? 0 : 1;
    return ch->purge ? SCRIPT_DLQ_PURGE : SCRIPT_DLQ_REQUEUE;
}

/* Append the script call of the current batch (pipelined); its ids go
 * with it (pending), a new batch is started. */
static int
change_append(struct change *ch)
{
    const char *keep;
    int npre;
    enum script_id id = change_script(ch, &keep, &npre);
    char **next = calloc(CHANGE_BATCH, sizeof(char *));

    if (!next ||
        idwin_append_script(&ch->o->c, id, &keep, npre, ch->batch, ch->n) < 0) {
        free(next);
        return -1;
    }
    ch->pending[ch->npending].ids = ch->batch;
    ch->pending[ch->npending++].n = ch->n;
    ch->batch = next;
    ch->n = 0;
    return 0;
}

/* Count the outcome of each id of one requeue/purge call from its reply r
 * (n elements). ids (may be NULL) names them, for reporting those not
 * moved. */
static void
change_count(struct change *ch, char **ids, int n, redisReply *r)
{
    for (int i = 0; i < n; i++) {
        redisReply *e = r->element[i];
        int ok = e->type == REDIS_REPLY_STRING &&
                 !strcmp(e->str, ch->purge ? "purged" : "requeued");
        if (ok) {
            ch->changed++;
        } else {
            ch->skipped++;
            if (ids && !ch->o->c.json)
                fprintf(stderr, "genq %s: %s: not dead (%s)\n", ch->cmd, ids[i],
                        e->type == REDIS_REPLY_STRING ? e->str : "?");
        }
    }
}

/* Read and count the replies of the oldest call in flight (filter mode). */
static int
change_read_one(struct change *ch)
{
    char **ids = ch->pending[0].ids;
    int n = ch->pending[0].n, npre;
    const char *keep;
    enum script_id id = change_script(ch, &keep, &npre);
    redisReply *r;

    memmove(ch->pending, ch->pending + 1,
            sizeof(ch->pending[0]) * (size_t)(ch->npending - 1));
    ch->npending--;
    r = idwin_read_call(&ch->o->c, ch->cmd, id, &keep, npre, ids, n, (size_t)n);
    if (r) {
        change_count(ch, NULL, n, r);
        freeReplyObject(r);
    }
    ops_free_strs(ids, n);
    free(ids);
    return r ? 0 : -1;
}

static int
change_drain(struct change *ch)
{
    while (ch->npending > 0)
        if (change_read_one(ch) < 0)
            return -1;
    return 0;
}

/* Dry run of ID mode: count which of ids are dead from the reply r of the
 * inspect script. */
static void
dry_count(struct change *ch, char **ids, int n, redisReply *r)
{
    for (int i = 0; i < n; i++) {
        redisReply *m = r->element[i * INSPECT_FIELDS];
        struct ops_meta meta = {.state = "unknown"};
        if (m->type == REDIS_REPLY_STRING &&
            ops_meta_parse(m->str, &meta) == 0 && !strcmp(meta.state, "dead")) {
            ch->matched++;
        } else {
            ch->skipped++;
            if (!ch->o->c.json)
                fprintf(stderr, "genq %s: %s: not dead (%s)\n", ch->cmd, ids[i],
                        meta.state);
        }
    }
}

/* idwin report of ID mode: the ids moved and those not (reported); in a
 * dry run, those dead and those not. */
static int
ids_report(void *ctx, char **ids, int n, redisReply *r)
{
    struct change *ch = ctx;

    if (ch->o->dry_run) {
        dry_count(ch, ids, n, r);
    } else {
        ch->matched += n;
        change_count(ch, ids, n, r);
    }
    return 0;
}

/* ID mode: the ids given (argv, '-' = stdin), batches of CHANGE_BATCH with
 * ID_WINDOW calls in flight; each id not moved is reported. A dry run asks
 * the inspect script instead, one call at a time. */
static int
change_ids(struct change *ch)
{
    static const char *const inspect_pre[2] = {"0", "0"};
    const char *keep;
    int npre;
    enum script_id id = change_script(ch, &keep, &npre);
    struct idwin w = {.c = &ch->o->c,
                      .cmd = ch->cmd,
                      .script = id,
                      .pre = &keep,
                      .npre = npre,
                      .fields = 1,
                      .batch = CHANGE_BATCH,
                      .window = ID_WINDOW,
                      .report = ids_report,
                      .ctx = ch};
    int any;

    if (ch->o->dry_run) {
        w.script = SCRIPT_INSPECT;
        w.pre = inspect_pre;
        w.npre = 2;
        w.fields = INSPECT_FIELDS;
        w.window = 1;
    }
    return idwin_run(&w, ch->o->argc, ch->o->argv, &any) < 0 ? EXIT_FAIL : 0;
}

/* Filter mode: page through the dead set, newest first; matching ids go
 * out in batches of CHANGE_BATCH, sent together with the next page's
 * request (the cursor makes removed entries harmless). With count_only,
 * only count the matches. */
static int
change_filtered(struct change *ch, int count_only)
{
    struct dlq_pager p;
    struct dlq_entry e;
    int rc = 0;

    ch->batch = calloc(CHANGE_BATCH, sizeof(char *));
    if (!ch->batch)
        return cli_fail(ch->cmd, "out of memory");
    ch->n = 0;
    dlq_pager_init(&p, &ch->o->c, &ch->o->f, DLQ_DETAIL_IDS, SCAN_PAGE);
    while (!p.end) {
        if (dlq_pager_append(&p) < 0) {
            rc = cli_fail(ch->cmd, "out of memory");
            break;
        }
        if (change_drain(ch) < 0 || dlq_pager_read(&p, ch->cmd) < 0) {
            rc = EXIT_FAIL;
            break;
        }
        while (dlq_pager_next(&p, &e)) {
            ch->matched++;
            if (count_only || ch->o->dry_run)
                continue;
            ch->batch[ch->n] = strdup(e.id);
            if (!ch->batch[ch->n]) {
                rc = cli_fail(ch->cmd, "out of memory");
                break;
            }
            if (++ch->n == CHANGE_BATCH) {
                if (change_append(ch) < 0) {
                    rc = cli_fail(ch->cmd, "out of memory");
                    break;
                }
                batch_clear(ch);
            }
        }
        if (rc)
            break;
    }
    if (rc == 0 && ch->n > 0) {
        if (change_append(ch) < 0)
            rc = cli_fail(ch->cmd, "out of memory");
        batch_clear(ch);
    }
    if (rc == 0 && change_drain(ch) < 0)
        rc = EXIT_FAIL;
    /* after a failure: the ids of the calls left unread */
    for (int i = 0; i < ch->npending; i++) {
        ops_free_strs(ch->pending[i].ids, ch->pending[i].n);
        free(ch->pending[i].ids);
    }
    ch->npending = 0;
    batch_clear(ch);
    free(ch->batch);
    ch->batch = NULL;
    dlq_pager_free(&p);
    return rc;
}

static void
change_report(const struct change *ch)
{
    const char *verb = ch->purge ? "purged" : "requeued";

    if (ch->o->c.json) {
        cJSON *j = cJSON_CreateObject();
        int bad = 0;
        ops_jstr(j, "queue", ch->o->c.queue, &bad);
        ops_jstr(j, "action", ch->purge ? "purge" : "requeue", &bad);
        ops_jbool(j, "dry_run", ch->o->dry_run, &bad);
        ops_jnum(j, "matched", (double)ch->matched, &bad);
        ops_jnum(j, "changed", (double)ch->changed, &bad);
        ops_jnum(j, "skipped", (double)ch->skipped, &bad);
        if (ch->o->report && !bad)
            *ch->o->report = j;
        else if (ch->o->report)
            cJSON_Delete(j);
        else if (ops_print_doc(j, bad) < 0)
            cli_fail(ch->cmd, "out of memory");
    } else if (ch->o->dry_run) {
        printf("would have %s %ld dead job%s (queue %s; dry run)\n", verb,
               ch->matched, ch->matched == 1 ? "" : "s", ch->o->c.queue);
    } else {
        printf("%s %ld dead job%s (queue %s)", verb, ch->changed,
               ch->changed == 1 ? "" : "s", ch->o->c.queue);
        if (ch->skipped)
            printf("; %ld not dead (left alone)", ch->skipped);
        putchar('\n');
    }
}

/* Ask on the terminal; 1 = yes. */
static int
confirm(const struct change *ch, long n)
{
    char line[32];

    fprintf(stderr, "purge %ld dead job%s of queue %s for good? [y/N] ", n,
            n == 1 ? "" : "s", ch->o->c.queue);
    fflush(stderr);
    if (!fgets(line, sizeof(line), stdin))
        return 0;
    return line[0] == 'y' || line[0] == 'Y';
}

const char dlq_requeue_help[] =
    "usage: genq dlq requeue (ID... | - | --all | --class C | --status N |\n"
    "                         --since T | --grep TEXT) [--dry-run]\n"
    "                        [--keep-attempts] [--json]\n\n"
    "Send dead jobs back to the queue: atomic per job, only jobs that are\n"
    "still dead move; each goes to the back of the ready list of its\n"
    "priority with its id, job, idempotency key and history kept, and its\n"
    "attempts reset to 0 unless --keep-attempts. Filters combine (all must\n"
    "match) and are evaluated page by page over the dead set; matching ids\n"
    "go to Redis in pipelined batches of 1000. '-' reads ids from stdin.\n"
    "Prints how many moved; --json one object (schemas/dlq-change.schema.json"
    ").\n\n"
    "  --all            every dead job (narrowed by any filter given)\n"
    "  --dry-run        count what would move; change nothing\n"
    "  --keep-attempts  keep the attempt count (one more attempt when spent)\n"
    "Filters as in 'genq dlq ls' (--class, --status, --since, --grep).\n"
    "Exit 1 when a given id was not dead.\n\n" CLI_COMMON_HELP;

const char dlq_purge_help[] =
    "usage: genq dlq purge (ID... | - | --all | --older-than D | --class C |\n"
    "                       --status N | --since T | --grep TEXT) [--yes]\n"
    "                      [--dry-run] [--json]\n\n"
    "Delete dead jobs for good: the job, its error, history and dead-set\n"
    "entry, and its idempotency key (so the same job may be enqueued again).\n"
    "Only jobs that are still dead are purged. Filters are always honoured\n"
    "and combine (--all with a filter purges only what matches). On a\n"
    "terminal the count is shown and confirmed first unless --yes; without\n"
    "a terminal --all needs --yes (else exit 2). Dead letters are never\n"
    "dropped any other way.\n\n"
    "  --all            every dead job (narrowed by any filter given)\n"
    "  --older-than D   died more than D ago (90s, 15m, 2h, 7d)\n"
    "  -y, --yes        do not ask\n"
    "  --dry-run        count what would be purged; change nothing\n"
    "Filters as in 'genq dlq ls' (--class, --status, --since, --grep).\n"
    "Exit 1 when a given id was not dead.\n\n" CLI_COMMON_HELP;

int
dlq_change(struct dlqopt *o, int purge)
{
    struct change ch;
    int filtered = o->all || dlq_filter_any(&o->f) || o->older_arg;
    int interactive = isatty(STDIN_FILENO) && isatty(STDERR_FILENO);
    int rc;

    memset(&ch, 0, sizeof(ch));
    ch.o = o;
    ch.purge = purge;
    ch.cmd = purge ? "dlq purge" : "dlq requeue";
    if (o->argc > 0 && filtered)
        return cli_usage_error(ch.cmd, "give ids or filters, not both");
    if (o->argc == 0 && !filtered)
        return cli_usage_error(ch.cmd, "give ids, --all or a filter");
    if (purge && !o->yes && !o->dry_run && !interactive && o->all)
        return cli_usage_error(ch.cmd,
                               "refusing to purge with --all without --yes "
                               "(no terminal to confirm on)");
    if (dlq_connect(o) < 0)
        return EXIT_FAIL;
    if (purge && !o->yes && !o->dry_run && interactive) {
        long n = o->argc;
        if (filtered) {
            if (change_filtered(&ch, 1) != 0) {
                cli_close(&o->c);
                return EXIT_FAIL;
            }
            n = ch.matched;
            ch.matched = 0;
        }
        if (n == 0) {
            change_report(&ch);
            cli_close(&o->c);
            return EXIT_OK;
        }
        if (!confirm(&ch, n)) {
            fprintf(stderr, "nothing purged\n");
            cli_close(&o->c);
            return EXIT_FAIL;
        }
    }
    rc = filtered ? change_filtered(&ch, 0) : change_ids(&ch);
    if (rc == 0)
        change_report(&ch);
    cli_close(&o->c);
    if (rc != 0)
        return EXIT_FAIL;
    return !filtered && ch.skipped ? EXIT_FAIL : EXIT_OK;
}
