/* genq-worker --config and --print-config: precedence (flags > environment
 * > file > defaults), unknown keys and sections, bad values with file and
 * line, masked secrets, file-permission rules, and a worker run from a file. */
#include "fmacros.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

TestSuite(config, .timeout = 60);

#define KEY "sk-ant-test-0123456789abcdefWXYZ"

static int file_counter;

/* Write text to a fresh file in GENQ_TEST_TMP with exactly mode; returns
 * its path (static buffer per slot 0..1). */
static const char *
ini(int slot, mode_t mode, const char *text)
{
    static char path[2][512];
    const char *tmp = getenv("GENQ_TEST_TMP");
    FILE *f;

    snprintf(path[slot], sizeof(path[slot]), "%s/config-%d-%d.ini",
             tmp ? tmp : "/tmp", (int)getpid(), file_counter++);
    f = fopen(path[slot], "w");
    cr_assert(f, "cannot write %s", path[slot]);
    cr_assert(fputs(text, f) >= 0);
    cr_assert(fclose(f) == 0);
    cr_assert(chmod(path[slot], mode) == 0);
    return path[slot];
}

/* Run genq-worker with args (NULL-terminated) and extra environment env
 * (NULL-terminated "K=V", may be NULL), after blanking every variable the
 * tests look at, so the caller's environment cannot leak in. */
static int
worker(const char *const env[], char **out, char **err, ...)
{
    static const char *const blank[] = {"GENQ_CONFIG=",
                                        "GENQ_CONCURRENCY=",
                                        "GENQ_QUEUE=",
                                        "GENQ_API_KEY=",
                                        "ANTHROPIC_API_KEY=",
                                        "OPENAI_API_KEY=",
                                        "GENQ_API_KEY_FILE=",
                                        "GENQ_REDIS_URL=",
                                        "GENQ_REDIS_PASSWORD=",
                                        "GENQ_PROVIDER=",
                                        "GENQ_MODEL=",
                                        "GENQ_STREAM=",
                                        "GENQ_CLAIM_BATCH=",
                                        "GENQ_LOG_LEVEL=",
                                        "GENQ_AUTH=",
                                        "GENQ_MAX_TOKENS=",
                                        "GENQ_API_BASE=",
                                        "GENQ_RETRY_BASE=",
                                        "GENQ_DRAIN_TIMEOUT=",
                                        "GENQ_PROCESSES=",
                                        "GENQ_JWT_KEY_FILE=",
                                        "GENQ_LOG_FORMAT=",
                                        NULL};
    const char *argv[64], *envv[64];
    int n = 0, e = 0;
    va_list ap;

    for (int i = 0; blank[i]; i++)
        envv[e++] = blank[i];
    for (int i = 0; env && env[i] && e < 63; i++)
        envv[e++] = env[i];
    envv[e] = NULL;
    argv[n++] = th_bin("genq-worker");
    va_start(ap, err);
    for (const char *a; n < 63 && (a = va_arg(ap, const char *)) != NULL;)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    return th_run(argv, envv, NULL, 0, out, err);
}

/* Whether --print-config output has the row "key = value ; where...",
 * where being a prefix of the source column. */
static int
has_row(const char *out, const char *key, const char *value, const char *where)
{
    size_t kl = strlen(key);

    for (const char *l = out; l && *l;) {
        const char *nl = strchr(l, '\n');
        size_t len = nl ? (size_t)(nl - l) : strlen(l);
        char line[2048];

        if (len < sizeof(line)) {
            memcpy(line, l, len);
            line[len] = '\0';
            if (!strncmp(line, key, kl) && line[kl] == ' ') {
                const char *p = line + kl, *semi;
                while (*p == ' ')
                    p++;
                if (!strncmp(p, "= ", 2)) {
                    p += 2;
                    semi = strstr(p, " ; ");
                    if (semi && (size_t)(semi - p) == strlen(value) &&
                        !strncmp(p, value, strlen(value)) &&
                        !strncmp(semi + 3, where, strlen(where)))
                        return 1;
                }
            }
        }
        l = nl ? nl + 1 : NULL;
    }
    return 0;
}

