/* Sharded pub/sub subscriber to one Redis Cluster node (see rsub.h): our
 * own socket, ev_io and redisReader, because hiredis 0.14's async client
 * cannot take the replies of SSUBSCRIBE. Replies to our commands come in
 * order (RESP2), so a FIFO of what was sent tells what each one answers;
 * smessage, and a sunsubscribe nobody asked for, are pushes. */
#include "fmacros.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "buf.h"
#include "cluster.h"
#include "log.h"
#include "rsub.h"

enum sent_kind { SENT_AUTH, SENT_SSUB, SENT_SUNSUB };

struct sent {
    struct sent *next;
    enum sent_kind kind;
    char *channel; /* NULL for AUTH */
};

struct rsub {
    struct ev_loop *loop;
    struct redis_url url; /* host, port, user, pass */
    char name[48];
    struct rsub_cbs cb;
    int fd;   /* -1 while down */
    int up;   /* connected (AUTH goes first: the rest queue after it) */
    int dead; /* Redis < 7: no reconnect */
    int freeing;
    double backoff;
    ev_io rio, wio;
    ev_timer retry;
    redisReader *rd;
    struct buf out;
    struct sent *head, *tail;
    int nch;
    char *ch[RSUB_MAX];
};

static void
sent_clear(struct rsub *s)
{
    while (s->head) {
        struct sent *x = s->head;
        s->head = x->next;
        free(x->channel);
        free(x);
    }
    s->tail = NULL;
}

/* Close the socket; reconnect later unless dead or freeing. */
static void
sub_close(struct rsub *s, const char *why)
{
    if (s->fd >= 0) {
        ev_io_stop(s->loop, &s->rio);
        ev_io_stop(s->loop, &s->wio);
        close(s->fd);
        s->fd = -1;
        if (why && s->up)
            log_kv(LOG_WARN, "redis sharded subscriber down", "conn", s->name,
                   "reason", why, NULL);
    }
    s->up = 0;
    sent_clear(s);
    if (s->out.len) /* unsent, maybe AUTH with its password */
        explicit_bzero(s->out.data, s->out.len);
    buf_reset(&s->out);
    if (s->rd) {
        redisReaderFree(s->rd);
        s->rd = NULL;
    }
    if (!s->dead && !s->freeing) {
        ev_timer_set(&s->retry, s->backoff, 0.);
        ev_timer_start(s->loop, &s->retry);
        s->backoff = s->backoff * 2 > 1.0 ? 1.0 : s->backoff * 2;
    }
}

/* Append one command (argv) to the output and what it answers to the
 * FIFO; -1 on out of memory (the connection is then closed). */
static int
sub_send(struct rsub *s, enum sent_kind kind, int argc, const char **av)
{
    char *cmd = NULL;
    int n = redisFormatCommandArgv(&cmd, argc, av, NULL);
    struct sent *x = calloc(1, sizeof(*x));

    if (n < 0 || !x || buf_append(&s->out, cmd, (size_t)n) < 0 ||
        (kind != SENT_AUTH && !(x->channel = strdup(av[1])))) {
        if (cmd)
            explicit_bzero(cmd, n > 0 ? (size_t)n : 0); /* AUTH: a secret */
        free(cmd);
        free(x);
        sub_close(s, "out of memory");
        return -1;
    }
    explicit_bzero(cmd, (size_t)n);
    free(cmd);
    x->kind = kind;
    if (s->tail)
        s->tail->next = x;
    else
        s->head = x;
    s->tail = x;
    ev_io_start(s->loop, &s->wio);
    return 0;
}

static int
find_ch(const struct rsub *s, const char *channel)
{
    for (int i = 0; i < s->nch; i++)
        if (!strcmp(s->ch[i], channel))
            return i;
    return -1;
}

static void
drop_ch(struct rsub *s, int i)
{
    free(s->ch[i]);
    s->ch[i] = s->ch[--s->nch];
}

