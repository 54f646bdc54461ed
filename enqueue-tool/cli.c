/* Shared plumbing of the `genq` subcommands (see cli.h). */
#include "fmacros.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clustersync.h"
#include "cmd_ops.h"
#include "rclient.h"

void
cli_init(struct cli *c)
{
    const char *v;

    memset(c, 0, sizeof(*c));
    v = getenv("GENQ_REDIS_URL");
    c->redis_url = v && *v ? v : "redis://127.0.0.1:6379/0";
    v = getenv("GENQ_QUEUE");
    c->queue = v && *v ? v : "default";
}

int
cli_common_opt(struct cli *c, int opt, const char *arg)
{
    switch (opt) {
    case CLI_OPT_REDIS:
        c->redis_url = arg;
        return 1;
    case CLI_OPT_QUEUE:
        c->queue = arg;
        c->queue_set = 1;
        return 1;
    case CLI_OPT_JSON:
        c->json = 1;
        return 1;
    default:
        return 0;
    }
}

/* Take option key of cmd (cli_parse()). */
static int
cli_take(const struct cli_cmd *cmd, int key, const char *arg)
{
    const struct cli_opt *o = cmd->opts;
    char *end;
    double d;

    while (o && o->name && o->key != key)
        o++;
    if (!o || !o->name || o->kind == CLI_CALL)
        return cmd->opt ? cmd->opt(cmd->ctx, key, arg) : CLI_UNKNOWN;
    if (!o->out)
        return CLI_UNKNOWN;
    switch (o->kind) {
    case CLI_FLAG:
        *(int *)o->out = 1;
        return CLI_NEXT;
    case CLI_STR:
        *(const char **)o->out = arg;
        return CLI_NEXT;
    case CLI_LONG:
        if (ops_parse_long(arg, o->lo, o->hi, o->out) < 0)
            return cli_usage_error(cmd->name, "--%s: expected %s, got '%s'",
                                   o->name, o->what, arg);
        return CLI_NEXT;
    default: /* CLI_SECONDS */
        errno = 0;
        d = strtod(arg, &end);
        if (errno || end == arg || *end || d < (double)o->lo ||
            d > (double)o->hi)
            return cli_usage_error(cmd->name,
                                   "--%s: expected seconds in %ld..%ld, got "
                                   "'%s'",
                                   o->name, o->lo, o->hi, arg);
        *(double *)o->out = d;
        return CLI_NEXT;
    }
}

int
cli_sub(int argc, char **argv, const char *help, const char **sub)
{
    if (argc < 2) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    *sub = argv[1];
    if (!strcmp(*sub, "-h") || !strcmp(*sub, "--help") ||
        !strcmp(*sub, "help")) {
        fputs(help, stdout);
        return EXIT_OK;
    }
    return CLI_NEXT;
}

int
cli_sub_unknown(const char *cmd, const char *sub, const char *help)
{
    fprintf(stderr, "genq %s: unknown command '%s'\n\n", cmd, sub);
    fputs(help, stderr);
    return EXIT_USAGE;
}

int
cli_parse(struct cli *c, const struct cli_cmd *cmd, int argc, char **argv,
          int *first)
{
    static const struct option common[] = {CLI_COMMON_OPTS};
    struct option opts[CLI_MAX_OPTS + 5];
    size_t n = 0;
    int opt, rc;

    for (; cmd->opts && cmd->opts[n].name && n < CLI_MAX_OPTS; n++) {
        opts[n].name = cmd->opts[n].name;
        opts[n].has_arg =
            cmd->opts[n].kind == CLI_FLAG ? no_argument : required_argument;
        opts[n].flag = NULL;
        opts[n].val = cmd->opts[n].key;
    }
    memcpy(opts + n, common, sizeof(common));
    memset(&opts[n + sizeof(common) / sizeof(common[0])], 0, sizeof(opts[0]));
    cli_init(c);
    optind = 1;
    while ((opt = getopt_long(argc, argv, cmd->shortopts ? cmd->shortopts : "h",
                              opts, NULL)) != -1) {
        if (cli_common_opt(c, opt, optarg))
            continue;
        if (opt == 'h') {
            fputs(cmd->help, stdout);
            return EXIT_OK;
        }
        rc = cli_take(cmd, opt, optarg);
        if (rc == CLI_UNKNOWN)
            return cli_usage_error(cmd->name, "unknown option");
        if (rc != CLI_NEXT)
            return rc;
    }
    if (!cmd->operands && optind < argc)
        return cli_usage_error(cmd->name, "unexpected argument '%s'",
                               argv[optind]);
    *first = optind;
    return CLI_NEXT;
}

