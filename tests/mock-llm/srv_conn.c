/* genq-mockllm: the HTTP front. Accepts connections, reads and parses
 * requests (mockhttp), routes them to their endpoint, flushes responses,
 * and runs the libev I/O and timer callbacks of each connection. */
#include "fmacros.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>

#include "mockapi.h"
#include "mockhttp.h"
#include "mocktext.h"
#include "srv.h"

const char *const srv_ep_names[EP_N] = {
    "/v1/messages",  "/v1/chat/completions", "/healthz", "/mock/stats",
    "/mock/control", "/mock/reset",          "other"};

static void on_io(struct ev_loop *l, ev_io *w, int revents);
static void on_timer(struct ev_loop *l, ev_timer *w, int revents);

/* ---- connection plumbing ---------------------------------------------- */

static void
conn_set_events(struct conn *c, int events)
{
    if (events == c->events)
        return;
    ev_io_stop(srv_loop, &c->io);
    ev_io_set(&c->io, c->fd, events);
    if (events)
        ev_io_start(srv_loop, &c->io);
    c->events = events;
}

void
srv_stream_end_count(struct conn *c)
{
    if (c->streaming) {
        c->streaming = 0;
        srv_stats.active_streams--;
    }
}

void
srv_conn_close(struct conn *c)
{
    srv_stream_end_count(c);
    ev_io_stop(srv_loop, &c->io);
    ev_timer_stop(srv_loop, &c->timer);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv_conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    mockbuf_free(&c->in);
    mockbuf_free(&c->out);
    mockbuf_free(&c->scratch);
    mockbuf_free(&c->pend);
    mockhttp_free(&c->req);
    mockapi_gen_free(&c->gen);
    free(c);
    srv_stats.active_conns--;
}

void
srv_timer_after(struct conn *c, double secs)
{
    ev_timer_stop(srv_loop, &c->timer);
    ev_timer_set(&c->timer, secs > 0 ? secs : 0., 0.);
    ev_timer_start(srv_loop, &c->timer);
}

/* One read() (out == 0) or write() (out == 1) of up to n bytes on c's
 * socket, retrying EINTR. Returns the bytes moved (> 0), 0 when the socket
 * would block, or -1 when the connection is gone (EOF on read, or an
 * error); the caller then closes it. */
static ssize_t
conn_io(struct conn *c, int out, char *p, size_t n)
{
    for (;;) {
        ssize_t r = out ? write(c->fd, p, n) : read(c->fd, p, n);
        if (r > 0 || (out && r == 0))
            return r;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        return -1;
    }
}

/* Writes what it can; closes the connection when asked to and drained.
 * Returns -1 when the connection was closed (c is freed), else 0. */
static int
conn_flush(struct conn *c)
{
    int events = 0;

    while (c->out.len > c->out.off) {
        ssize_t n =
            conn_io(c, 1, c->out.data + c->out.off, c->out.len - c->out.off);
        if (n < 0) {
            srv_conn_close(c);
            return -1;
        }
        if (n == 0)
            break;
        mockbuf_consume(&c->out, (size_t)n);
    }
    if (c->out.len == c->out.off && c->close_after) {
        if (!c->linger) {
            srv_conn_close(c);
            return -1;
        }
        c->linger = 0;
        c->close_after = 0;
        shutdown(c->fd, SHUT_WR);
        c->state = C_LINGER;
        srv_timer_after(c, LINGER_S);
    }
    if (c->in.len - c->in.off < IN_PAUSE || c->state == C_LINGER)
        events |= EV_READ;
    if (c->out.len > c->out.off || (c->state == C_STREAM && c->waiting))
        events |= EV_WRITE;
    conn_set_events(c, events);
    return 0;
}

void
srv_response_done(struct conn *c)
{
    srv_stream_end_count(c);
    ev_timer_stop(srv_loop, &c->timer);
    c->state = C_IDLE;
    c->is_stream = 0;
    c->waiting = 0;
    c->fault = NULL;
    mockapi_gen_free(&c->gen);
    mockbuf_clear(&c->pend);
    if (!c->keep_alive)
        c->close_after = 1;
    mockhttp_reset(&c->req);
    c->sent_continue = 0;
}

