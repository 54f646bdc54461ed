/* Integration-test harness: a real Redis (started by tests/run.sh), one
 * fresh queue per test, script calls, running the genq binaries as child
 * processes, and reading the mock's expected text. */
#ifndef GENQ_TEST_HARNESS_H
#define GENQ_TEST_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>

#include "keys.h"
#include "scripts.h"

struct th {
    redisContext *c;
    struct qkeys k;
    char queue[64];
};

/* Connect to GENQ_TEST_REDIS_URL and pick a queue unique to this test
 * (name + pid + counter). Aborts the test on failure. */
void th_init(struct th *t, const char *name);
/* Connect to the Redis at url (AUTH, scripts) for queue. Aborts the test
 * on failure. */
void th_connect(struct th *t, const char *url, const char *queue);
void th_fini(struct th *t);

/* The suite of a test file whose tests each get a fresh queue in the file's
 * `struct th t`: TH_SUITE(suite, .timeout = 60); (criterion.h first). */
#define TH_SUITE(suite, ...)                                                   \
    static struct th t;                                                        \
    static void th_suite_init_(void)                                           \
    {                                                                          \
        th_init(&t, criterion_current_test->name);                             \
    }                                                                          \
    static void th_suite_fini_(void)                                           \
    {                                                                          \
        th_fini(&t);                                                           \
    }                                                                          \
    TestSuite(suite, .init = th_suite_init_, .fini = th_suite_fini_,           \
              __VA_ARGS__)

/* Wait (once per process) until the test Redis has been up 1 s: the
 * scripts' reap grace counts whole seconds of uptime. th_init calls it. */
void th_uptime_wait(struct th *t);

/* Call a script with NULL-terminated string args (after the prefix).
 * Aborts the test on an error reply; caller frees the reply. */
redisReply *th_script(struct th *t, enum script_id id, ...);

/* Enqueue one job through the enqueue script: returns its id (static
 * buffer, valid until the next call). prio 0 high 1 normal 2 low. */
const char *th_enqueue(struct th *t, const char *id, int prio, long delay_ms,
                       int max_attempts, const char *idem, const char *payload);

/* The state of a job via the inspect script ("unknown" when absent); into
 * out (64 bytes). Also returns attempts via *attempts when not NULL. */
const char *th_state(struct th *t, const char *id, char *out, int *attempts);

/* Run argv (argv[0] is a path) with stdin from `in` (may be NULL) and
 * optional extra environment "K=V" strings (NULL-terminated, may be NULL).
 * Captures stdout/stderr into malloc'd strings (caller frees; may pass
 * NULL to discard). Returns the exit status (128+sig when killed). */
int th_run(const char *const argv[], const char *const env[], const char *in,
           size_t in_len, char **out, char **err);

/* In a forked child: execv argv (at most 63 strings, copied: execv wants
 * them writable); _exit(127) when that fails. Never returns. */
_Noreturn void th_exec(const char *const argv[]);

/* Path of a binary in GENQ_BIN (static buffer per call slot 0..3). */
const char *th_bin(const char *name);

/* Start genq-worker on the test's queue against the test mock, with extra
 * args (NULL-terminated). stdout/stderr go to logfile when not NULL.
 * Returns the pid. */
pid_t th_worker(struct th *t, const char *logfile, const char *const extra[]);

/* Wait up to timeout_s for `pid` to exit; returns its status as th_run, or
 * -1 on timeout (the process is left running). */
int th_wait(pid_t pid, double timeout_s);

/* Count jobs of the queue in each terminal state by walking ids. */
int th_count_state(struct th *t, const char *const *ids, int n,
                   const char *state);

/* The exact text the mock generates for a prompt (caller frees). */
char *th_expected_text(const char *prompt, size_t max_tokens);

/* Milliseconds sleep. */
void th_sleep_ms(long ms);

/* Write text to a file "$GENQ_TEST_TMP/NAME-PID" (the runner removes the
 * directory), its path into path; fails the test when it can't. */
void th_write_tmp(char *path, size_t pathlen, const char *name,
                  const char *text);

/* Enqueue n jobs "job-00000".. with prompts "<prefix> <i>"; returns their
 * ids (caller frees with th_free_ids()). */
char **th_enqueue_n(struct th *t, int n, const char *prefix, int max_tokens);
void th_free_ids(char **ids, int n);

/* The stored result document of id (caller frees with cJSON_Delete()),
 * or NULL when there is none. */
cJSON *th_result(struct th *t, const char *id);

