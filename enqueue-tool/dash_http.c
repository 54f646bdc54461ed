/* genq dashboard: the HTTP side (libmicrohttpd, a thread per connection):
 * listening, routing a request to the page's files or the JSON API, the
 * security headers every response carries (Content-Security-Policy without
 * inline scripts, nosniff, no framing), and the rules of state-changing
 * requests: POST only, a JSON body, the admin token (Bearer header or a
 * login's cookie) and, with a cookie, the session's CSRF token. */
#include "fmacros.h"

#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "dash.h"

static const char csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";

static enum MHD_Result
queue_resp(struct dash_req *r, unsigned status, const char *type,
           const void *data, size_t len, int copy, int cache)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, (void *)(uintptr_t)data,
        copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc;

    if (!resp)
        return MHD_NO;
    if (MHD_add_response_header(resp, "Content-Type", type) != MHD_YES ||
        MHD_add_response_header(resp, "Content-Security-Policy", csp) !=
            MHD_YES ||
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff") !=
            MHD_YES ||
        MHD_add_response_header(resp, "X-Frame-Options", "DENY") != MHD_YES ||
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer") !=
            MHD_YES ||
        MHD_add_response_header(resp, "Cache-Control",
                                cache ? "no-cache" : "no-store") != MHD_YES) {
        MHD_destroy_response(resp);
        return MHD_NO;
    }
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(
            resp, "Allow",
            strncmp(r->url, "/api/", 5) ? "GET, HEAD" : "GET, HEAD, POST");
    rc = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

enum MHD_Result
dash_json_text(struct dash_req *r, unsigned status, const char *text)
{
    return queue_resp(r, status, "application/json", text, strlen(text), 1, 0);
}

enum MHD_Result
dash_json(struct dash_req *r, unsigned status, cJSON *j)
{
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    enum MHD_Result rc;

    cJSON_Delete(j);
    if (!s)
        return dash_json_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR,
                              "{\"error\":\"out of memory\"}");
    rc = dash_json_text(r, status, s);
    cJSON_free(s);
    return rc;
}

enum MHD_Result
dash_error(struct dash_req *r, unsigned status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    cJSON *j = cJSON_CreateObject();

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (j && !cJSON_AddStringToObject(j, "error", msg)) {
        cJSON_Delete(j);
        j = NULL;
    }
    return dash_json(r, status, j);
}

const char *
dash_arg(struct dash_req *r, const char *name)
{
    const char *v =
        MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);

    return v && *v ? v : NULL;
}

const char *
dash_queue_arg(struct dash_req *r, enum MHD_Result *ret)
{
    const char *q = dash_arg(r, "queue");

    if (!q)
        q = "default";
    if (!queue_name_valid(q)) {
        *ret = dash_error(r, MHD_HTTP_BAD_REQUEST,
                          "queue: invalid queue name '%.80s' (1..64 of A-Z "
                          "a-z 0-9 . _ -)",
                          q);
        return NULL;
    }
    return q;
}

/* ---- the page's files ------------------------------------------------- */

static const char *
asset_type(const char *path)
{
    const char *dot = strrchr(path, '.');

    if (dot && !strcmp(dot, ".html"))
        return "text/html; charset=utf-8";
    if (dot && !strcmp(dot, ".js"))
        return "text/javascript; charset=utf-8";
    if (dot && !strcmp(dot, ".css"))
        return "text/css; charset=utf-8";
    if (dot && !strcmp(dot, ".svg"))
        return "image/svg+xml";
    return "application/octet-stream";
}

static enum MHD_Result
serve_asset(struct dash_req *r)
{
    const char *path = strcmp(r->url, "/") ? r->url : "/index.html";

    for (int i = 0; i < dash_asset_count; i++)
        if (!strcmp(path, dash_asset_path[i]))
            return queue_resp(r, MHD_HTTP_OK, asset_type(path),
                              dash_asset_data[i], dash_asset_len[i], 0, 1);
    return queue_resp(r, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8",
                      "not found\n", 10, 0, 0);
}

/* ---- POST: who may change what ---------------------------------------- */

/* The rules every POST but login/logout passes: a token is set, the
 * request carries it (Bearer) or a session cookie with its CSRF token. 1 to
 * go on, else 0 with the refusal queued into *ret. */
static int
authorised(struct dash_req *r, enum MHD_Result *ret)
{
    char csrf[65];
    enum dash_who who = dash_auth_who(&r->d->auth, r->conn, csrf);
    const char *got;

    if (r->d->auth.token_len == 0) {
        *ret = dash_error(r, MHD_HTTP_FORBIDDEN,
                          "read-only dashboard: actions need an admin token "
                          "(start it with --admin-token-file F or "
                          "GENQ_ADMIN_TOKEN)");
        return 0;
    }
    if (who == DASH_ANON) {
        *ret = dash_error(r, MHD_HTTP_UNAUTHORIZED,
                          "admin token required (Authorization: Bearer "
                          "TOKEN, or log in on the page)");
        return 0;
    }
    if (who == DASH_COOKIE) {
        got = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                          "X-CSRF-Token");
        if (!got || !dash_ct_equal(got, strlen(got), csrf, 64)) {
            *ret = dash_error(r, MHD_HTTP_FORBIDDEN,
                              "CSRF token missing or wrong (header "
                              "X-CSRF-Token; GET /api/session gives it)");
            return 0;
        }
    }
    return 1;
}

