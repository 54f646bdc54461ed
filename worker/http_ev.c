/* libcurl multi_socket on libev (STYLE.md section 6): socket callback keeps
 * one ev_io per socket, timer callback arms one ev_timer per multi handle,
 * and every action is followed by a drain of finished transfers. Past
 * HTTP_SHARD_CONNS connections the transfers are spread over several multi
 * handles (shards, each request on the least busy): curl 7.88 walks a host's
 * whole connection list to find an idle one for each request, and hashes
 * its sockets into 911 buckets, so at 10,000 streams on one multi those
 * walks were a third of the worker's CPU. */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_ev.h"
#include "log.h"

/* One multi handle with its connection cache, sockets and timer. */
struct http_shard {
    struct http *h;
    CURLM *multi;
    ev_timer timer;
    int in_drain;
    int active; /* transfers on this handle */
};

struct http {
    struct ev_loop *loop;
    struct http_shard *sh;
    int nsh;
    int active;
    /* easy handles of finished transfers, reset and reused by the next
     * submits (curl_easy_init and cleanup per request were a tenth of the
     * worker's instructions per streamed job) */
    CURL **idle;
    int nidle, cap_idle;
    long created; /* easy handles made (http_handles_made) */
    /* requests with a stall limit, looked at once a second (stall_scan) */
    struct http_req *watched;
    ev_timer stall;
};

/* One watched socket; curl owns the fd, we own this context. */
struct sock {
    ev_io io;
    struct http_shard *sh;
    curl_socket_t fd;
};

/* connections per multi handle before another one is added (64 took
 * curl's walk from ~34k to ~27k instructions a request at 10,000 streams,
 * but 157 handles' hash tables cost more time than that saved: worker CPU
 * per job up in side-by-side runs, RSS +8 MB) */
#define HTTP_SHARD_CONNS 1024

/* A request body larger than this (a batch file) has its bytes going out
 * counted as progress (on_xfer), as curl's low-speed limit counted them:
 * a long upload to a slow link is not a stall. Smaller bodies go out in
 * one write and need no progress callback. */
#define HTTP_UPLOAD_WATCH 65536

/* curl's receive buffer for a streamed response (see http_submit) */
#define HTTP_STREAM_BUFSZ 1024L

static void drain(struct http_shard *sh);
static void handle_put(struct http *h, CURL *e);

/* ---- the stall limit ---------------------------------------------------
 * A request with stall_s ends with CURLE_OPERATION_TIMEDOUT when no byte
 * (header or body) has come for stall_s seconds once its connection is up
 * nor gone out (HTTP_UPLOAD_WATCH; connecting is --connect-timeout's). curl's
 * low-speed limit did this before, but it re-armed a timer in curl's splay tree
 * on every read (~3 % of the worker's instructions per streamed job); here a
 * read stores the time, and one libev timer per client looks at the watched
 * requests once a second. */

static void
watch_add(struct http *h, struct http_req *r)
{
    r->watched = 1;
    r->last_rx = ev_now(h->loop);
    r->connected = 0;
    r->sent = 0;
    r->wprev = NULL;
    r->wnext = h->watched;
    if (h->watched)
        h->watched->wprev = r;
    h->watched = r;
    if (!ev_is_active(&h->stall))
        ev_timer_again(h->loop, &h->stall);
}

static void
watch_del(struct http *h, struct http_req *r)
{
    if (!r->watched)
        return;
    r->watched = 0;
    if (r->wprev)
        r->wprev->wnext = r->wnext;
    else
        h->watched = r->wnext;
    if (r->wnext)
        r->wnext->wprev = r->wprev;
    r->wnext = r->wprev = NULL;
    if (!h->watched)
        ev_timer_stop(h->loop, &h->stall);
}

/* End r as curl ends a transfer out of time: its handle released, then
 * on_done with CURLE_OPERATION_TIMEDOUT. */
static void
stall_end(struct http *h, struct http_req *r, double quiet_s)
{
    /* the status of headers that came before the stall, as drain() reads
     * it for a transfer curl ended */
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
    watch_del(h, r);
    curl_multi_remove_handle(r->sh->multi, r->easy);
    snprintf(r->errbuf, sizeof(r->errbuf),
             "Operation too slow: no byte received for %.0f seconds "
             "(stall timeout %ld s)",
             quiet_s, r->stall_s);
    handle_put(h, r->easy);
    r->easy = NULL;
    h->active--;
    r->sh->active--;
    r->on_done(r, (int)CURLE_OPERATION_TIMEDOUT);
}

/* curl's pre-request callback (watched requests only): the connection is
 * up or reused, the request about to go; the stall clock starts here. */