/* Start a private genq-mockllm with extra args (NULL-terminated); fills url
 * (128 bytes) and returns its pid (kill it with th_stop()). */
pid_t th_mock_start(char *url, const char *const extra[]);
/* harness_mock.c: POST body to the mock at url's /mock/control; its GET
 * /mock/stats document (caller frees); the count of status in it. Abort
 * the test unless the mock answers 200. */
void th_mock_control(const char *url, const char *body);
cJSON *th_mock_stats(const char *url);
double th_mock_status_count(const cJSON *stats, int status);
/* GET url (any HTTP endpoint, e.g. a worker's /metrics): its body (caller
 * frees); aborts the test unless the status is 200. */
char *th_http_get(const char *url);
/* SIGTERM pid and reap it. */
void th_stop(pid_t pid);
/* Start a worker against a given API base (else like th_worker). */
pid_t th_worker_at(struct th *t, const char *api_base, const char *logfile,
                   const char *const extra[]);
/* ... and a given Redis URL. */
pid_t th_worker_on(struct th *t, const char *redis_url, const char *api_base,
                   const char *logfile, const char *const extra[]);
/* harness_batch.c: a private mock whose batches end after 0.3 s (fills
 * url, 128 bytes; stop it with th_stop()); a worker batching every job of
 * t's queue against url, priced 3 / 15 USD per million tokens, with more
 * flags (NULL-terminated, at most 29; may be NULL). */
pid_t th_batch_mock(char *url);
pid_t th_batch_worker(struct th *t, const char *url, const char *const more[]);
/* Wait until every id is in a terminal state or timeout_s passes; returns
 * how many are terminal. */
int th_wait_terminal(struct th *t, char **ids, int n, double timeout_s);

/* A loopback port nobody listens on right now. */
int th_free_port(void);

/* Append "--redis" GENQ_TEST_REDIS_URL ["--queue" queue] (queue may be
 * NULL) and a NULL to argv[n..] (room for 5); returns the new count. */
int th_redis_args(const char **argv, int n, const char *queue);

/* Run `genq CMD args... --redis URL --queue Q` (args NULL-terminated) with
 * stdin `in` (may be NULL); out/err as th_run(). Returns the exit status.
 * th_genq_noq: without --queue. */
int th_genq(struct th *t, const char *in, char **out, char **err,
            const char *cmd, ...);
int th_genq_noq(const char *in, char **out, char **err, const char *cmd, ...);

/* The integer reply of a Redis command (asserted to be one). */
long long th_rint(struct th *t, const char *fmt, ...);

/* Count the lines of text (cut in place); parse each as JSON into objs (up
 * to max; caller frees them with th_free_objs()). */
int th_jsonl(char *text, cJSON **objs, int max);
void th_free_objs(cJSON **objs, int n);
/* Member k of o, asserted to be a number / a string (borrowed). */
double th_num(cJSON *o, const char *k);
const char *th_str(cJSON *o, const char *k);
/* Assert that member k of o[0], o[1], ... is each string of the
 * NULL-terminated list in turn. */
void th_assert_each(cJSON **o, const char *k, ...);

/* ---- job fixtures (harness_jobs.c) ---- */

/* Claim up to n jobs as worker; returns the reply (an array: status, then
 * id, token, attempts, payload per job; caller frees). */
redisReply *th_claim(struct th *t, const char *worker, int n, long vis_ms,
                     int max_attempts);
/* An error object as the worker writes it (status 0: null) into out. */
void th_err_json(char *out, size_t n, const char *cls, int status,
                 const char *msg);
/* Enqueue one job and kill it at once with the given error. The queue must
 * have nothing else ready. idem may be NULL. */
void th_make_dead(struct th *t, const char *id, const char *prompt,
                  const char *idem, const char *cls, int status,
                  const char *msg);
/* n dead jobs PREFIX00000.. killed in one fail call (the same died-at ms:
 * ties). */
void th_make_dead_batch(struct th *t, const char *prefix, int n);

/* The inline jobs of t's ready lists (common/meta.h: the bulk path of
 * `genq enqueue` stores a job as its ready-list element until it is
 * claimed); the jobs stored: the jobs hash's fields and those. */
long long th_inline(struct th *t);
long long th_stored(struct th *t);
/* The job id of ready-list element e (an id, or an inline job "@ID|..."),
 * into out (n bytes); returns out. */
const char *th_elem_id(const char *e, char *out, size_t n);

#endif