static enum endpoint
route(const char *target, size_t *plen)
{
    const char *q = strchr(target, '?');
    size_t len = q ? (size_t)(q - target) : strlen(target);

    *plen = len;
    for (int i = 0; i < EP_OTHER; i++)
        if (strlen(srv_ep_names[i]) == len &&
            memcmp(srv_ep_names[i], target, len) == 0)
            return (enum endpoint)i;
    return EP_OTHER;
}

/* A complete request is in c->req: answer it (now or later). */
static void
dispatch(struct conn *c)
{
    size_t plen;
    enum endpoint ep = route(c->req.target, &plen);
    const char *want = (ep == EP_HEALTHZ || ep == EP_STATS) ? "GET" : "POST";
    cJSON *body = NULL;

    c->keep_alive = c->req.keep_alive;
    if (c->req.body.len > 0)
        body = cJSON_ParseWithLength(c->req.body.data, c->req.body.len);
    if (ep == EP_OTHER && srv_batch_request(c, body)) {
        /* a batch endpoint (srv_batch.c) */
    } else if (ep == EP_OTHER) {
        struct mockapi_error e;
        struct reqinfo ri = {ep, body, 404, NULL, NULL, 0, 0, 0};
        int oai = strncmp(c->req.target, "/v1/chat/", 9) == 0;
        char rid[64];
        srv_make_id("req_mock", rid, sizeof(rid));
        ri.request_id = rid;
        mockapi_error_set(&e, 404,
                          oai ? "invalid_request_error" : "not_found_error",
                          oai ? "Invalid URL" : "Not Found");
        srv_api_error(c, oai ? MOCKAPI_OPENAI : MOCKAPI_ANTHROPIC, rid, &e,
                      NULL, &ri, 0.0);
    } else if (strcmp(c->req.method, want) != 0) {
        char extra[64];
        snprintf(extra, sizeof(extra), "allow: %s\r\n", want);
        srv_simple_response(c, ep, body, 405, "application/json",
                            "{\"error\":\"method not allowed\"}", 30, extra);
    } else if (ep == EP_HEALTHZ) {
        srv_simple_response(c, ep, body, 200, "text/plain; charset=utf-8", "ok",
                            2, NULL);
    } else if (ep == EP_STATS) {
        srv_json_response(c, ep, body, 200, srv_stats_json());
    } else if (ep == EP_CONTROL) {
        srv_control_request(c, body);
    } else if (ep == EP_RESET) {
        srv_reset_request(c, body);
    } else {
        srv_api_request(c, ep, body);
    }
    cJSON_Delete(body);
}

/* The parser rejected the request: answer and close after draining. */
static void
parse_error(struct conn *c)
{
    int status = c->req.err_status ? c->req.err_status : 400;
    int oai = c->req.target && strncmp(c->req.target, "/v1/chat/", 9) == 0;
    enum endpoint ep = EP_OTHER;
    struct mockapi_error e;
    struct mockbuf body = {0};
    char rid[64];
    struct reqinfo ri = {EP_OTHER, NULL, status, NULL, rid, 0, 0, 0};
    int rc = 0;

    if (c->req.target != NULL) {
        size_t plen;
        ep = route(c->req.target, &plen);
        ri.ep = ep;
    }
    srv_make_id("req_mock", rid, sizeof(rid));
    mockapi_error_set(
        &e, status,
        status == 413
            ? "request_too_large"
            : (oai ? "invalid_request_error"
                   : (status >= 500 ? "api_error" : "invalid_request_error")),
        status == 413    ? "Request exceeds the maximum allowed "
                           "number of bytes."
        : c->req.err_msg ? c->req.err_msg
                         : "bad request");
    c->keep_alive = 0;
    rc |= mockapi_error_body(oai ? MOCKAPI_OPENAI : MOCKAPI_ANTHROPIC, &e, rid,
                             &body);
    rc |= srv_head_open(&c->out, c, status, "application/json",
                        (long long)body.len);
    rc |= mockbuf_printf(&c->out, "%s: %s\r\n\r\n",
                         oai ? "x-request-id" : "request-id", rid);
    rc |= mockbuf_append(&c->out, body.data ? body.data : "", body.len);
    mockbuf_free(&body);
    (void)rc; /* closing anyway */
    srv_count_and_log(c, &ri);
    c->close_after = 1;
    c->linger = 1;
    c->state = C_IDLE;
}