static int
on_prereq(void *ud, char *pip, char *lip, int pport, int lport)
{
    struct http_req *r = ud;

    (void)pip;
    (void)lip;
    (void)pport;
    (void)lport;
    r->connected = 1;
    r->last_rx = ev_now(r->h->loop);
    return CURL_PREREQFUNC_OK;
}

/* curl's progress callback of a watched request with a large body: bytes
 * sent are progress (HTTP_UPLOAD_WATCH). */
static int
on_xfer(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
        curl_off_t ulnow)
{
    struct http_req *r = ud;

    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    if (ulnow != r->sent) {
        r->sent = ulnow;
        r->last_rx = ev_now(r->h->loop);
    }
    return 0;
}

static void
stall_scan(EV_P_ ev_timer *t, int revents)
{
    struct http *h = t->data;
    ev_tstamp now = ev_now(loop);
    struct http_req *r = h->watched;

    (void)revents;
    while (r) {
        double quiet = now - r->last_rx;
        if (quiet < (double)r->stall_s) {
            r = r->wnext;
            continue;
        }
        /* a request still connecting is the connect timeout's
         * (--connect-timeout) */
        if (!r->connected) {
            r = r->wnext;
            continue;
        }
        /* on_done may end or start other requests: look again from the
         * head (a stall is rare) */
        stall_end(h, r, quiet);
        r = h->watched;
    }
}

/* Keep e for a later request, or clean it up when there is no room. */
static void
handle_put(struct http *h, CURL *e)
{
    if (h->nidle == h->cap_idle) {
        int ncap = h->cap_idle ? 2 * h->cap_idle : 64;
        CURL **n = realloc(h->idle, (size_t)ncap * sizeof(*n));
        if (!n) {
            curl_easy_cleanup(e);
            return;
        }
        h->idle = n;
        h->cap_idle = ncap;
    }
    h->idle[h->nidle++] = e;
}

/* A handle with every option at its default: the most recently used idle
 * one after curl_easy_reset (nothing of the request before it stays: its
 * options, headers and callbacks go; its connection went back to the
 * multi's cache when it was removed), else a new one. NULL on failure. */
static CURL *
handle_get(struct http *h)
{
    CURL *e;

    if (h->nidle > 0) {
        e = h->idle[--h->nidle];
        curl_easy_reset(e);
        return e;
    }
    e = curl_easy_init();
    if (e)
        h->created++;
    return e;
}

static void
on_io(EV_P_ ev_io *w, int revents)
{
    struct sock *s = w->data;
    struct http_shard *sh = s->sh;
    curl_socket_t fd = s->fd;
    int mask = (revents & EV_READ ? CURL_CSELECT_IN : 0) |
               (revents & EV_WRITE ? CURL_CSELECT_OUT : 0);
    int running;
    CURLMcode rc;

    (void)loop;
    /* s may be freed inside this call: do not touch it afterwards. */
    rc = curl_multi_socket_action(sh->multi, fd, mask, &running);
    if (rc != CURLM_OK && rc != CURLM_BAD_SOCKET)
        log_msg(LOG_ERROR, "curl_multi_socket_action: %s",
                curl_multi_strerror(rc));
    drain(sh);
}

static void
on_timer(EV_P_ ev_timer *w, int revents)
{
    struct http_shard *sh = w->data;
    int running;
    CURLMcode rc;

    (void)loop;
    (void)revents;
    rc = curl_multi_socket_action(sh->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    if (rc != CURLM_OK)
        log_msg(LOG_ERROR, "curl_multi_socket_action(timeout): %s",
                curl_multi_strerror(rc));
    drain(sh);
}

static int
on_socket(CURL *e, curl_socket_t fd, int what, void *clientp, void *socketp)
{
    struct http_shard *sh = clientp;
    struct http *h = sh->h;
    struct sock *s = socketp;
    int ev;

    (void)e;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            ev_io_stop(h->loop, &s->io);
            free(s);
            curl_multi_assign(sh->multi, fd, NULL);
        }
        return 0;
    }
    ev = (what & CURL_POLL_IN ? EV_READ : 0) |
         (what & CURL_POLL_OUT ? EV_WRITE : 0);
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s)
            return -1;
        s->sh = sh;
        s->fd = fd;
        s->io.data = s;
        if (curl_multi_assign(sh->multi, fd, s) != CURLM_OK) {
            free(s);
            return -1;
        }
        ev_io_init(&s->io, on_io, fd, ev);
    } else {
        ev_io_stop(h->loop, &s->io);
        ev_io_set(&s->io, fd, ev);
    }
    ev_io_start(h->loop, &s->io);
    return 0;
}

static int
on_timerfn(CURLM *m, long timeout_ms, void *clientp)
{
    struct http_shard *sh = clientp;
    struct ev_loop *loop = sh->h->loop;

    (void)m;
    ev_timer_stop(loop, &sh->timer);
    if (timeout_ms >= 0) {
        ev_timer_set(&sh->timer, (double)timeout_ms / 1000.0, 0.);
        ev_timer_start(loop, &sh->timer);
    }
    return 0;
}