/* Forget channel and tell the owner (who may re-add it elsewhere). */
static void
lose(struct rsub *s, const char *channel, int slot, const char *host, int port)
{
    int i = find_ch(s, channel);

    if (i < 0)
        return;
    drop_ch(s, i);
    s->cb.lost(channel, slot, host, port, s->cb.ud);
}

/* An error reply to what x sent. */
static void
on_error(struct rsub *s, const struct sent *x, const char *err)
{
    char host[256];
    int slot = -1, port = 0;

    if (x->kind == SENT_AUTH) {
        log_kv(LOG_WARN, "redis sharded subscriber: AUTH refused", "conn",
               s->name, "error", err, NULL);
        sub_close(s, NULL);
        return;
    }
    if (x->kind != SENT_SSUB)
        return;
    if (!strncasecmp(err, "ERR unknown command", 19)) {
        s->dead = 1;
        sub_close(s, NULL);
        s->cb.unsupported(s->cb.ud);
        return;
    }
    host[0] = '\0';
    if (cluster_redirect_parse(err, &slot, host, sizeof(host), &port) !=
        CLUSTER_REDIR_MOVED) {
        log_kv(LOG_WARN, "redis sharded subscribe refused", "conn", s->name,
               "channel", x->channel, "error", err, NULL);
        slot = -1;
        host[0] = '\0';
        port = 0;
    }
    lose(s, x->channel, slot, host, port);
}

/* One reply or push. */
static void
on_reply(struct rsub *s, redisReply *r)
{
    struct sent *x = s->head;
    const char *kind;

    if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
        r->element[0]->type == REDIS_REPLY_STRING &&
        r->element[1]->type == REDIS_REPLY_STRING) {
        kind = r->element[0]->str;
        if (!strcmp(kind, "smessage")) {
            if (r->element[2]->type == REDIS_REPLY_STRING &&
                find_ch(s, r->element[1]->str) >= 0) {
                s->cb.msg(r->element[1]->str, r->element[2]->str, s->cb.ud);
            }
            return;
        }
        if (!strcmp(kind, "sunsubscribe") &&
            !(x && x->kind == SENT_SUNSUB &&
              !strcmp(x->channel, r->element[1]->str))) {
            /* not asked for: the node gave the slot away */
            lose(s, r->element[1]->str, -1, "", 0);
            return;
        }
    }
    if (!x)
        return; /* nothing we sent: ignore */
    s->head = x->next;
    if (!s->head)
        s->tail = NULL;
    if (r->type == REDIS_REPLY_ERROR)
        on_error(s, x, r->str);
    free(x->channel);
    free(x);
}

static void
on_read(EV_P_ ev_io *w, int revents)
{
    struct rsub *s = w->data;
    char in[16384];
    ssize_t n;
    void *r;

    (void)loop;
    (void)revents;
    n = read(s->fd, in, sizeof(in));
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        sub_close(s, n == 0 ? "connection closed" : strerror(errno));
        return;
    }
    if (n < 0)
        return;
    if (redisReaderFeed(s->rd, in, (size_t)n) != REDIS_OK) {
        sub_close(s, "protocol error");
        return;
    }
    while (s->rd) {
        if (redisReaderGetReply(s->rd, &r) != REDIS_OK) {
            sub_close(s, "protocol error");
            return;
        }
        if (!r)
            return;
        on_reply(s, r);
        freeReplyObject(r);
    }
}

static void
on_write(EV_P_ ev_io *w, int revents)
{
    struct rsub *s = w->data;
    ssize_t n;

    (void)loop;
    (void)revents;
    if (!s->up) { /* the connect finished */
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
            sub_close(s, strerror(err ? err : errno));
            return;
        }
        s->up = 1;
        s->backoff = 0.1;
        ev_io_start(s->loop, &s->rio);
    }
    if (s->out.len == 0) {
        ev_io_stop(s->loop, &s->wio);
        return;
    }
    n = write(s->fd, s->out.data, s->out.len);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            sub_close(s, strerror(errno));
        return;
    }
    memmove(s->out.data, s->out.data + n, s->out.len - (size_t)n);
    s->out.len -= (size_t)n;
    /* what was sent may hold AUTH's password: no copy stays behind */
    explicit_bzero(s->out.data + s->out.len, (size_t)n);
    if (s->out.len == 0)
        ev_io_stop(s->loop, &s->wio);
}

