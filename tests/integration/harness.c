/* Integration-test harness (see harness.h). */
#include "fmacros.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <cjson/cJSON.h>

#include "harness.h"
#include "mocktext.h"
#include "rclient.h"

static int counter;

void
th_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

void
th_write_tmp(char *path, size_t pathlen, const char *name, const char *text)
{
    const char *tmp = getenv("GENQ_TEST_TMP");
    FILE *f;

    snprintf(path, pathlen, "%s/%s-%d", tmp ? tmp : "/tmp", name,
             (int)getpid());
    f = fopen(path, "w");
    cr_assert(f, "cannot write %s", path);
    cr_assert(fputs(text, f) >= 0 && fclose(f) == 0, "cannot write %s", path);
}

void
th_connect(struct th *t, const char *url, const char *queue)
{
    struct redis_url u;
    char err[256];

    memset(t, 0, sizeof(*t));
    cr_assert(url, "GENQ_TEST_REDIS_URL not set: run through make test");
    cr_assert(redisurl_parse(url, &u, err, sizeof(err)) == 0, "%s", err);
    t->c = rclient_connect(&u, 5.0, err, sizeof(err));
    cr_assert(t->c, "%s", err);
    snprintf(t->queue, sizeof(t->queue), "%s", queue);
    cr_assert(qkeys_init(&t->k, t->queue) == 0);
}

void
th_init(struct th *t, const char *name)
{
    char queue[64];

    snprintf(queue, sizeof(queue), "t-%.30s-%d-%d", name, (int)getpid(),
             counter++);
    th_connect(t, getenv("GENQ_TEST_REDIS_URL"), queue);
    th_uptime_wait(t);
}

/* The scripts reap nothing until Redis has been up for one visibility
 * timeout (prelude.lua reap(), whole seconds of INFO uptime): a test that
 * lets a 30 ms lease expire in the first second of a fresh Redis would
 * see it kept. Wait until the shared test Redis is 1 s old (once). */
void
th_uptime_wait(struct th *t)
{
    static int done;

    for (int i = 0; !done && i < 300; i++) {
        redisReply *r = redisCommand(t->c, "INFO server");
        const char *p;
        cr_assert(r && r->type == REDIS_REPLY_STRING, "INFO failed");
        p = strstr(r->str, "uptime_in_seconds:");
        done = p && strtol(p + 18, NULL, 10) >= 1;
        freeReplyObject(r);
        if (!done)
            th_sleep_ms(10);
    }
}

void
th_fini(struct th *t)
{
    if (t->c)
        redisFree(t->c);
    t->c = NULL;
}

redisReply *
th_script(struct th *t, enum script_id id, ...)
{
    const char *av[4096];
    int n = 0;
    va_list ap;
    char err[512];
    redisReply *r;

    va_start(ap, id);
    for (const char *a; (a = va_arg(ap, const char *)) != NULL;)
        av[n++] = a;
    va_end(ap);
    r = rclient_script(t->c, id, &t->k, n, av, NULL, err, sizeof(err));
    cr_assert(r, "script failed: %s", err);
    return r;
}

const char *
th_enqueue(struct th *t, const char *id, int prio, long delay_ms,
           int max_attempts, const char *idem, const char *payload)
{
    static char out[256];
    char p[8], d[24], m[8];
    redisReply *r;

    snprintf(p, sizeof(p), "%d", prio);
    snprintf(d, sizeof(d), "%ld", delay_ms);
    snprintf(m, sizeof(m), "%d", max_attempts);
    r = th_script(t, SCRIPT_ENQUEUE, "86400", "1", id, p, "0", d, m,
                  idem ? idem : "", payload, NULL);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 1);
    snprintf(out, sizeof(out), "%s", r->element[0]->element[1]->str);
    freeReplyObject(r);
    return out;
}