static size_t
on_write(char *p, size_t size, size_t nmemb, void *ud)
{
    struct http_req *r = ud;
    size_t n = size * nmemb;

    r->last_rx = ev_now(r->h->loop);
    if (r->status == 0)
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
    if (r->on_data && r->status >= 200 && r->status < 300)
        return r->on_data(r, p, n) == 0 ? n : 0;
    /* refused over resp.max: the response size limit */
    return buf_append(&r->resp, p, n) == 0 ? n : 0;
}

/* Copy the value of header "name: value" into out when name matches. */
static void
grab(const char *line, size_t n, const char *name, char *out, size_t cap)
{
    size_t k = strlen(name), v;

    if (n <= k + 1 || strncasecmp(line, name, k) != 0 || line[k] != ':')
        return;
    v = k + 1;
    while (v < n && (line[v] == ' ' || line[v] == '\t'))
        v++;
    while (n > v &&
           (line[n - 1] == '\r' || line[n - 1] == '\n' || line[n - 1] == ' '))
        n--;
    if (n - v >= cap)
        n = v + cap - 1;
    memcpy(out, line + v, n - v);
    out[n - v] = '\0';
}

static size_t
on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    struct http_req *r = ud;
    size_t n = size * nmemb;

    r->last_rx = ev_now(r->h->loop);
    if (r->on_hdr)
        r->on_hdr(r, p, n);
    if (n > 5 && strncmp(p, "HTTP/", 5) == 0) {
        /* A new response (after 100 Continue, or a retry): reset. */
        r->status = 0;
        r->retry_after[0] = r->retry_after_ms[0] = r->should_retry[0] = '\0';
        return n;
    }
    /* the names below start with r or x: most lines of a response (an
     * API's dozen rate-limit headers) are none of them */
    if (n == 0)
        return n;
    if ((p[0] | 0x20) == 'r') {
        grab(p, n, "request-id", r->request_id, sizeof(r->request_id));
        grab(p, n, "retry-after", r->retry_after, sizeof(r->retry_after));
        grab(p, n, "retry-after-ms", r->retry_after_ms,
             sizeof(r->retry_after_ms));
    } else if ((p[0] | 0x20) == 'x') {
        grab(p, n, "x-request-id", r->request_id, sizeof(r->request_id));
        grab(p, n, "x-should-retry", r->should_retry, sizeof(r->should_retry));
    }
    return n;
}

static void
drain(struct http_shard *sh)
{
    struct http *h = sh->h;
    CURLMsg *m;
    int left;

    if (sh->in_drain)
        return;
    sh->in_drain = 1;
    while ((m = curl_multi_info_read(sh->multi, &left)) != NULL) {
        CURL *e;
        CURLcode res;
        struct http_req *r = NULL;

        if (m->msg != CURLMSG_DONE)
            continue;
        e = m->easy_handle;
        res = m->data.result;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
        curl_multi_remove_handle(sh->multi, e);
        handle_put(h, e);
        watch_del(h, r);
        r->easy = NULL;
        h->active--;
        sh->active--;
        r->on_done(r, (int)res);
    }
    sh->in_drain = 0;
}

/* Set up shard sh of h (its multi handle and callbacks). -1 on failure. */
static int
shard_init(struct http *h, struct http_shard *sh, long max_conns)
{
    sh->h = h;
    sh->multi = curl_multi_init();
    if (!sh->multi)
        return -1;
    ev_timer_init(&sh->timer, on_timer, 0., 0.);
    sh->timer.data = sh;
    if (curl_multi_setopt(sh->multi, CURLMOPT_SOCKETFUNCTION, on_socket) ||
        curl_multi_setopt(sh->multi, CURLMOPT_SOCKETDATA, sh) ||
        curl_multi_setopt(sh->multi, CURLMOPT_TIMERFUNCTION, on_timerfn) ||
        curl_multi_setopt(sh->multi, CURLMOPT_TIMERDATA, sh) ||
        curl_multi_setopt(sh->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L) ||
        /* every slot's connection stays open for its next request: with
         * fewer, each job past the cap opened (and TIME_WAITed) a new one */
        curl_multi_setopt(sh->multi, CURLMOPT_MAXCONNECTS,
                          max_conns > 2048 ? max_conns : 2048L))
        return -1;
    return 0;
}