/* A non-blocking connect; AUTH and the SSUBSCRIBEs queued behind it. */
static void
sub_connect(struct rsub *s)
{
    struct addrinfo hints, *ai = NULL;
    char port[16];
    int fd = -1, one = 1;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof(port), "%d", s->url.port);
    if (getaddrinfo(s->url.host, port, &hints, &ai) != 0 || !ai)
        goto fail;
    fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd < 0 || fcntl(fd, F_SETFL, O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        goto fail;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS)
        goto fail;
    freeaddrinfo(ai);
    if (!(s->rd = redisReaderCreate())) {
        close(fd);
        fd = -1;
        ai = NULL;
        goto fail;
    }
    s->fd = fd;
    ev_io_set(&s->rio, fd, EV_READ);
    ev_io_set(&s->wio, fd, EV_WRITE);
    ev_io_start(s->loop, &s->wio);
    if (s->url.pass[0]) {
        const char *av[3] = {"AUTH", s->url.user, s->url.pass};
        int ac = 3;
        if (!s->url.user[0]) {
            av[1] = s->url.pass;
            ac = 2;
        }
        if (sub_send(s, SENT_AUTH, ac, av) < 0)
            return;
    }
    for (int i = 0; i < s->nch; i++) {
        const char *av[2] = {"SSUBSCRIBE", s->ch[i]};
        if (sub_send(s, SENT_SSUB, 2, av) < 0)
            return;
    }
    return;
fail:
    if (ai)
        freeaddrinfo(ai);
    if (fd >= 0)
        close(fd);
    sub_close(s, NULL);
}

static void
on_retry(EV_P_ ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    sub_connect(t->data);
}

struct rsub *
rsub_new(struct ev_loop *loop, const struct redis_url *u, const char *name,
         const struct rsub_cbs *cb)
{
    struct rsub *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->loop = loop;
    memcpy(s->url.host, u->host, sizeof(s->url.host));
    s->url.port = u->port;
    memcpy(s->url.user, u->user, sizeof(s->url.user));
    memcpy(s->url.pass, u->pass, sizeof(s->url.pass));
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->cb = *cb;
    s->fd = -1;
    s->backoff = 0.1;
    buf_init(&s->out, 0);
    ev_io_init(&s->rio, on_read, 0, EV_READ);
    ev_io_init(&s->wio, on_write, 0, EV_WRITE);
    s->rio.data = s->wio.data = s;
    ev_timer_init(&s->retry, on_retry, 0., 0.);
    s->retry.data = s;
    sub_connect(s);
    return s;
}

void
rsub_free(struct rsub *s)
{
    if (!s)
        return;
    s->freeing = 1;
    ev_timer_stop(s->loop, &s->retry);
    sub_close(s, NULL);
    buf_free(&s->out);
    while (s->nch)
        drop_ch(s, 0);
    memset(s->url.pass, 0, sizeof(s->url.pass));
    free(s);
}

int
rsub_add(struct rsub *s, const char *channel)
{
    const char *av[2] = {"SSUBSCRIBE", channel};

    if (find_ch(s, channel) >= 0)
        return 0;
    if (s->nch == RSUB_MAX || !(s->ch[s->nch] = strdup(channel)))
        return -1;
    s->nch++;
    if (s->fd >= 0)
        (void)sub_send(s, SENT_SSUB, 2, av); /* else on connect */
    return 0;
}

void
rsub_del(struct rsub *s, const char *channel)
{
    const char *av[2] = {"SUNSUBSCRIBE", channel};
    int i = find_ch(s, channel);

    if (i < 0)
        return;
    drop_ch(s, i);
    if (s->fd >= 0)
        (void)sub_send(s, SENT_SUNSUB, 2, av);
}
