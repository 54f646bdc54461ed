/* Unit tests for worker/http_ev.c: the reuse of easy handles (a finished
 * request's handle serves the next one, and nothing of the request before
 * -- method, headers, body, streaming callback, errors -- reaches the
 * next) and the stall limit. A forked echo server answers every request
 * with its own head and body; one for /stall it never answers, and one
 * for /drip it answers a byte every 400 ms. A second server reads an
 * upload slowly (a batch file going out to a slow link). */
#include "fmacros.h"

#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../worker/http_ev.h"

#define MAXC 8

/* One request read whole from the connection's bytes in b[0..*n): echo it
 * (head and body) as a 200 response and drop it from b. 0 when incomplete. */
static int
echo_one(int fd, char *b, size_t *n)
{
    char *end = memmem(b, *n, "\r\n\r\n", 4), *cl, head[128];
    size_t hl, bl = 0, tot;
    int hn;

    if (!end)
        return 0;
    hl = (size_t)(end - b) + 4;
    for (cl = b; cl && cl < end; cl = memchr(cl, '\n', (size_t)(end - cl))) {
        cl += *cl == '\n';
        if (!strncasecmp(cl, "content-length:", 15))
            bl = strtoul(cl + 15, NULL, 10);
    }
    tot = hl + bl;
    if (*n < tot)
        return 0;
    if (!strncmp(b, "POST /stall ", 12)) {
        memmove(b, b + tot, *n - tot); /* never answered */
        *n -= tot;
        return 1;
    }
    if (!strncmp(b, "POST /hstall ", 13)) { /* a head, then nothing */
        static const char hh[] = "HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\n";
        if (write(fd, hh, sizeof(hh) - 1) != (ssize_t)sizeof(hh) - 1)
            _exit(1);
        memmove(b, b + tot, *n - tot);
        *n -= tot;
        return 1;
    }
    if (!strncmp(b, "POST /drip ", 11)) {
        static const char dh[] = "HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\n";
        if (write(fd, dh, sizeof(dh) - 1) != (ssize_t)sizeof(dh) - 1)
            _exit(1);
        for (int i = 0; i < 6; i++) { /* 2.4 s, never 1 s quiet */
            usleep(400000);
            if (write(fd, "d", 1) != 1)
                _exit(1);
        }
        memmove(b, b + tot, *n - tot);
        *n -= tot;
        return 1;
    }
    hn = snprintf(head, sizeof(head),
                  "HTTP/1.1 200 OK\r\ncontent-length: %zu\r\n\r\n", tot);
    if (write(fd, head, (size_t)hn) != hn || write(fd, b, tot) != (ssize_t)tot)
        _exit(1);
    memmove(b, b + tot, *n - tot);
    *n -= tot;
    return 1;
}

/* The child: accept connections and echo their requests until killed. */
static void
echo_server(int lfd)
{
    struct pollfd p[MAXC + 1];
    static char buf[MAXC][65536];
    size_t len[MAXC] = {0};
    int nc = 0;

    p[0].fd = lfd;
    p[0].events = POLLIN;
    for (;;) {
        if (poll(p, (nfds_t)nc + 1, -1) < 0)
            _exit(1);
        if ((p[0].revents & POLLIN) && nc < MAXC) {
            int fd = accept(lfd, NULL, NULL);
            if (fd >= 0) {
                p[nc + 1].fd = fd;
                p[nc + 1].events = POLLIN;
                p[nc + 1].revents = 0;
                len[nc++] = 0;
            }
        }
        for (int i = 0; i < nc; i++) {
            ssize_t r;
            if (!(p[i + 1].revents & (POLLIN | POLLHUP)))
                continue;
            r = read(p[i + 1].fd, buf[i] + len[i], sizeof(buf[i]) - len[i]);
            if (r <= 0) { /* closed: take the last slot's place */
                close(p[i + 1].fd);
                p[i + 1] = p[nc];
                memcpy(buf[i], buf[nc - 1], len[nc - 1]);
                len[i] = len[nc - 1];
                nc--;
                i--;
                continue;
            }
            len[i] += (size_t)r;
            while (echo_one(p[i + 1].fd, buf[i], &len[i]))
                ;
        }
    }
}

static pid_t srv;
static char url[64], base[64];

/* A child running fn on a loopback listener (receive buffer rcvbuf when
 * > 0); its port in *port. */