static void
assert_row(const char *out, const char *key, const char *value,
           const char *where)
{
    cr_assert(has_row(out, key, value, where),
              "no row '%s = %s ; %s...' in:\n%s", key, value, where, out);
}

Test(config, defaults_without_a_file)
{
    char *out, *err;
    int rc = worker(NULL, &out, &err, "--print-config", NULL);

    cr_assert_eq(rc, 0, "%s", err);
    cr_assert(strstr(out, "; config file: none\n"), "%s", out);
    cr_assert(strstr(out, "\n[worker]\n"), "%s", out);
    assert_row(out, "concurrency", "64", "default");
    assert_row(out, "queue", "default", "default");
    assert_row(out, "redis", "redis://127.0.0.1:6379/0", "default");
    assert_row(out, "api-base", "https://api.anthropic.com",
               "default for provider anthropic");
    assert_row(out, "stream", "true", "default");
    assert_row(out, "result-ttl", "604800", "default");
    cr_assert(strstr(out, "; api-key (not set)\n"), "%s", out);
    free(out);
    free(err);
}

Test(config, precedence_flag_env_file_default)
{
    const char *path = ini(0, 0600,
                           "; a comment\n"
                           "# another\n"
                           "[worker]\n"
                           "concurrency = 8\n"
                           "max-tokens = 900   ; inline comment\n"
                           "queue = fa, fb\n"
                           "queue = fc\n"
                           "stream = false\n"
                           "provider = openai\n"
                           "jwt-claim = tenant=file\n"
                           "retry-base = 0.25\n");
    const char *env[] = {"GENQ_CONCURRENCY=9", "GENQ_QUEUE=ea,eb",
                         "GENQ_RETRY_BASE=0.75", NULL};
    char where[600], *out, *err;
    int rc;

    /* file over defaults */
    rc = worker(NULL, &out, &err, "--config", path, "--print-config", NULL);
    cr_assert_eq(rc, 0, "%s", err);
    snprintf(where, sizeof(where), "file %s:4", path);
    assert_row(out, "concurrency", "8", where);
    snprintf(where, sizeof(where), "file %s:5", path);
    assert_row(out, "max-tokens", "900", where);
    assert_row(out, "queue", "fa,fb,fc", "file");
    assert_row(out, "stream", "false", "file");
    assert_row(out, "jwt-claim", "tenant=file", "file");
    /* derived from the file's provider */
    assert_row(out, "model", "gpt-4o-mini", "default for provider openai");
    assert_row(out, "auth", "bearer", "default for provider openai");
    assert_row(out, "max-attempts", "5", "default");
    free(out);
    free(err);

    /* environment over file */
    rc = worker(env, &out, &err, "--config", path, "--print-config", NULL);
    cr_assert_eq(rc, 0, "%s", err);
    assert_row(out, "concurrency", "9", "env GENQ_CONCURRENCY");
    assert_row(out, "queue", "ea,eb", "env GENQ_QUEUE");
    assert_row(out, "retry-base", "0.75", "env GENQ_RETRY_BASE");
    assert_row(out, "max-tokens", "900", "file");
    free(out);
    free(err);

    /* flags over environment */
    rc = worker(env, &out, &err, "--config", path, "--concurrency", "10",
                "--queue", "qa", "--queue", "qb", "--stream", "--jwt-claim",
                "tenant=flag", "--print-config", NULL);
    cr_assert_eq(rc, 0, "%s", err);
    assert_row(out, "concurrency", "10", "flag --concurrency");
    assert_row(out, "queue", "qa,qb", "flag --queue");
    assert_row(out, "stream", "true", "flag --stream");
    assert_row(out, "jwt-claim", "tenant=flag", "flag --jwt-claim");
    cr_assert(!strstr(out, "tenant=file"), "flags replace the file's claims");
    assert_row(out, "retry-base", "0.75", "env GENQ_RETRY_BASE");
    assert_row(out, "claim-batch", "10", "default, lowered to concurrency");
    free(out);
    free(err);

    /* --no-stream is a flag too; GENQ_CONFIG names the file */
    {
        char cfgenv[600];
        const char *env2[] = {cfgenv, NULL};
        snprintf(cfgenv, sizeof(cfgenv), "GENQ_CONFIG=%s", path);
        rc = worker(env2, &out, &err, "--no-stream", "--print-config", NULL);
        cr_assert_eq(rc, 0, "%s", err);
        assert_row(out, "stream", "false", "flag --no-stream");
        assert_row(out, "concurrency", "8", "file");
        cr_assert(strstr(out, "(env GENQ_CONFIG)"), "%s", out);
        free(out);
        free(err);
    }
}

