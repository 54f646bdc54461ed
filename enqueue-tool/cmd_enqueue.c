/* genq enqueue: validate JSONL jobs (or one job from flags) and add them to
 * a queue in pipelined batches. Pass 1 validates every line and spools the
 * jobs (memory, then a temporary file past GENQ_SPOOL_MEM_MAX); pass 2 sends
 * them, so memory stays bounded for any input size and nothing is enqueued
 * when a line is bad. This file holds the options and the flow; the steps
 * are in enqueue_validate.c (pass 1), enqueue_spool.c (the spool),
 * enqueue_stage.c (staging bulk jobs during pass 1), enqueue_send.c (pass 2)
 * and enqueue_bulk.c (the MULTI bulk path). */
#include "fmacros.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "enqueue.h"
#include "pack.h"
#include "template.h"

static const char help[] =
    "usage: genq enqueue [--file FILE | FILE | -] [options]\n"
    "       genq enqueue --prompt TEXT [job flags] [options]\n\n"
    "Add generation jobs to a queue. Input is JSONL: one job object per line\n"
    "(schemas/job.schema.json). Every line is validated first; rejected\n"
    "lines are reported with their line number, field and reason, and then\n"
    "nothing is enqueued (exit 1) unless --skip-invalid is given. From a\n"
    "regular file, jobs without id, idempotency key or delay are stored\n"
    "while the file is validated, invisible, and made ready at the end\n"
    "(or deleted if a line was bad).\n\n"
    "Input:\n"
    "  -f, --file FILE        read JSONL from FILE ('-' = stdin)\n"
    "  --dry-run              validate only; enqueue nothing\n"
    "  --skip-invalid         enqueue the valid lines even if some are bad\n"
    "  --from-dlq             lines are dead-letter documents (genq dlq\n"
    "                         export): enqueue the job of each\n"
    "  --batch N              jobs per Redis call (default 200, max 1000)\n"
    "  --no-compress          store every job as plain JSON (by default a\n"
    "                         job of 128 bytes or more without an\n"
    "                         idempotency key is stored compressed when\n"
    "                         that is smaller: ~2 us of CPU per job)\n"
    "  --idempotency-ttl S    how long idempotency keys hold (default 86400)\n"
    "  --templates DIR        template directory (default ./templates)\n"
    "  --template-split NAME@V1=W1,NAME@V2=W2\n"
    "                         render template NAME (no version) with one of\n"
    "                         the versions, by weight (hash of the line)\n"
    "One job from flags (instead of a file):\n"
    "  --prompt TEXT | --template NAME --var K=V...\n"
    "  --system TEXT --model M --max-tokens N --priority high|normal|low\n"
    "  --delay S | --run-at RFC3339  --max-attempts N --timeout S\n"
    "  --idempotency-key K --id ID --metadata JSON\n"
    "Output: a summary (progress bar on a terminal); with --json one object\n"
    "per input line: {\"line\",\"id\",\"status\",\"error\"} where status is\n"
    "enqueued, duplicate, rejected or valid (validated, not sent).\n"
    "Exit: 0 all enqueued (duplicates included), 1 a line was rejected or\n"
    "Redis failed, 2 usage error.\n"
    "Environment: GENQ_SPOOL_MEM_MAX bytes of validated jobs held in memory\n"
    "between the passes (default 256 MiB), then a temporary "
    "file.\n\n" CLI_COMMON_HELP;

enum {
    OPT_DRY = 1,
    OPT_SKIP,
    OPT_BATCH,
    OPT_TTL,
    OPT_TEMPLATES,
    OPT_PROMPT,
    OPT_TEMPLATE,
    OPT_VAR,
    OPT_SYSTEM,
    OPT_MODEL,
    OPT_MAXTOK,
    OPT_PRIO,
    OPT_DELAY,
    OPT_RUNAT,
    OPT_MAXATT,
    OPT_TIMEOUT,
    OPT_IDEM,
    OPT_ID,
    OPT_META,
    OPT_FROM_DLQ,
    OPT_NO_COMPRESS,
    OPT_TSPLIT
};

/* Build one job object from flags. Returns the JSON text (caller frees) or
 * NULL after printing the problem. */
static char *
job_from_flags(cJSON *j)
{
    char *s = cJSON_PrintUnformatted(j);
    char *out = s ? strdup(s) : NULL;

    cJSON_free(s);
    return out;
}