const char *
th_state(struct th *t, const char *id, char *out, int *attempts)
{
    redisReply *r = th_script(t, SCRIPT_INSPECT, "0", "0", id, NULL);

    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    if (r->element[0]->type != REDIS_REPLY_STRING) {
        snprintf(out, 64, "unknown");
        if (attempts)
            *attempts = 0;
    } else {
        const char *m = r->element[0]->str, *bar = strchr(m, '|');
        snprintf(out, 64, "%.*s", (int)(bar - m), m);
        if (attempts)
            *attempts = atoi(bar + 1);
    }
    freeReplyObject(r);
    return out;
}

const char *
th_bin(const char *name)
{
    static char buf[4][512];
    static int slot;
    const char *dir = getenv("GENQ_BIN");
    char *b = buf[slot++ % 4];

    snprintf(b, 512, "%s/%s", dir ? dir : "bin", name);
    return b;
}

/* Read what *fd has into *dst; at end of file close it and set it to -1. */
static void
slurp(int *fd, char **dst, size_t *len, size_t *cap)
{
    char tmp[65536];
    ssize_t n = read(*fd, tmp, sizeof(tmp));

    if (n <= 0) {
        close(*fd);
        *fd = -1;
        return;
    }
    if (*len + (size_t)n + 1 > *cap) {
        while (*len + (size_t)n + 1 > *cap)
            *cap = *cap ? *cap * 2 : 65536;
        *dst = realloc(*dst, *cap);
        cr_assert(*dst);
    }
    memcpy(*dst + *len, tmp, (size_t)n);
    *len += (size_t)n;
    (*dst)[*len] = '\0';
}

_Noreturn void
th_exec(const char *const argv[])
{
    char *av[64];
    int n = 0;

    for (; argv[n] && n < 63; n++)
        av[n] = strdup(argv[n]);
    av[n] = NULL;
    execv(av[0], av);
    _exit(127);
}

int
th_run(const char *const argv[], const char *const env[], const char *in,
       size_t in_len, char **out, char **err)
{
    int pin[2], pout[2], perr[2], st;
    char *ob = NULL, *eb = NULL;
    size_t ol = 0, oc = 0, el = 0, ec = 0, wrote = 0;
    pid_t pid;

    cr_assert(pipe(pin) == 0 && pipe(pout) == 0 && pipe(perr) == 0);
    pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        /* a failed test must not leave its servers and workers behind */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(pin[0], 0);
        dup2(pout[1], 1);
        dup2(perr[1], 2);
        close(pin[1]);
        close(pout[0]);
        close(perr[0]);
        for (int i = 0; env && env[i]; i++)
            putenv(strdup(env[i]));
        th_exec(argv);
    }
    close(pin[0]);
    close(pout[1]);
    close(perr[1]);
    fcntl(pin[1], F_SETFL, O_NONBLOCK);
    if (!in || in_len == 0) {
        close(pin[1]);
        pin[1] = -1;
    }
    for (;;) {
        struct pollfd p[3] = {
            {pout[0], POLLIN, 0}, {perr[0], POLLIN, 0}, {pin[1], POLLOUT, 0}};
        int nfd = pin[1] >= 0 ? 3 : 2;
        if (pout[0] < 0 && perr[0] < 0)
            break;
        p[0].fd = pout[0];
        p[1].fd = perr[0];
        if (poll(p, (nfds_t)nfd, -1) < 0)
            continue;
        if (p[0].revents)
            slurp(&pout[0], &ob, &ol, &oc);
        if (p[1].revents)
            slurp(&perr[0], &eb, &el, &ec);
        if (nfd == 3 && p[2].revents) {
            ssize_t n = write(pin[1], in + wrote, in_len - wrote);
            if (n > 0)
                wrote += (size_t)n;
            if (n < 0 || wrote == in_len) {
                close(pin[1]);
                pin[1] = -1;
            }
        }
    }
    if (pin[1] >= 0)
        close(pin[1]);
    waitpid(pid, &st, 0);
    if (out)
        *out = ob ? ob : strdup("");
    else
        free(ob);
    if (err)
        *err = eb ? eb : strdup("");
    else
        free(eb);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Fork and exec argv: stdout to logfile (NULL: /dev/null), and stderr too
 * with a test API key in the environment when worker is set. Returns the
 * pid; the child dies with the test. */
