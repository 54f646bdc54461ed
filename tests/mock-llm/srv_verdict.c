/* srv_verdict: the mock as a reviewer model (genq-worker --review-model,
 * worker/review_call.c). A request whose system prompt holds the marker
 * [mock:review] is answered with a verdict instead of an article: "FAIL:
 * the text breaks the house style" when its user turn holds
 * [mock:verdict=fail] (the reviewed job's prompt carries it), else "PASS".
 * Everything else about the reply (usage, streaming, faults) is as usual. */
#include "fmacros.h"

#include <stdlib.h>
#include <string.h>

#include "mocktext.h"
#include "srv.h"

#define FAIL_TEXT "FAIL: the text breaks the house style"

/* 1 when body's system prompt (a string or text blocks) holds the marker. */
static int
is_review(const cJSON *body)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(body, "system"), *b;

    if (cJSON_IsString(s))
        return strstr(s->valuestring, "[mock:review]") != NULL;
    cJSON_ArrayForEach(b, s)
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(b, "text");
        if (cJSON_IsString(t) && strstr(t->valuestring, "[mock:review]"))
            return 1;
    }
    return 0;
}

int
srv_verdict_apply(struct mockapi_gen *g, const cJSON *body)
{
    const char *v;
    struct mocktext_article *a;
    size_t n = 1, len;

    if (!is_review(body) || g->k > 0)
        return 0;
    v = strstr(g->key, "[mock:verdict=fail]") ? FAIL_TEXT : "PASS";
    len = strlen(v);
    for (size_t i = 0; i < len; i++)
        n += v[i] == ' ';
    a = calloc(1, sizeof(*a));
    if (!a || !(a->text = strdup(v)) ||
        !(a->off = calloc(n + 1, sizeof(*a->off)))) {
        mocktext_article_free(a);
        return -1;
    }
    /* token 0 a word, token i > 0 " " + word (mocktext.h) */
    a->len = len;
    a->ntokens = a->total = n;
    for (size_t i = 0, t = 1; i < len; i++)
        if (v[i] == ' ')
            a->off[t++] = i;
    a->off[n] = len;
    mocktext_article_free(g->art);
    g->art = a;
    return mocktext_reply(a, 0, g->max_tokens, (const char *const *)g->stops,
                          g->nstops, &g->reply) < 0
               ? -1
               : 0;
}