/* The options and arguments of genq enqueue, past those in struct enq. */
struct enq_args {
    struct enq *e;                 /* the run the options are for */
    const char *file;              /* input, or NULL: one job from flags */
    cJSON *flagjob;                /* the job the flags describe (owned) */
    cJSON *vars;                   /* its "vars" object, or NULL (borrowed) */
    int nflags;                    /* job flags given */
    const char *split;             /* --template-split, or NULL */
    struct template_split *tsplit; /* it, parsed (owned) */
};

/* The options of enqueue that need more than a value stored (cli_parse()
 * takes the others). */
static int
enqueue_opt(void *ctx, int opt, const char *arg)
{
    struct enq_args *a = ctx;
    char *end;
    long v;
    double d;
    int added;

    switch (opt) {
    case OPT_BATCH:
    case OPT_TTL:
        errno = 0;
        v = strtol(arg, &end, 10);
        if (errno || *end || end == arg || v < 1 ||
            (opt == OPT_BATCH && v > BATCH_MAX) || v > 100000000)
            return cli_usage_error(
                "enqueue", "--%s: expected a number in 1..%d, got '%s'",
                opt == OPT_BATCH ? "batch" : "idempotency-ttl",
                opt == OPT_BATCH ? BATCH_MAX : 100000000, arg);
        if (opt == OPT_BATCH)
            a->e->batch = (int)v;
        else
            a->e->idem_ttl = (int)v;
        return CLI_NEXT;
    case OPT_VAR: {
        const char *eq = strchr(arg, '=');
        char name[128];
        if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(name))
            return cli_usage_error("enqueue",
                                   "--var: expected NAME=VALUE, got '%s'", arg);
        memcpy(name, arg, (size_t)(eq - arg));
        name[eq - arg] = '\0';
        if (!a->vars)
            a->vars = cJSON_AddObjectToObject(a->flagjob, "vars");
        added = a->vars && cJSON_AddStringToObject(a->vars, name, eq + 1);
        break;
    }
    case OPT_PROMPT:
    case OPT_TEMPLATE:
    case OPT_SYSTEM:
    case OPT_MODEL:
    case OPT_PRIO:
    case OPT_RUNAT:
    case OPT_IDEM:
    case OPT_ID: {
        static const char *const names[] = {
            [OPT_PROMPT] = "prompt",        [OPT_TEMPLATE] = "template",
            [OPT_SYSTEM] = "system",        [OPT_MODEL] = "model",
            [OPT_PRIO] = "priority",        [OPT_RUNAT] = "run_at",
            [OPT_IDEM] = "idempotency_key", [OPT_ID] = "id"};
        added = cJSON_AddStringToObject(a->flagjob, names[opt], arg) != NULL;
        break;
    }
    case OPT_MAXTOK:
    case OPT_DELAY:
    case OPT_MAXATT:
    case OPT_TIMEOUT: {
        static const char *const names[] = {[OPT_MAXTOK] = "max_tokens",
                                            [OPT_DELAY] = "delay_s",
                                            [OPT_MAXATT] = "max_attempts",
                                            [OPT_TIMEOUT] = "timeout_s"};
        static const char *const flags[] = {[OPT_MAXTOK] = "max-tokens",
                                            [OPT_DELAY] = "delay",
                                            [OPT_MAXATT] = "max-attempts",
                                            [OPT_TIMEOUT] = "timeout"};
        errno = 0;
        d = strtod(arg, &end);
        if (errno || end == arg || *end)
            return cli_usage_error("enqueue", "--%s: not a number: '%s'",
                                   flags[opt], arg);
        added = cJSON_AddNumberToObject(a->flagjob, names[opt], d) != NULL;
        break;
    }
    case OPT_META: {
        cJSON *m = cJSON_Parse(arg);
        if (!m || !cJSON_IsObject(m)) {
            cJSON_Delete(m);
            return cli_usage_error("enqueue",
                                   "--metadata: expected a JSON object");
        }
        cJSON_AddItemToObject(a->flagjob, "metadata", m);
        added = 1;
        break;
    }
    default:
        return CLI_UNKNOWN;
    }
    /* a field of the job from flags */
    if (!added)
        return cli_fail("enqueue", "out of memory");
    a->nflags++;
    return CLI_NEXT;
}