/* A cross-site request carries an Origin that is not ours: refused. */
static int
foreign_origin(struct dash_req *r)
{
    const char *o =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Origin");
    const char *h =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Host");

    if (!o)
        return 0;
    if (!h || strncmp(o, "http://", 7) || strcmp(o + 7, h))
        return 1;
    return 0;
}

static const char *const post_routes[] = {"/api/login",
                                          "/api/logout",
                                          "/api/dlq/requeue",
                                          "/api/dlq/purge",
                                          "/api/review/approve",
                                          "/api/review/reject",
                                          NULL};

static int
is_post_route(const char *u)
{
    for (int i = 0; post_routes[i]; i++)
        if (!strcmp(u, post_routes[i]))
            return 1;
    return 0;
}

/* A GET route of the API or a file of the page. */
static int
is_get_route(const char *u)
{
    return strncmp(u, "/api/", 5) || !strcmp(u, "/api/session") ||
           !strcmp(u, "/api/queues") || !strcmp(u, "/api/series") ||
           !strcmp(u, "/api/workers") || !strcmp(u, "/api/dlq") ||
           !strcmp(u, "/api/limits") || !strcmp(u, "/api/budget") ||
           !strcmp(u, "/api/review") || (!strncmp(u, "/api/dlq/", 9) && u[9]) ||
           (!strncmp(u, "/api/jobs/", 10) && u[10]);
}

static enum MHD_Result
route_post(struct dash_req *r)
{
    const char *ct =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type");
    enum MHD_Result ret = MHD_NO;
    cJSON *body;

    if (!is_post_route(r->url))
        return is_get_route(r->url)
                   ? dash_error(r, MHD_HTTP_METHOD_NOT_ALLOWED,
                                "%s takes GET only", r->url)
                   : dash_error(r, MHD_HTTP_NOT_FOUND, "no API %s", r->url);
    if (foreign_origin(r))
        return dash_error(r, MHD_HTTP_FORBIDDEN,
                          "cross-origin request refused (Origin is not this "
                          "dashboard)");
    if (!ct || strncmp(ct, "application/json", 16))
        return dash_error(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                          "Content-Type: expected application/json");
    if (!strcmp(r->url, "/api/logout"))
        return dash_api_logout(r);
    body = cJSON_ParseWithLength(r->body ? r->body : "", r->body_len);
    if (!cJSON_IsObject(body)) {
        cJSON_Delete(body);
        return dash_error(r, MHD_HTTP_BAD_REQUEST,
                          "body: expected a JSON object");
    }
    if (!strcmp(r->url, "/api/login"))
        ret = dash_api_login(r, body);
    else if (!authorised(r, &ret))
        ;
    else if (!strcmp(r->url, "/api/dlq/requeue"))
        ret = dash_api_dlq_change(r, body, 0);
    else if (!strcmp(r->url, "/api/dlq/purge"))
        ret = dash_api_dlq_change(r, body, 1);
    else
        ret = dash_api_review_decide(r, body,
                                     !strcmp(r->url, "/api/review/approve"));
    cJSON_Delete(body);
    return ret;
}

static enum MHD_Result
route_get(struct dash_req *r)
{
    const char *u = r->url;

    if (strncmp(u, "/api/", 5))
        return serve_asset(r);
    if (!strcmp(u, "/api/session"))
        return dash_api_session(r);
    if (!strcmp(u, "/api/queues"))
        return dash_api_queues(r);
    if (!strcmp(u, "/api/series"))
        return dash_api_series(r);
    if (!strcmp(u, "/api/workers"))
        return dash_api_workers(r);
    if (!strcmp(u, "/api/limits"))
        return dash_api_limits(r);
    if (!strcmp(u, "/api/budget"))
        return dash_api_budget(r);
    if (!strcmp(u, "/api/dlq"))
        return dash_api_dlq(r);
    if (!strcmp(u, "/api/review"))
        return dash_api_review(r);
    if (is_post_route(u))
        return dash_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "%s takes POST only",
                          u);
    if (!strncmp(u, "/api/dlq/", 9) && u[9])
        return dash_api_dlq_entry(r, u + 9);
    if (!strncmp(u, "/api/jobs/", 10) && u[10])
        return dash_api_job(r, u + 10);
    return dash_error(r, MHD_HTTP_NOT_FOUND, "no API %s", u);
}