/* A run refused with exit 2 and need in its stderr; frees out and err. */
static void
expect_refused(int rc, char *out, char *err, const char *need)
{
    cr_assert_eq(rc, 2, "%s", err);
    cr_assert(strstr(err, need), "want '%s' in: %s", need, err);
    free(out);
    free(err);
}

/* Run with a one-off file; returns the exit status, stderr in *err. */
static int
bad_file(mode_t mode, const char *text, const char **path, char **err)
{
    char *out;
    int rc;

    *path = ini(0, mode, text);
    rc = worker(NULL, &out, err, "--config", *path, "--print-config", NULL);
    free(out);
    return rc;
}

static void
expect_error(const char *text, int line, const char *msg)
{
    const char *path;
    char want[1024], *err;
    int rc = bad_file(0600, text, &path, &err);

    if (line > 0)
        snprintf(want, sizeof(want), "%s:%d: %s", path, line, msg);
    else
        snprintf(want, sizeof(want), "%s: %s", path, msg);
    cr_assert_eq(rc, 2, "exit %d for:\n%s", rc, text);
    cr_assert(strstr(err, want), "want '%s', got: %s", want, err);
    free(err);
}

Test(config, unknown_keys_and_sections)
{
    expect_error("[worker]\nconcurrency = 4\nbogus = 1\n", 3,
                 "unknown key 'bogus'");
    expect_error("[worker]\nmax_tokens = 4\n", 2,
                 "unknown key 'max_tokens' (did you mean 'max-tokens'?)");
    expect_error("[worker]\nconfig = /etc/x.ini\n", 2, "unknown key 'config'");
    expect_error("[worker]\nno-stream = 1\n", 2, "unknown key 'no-stream'");
    expect_error("[worker]\nconcurrency = 4\n\n[redis]\n", 4,
                 "unknown section '[redis]'");
    expect_error("[worker]\n[Worker]\nconcurrency = 4\n", 2,
                 "unknown section '[Worker]'");
    expect_error("concurrency = 4\n[worker]\n", 1,
                 "key 'concurrency' outside the [worker] section");
    expect_error("[worker]\nconcurrency 4\n", 2, "syntax error");
    expect_error("[worker]\nconcurrency = 4\n  continued\n", 3, "syntax error");
    expect_error("[worker]\nconcurrency = 4\nconcurrency = 5\n", 3,
                 "concurrency: set twice (first on line 2)");
}

Test(config, bad_values_name_key_and_value)
{
    expect_error("[worker]\nconcurrency = lots\n", 2,
                 "concurrency: expected an integer in 1..100000, got 'lots'");
    expect_error("[worker]\n\nconcurrency = 0\n", 3,
                 "concurrency: expected an integer in 1..100000, got '0'");
    expect_error("[worker]\nretry-base = fast\n", 2,
                 "retry-base: expected a number");
    expect_error("[worker]\nprovider = gemini\n", 2,
                 "provider: expected anthropic|openai|noop, got 'gemini'");
    expect_error("[worker]\nlog-level = trace\n", 2,
                 "log-level: expected debug|info|warn|error, got 'trace'");
    expect_error("[worker]\nstream = maybe\n", 2,
                 "stream: expected 1/0/true/false/yes/no, got 'maybe'");
    expect_error("[worker]\nqueue = good, b@d\n", 2,
                 "queue: invalid queue name 'b@d'");
    expect_error("[worker]\nredis = redis://h:99999/0\n", 2,
                 "redis: redis URL: the port must be a number in 1..65535");
    expect_error("[worker]\nmodel =\n", 2, "model: empty value");
    expect_error("[worker]\njwt-claim = novalue\n", 2,
                 "jwt-claim: expected NAME=VALUE, got 'novalue'");
    expect_error("[worker]\napi-key = x\napi-key-file = /k\n", 0,
                 "api-key (line 2) and api-key-file (line 3) are both set");
}