/* Parse argv into e and a. -1 to go on, else the exit code (help printed,
 * or a usage error). */
static int
enqueue_parse(struct enq *e, struct enq_args *a, int argc, char **argv)
{
    struct cli_opt opts[] = {
        CLI_OPT_STR("file", 'f', &a->file),
        CLI_OPT_FLAG("dry-run", OPT_DRY, &e->dry_run),
        CLI_OPT_FLAG("skip-invalid", OPT_SKIP, &e->skip_invalid),
        CLI_OPT_CALL("batch", OPT_BATCH),
        CLI_OPT_CALL("idempotency-ttl", OPT_TTL),
        CLI_OPT_STR("templates", OPT_TEMPLATES, &e->jopts.templates_dir),
        CLI_OPT_CALL("prompt", OPT_PROMPT),
        CLI_OPT_CALL("template", OPT_TEMPLATE),
        CLI_OPT_CALL("var", OPT_VAR),
        CLI_OPT_CALL("system", OPT_SYSTEM),
        CLI_OPT_CALL("model", OPT_MODEL),
        CLI_OPT_CALL("max-tokens", OPT_MAXTOK),
        CLI_OPT_CALL("priority", OPT_PRIO),
        CLI_OPT_CALL("delay", OPT_DELAY),
        CLI_OPT_CALL("run-at", OPT_RUNAT),
        CLI_OPT_CALL("max-attempts", OPT_MAXATT),
        CLI_OPT_CALL("timeout", OPT_TIMEOUT),
        CLI_OPT_CALL("idempotency-key", OPT_IDEM),
        CLI_OPT_CALL("id", OPT_ID),
        CLI_OPT_CALL("metadata", OPT_META),
        CLI_OPT_FLAG("from-dlq", OPT_FROM_DLQ, &e->from_dlq),
        CLI_OPT_FLAG("no-compress", OPT_NO_COMPRESS, &e->no_compress),
        CLI_OPT_STR("template-split", OPT_TSPLIT, &a->split),
        CLI_OPT_END};
    struct cli_cmd spec = {"enqueue", help, "f:h", opts, enqueue_opt, a, 1};
    int first, rc;

    a->e = e;
    if ((rc = cli_parse(&e->cli, &spec, argc, argv, &first)) != CLI_NEXT)
        return rc;
    if (first < argc) {
        if (a->file || first + 1 < argc)
            return cli_usage_error("enqueue", "unexpected argument '%s'",
                                   argv[first]);
        a->file = argv[first];
    }
    if (e->from_dlq && a->nflags)
        return cli_usage_error("enqueue",
                               "--from-dlq reads a file or stdin, not job "
                               "flags");
    if (a->file && a->nflags)
        return cli_usage_error("enqueue",
                               "give either an input file or job flags");
    if (!a->file && !a->nflags)
        return cli_usage_error("enqueue",
                               "no input: give --file FILE, '-' for stdin, or "
                               "--prompt TEXT");
    if (a->split) {
        char why[200];
        struct template_split *ts =
            template_split_parse(a->split, why, sizeof why);
        if (!ts)
            return cli_usage_error("enqueue", "--template-split: %s", why);
        a->tsplit = ts;
        e->jopts.split = ts;
    }
    return -1;
}

/* Pass 1: validate and spool every line (staging bulk jobs from a regular
 * file). -1 to go on, else the exit code (problems printed). */
static int
enqueue_pass1(struct enq *e, const struct enq_args *a)
{
    if (a->nflags) {
        char *s = job_from_flags(a->flagjob);
        if (!s || validate_line(e, s, strlen(s), 1) < 0) {
            free(s);
            return cli_fail("enqueue", "out of memory");
        }
        free(s);
    } else {
        /* A dead-letter line carries the job plus its error and history. */
        size_t line_max = e->from_dlq ? DLQ_LINE_MAX : JOB_MAX_BYTES;

        struct stat sb;

        if (!e->dry_run && !e->from_dlq && strcmp(a->file, "-") &&
            stat(a->file, &sb) == 0 && S_ISREG(sb.st_mode)) {
            char err[512];
            /* unreachable: pass 1 still reports every line, and the
             * connection after it says what is wrong */
            if (cli_connect_err(&e->cli, err, sizeof(err)) < 0 ||
                stage_begin(e) < 0)
                cli_close(&e->cli);
        }
        if (validate_file(e, a->file, line_max) < 0 ||
            (e->st.run[0] && stage_sync(e) < 0)) {
            if (e->st.broken)
                fprintf(stderr, "genq enqueue: nothing enqueued\n");
            return EXIT_FAIL;
        }
    }
    if (e->total == 0)
        return cli_fail("enqueue", "no jobs in the input (empty file?)");
    if (spool_rewind(e->spool) < 0 ||
        (e->spool2 && spool_rewind(e->spool2) < 0))
        return cli_fail("enqueue", "reading the spool file failed");
    return -1;
}