static pid_t
serve(void (*fn)(int), int rcvbuf, int *port)
{
    struct sockaddr_in a = {0};
    socklen_t al = sizeof(a);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    pid_t pid;

    cr_assert(lfd >= 0);
    if (rcvbuf > 0)
        cr_assert_eq(
            setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(lfd, 16), 0);
    cr_assert_eq(getsockname(lfd, (struct sockaddr *)&a, &al), 0);
    *port = ntohs(a.sin_port);
    pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0)
        fn(lfd);
    close(lfd);
    return pid;
}

static void
unserve(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
}

static void
start_server(void)
{
    int port;

    srv = serve(echo_server, 0, &port);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/messages", port);
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
}

static void
stop_server(void)
{
    unserve(srv);
}

/* What a request got: its code and the echo (streamed or buffered). */
struct got {
    struct ev_loop *loop;
    int code;
    int done;
    struct buf streamed;
};

static int
on_data(struct http_req *r, const char *p, size_t n)
{
    struct got *g = r->ud;
    return buf_append(&g->streamed, p, n);
}

static void
on_done(struct http_req *r, int code)
{
    struct got *g = r->ud;

    g->code = code;
    g->done = 1;
    ev_break(g->loop, EVBREAK_ALL);
}

/* Run r (set up by the caller but for the callbacks) to its end. */
static void
run(struct http *h, struct http_req *r, struct got *g, int stream)
{
    g->done = 0;
    r->on_done = on_done;
    r->on_data = stream ? on_data : NULL;
    r->ud = g;
    r->timeout_ms = 5000;
    r->connect_timeout_ms = 2000;
    cr_assert_eq(http_submit(h, r), 0);
    while (!g->done)
        ev_run(g->loop, EVRUN_ONCE);
}

static struct curl_slist *
hdrs(const char *a, const char *b)
{
    struct curl_slist *l = curl_slist_append(NULL, a);
    cr_assert_not_null(l);
    if (b)
        cr_assert_not_null(l = curl_slist_append(l, b));
    return l;
}

Test(http_reuse, nothing_leaks_to_the_next_request, .init = start_server,
     .fini = stop_server)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct http *h = http_new(loop, 16);
    struct http_req r;
    struct got g = {.loop = loop};
    struct curl_slist *h1 = hdrs("x-api-key: secret-one", "x-extra: leak-me");
    struct curl_slist *h2 = hdrs("authorization: Bearer two", NULL);
    char b2[] = "{\"n\":2}", b3[] = "x", refused[] = "http://127.0.0.1:1/";
    const char *echo;

    cr_assert_not_null(h);
    memset(&r, 0, sizeof(r));
    buf_init(&r.resp, 1 << 20);
    buf_init(&g.streamed, 1 << 20);
    r.url = url;

    /* 1: a streamed GET with an API key and an extra header */
    r.method = "GET";
    r.headers = h1;
    run(h, &r, &g, 1);
    cr_assert_eq(g.code, 0);
    cr_assert_eq(r.status, 200);
    cr_assert_not_null(g.streamed.data);
    cr_assert(!strncmp(g.streamed.data, "GET /v1/messages ", 17), "%s",
              g.streamed.data);
    cr_assert_not_null(strstr(g.streamed.data, "x-api-key: secret-one"));
    cr_assert_not_null(strstr(g.streamed.data, "x-extra: leak-me"));

    /* 2: a buffered POST with other auth: no header, method or streaming
     * of request 1 */
    http_req_reset(&r);
    r.method = NULL;
    r.headers = h2;
    r.body = b2;
    r.body_len = strlen(r.body);
    buf_reset(&g.streamed);
    run(h, &r, &g, 0);
    cr_assert_eq(g.code, 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(g.streamed.len, 0, "request 1's data callback ran");
    echo = r.resp.data;
    cr_assert_not_null(echo);
    cr_assert(!strncmp(echo, "POST /v1/messages ", 18), "%s", echo);
    cr_assert_not_null(strstr(echo, "authorization: Bearer two"));
    cr_assert_not_null(strstr(echo, "\r\n\r\n{\"n\":2}"));
    cr_assert_null(strstr(echo, "x-api-key"), "%s", echo);
    cr_assert_null(strstr(echo, "leak-me"), "%s", echo);

    /* 3: no header list at all: nothing of 1 or 2 */
    http_req_reset(&r);
    r.headers = NULL;
    r.body = b3;
    r.body_len = 1;
    run(h, &r, &g, 0);
    cr_assert_eq(g.code, 0);
    echo = r.resp.data;
    cr_assert(!strncmp(echo, "POST /v1/messages ", 18), "%s", echo);
    cr_assert_null(strstr(echo, "authorization"), "%s", echo);
    cr_assert_null(strstr(echo, "x-api-key"), "%s", echo);
    cr_assert_null(strstr(echo, "x-extra"), "%s", echo);
    cr_assert_not_null(strstr(echo, "\r\n\r\nx"));

    /* 4: a request that fails (nothing listens on port 1), then one that
     * works: the error of the first does not stay with the handle */
    http_req_reset(&r);
    r.url = refused;
    run(h, &r, &g, 0);
    cr_assert_neq(g.code, 0);
    cr_assert_neq(r.errbuf[0], '\0');
    http_req_reset(&r);
    r.url = url;
    r.method = "GET";
    r.headers = h1;
    buf_reset(&g.streamed);
    run(h, &r, &g, 1);
    cr_assert_eq(g.code, 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.errbuf[0], '\0');
    cr_assert(!strncmp(g.streamed.data, "GET /v1/messages ", 17));

    /* one after another, the five requests shared one easy handle */
    cr_assert_eq(http_handles_made(h), 1);

    http_req_reset(&r);
    buf_free(&g.streamed);
    curl_slist_free_all(h1);
    curl_slist_free_all(h2);
    http_free(h);
    ev_loop_destroy(loop);
}

