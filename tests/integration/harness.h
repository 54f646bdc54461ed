/* Integration-test harness: a real Redis (started by tests/run.sh), one
 * fresh queue per test, script calls, running the genq binaries as child
 * processes, and reading the mock's expected text. */
#ifndef GENQ_TEST_HARNESS_H
#define GENQ_TEST_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

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
void th_fini(struct th *t);

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

/* Enqueue n jobs "job-00000".. with prompts "<prefix> <i>"; returns their
 * ids (caller frees with th_free_ids()). */
char **th_enqueue_n(struct th *t, int n, const char *prefix, int max_tokens);
void th_free_ids(char **ids, int n);

/* The stored result document of id (caller frees with cJSON_Delete()),
 * or NULL when there is none. */
struct cJSON *th_result(struct th *t, const char *id);

#endif

/* Start a private genq-mockllm with extra args (NULL-terminated); fills url
 * (128 bytes) and returns its pid (kill it with th_stop()). */
pid_t th_mock_start(char *url, const char *const extra[]);
/* SIGTERM pid and reap it. */
void th_stop(pid_t pid);
/* Start a worker against a given API base (else like th_worker). */
pid_t th_worker_at(struct th *t, const char *api_base, const char *logfile,
                   const char *const extra[]);
/* Wait until every id is in a terminal state or timeout_s passes; returns
 * how many are terminal. */
int th_wait_terminal(struct th *t, char **ids, int n, double timeout_s);