static pid_t
spawn(const char *const argv[], const char *logfile, int worker)
{
    pid_t pid = fork();

    cr_assert(pid >= 0);
    if (pid == 0) {
        /* a failed test must not leave its servers and workers behind */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(logfile ? logfile : "/dev/null",
                      O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            if (worker)
                dup2(fd, 2);
        }
        if (worker)
            setenv("GENQ_API_KEY", "test-key-not-secret", 1);
        th_exec(argv);
    }
    return pid;
}

pid_t
th_worker(struct th *t, const char *logfile, const char *const extra[])
{
    return th_worker_at(t, getenv("GENQ_TEST_MOCK_URL"), logfile, extra);
}

pid_t
th_worker_at(struct th *t, const char *mock, const char *logfile,
             const char *const extra[])
{
    return th_worker_on(t, getenv("GENQ_TEST_REDIS_URL"), mock, logfile, extra);
}

pid_t
th_worker_on(struct th *t, const char *redis_url, const char *mock,
             const char *logfile, const char *const extra[])
{
    const char *argv[64];
    int n = 0;

    argv[n++] = th_bin("genq-worker");
    argv[n++] = "--redis";
    argv[n++] = redis_url;
    argv[n++] = "--queue";
    argv[n++] = t->queue;
    argv[n++] = "--api-base";
    argv[n++] = mock;
    for (int i = 0; extra && extra[i] && n < 62; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    return spawn(argv, logfile, 1);
}

int
th_wait(pid_t pid, double timeout_s)
{
    int st;
    long waited = 0;

    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if ((double)waited / 1000.0 >= timeout_s)
            return -1;
        th_sleep_ms(20);
        waited += 20;
    }
}

int
th_count_state(struct th *t, const char *const *ids, int n, const char *state)
{
    int c = 0;
    char st[64];

    for (int i = 0; i < n; i++)
        if (!strcmp(th_state(t, ids[i], st, NULL), state))
            c++;
    return c;
}

char *
th_expected_text(const char *prompt, size_t max_tokens)
{
    size_t len, n = mocktext_article_tokens(prompt, strlen(prompt), 120);
    char *full = mocktext_article(prompt, strlen(prompt), 120, &len);

    cr_assert(full);
    if (max_tokens < n) {
        free(full);
        full = mocktext_prefix(prompt, strlen(prompt), 120, max_tokens, &len);
        cr_assert(full);
    }
    return full;
}

pid_t
th_mock_start(char *url, const char *const extra[])
{
    const char *tmp = getenv("GENQ_TEST_TMP");
    char pf[512], port[32] = "";
    const char *argv[64];
    int n = 0;
    pid_t pid;

    snprintf(pf, sizeof(pf), "%s/mock-%d-%d.port", tmp ? tmp : "/tmp",
             (int)getpid(), counter++);
    unlink(pf);
    argv[n++] = th_bin("genq-mockllm");
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "--port-file";
    argv[n++] = pf;
    for (int i = 0; extra && extra[i] && n < 62; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    pid = spawn(argv, NULL, 0);
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(pf, "r");
        if (f) {
            if (fgets(port, sizeof(port), f))
                port[strcspn(port, "\n")] = '\0';
            fclose(f);
        }
        if (port[0])
            break;
        th_sleep_ms(25);
    }
    cr_assert(port[0], "mock did not start");
    snprintf(url, 128, "http://127.0.0.1:%s", port);
    return pid;
}

void
th_stop(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGTERM);
        if (th_wait(pid, 10) < 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
    }
}

int
th_wait_terminal(struct th *t, char **ids, int n, double timeout_s)
{
    char st[64];
    int done = 0, from = 0;
    long waited = 0;

    for (;;) {
        /* ids before `from` are known terminal */
        while (from < n) {
            th_state(t, ids[from], st, NULL);
            if (strcmp(st, "succeeded") && strcmp(st, "dead") &&
                strcmp(st, "canceled"))
                break;
            from++;
        }
        done = from;
        if (done == n || (double)waited / 1000.0 >= timeout_s)
            return done;
        th_sleep_ms(50);
        waited += 50;
    }
}