/* Two at once need two handles; both go back for the next two. */
Test(http_reuse, concurrent_requests_take_their_own, .init = start_server,
     .fini = stop_server)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct http *h = http_new(loop, 16);
    struct http_req r[2];
    struct got g[2] = {{.loop = loop}, {.loop = loop}};
    struct curl_slist *hl[2] = {hdrs("x-who: zero", NULL),
                                hdrs("x-who: one", NULL)};
    char body[] = "b";

    cr_assert_not_null(h);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 2; i++) {
            if (round == 0) {
                memset(&r[i], 0, sizeof(r[i]));
                buf_init(&r[i].resp, 1 << 20);
            }
            http_req_reset(&r[i]);
            r[i].url = url;
            r[i].headers = hl[(i + round) % 2];
            r[i].body = body;
            r[i].body_len = 1;
            r[i].on_done = on_done;
            r[i].ud = &g[i];
            r[i].timeout_ms = 5000;
            g[i].done = 0;
            cr_assert_eq(http_submit(h, &r[i]), 0);
        }
        while (!g[0].done || !g[1].done)
            ev_run(loop, EVRUN_ONCE);
        for (int i = 0; i < 2; i++) {
            char want[32];
            snprintf(want, sizeof(want), "x-who: %s",
                     (i + round) % 2 ? "one" : "zero");
            cr_assert_eq(g[i].code, 0);
            cr_assert_not_null(strstr(r[i].resp.data, want), "%s",
                               r[i].resp.data);
            cr_assert_null(strstr(r[i].resp.data,
                                  (i + round) % 2 ? "zero" : "x-who: one"));
        }
    }
    cr_assert_eq(http_handles_made(h), 2);
    for (int i = 0; i < 2; i++) {
        http_req_reset(&r[i]);
        curl_slist_free_all(hl[i]);
    }
    http_free(h);
    ev_loop_destroy(loop);
}

/* No byte for stall_s: the request ends with CURLE_OPERATION_TIMEDOUT and
 * says why; bytes that keep coming (more slowly than one a second in all,
 * but never a second apart) do not end it. */
Test(http_stall, a_quiet_request_ends_a_dripping_one_does_not,
     .init = start_server, .fini = stop_server, .timeout = 60)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct http *h = http_new(loop, 16);
    struct http_req r;
    struct got g = {.loop = loop};
    char stall[96], drip[96], body[] = "b";
    ev_tstamp t0;

    cr_assert_not_null(h);
    snprintf(stall, sizeof(stall), "%s/stall", base);
    snprintf(drip, sizeof(drip), "%s/drip", base);
    memset(&r, 0, sizeof(r));
    buf_init(&r.resp, 1 << 20);
    r.body = body;
    r.body_len = 1;
    r.stall_s = 1;

    r.url = stall;
    ev_now_update(loop);
    t0 = ev_now(loop);
    run(h, &r, &g, 0);
    cr_assert_eq(g.code, CURLE_OPERATION_TIMEDOUT);
    cr_assert_not_null(strstr(r.errbuf, "stall timeout 1 s"), "%s", r.errbuf);
    cr_assert_geq(ev_now(loop) - t0, 1.0);
    cr_assert_eq(http_active(h), 0);

    /* stalled after its head: the status that came is kept */
    http_req_reset(&r);
    r.errbuf[0] = '\0';
    snprintf(stall, sizeof(stall), "%s/hstall", base);
    run(h, &r, &g, 0);
    cr_assert_eq(g.code, CURLE_OPERATION_TIMEDOUT);
    cr_assert_eq(r.status, 200);
    snprintf(stall, sizeof(stall), "%s/stall", base);

    /* the stalled request's handle serves the next one */
    http_req_reset(&r);
    r.errbuf[0] = '\0';
    r.url = drip;
    run(h, &r, &g, 0);
    cr_assert_eq(g.code, 0, "%s", r.errbuf);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.resp.data, "dddddd");
    cr_assert_eq(http_handles_made(h), 1);

    /* no limit: the same quiet request runs to the transfer timeout */
    http_req_reset(&r);
    r.url = stall;
    r.stall_s = 0;
    g.done = 0;
    r.on_done = on_done;
    r.on_data = NULL;
    r.ud = &g;
    r.timeout_ms = 2500;
    cr_assert_eq(http_submit(h, &r), 0);
    ev_now_update(loop);
    t0 = ev_now(loop);
    while (!g.done)
        ev_run(loop, EVRUN_ONCE);
    cr_assert_eq(g.code, CURLE_OPERATION_TIMEDOUT);
    cr_assert_geq(ev_now(loop) - t0, 2.0, "the stall limit of before ended it");

    http_req_reset(&r);
    http_free(h);
    ev_loop_destroy(loop);
}