/* 1 when the name h[0..n) is one of the comma-separated list. */
static int
in_list(const char *list, const char *h, size_t n)
{
    while (*list) {
        size_t k = strcspn(list, ",");
        if (k == n && !strncasecmp(list, h, n))
            return 1;
        list += k + (list[k] == ',');
    }
    return 0;
}

/* Only requests addressed to a name of --allowed-hosts, or on a loopback
 * address to a loopback name, are answered: a page of another site whose
 * name was rebound to this address must not read the queues. 1 when the
 * Host header is fine. */
static int
host_ok(struct dash_req *r)
{
    const char *h =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Host");
    size_t n;

    if (!r->d->allowed_hosts && !r->d->loopback)
        return 1;
    if (!h)
        return 0;
    n = h[0] == '[' ? strcspn(h, "]") + (h[strcspn(h, "]")] == ']')
                    : strcspn(h, ":");
    if (h[n] && h[n] != ':')
        return 0;
    if (r->d->allowed_hosts)
        return in_list(r->d->allowed_hosts, h, n);
    return (n == 5 && !strncmp(h, "[::1]", 5)) ||
           (n == 9 && !strncasecmp(h, "localhost", 9)) ||
           (n >= 9 && n <= 15 && !strncmp(h, "127.", 4) &&
            strspn(h, "0123456789.") >= n);
}

/* The body of a POST as it arrives. */
struct upload {
    char *data;
    size_t len;
    int too_big;
};

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
           const char *method, const char *version, const char *upload_data,
           size_t *upload_size, void **con_cls)
{
    struct dash_req r = {cls, conn, method, url, NULL, 0};
    struct upload *u = *con_cls;

    (void)version;
    if (!host_ok(&r))
        return dash_error(&r, MHD_HTTP_MISDIRECTED_REQUEST,
                          "Host: not a name this dashboard answers to "
                          "(loopback names, or --allowed-hosts)");
    if (!strcmp(method, "POST")) {
        if (!u) {
            u = calloc(1, sizeof(*u));
            if (!u)
                return MHD_NO;
            *con_cls = u;
            return MHD_YES;
        }
        if (*upload_size) {
            if (!u->too_big && u->len + *upload_size <= DASH_BODY_MAX) {
                char *g = realloc(u->data, u->len + *upload_size + 1);
                if (!g)
                    return MHD_NO;
                u->data = g;
                memcpy(u->data + u->len, upload_data, *upload_size);
                u->len += *upload_size;
                u->data[u->len] = '\0';
            } else {
                u->too_big = 1;
            }
            *upload_size = 0;
            return MHD_YES;
        }
        if (u->too_big)
            return dash_error(&r, MHD_HTTP_CONTENT_TOO_LARGE,
                              "body: larger than %d bytes", DASH_BODY_MAX);
        r.body = u->data;
        r.body_len = u->len;
        return route_post(&r);
    }
    if (!strcmp(method, "GET") || !strcmp(method, "HEAD"))
        return route_get(&r);
    return dash_error(&r, MHD_HTTP_METHOD_NOT_ALLOWED, "method %s refused",
                      method);
}

static void
on_done(void *cls, struct MHD_Connection *conn, void **con_cls,
        enum MHD_RequestTerminationCode toe)
{
    struct upload *u = *con_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (u) {
        free(u->data);
        free(u);
        *con_cls = NULL;
    }
}

int
dash_listen(struct dash *d, const char *addr, int *port, int *loopback,
            char *err, size_t errlen)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    struct addrinfo hints, *ai = NULL;
    const union MHD_DaemonInfo *info;
    int rc;

    if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof(host) ||
        !colon[1]) {
        snprintf(err, errlen, "--listen: expected HOST:PORT, got '%s'", addr);
        return -1;
    }
    snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        host[strlen(host) - 1] = '\0';
        memmove(host, host + 1, strlen(host));
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if ((rc = getaddrinfo(host, colon + 1, &hints, &ai)) != 0 || !ai) {
        snprintf(err, errlen, "--listen %s: %s", addr, gai_strerror(rc));
        return -1;
    }
    if (ai->ai_family == AF_INET)
        *loopback = (ntohl(((struct sockaddr_in *)(void *)ai->ai_addr)
                               ->sin_addr.s_addr) >>
                     24) == 127;
    else
        *loopback =
            ai->ai_family == AF_INET6 &&
            IN6_IS_ADDR_LOOPBACK(
                &((struct sockaddr_in6 *)(void *)ai->ai_addr)->sin6_addr);
    d->loopback = *loopback;
    d->d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
            (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0),
        0, NULL, NULL, on_request, d, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)256, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
        MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!d->d) {
        snprintf(err, errlen, "--listen %s: cannot listen (port in use?)",
                 addr);
        return -1;
    }
    info = MHD_get_daemon_info(d->d, MHD_DAEMON_INFO_BIND_PORT);
    *port = info ? info->port : 0;
    return 0;
}