Test(config, bad_environment_and_flags_name_their_source)
{
    const char *env[] = {"GENQ_CONCURRENCY=many", NULL};
    char *out, *err;
    int rc = worker(env, &out, &err, "--print-config", NULL);

    expect_refused(rc, out, err,
                   "GENQ_CONCURRENCY: expected an integer in "
                   "1..100000, got 'many'");
    rc =
        worker(NULL, &out, &err, "--log-format", "xml", "--print-config", NULL);
    expect_refused(rc, out, err, "--log-format: expected json|text, got 'xml'");
}

/* --feed-maxlen: the option table's three sources, its bound, 0 = off. */
/* The default claim batch follows the concurrency: a tenth of it, at least
 * 100 (then at most the concurrency), at most 1,000; a value given wins. */
Test(config, claim_batch_follows_concurrency)
{
    const struct {
        const char *conc, *batch; /* batch NULL: default */
        const char *want, *where;
    } c[] = {
        {"64", NULL, "64", "default, lowered to concurrency"},
        {"500", NULL, "100", "default: concurrency/10 in 100..1000"},
        {"2500", NULL, "250", "default: concurrency/10 in 100..1000"},
        {"10000", NULL, "1000", "default: concurrency/10 in 100..1000"},
        {"10000", "40", "40", "flag --claim-batch"},
    };
    char *out, *err;

    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        int rc = c[i].batch ? worker(NULL, &out, &err, "--concurrency",
                                     c[i].conc, "--claim-batch", c[i].batch,
                                     "--print-config", NULL)
                            : worker(NULL, &out, &err, "--concurrency",
                                     c[i].conc, "--print-config", NULL);
        cr_assert_eq(rc, 0, "%s", err);
        assert_row(out, "claim-batch", c[i].want, c[i].where);
        free(out);
        free(err);
    }
}

Test(config, feed_maxlen_flag_env_file)
{
    const char *path = ini(0, 0600, "[worker]\nfeed-maxlen = 7\n");
    const char *const env[] = {"GENQ_FEED_MAXLEN=0", NULL};
    const struct {
        const char *const *env;
        const char *arg, *val; /* arg NULL: none */
        const char *want, *where;
    } c[] = {
        {NULL, NULL, NULL, "100000", "default"},
        {NULL, "--config", path, "7", "file"},
        {env, "--config", path, "0", "env GENQ_FEED_MAXLEN"},
        {env, "--feed-maxlen", "250", "250", "flag --feed-maxlen"},
    };
    char *out, *err;

    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        int rc = c[i].arg
                     ? worker(c[i].env, &out, &err, c[i].arg, c[i].val,
                              "--print-config", NULL)
                     : worker(c[i].env, &out, &err, "--print-config", NULL);
        cr_assert_eq(rc, 0, "%s", err);
        assert_row(out, "feed-maxlen", c[i].want, c[i].where);
        free(out);
        free(err);
    }
    cr_assert_eq(
        worker(NULL, &out, &err, "--feed-maxlen", "-1", "--print-config", NULL),
        2);
    cr_assert(strstr(err, "--feed-maxlen: expected an integer in "
                          "0..1000000000, got '-1'"),
              "%s", err);
    free(out);
    free(err);
}