/* The slow reader: one connection, its request read 16 KiB every 10 ms
 * (~1.6 MB/s) into a small receive buffer, then a 200. */
static pid_t slow_srv;
static char slow_url[96];

static void
slow_reader(int lfd)
{
    static char b[1 << 14];
    size_t got = 0, want = 0;
    int fd = accept(lfd, NULL, NULL);
    static char head[8192];
    size_t hl = 0;

    if (fd < 0)
        _exit(1);
    for (;;) {
        ssize_t r = read(fd, b, sizeof(b));
        if (r <= 0)
            _exit(1);
        if (!want) { /* the head: Content-Length */
            size_t c =
                hl + (size_t)r < sizeof(head) ? (size_t)r : sizeof(head) - hl;
            char *end, *cl;
            memcpy(head + hl, b, c);
            hl += c;
            end = memmem(head, hl, "\r\n\r\n", 4);
            if (end) {
                cl = strcasestr(head, "content-length:");
                if (!cl)
                    _exit(1);
                want = (size_t)(end - head) + 4 + strtoul(cl + 15, NULL, 10);
            }
        }
        got += (size_t)r;
        if (want && got >= want)
            break;
        usleep(10000);
    }
    static const char ok[] = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
    if (write(fd, ok, sizeof(ok) - 1) != (ssize_t)sizeof(ok) - 1)
        _exit(1);
    pause();
    _exit(0);
}

static void
start_slow(void)
{
    int port;

    slow_srv = serve(slow_reader, 16384, &port);
    snprintf(slow_url, sizeof(slow_url), "http://127.0.0.1:%d/v1/files", port);
}

static void
stop_slow(void)
{
    unserve(slow_srv);
}

/* An upload still going out is progress: 6 MB to a reader taking ~1.6
 * MB/s (after curl's 1 s wait for a 100 Continue that never comes) runs
 * for seconds with no byte back, under a 2 s stall limit (a batch file to
 * a slow link, where curl's low-speed limit counted bytes sent too). */
Test(http_stall, an_upload_still_going_out_is_not_a_stall, .init = start_slow,
     .fini = stop_slow, .timeout = 60)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct http *h = http_new(loop, 16);
    struct http_req r;
    struct got g = {.loop = loop};
    size_t n = 6u << 20;
    char *body = malloc(n);
    ev_tstamp t0;

    cr_assert_not_null(h);
    cr_assert_not_null(body);
    memset(body, 'u', n);
    memset(&r, 0, sizeof(r));
    buf_init(&r.resp, 1 << 20);
    r.url = slow_url;
    r.body = body;
    r.body_len = n;
    r.stall_s = 2;
    g.done = 0;
    r.on_done = on_done;
    r.ud = &g;
    r.timeout_ms = 50000;
    r.connect_timeout_ms = 2000;
    ev_now_update(loop);
    t0 = ev_now(loop);
    cr_assert_eq(http_submit(h, &r), 0);
    while (!g.done)
        ev_run(loop, EVRUN_ONCE);
    cr_assert_eq(g.code, 0, "%s", r.errbuf);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.resp.data, "ok");
    /* the point: it ran past the stall limit with nothing coming back */
    cr_assert_geq(ev_now(loop) - t0, 2.5, "the upload was buffered at once");
    http_req_reset(&r);
    free(body);
    http_free(h);
    ev_loop_destroy(loop);
}
