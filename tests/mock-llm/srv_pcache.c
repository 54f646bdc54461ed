/* srv_pcache: prompt caching in the mock (Anthropic Messages only). A
 * request whose system or message text blocks carry cache_control has a
 * cacheable prefix: the text up to and including the last such block. The
 * first request with a prefix reports it as cache_creation_input_tokens (a
 * write); the entry becomes readable only once that response begins (after
 * the latency, as the API says: "a cache entry only becomes available
 * after the first response begins"), so requests arriving before then
 * write again. Later identical prefixes report cache_read_input_tokens.
 * An entry lives 5 minutes ("ttl":"1h": an hour), refreshed by each read.
 * input_tokens counts only what follows the prefix. Counted in
 * GET /mock/stats (cache_writes, cache_reads, their tokens). */
#include "fmacros.h"

#include <stdlib.h>
#include <string.h>

#include "mocktext.h"
#include "srv.h"

#define PC_ENTRIES 4096

struct pcentry {
    uint64_t hash;
    double ready_at, expires_at, ttl;
    int used;
};

static struct pcentry tab[PC_ENTRIES];

void
srv_pcache_clear(void)
{
    memset(tab, 0, sizeof(tab));
}

/* FNV-1a 64 over a text, continuing h (with a separator byte). */
static uint64_t
mix(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    h ^= 0xff;
    return h * 1099511628211ULL;
}

struct scan {
    uint64_t h, cut_h;
    size_t words, cut_words;
    double ttl;
    int marked;
};

/* Walk a content value (string or blocks), extending the running prefix. */
static void
walk(const cJSON *content, struct scan *s)
{
    const cJSON *b;

    if (cJSON_IsString(content)) {
        s->h = mix(s->h, content->valuestring);
        s->words += mocktext_count_words(content->valuestring,
                                         strlen(content->valuestring));
        return;
    }
    cJSON_ArrayForEach(b, content)
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(b, "text");
        const cJSON *cc = cJSON_GetObjectItemCaseSensitive(b, "cache_control");
        if (cJSON_IsString(t)) {
            s->h = mix(s->h, t->valuestring);
            s->words +=
                mocktext_count_words(t->valuestring, strlen(t->valuestring));
        }
        if (cJSON_IsObject(cc)) {
            const cJSON *ttl = cJSON_GetObjectItemCaseSensitive(cc, "ttl");
            s->cut_h = s->h;
            s->cut_words = s->words;
            s->marked = 1;
            s->ttl = cJSON_IsString(ttl) && !strcmp(ttl->valuestring, "1h")
                         ? 3600.0
                         : 300.0;
        }
    }
}

void
srv_pcache_apply(struct mockapi_gen *g, const cJSON *body, double now,
                 double begins_at)
{
    struct scan s = {1469598103934665603ULL, 0, 0, 0, 300.0, 0};
    const cJSON *m, *msgs = cJSON_GetObjectItemCaseSensitive(body, "messages");
    struct pcentry *e = NULL, *free_e = NULL;

    g->cache_write = g->cache_read = 0;
    if (g->proto != MOCKAPI_ANTHROPIC)
        return;
    s.h = mix(s.h, g->model ? g->model : "");
    walk(cJSON_GetObjectItemCaseSensitive(body, "system"), &s);
    cJSON_ArrayForEach(m, msgs)
    {
        walk(cJSON_GetObjectItemCaseSensitive(m, "content"), &s);
    }
    if (!s.marked || s.cut_words == 0)
        return;
    for (int i = 0; i < PC_ENTRIES; i++) {
        struct pcentry *t = &tab[(s.cut_h + (uint64_t)i) % PC_ENTRIES];
        if (t->used && t->hash == s.cut_h) {
            e = t;
            break;
        }
        if (!free_e && (!t->used || t->expires_at <= now))
            free_e = t;
        if (!t->used)
            break;
    }
    if (e && e->ready_at <= now && e->expires_at > now) {
        g->cache_read = s.cut_words;
        e->expires_at = now + e->ttl;
        srv_stats.cache_reads++;
        srv_stats.cache_read_tokens += s.cut_words;
    } else {
        g->cache_write = s.cut_words;
        srv_stats.cache_writes++;
        srv_stats.cache_write_tokens += s.cut_words;
        if (!e || e->expires_at <= now) {
            if (!e)
                e = free_e;
            if (e) {
                e->used = 1;
                e->hash = s.cut_h;
                e->ready_at = begins_at;
                e->ttl = s.ttl;
                e->expires_at = begins_at + s.ttl;
            }
        }
    }
    g->input_tokens =
        g->input_tokens > s.cut_words ? g->input_tokens - s.cut_words : 0;
}