/* Make the jobs staged in pass 1 ready (stage.lua commit). -1 to go on,
 * else the exit code (problem printed). *committed says whether the staged
 * jobs must be left alone (else the caller drops them). */
static int
enqueue_commit(struct enq *e, int *committed)
{
    char err[512];
    long done = 0;

    *committed = 1;
    if (stage_end(e, "commit", &done, err, sizeof(err)) < 0) {
        if (e->cli.rc->err) /* the call may have run: nobody knows */
            fprintf(stderr,
                    "genq enqueue: making the staged jobs ready: %s; "
                    "%ld of the first %ld jobs are known to be enqueued, "
                    "the others may or may not be (genq stats shows "
                    "the count): do not send them again blindly\n",
                    err, done, e->st.staged);
        else
            fprintf(stderr,
                    "genq enqueue: making the staged jobs ready failed: "
                    "%s; %ld of the first %ld jobs are enqueued, nothing "
                    "after them\n",
                    err, done, e->st.staged);
        /* nothing made ready and the connection fine: drop them */
        *committed = done > 0 || e->cli.rc->err;
        return EXIT_FAIL;
    }
    if (!e->cli.json) /* else counted as their lines are printed */
        e->enqueued += done;
    e->done_line = e->st.last_line; /* for partial_failure() */
    return -1;
}

int
cmd_enqueue(int argc, char **argv)
{
    struct enq e;
    struct enq_args a = {0};
    struct spool spool;
    int rc, committed = 0;

    memset(&e, 0, sizeof(e));
    cli_init(&e.cli);
    e.batch = BATCH_DEFAULT;
    e.idem_ttl = IDEM_TTL_DEFAULT;
    a.flagjob = cJSON_CreateObject();
    if (!a.flagjob)
        return cli_fail("enqueue", "out of memory");
    rc = enqueue_parse(&e, &a, argc, argv);
    if (rc >= 0) {
        cJSON_Delete(a.flagjob);
        return rc;
    }
    spool_init(&spool, spool_max());
    e.spool = &spool;
    /* NULL (--no-compress, or out of memory): payloads stored plain */
    e.pk = e.no_compress ? NULL : packer_new();
    e.progress = !e.cli.json && isatty(STDERR_FILENO);
    if ((rc = enqueue_pass1(&e, &a)) >= 0)
        goto out;
    if (e.dry_run || (e.rejected && !e.skip_invalid)) {
        rc = send_report_unsent(&e);
        goto out;
    }
    if (!e.cli.rc && cli_connect(&e.cli) < 0) {
        rc = EXIT_FAIL;
        goto out;
    }
    if (e.st.run[0] && (rc = enqueue_commit(&e, &committed)) >= 0)
        goto out;
    rc = send_all(&e);
    if (e.progress)
        fputc('\n', stderr);
    if (!e.cli.json && rc == EXIT_OK)
        fprintf(stderr,
                "enqueued %ld, duplicates %ld, rejected %ld (queue %s)\n",
                e.enqueued, e.duplicates, e.rejected, e.cli.queue);
    if (rc == EXIT_OK && e.rejected)
        rc = EXIT_FAIL;
out:
    if (e.st.run[0] && !committed)
        stage_drop(&e);
    cJSON_Delete(a.flagjob);
    template_split_free(a.tsplit);
    buf_free(&e.st.ids);
    buf_free(&e.st.out);
    spool_close(e.spool);
    spool_close(e.spool2);
    free(e.spool2);
    packer_free(e.pk);
    buf_free(&e.out);
    cli_close(&e.cli);
    return rc;
}