char **
th_enqueue_n(struct th *t, int n, const char *prefix, int max_tokens)
{
    char **ids = calloc((size_t)n, sizeof(char *));
    char id[64], payload[512];

    cr_assert(ids);
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "job-%05d", i);
        snprintf(payload, sizeof(payload),
                 "{\"id\":\"%s\",\"prompt\":\"%s %d\",\"max_tokens\":%d}", id,
                 prefix, i, max_tokens);
        ids[i] = strdup(th_enqueue(t, id, 1, 0, 0, NULL, payload));
        cr_assert(ids[i]);
    }
    return ids;
}

void
th_free_ids(char **ids, int n)
{
    for (int i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

cJSON *
th_result(struct th *t, const char *id)
{
    redisReply *r = th_script(t, SCRIPT_INSPECT, "0", "1", id, NULL);
    cJSON *j = NULL;

    if (r->element[7]->type == REDIS_REPLY_STRING)
        j = cJSON_Parse(r->element[7]->str);
    freeReplyObject(r);
    return j;
}

int
th_free_port(void)
{
    struct sockaddr_in a = {0};
    socklen_t l = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    cr_assert(fd >= 0);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

int
th_redis_args(const char **argv, int n, const char *queue)
{
    argv[n++] = "--redis";
    argv[n++] = getenv("GENQ_TEST_REDIS_URL");
    if (queue) {
        argv[n++] = "--queue";
        argv[n++] = queue;
    }
    argv[n] = NULL;
    return n;
}

/* `genq CMD args... --redis URL [--queue Q]` (see th_genq()). */
static int
vgenq(const char *queue, const char *in, char **out, char **err,
      const char *cmd, va_list ap)
{
    const char *argv[64];
    int n = 0;

    argv[n++] = th_bin("genq");
    argv[n++] = cmd;
    for (const char *a; (a = va_arg(ap, const char *)) != NULL && n < 58;)
        argv[n++] = a;
    th_redis_args(argv, n, queue);
    return th_run(argv, NULL, in, in ? strlen(in) : 0, out, err);
}

int
th_genq(struct th *t, const char *in, char **out, char **err, const char *cmd,
        ...)
{
    va_list ap;
    int rc;

    va_start(ap, cmd);
    rc = vgenq(t->queue, in, out, err, cmd, ap);
    va_end(ap);
    return rc;
}

int
th_genq_noq(const char *in, char **out, char **err, const char *cmd, ...)
{
    va_list ap;
    int rc;

    va_start(ap, cmd);
    rc = vgenq(NULL, in, out, err, cmd, ap);
    va_end(ap);
    return rc;
}

long long
th_rint(struct th *t, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;
    long long v;

    va_start(ap, fmt);
    r = redisvCommand(t->c, fmt, ap);
    va_end(ap);
    cr_assert(r && r->type == REDIS_REPLY_INTEGER, "%s: %s", fmt,
              r ? r->str : t->c->errstr);
    v = r->integer;
    freeReplyObject(r);
    return v;
}

int
th_jsonl(char *text, cJSON **objs, int max)
{
    int n = 0;
    char *save = NULL;

    for (char *l = strtok_r(text, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        cJSON *o = cJSON_Parse(l);
        cr_assert(o, "not JSON: %s", l);
        if (n < max)
            objs[n] = o;
        else
            cJSON_Delete(o);
        n++;
    }
    return n;
}

void
th_free_objs(cJSON **objs, int n)
{
    for (int i = 0; i < n; i++)
        cJSON_Delete(objs[i]);
}

double
th_num(cJSON *o, const char *k)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    cr_assert(cJSON_IsNumber(v), "%s is not a number", k);
    return v->valuedouble;
}

const char *
th_str(cJSON *o, const char *k)
{
    const char *s =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
    cr_assert(s, "%s is not a string", k);
    return s;
}

void
th_assert_each(cJSON **o, const char *k, ...)
{
    va_list ap;
    int i = 0;

    va_start(ap, k);
    for (const char *want; (want = va_arg(ap, const char *)) != NULL; i++)
        cr_assert_str_eq(th_str(o[i], k), want, "[%d].%s", i, k);
    va_end(ap);
}