Test(config, unreadable_files)
{
    char *out, *err;
    int rc = worker(NULL, &out, &err, "--config", "/nonexistent/w.ini",
                    "--print-config", NULL);

    expect_refused(rc, out, err,
                   "/nonexistent/w.ini: No such file or directory");
    rc = worker(NULL, &out, &err, "--config", "/", "--print-config", NULL);
    expect_refused(rc, out, err, "/: not a regular file");
}

Test(config, secrets_are_masked)
{
    const char *path = ini(0, 0600,
                           "[worker]\n"
                           "api-key = " KEY "\n"
                           "redis = redis://app:hunter2-redis-pw@db:6380/3\n");
    const char *kf;
    char where[600], *out, *err;
    int rc = worker(NULL, &out, &err, "--config", path, "--print-config", NULL);

    cr_assert_eq(rc, 0, "%s", err);
    snprintf(where, sizeof(where), "file %s:2", path);
    assert_row(out, "api-key", "****WXYZ", where);
    assert_row(out, "redis", "redis://app:****@db:6380/3", "file");
    cr_assert(!strstr(out, KEY) && !strstr(err, KEY), "key leaked:\n%s", out);
    cr_assert(!strstr(out, "abcdWXYZ"), "more than 4 characters shown");
    cr_assert(!strstr(out, "hunter2"), "redis password leaked:\n%s", out);
    free(out);
    free(err);

    /* the environment's key wins over the file's, also masked */
    {
        const char *env[] = {"GENQ_API_KEY=env-key-0123456789-ABCD",
                             "GENQ_REDIS_URL=redis://:pw-only-secret@h:1/0",
                             NULL};
        rc = worker(env, &out, &err, "--config", path, "--print-config", NULL);
        cr_assert_eq(rc, 0, "%s", err);
        assert_row(out, "api-key", "****ABCD", "env GENQ_API_KEY");
        assert_row(out, "redis", "redis://:****@h:1/0", "env GENQ_REDIS_URL");
        cr_assert(!strstr(out, "env-key-0123") && !strstr(out, "pw-only"), "%s",
                  out);
        free(out);
        free(err);
    }

    /* a short key shows nothing of itself; GENQ_REDIS_PASSWORD is noted */
    {
        const char *env[] = {"GENQ_API_KEY=abc", "GENQ_REDIS_PASSWORD=rpw-xyz",
                             NULL};
        rc = worker(env, &out, &err, "--print-config", NULL);
        cr_assert_eq(rc, 0, "%s", err);
        assert_row(out, "api-key", "****", "env GENQ_API_KEY");
        cr_assert(strstr(out, "; redis password: **** (env "
                              "GENQ_REDIS_PASSWORD)"),
                  "%s", out);
        cr_assert(!strstr(out, "rpw-xyz") && !strstr(out, "abc\n"), "%s", out);
        free(out);
        free(err);
    }

    /* a webhook URL keeps scheme and host only */
    {
        const char *env[] = {"GENQ_ALERT_WEBHOOK=https://hooks.example.com/"
                             "services/T0/XYZSECRET",
                             NULL};
        rc = worker(env, &out, &err, "--print-config", NULL);
        cr_assert_eq(rc, 0, "%s", err);
        assert_row(out, "alert-webhook", "https://hooks.example.com/****",
                   "env GENQ_ALERT_WEBHOOK");
        cr_assert(!strstr(out, "XYZSECRET"), "%s", out);
        free(out);
        free(err);
    }

    /* a key read from api-key-file (named by the config file) */
    kf = ini(1, 0600, "file-key-0123456789-LMNO\n");
    {
        char text[700];
        snprintf(text, sizeof(text), "[worker]\napi-key-file = %s\n", kf);
        path = ini(0, 0644, text);
    }
    rc = worker(NULL, &out, &err, "--config", path, "--print-config", NULL);
    cr_assert_eq(rc, 0, "%s", err);
    assert_row(out, "api-key", "****LMNO", "api-key-file");
    cr_assert(!strstr(out, "file-key-0123"), "%s", out);
    free(out);
    free(err);
}