/* sentinel://: "host:port" of the master the lookup found (the node of
 * every queue), "" otherwise. */
static _Thread_local char snt_master[300]; /* each dashboard thread its own */

int
cli_connect_err(struct cli *c, char *err, size_t errlen)
{
    struct redis_url u;

    if (qkeys_init(&c->keys, c->queue) < 0) {
        snprintf(err, errlen,
                 "invalid queue name '%s' (1..64 of A-Z a-z 0-9 . _ -)",
                 c->queue);
        return -1;
    }
    if (redisurl_parse(c->redis_url, &u, err, errlen) < 0)
        return -1;
    if (u.cluster[0]) /* Redis Cluster: the node serving the queue */
        c->rc = csync_connect_key(&u, c->keys.key[QK_READY], 5.0, err, errlen);
    else
        c->rc = rclient_connect(&u, 5.0, err, errlen);
    if (c->rc && u.snt.n && c->rc->tcp.host)
        snprintf(snt_master, sizeof(snt_master), "%s:%d", c->rc->tcp.host,
                 c->rc->tcp.port);
    memset(u.pass, 0, sizeof(u.pass));
    return c->rc ? 0 : -1;
}

int
cli_connect(struct cli *c)
{
    char err[512];

    if (cli_connect_err(c, err, sizeof(err)) < 0) {
        fprintf(stderr, "genq: %s\n", err);
        return -1;
    }
    return 0;
}

void
cli_close(struct cli *c)
{
    redisFree(c->rc); /* accepts NULL */
    c->rc = NULL;
    csync_close();
}

int
cli_node(const char *queue, char *out, size_t n)
{
    struct qkeys k;

    if (n)
        out[0] = '\0';
    if (snt_master[0]) { /* sentinel://: the master serves every queue */
        snprintf(out, n, "%s", snt_master);
        return 1;
    }
    if (!csync_active() || qkeys_init(&k, queue) < 0)
        return 0;
    csync_node_of_key(k.key[QK_READY], out, n);
    return 1;
}

int
cli_cluster(void)
{
    return csync_active() || snt_master[0];
}

void
cli_tsv_header(const char *h)
{
    size_t n = strlen(h);

    printf("%.*s%s\n", (int)(n && h[n - 1] == '\n' ? n - 1 : n), h,
           cli_cluster() ? "\tnode" : "");
}

redisContext *
cli_rc(struct cli *c, const char *key)
{
    char err[512];
    redisContext *r =
        csync_active() ? csync_ctx_key(key, err, sizeof(err)) : NULL;

    return r ? r : c->rc;
}

int
cli_report(const char *cmd, int code, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "genq %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (code == EXIT_USAGE)
        fprintf(stderr, "\n(see 'genq %s --help')\n", cmd);
    else
        fputc('\n', stderr);
    return code;
}

int
cli_redis_fail(const struct cli *c, const char *cmd, redisReply *r,
               const char *other)
{
    const char *why;
    int rc;

    if (r && r->type == REDIS_REPLY_ERROR)
        why = r->str;
    else if (r)
        why = other ? other : "unexpected reply";
    else if (c->rc && c->rc->errstr[0])
        why = c->rc->errstr;
    else /* the call went to another node's connection (cli_rc(), a
            cluster), whose reason is not at hand */
        why = "no reply (connection lost)";
    rc = cli_fail(cmd, "redis: %s", why);
    freeReplyObject(r); /* accepts NULL */
    return rc;
}

int
cli_print_json(cJSON *j)
{
    char *s;

    if (!j)
        return -1;
    s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!s)
        return -1;
    fputs(s, stdout);
    fputc('\n', stdout);
    cJSON_free(s);
    return 0;
}