struct http *
http_new(struct ev_loop *loop, long max_conns)
{
    struct http *h = calloc(1, sizeof(*h));

    if (!h)
        return NULL;
    h->loop = loop;
    ev_init(&h->stall, stall_scan);
    h->stall.repeat = 1.0;
    h->stall.data = h;
    h->nsh = (int)((max_conns + HTTP_SHARD_CONNS - 1) / HTTP_SHARD_CONNS);
    if (h->nsh < 1)
        h->nsh = 1;
    h->sh = calloc((size_t)h->nsh, sizeof(*h->sh));
    if (!h->sh) {
        free(h);
        return NULL;
    }
    for (int i = 0; i < h->nsh; i++)
        if (shard_init(h, &h->sh[i], max_conns) < 0) {
            http_free(h);
            return NULL;
        }
    return h;
}

void
http_free(struct http *h)
{
    if (!h)
        return;
    ev_timer_stop(h->loop, &h->stall);
    while (h->nidle > 0)
        curl_easy_cleanup(h->idle[--h->nidle]);
    free(h->idle);
    for (int i = 0; i < h->nsh; i++) {
        if (h->sh[i].multi)
            curl_multi_cleanup(h->sh[i].multi);
        ev_timer_stop(h->loop, &h->sh[i].timer);
    }
    free(h->sh);
    free(h);
}

int
http_submit(struct http *h, struct http_req *r)
{
    struct http_shard *sh = &h->sh[0];
    CURL *e = handle_get(h);

    if (!e)
        return -1;
    /* the handle with the fewest transfers: shards stay even, so each keeps
     * about concurrency / shards connections open */
    for (int i = 1; i < h->nsh; i++)
        if (h->sh[i].active < sh->active)
            sh = &h->sh[i];
    r->status = 0;
    r->request_id[0] = r->retry_after[0] = r->retry_after_ms[0] = '\0';
    r->should_retry[0] = r->errbuf[0] = '\0';
    buf_reset(&r->resp);
    r->h = h;
    if (curl_easy_setopt(e, CURLOPT_URL, r->url) ||
        curl_easy_setopt(e, CURLOPT_PRIVATE, r) ||
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) ||
        curl_easy_setopt(e, CURLOPT_POST, 1L) ||
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body) ||
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)r->body_len) ||
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers) ||
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write) ||
        curl_easy_setopt(e, CURLOPT_WRITEDATA, r) ||
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) ||
        curl_easy_setopt(e, CURLOPT_HEADERDATA, r) ||
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf) ||
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->timeout_ms) ||
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, r->connect_timeout_ms) ||
        curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L) ||
        /* a stream's events come a few hundred bytes at a time: 1 KiB
         * (curl's least) instead of its 16 KiB receive buffer per transfer
         * (at 10,000 streams 16 → 4 KiB took 250 MB of RSS to 140 MB, and
         * 4 → 1 KiB another 30 MB; worker CPU per token did not grow) */
        (r->on_data &&
         curl_easy_setopt(e, CURLOPT_BUFFERSIZE, HTTP_STREAM_BUFSZ)) ||
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") ||
        curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "") ||
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                         (long)CURL_HTTP_VERSION_2TLS) ||
        /* wait for a connection to multiplex on: only where HTTP/2 can be
         * (TLS, ALPN); over plain HTTP/1.1 it held a burst of new requests
         * back while connections opened one after another */
        curl_easy_setopt(e, CURLOPT_PIPEWAIT,
                         strncmp(r->url, "https:", 6) == 0 ? 1L : 0L) ||
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, r->insecure ? 0L : 1L) ||
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, r->insecure ? 0L : 2L) ||
        (r->method && !strcmp(r->method, "GET") &&
         curl_easy_setopt(e, CURLOPT_HTTPGET, 1L)) ||
        (r->stall_s > 0 &&
         (curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq) ||
          curl_easy_setopt(e, CURLOPT_PREREQDATA, r))) ||
        (r->stall_s > 0 && r->body_len > HTTP_UPLOAD_WATCH &&
         (curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_xfer) ||
          curl_easy_setopt(e, CURLOPT_XFERINFODATA, r) ||
          curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L)))) {
        handle_put(h, e);
        return -1;
    }
    r->easy = e;
    r->sh = sh;
    if (curl_multi_add_handle(sh->multi, e) != CURLM_OK) {
        handle_put(h, e);
        r->easy = NULL;
        return -1;
    }
    h->active++;
    sh->active++;
    r->watched = 0;
    if (r->stall_s > 0)
        watch_add(h, r);
    return 0;
}

void
http_abort(struct http *h, struct http_req *r)
{
    if (!r->easy)
        return;
    curl_multi_remove_handle(r->sh->multi, r->easy);
    handle_put(h, r->easy);
    watch_del(h, r);
    r->easy = NULL;
    h->active--;
    r->sh->active--;
}

void
http_req_reset(struct http_req *r)
{
    buf_free(&r->resp);
}

int
http_active(const struct http *h)
{
    return h->active;
}

long
http_handles_made(const struct http *h)
{
    return h->created;
}