Test(config, secrets_need_a_private_file)
{
    static const mode_t bad[] = {0644, 0640, 0604, 0660, 0606};
    const char *path;
    char want[700], *err;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = bad_file(bad[i], "[worker]\napi-key = " KEY "\n", &path, &err);
        snprintf(want, sizeof(want),
                 "%s:2: 'api-key' holds a secret, but the file is readable "
                 "by group or others (mode %04o)",
                 path, (unsigned)bad[i]);
        cr_assert_eq(rc, 2, "mode %04o accepted", (unsigned)bad[i]);
        cr_assert(strstr(err, want), "want '%s', got: %s", want, err);
        cr_assert(!strstr(err, KEY), "the key is in the error");
        free(err);
    }
    cr_assert_eq(bad_file(0644, "[worker]\nredis = redis://u:rpass@h:6379/0\n",
                          &path, &err),
                 2);
    cr_assert(strstr(err, "'redis' holds a secret"), "%s", err);
    cr_assert(!strstr(err, "rpass"), "%s", err);
    free(err);
    cr_assert_eq(bad_file(0640,
                          "[worker]\nalert-webhook = https://h/x/SECRETPATH\n",
                          &path, &err),
                 2);
    cr_assert(strstr(err, "'alert-webhook' holds a secret"), "%s", err);
    cr_assert(!strstr(err, "SECRETPATH"), "%s", err);
    free(err);
    /* private files, and public ones without secrets, are fine */
    cr_assert_eq(bad_file(0600, "[worker]\napi-key = " KEY "\n", &path, &err),
                 0, "%s", err);
    free(err);
    cr_assert_eq(bad_file(0400, "[worker]\napi-key = " KEY "\n", &path, &err),
                 0, "%s", err);
    free(err);
    cr_assert_eq(bad_file(0644,
                          "[worker]\nconcurrency = 3\n"
                          "redis = redis://h:6379/0\n",
                          &path, &err),
                 0, "%s", err);
    free(err);
}

/* A worker configured only by a file: the mock insists on the file's key. */
Test(config, worker_runs_from_a_config_file, .timeout = 90)
{
    struct th t;
    char mock[128], text[1024], *ids[3], id[32], payload[128];
    const char *path;
    pid_t mp, w;

    th_init(&t, "config_run");
    cr_assert(setenv("GENQ_MOCK_API_KEY", KEY, 1) == 0);
    mp = th_mock_start(mock, NULL);
    cr_assert(unsetenv("GENQ_MOCK_API_KEY") == 0);
    snprintf(text, sizeof(text),
             "[worker]\nredis = %s\nqueue = %s\napi-base = %s\n"
             "concurrency = 2\ndrain-timeout = 5\napi-key = " KEY "\n",
             getenv("GENQ_TEST_REDIS_URL"), t.queue, mock);
    path = ini(0, 0600, text);
    for (int i = 0; i < 3; i++) {
        snprintf(id, sizeof(id), "cfg-%d", i);
        snprintf(payload, sizeof(payload),
                 "{\"id\":\"%s\",\"prompt\":\"config %d\","
                 "\"max_tokens\":50}",
                 id, i);
        ids[i] = strdup(th_enqueue(&t, id, 1, 0, 0, NULL, payload));
    }
    w = fork();
    cr_assert(w >= 0);
    if (w == 0) {
        const char *argv[] = {th_bin("genq-worker"), "--config", path, NULL};
        unsetenv("GENQ_API_KEY");
        unsetenv("ANTHROPIC_API_KEY");
        unsetenv("GENQ_CONFIG");
        th_exec(argv);
    }
    cr_assert_eq(th_wait_terminal(&t, ids, 3, 30), 3);
    cr_assert_eq(th_count_state(&t, (const char *const *)ids, 3, "succeeded"),
                 3, "jobs did not succeed: the file's api-key was not used");
    kill(w, SIGTERM);
    cr_assert_eq(th_wait(w, 20), 0, "worker did not drain and exit 0");
    th_stop(mp);
    for (int i = 0; i < 3; i++)
        free(ids[i]);
    th_fini(&t);
}