/* Parses and answers buffered requests while the connection is idle. */
static void
conn_process(struct conn *c)
{
    if (c->in_process)
        return;
    c->in_process = 1;
    while (c->state == C_IDLE && !c->close_after) {
        size_t avail = c->in.len - c->in.off, used = 0;
        enum mockhttp_result r;

        if (avail == 0)
            break;
        r = mockhttp_parse(&c->req, c->in.data + c->in.off, avail, &used);
        mockbuf_consume(&c->in, used);
        if (r == MOCKHTTP_AGAIN) {
            if (c->req.state != MOCKHTTP_S_HEAD && c->req.expect_continue &&
                !c->sent_continue) {
                c->sent_continue = 1;
                if (mockbuf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n") < 0)
                    c->close_after = 1;
            }
            break;
        }
        if (r == MOCKHTTP_ERROR) {
            parse_error(c);
            break;
        }
        dispatch(c);
    }
    c->in_process = 0;
}

/* Reads what is there. Returns -1 when the connection was closed. */
static int
conn_read(struct conn *c)
{
    size_t total = 0;

    while (total < 4 * READ_CHUNK) {
        ssize_t n;
        if (mockbuf_reserve(&c->in, READ_CHUNK) < 0) {
            srv_conn_close(c);
            return -1;
        }
        n = conn_io(c, 0, c->in.data + c->in.len, READ_CHUNK);
        if (n < 0) {
            /* Peer closed (or half-closed) or an error: nothing more can be
             * answered reliably, so drop the connection. */
            srv_conn_close(c);
            return -1;
        }
        if (n == 0)
            break;
        c->in.len += (size_t)n;
        total += (size_t)n;
        if (c->state == C_LINGER)
            mockbuf_clear(&c->in);
        if ((size_t)n < READ_CHUNK)
            break;
    }
    return 0;
}

static void
on_io(struct ev_loop *l, ev_io *w, int revents)
{
    struct conn *c = w->data;

    (void)l;
    if (revents & EV_READ) {
        if (conn_read(c) < 0)
            return;
    }
    if ((revents & EV_WRITE) && c->state == C_STREAM && c->waiting &&
        c->out.len == c->out.off)
        srv_stream_pump(c);
    if (c->state == C_IDLE)
        conn_process(c);
    conn_flush(c);
}

static void
on_timer(struct ev_loop *l, ev_timer *w, int revents)
{
    struct conn *c = w->data;

    (void)l;
    (void)revents;
    switch (c->state) {
    case C_DELAY:
        srv_pend_send(c);
        break;
    case C_STREAM:
        srv_stream_pump(c);
        break;
    case C_STALL:
    case C_LINGER:
        srv_conn_close(c);
        return;
    case C_IDLE:
        break;
    }
    if (c->state == C_IDLE)
        conn_process(c);
    conn_flush(c);
}

void
srv_on_accept(struct ev_loop *l, ev_io *w, int revents)
{
    (void)revents;
    for (int i = 0; i < 256; i++) {
        int one = 1;
        struct conn *c;
        int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM) {
                /* Out of descriptors: pause accepting for a moment. */
                fprintf(stderr, "genq-mockllm: accept: %s (pausing)\n",
                        strerror(errno));
                ev_io_stop(l, &srv_accept_w);
                ev_timer_set(&srv_accept_retry_w, 0.1, 0.);
                ev_timer_start(l, &srv_accept_retry_w);
            }
            return;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c = calloc(1, sizeof(*c));
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->id = ++srv_stats.conns_total;
        c->keep_alive = 1;
        ev_io_init(&c->io, on_io, fd, EV_READ);
        c->io.data = c;
        ev_init(&c->timer, on_timer);
        c->timer.data = c;
        ev_io_start(l, &c->io);
        c->events = EV_READ;
        c->next = srv_conns;
        if (srv_conns)
            srv_conns->prev = c;
        srv_conns = c;
        srv_stats.active_conns++;
    }
}

void
srv_on_accept_retry(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)w;
    (void)revents;
    ev_io_start(l, &srv_accept_w);
}

void
srv_on_signal(struct ev_loop *l, ev_signal *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(l, EVBREAK_ALL);
}
