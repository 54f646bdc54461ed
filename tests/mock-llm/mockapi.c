/* Mock LLM server: the fault kinds, API errors, and the validation of a
 * request body into a generation (mockapi_gen). Credentials are checked in
 * mockapi_auth.c, replies rendered in mockapi_reply.c. */
#include "fmacros.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mockapi.h"

/* Fault kinds. Messages are illustrative, in the style of the real APIs. */
static const struct mockapi_fault faults[] = {
    {"429", MOCKAPI_FAULT_STATUS, 429, "rate_limit_error",
     "Number of request tokens has exceeded your per-minute rate limit",
     "requests", "rate_limit_exceeded",
     "Rate limit reached for requests. Please try again later.", 1, 0},
    {"429nora", MOCKAPI_FAULT_STATUS, 429, "rate_limit_error",
     "You have reached your specified workspace API usage limits.",
     "insufficient_quota", "insufficient_quota",
     "You exceeded your current quota, please check your plan and billing "
     "details.",
     0, 0},
    {"500", MOCKAPI_FAULT_STATUS, 500, "api_error", "Internal server error",
     "server_error", NULL,
     "The server had an error while processing your "
     "request.",
     0, 0},
    {"500noretry", MOCKAPI_FAULT_STATUS, 500, "api_error",
     "Internal server error", "server_error", NULL,
     "The server had an error while processing your request.", 0, 1},
    {"502", MOCKAPI_FAULT_STATUS, 502, "api_error", "Bad gateway",
     "server_error", NULL, "Bad gateway.", 0, 0},
    {"503", MOCKAPI_FAULT_STATUS, 503, "api_error", "Service unavailable",
     "server_error", NULL, "The server is overloaded or not ready yet.", 0, 0},
    {"504", MOCKAPI_FAULT_STATUS, 504, "timeout_error",
     "Request timed out while processing", "server_error", "timeout",
     "Request timed out.", 0, 0},
    {"529", MOCKAPI_FAULT_STATUS, 529, "overloaded_error", "Overloaded",
     "server_error", "overloaded", "Overloaded", 0, 0},
    {"400", MOCKAPI_FAULT_STATUS, 400, "invalid_request_error",
     "mock: injected invalid request", "invalid_request_error", NULL,
     "mock: injected invalid request", 0, 0},
    {"401", MOCKAPI_FAULT_STATUS, 401, "authentication_error",
     "invalid x-api-key", "invalid_request_error", "invalid_api_key",
     "Incorrect API key provided.", 0, 0},
    {"402", MOCKAPI_FAULT_STATUS, 402, "billing_error",
     "Your credit balance is too low to access the API.", "insufficient_quota",
     "insufficient_quota", "You exceeded your current quota.", 0, 0},
    {"403", MOCKAPI_FAULT_STATUS, 403, "permission_error",
     "Your API key does not have permission to use the specified resource.",
     "permission_error", "permission_denied",
     "You do not have access to this resource.", 0, 0},
    {"404", MOCKAPI_FAULT_STATUS, 404, "not_found_error",
     "The requested resource could not be found.", "invalid_request_error",
     "model_not_found",
     "The model does not exist or you do not have access "
     "to it.",
     0, 0},
    {"408", MOCKAPI_FAULT_STATUS, 408, "timeout_error", "Request timeout",
     "timeout", NULL, "Request timed out.", 0, 0},
    {"409", MOCKAPI_FAULT_STATUS, 409, "conflict_error",
     "Request conflicts with the current state of the resource", "conflict",
     NULL, "Conflict.", 0, 0},
    {"413", MOCKAPI_FAULT_STATUS, 413, "request_too_large",
     "Request exceeds the maximum allowed number of bytes.",
     "invalid_request_error", "request_too_large",
     "Request exceeds the maximum allowed number of bytes.", 0, 0},
    {"stream-error", MOCKAPI_FAULT_STREAM_ERR, 529, "overloaded_error",
     "Overloaded", "server_error", "overloaded", "Overloaded", 0, 0},
    {"drop", MOCKAPI_FAULT_DROP, 200, NULL, NULL, NULL, NULL, NULL, 0, 0},
    {"stall", MOCKAPI_FAULT_STALL, 200, NULL, NULL, NULL, NULL, NULL, 0, 0},
    {"malformed", MOCKAPI_FAULT_MALFORMED, 200, NULL, NULL, NULL, NULL, NULL, 0,
     0},
};

#define NFAULTS (sizeof(faults) / sizeof(faults[0]))

const struct mockapi_fault *
mockapi_faults(size_t *n)
{
    *n = NFAULTS;
    return faults;
}

int
mockapi_fault_find(const char *name)
{
    for (size_t i = 0; i < NFAULTS; i++)
        if (strcmp(faults[i].name, name) == 0)
            return (int)i;
    return -1;
}

void
mockapi_error_set(struct mockapi_error *err, int status, const char *type,
                  const char *message)
{
    memset(err, 0, sizeof(*err));
    err->status = status;
    snprintf(err->type, sizeof(err->type), "%s", type);
    snprintf(err->message, sizeof(err->message), "%s", message);
}

static int bad(struct mockapi_error *err, enum mockapi_proto proto,
               const char *param, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Fills a 400 invalid_request_error; returns -1 for `return bad(...)`. */
static int
bad(struct mockapi_error *err, enum mockapi_proto proto, const char *param,
    const char *code, const char *fmt, ...)
{
    va_list ap;

    memset(err, 0, sizeof(*err));
    err->status = 400;
    snprintf(err->type, sizeof(err->type), "invalid_request_error");
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    if (proto == MOCKAPI_OPENAI) {
        if (param != NULL)
            snprintf(err->param, sizeof(err->param), "%s", param);
        if (code != NULL)
            snprintf(err->code, sizeof(err->code), "%s", code);
    }
    return -1;
}

static int
oom(struct mockapi_error *err)
{
    mockapi_error_set(err, 500, "api_error", "mock: out of memory");
    return -1;
}

/* Appends the text of a content value (a string, or the text blocks of an
 * array) to out. Returns 0, 1 if the shape is wrong, -1 on OOM. */
static int
content_text(const cJSON *content, struct mockbuf *out)
{
    const cJSON *blk;

    if (content != NULL && cJSON_IsString(content))
        return mockbuf_puts(out, content->valuestring) < 0 ? -1 : 0;
    if (cJSON_IsNull(content))
        return 0;
    if (!cJSON_IsArray(content))
        return 1;
    cJSON_ArrayForEach(blk, content)
    {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(blk, "type");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(blk, "text");
        if (!cJSON_IsObject(blk))
            return 1;
        if (cJSON_IsString(type) && strcmp(type->valuestring, "text") == 0) {
            if (!cJSON_IsString(text))
                return 1;
            if (mockbuf_puts(out, text->valuestring) < 0)
                return -1;
        }
    }
    return 0;
}

/* Reads a positive integer field; 0 = absent, 1 = ok, -1 = invalid. */
static int
get_count(const cJSON *obj, const char *name, size_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    double d;

    if (v == NULL || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsNumber(v))
        return -1;
    d = v->valuedouble;
    if (d != floor(d) || d < 1 || d > 1e12)
        return -1;
    *out = (size_t)d;
    return 1;
}

static int
add_stop(struct mockapi_gen *g, const char *s)
{
    char **p = realloc(g->stops, (g->nstops + 1) * sizeof(*p));

    if (p == NULL)
        return -1;
    g->stops = p;
    g->stops[g->nstops] = strdup(s);
    if (g->stops[g->nstops] == NULL)
        return -1;
    g->nstops++;
    return 0;
}

int
mockapi_gen_parse(enum mockapi_proto proto, const cJSON *body,
                  size_t article_default, struct mockapi_gen *g,
                  struct mockapi_error *err)
{
    const int an = proto == MOCKAPI_ANTHROPIC;
    const cJSON *model, *msgs, *m, *v, *last = NULL;
    struct mockbuf text = {0}, key = {0};
    size_t words = 0, idx = 0, limit;
    int have_key = 0, rc = -1, r;
    char field[64];

    memset(g, 0, sizeof(*g));
    g->proto = proto;
    if (!cJSON_IsObject(body))
        return bad(err, proto, NULL, NULL,
                   an ? "invalid JSON in request body: expected an object"
                      : "We could not parse the JSON body of your request.");
    model = cJSON_GetObjectItemCaseSensitive(body, "model");
    if (model == NULL)
        return bad(err, proto, "model", "missing_required_parameter",
                   an ? "model: Field required"
                      : "you must provide a model parameter");
    if (!cJSON_IsString(model) || model->valuestring[0] == '\0')
        return bad(err, proto, "model", NULL,
                   "model: Input should be a valid non-empty string");

    if (an) {
        r = get_count(body, "max_tokens", &g->max_tokens);
        if (r == 0)
            return bad(err, proto, NULL, NULL, "max_tokens: Field required");
        if (r < 0)
            return bad(err, proto, NULL, NULL,
                       "max_tokens: Input should be a valid integer greater "
                       "than or equal to 1");
    } else {
        const char *name = "max_completion_tokens";
        r = get_count(body, name, &g->max_tokens);
        if (r == 0) {
            name = "max_tokens";
            r = get_count(body, name, &g->max_tokens);
        }
        if (r < 0)
            return bad(err, proto, name, "invalid_value",
                       "Invalid '%s': expected an integer >= 1.", name);
        if (r == 0)
            g->max_tokens = SIZE_MAX;
    }

    msgs = cJSON_GetObjectItemCaseSensitive(body, "messages");
    if (msgs == NULL)
        return bad(err, proto, "messages", "missing_required_parameter",
                   an ? "messages: Field required"
                      : "Missing required parameter: 'messages'.");
    if (!cJSON_IsArray(msgs))
        return bad(err, proto, "messages", "invalid_type",
                   "messages: Input should be a valid list");
    if (cJSON_GetArraySize(msgs) == 0)
        return bad(err, proto, "messages", "empty_array",
                   an ? "messages: at least one message is required"
                      : "Invalid 'messages': empty array. Expected an array "
                        "with minimum length 1, but got an empty array "
                        "instead.");

    if (an) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(body, "temperature");
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(body, "top_p");
        if (t != NULL && !cJSON_IsNull(t) && p != NULL && !cJSON_IsNull(p))
            return bad(err, proto, NULL, NULL,
                       "`temperature` and `top_p` cannot both be specified "
                       "for this model. Please use only one.");
    }

    v = cJSON_GetObjectItemCaseSensitive(body, "stream");
    if (v != NULL && !cJSON_IsNull(v)) {
        if (!cJSON_IsBool(v))
            return bad(err, proto, "stream", "invalid_type",
                       "stream: Input should be a valid boolean");
        g->stream = cJSON_IsTrue(v);
    }
    if (!an) {
        const cJSON *so =
            cJSON_GetObjectItemCaseSensitive(body, "stream_options");
        if (so != NULL && !cJSON_IsNull(so)) {
            const cJSON *iu;
            if (!cJSON_IsObject(so))
                return bad(err, proto, "stream_options", "invalid_type",
                           "Invalid type for 'stream_options'.");
            iu = cJSON_GetObjectItemCaseSensitive(so, "include_usage");
            g->include_usage = cJSON_IsTrue(iu);
        }
    }

    /* Stop strings. */
    v = cJSON_GetObjectItemCaseSensitive(body, an ? "stop_sequences" : "stop");
    if (v != NULL && !cJSON_IsNull(v)) {
        const cJSON *s;
        if (!an && cJSON_IsString(v)) {
            if (add_stop(g, v->valuestring) < 0)
                return oom(err);
        } else if (cJSON_IsArray(v)) {
            cJSON_ArrayForEach(s, v)
            {
                if (!cJSON_IsString(s))
                    return bad(err, proto, "stop", "invalid_type",
                               "%s: Input should be a list of strings",
                               an ? "stop_sequences" : "stop");
                if (add_stop(g, s->valuestring) < 0)
                    return oom(err);
            }
        } else {
            return bad(err, proto, "stop", "invalid_type",
                       "%s: Input should be a list of strings",
                       an ? "stop_sequences" : "stop");
        }
    }

    /* System prompt (Anthropic) counts towards input tokens. */
    if (an) {
        v = cJSON_GetObjectItemCaseSensitive(body, "system");
        if (v != NULL) {
            r = content_text(v, &text);
            if (r != 0) {
                mockbuf_free(&text);
                return r < 0 ? oom(err)
                             : bad(err, proto, NULL, NULL,
                                   "system: Input should be a valid string "
                                   "or list of text blocks");
            }
            words += mocktext_count_words(text.data, text.len);
        }
    }

    cJSON_ArrayForEach(m, msgs)
    {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        int role_ok;

        snprintf(field, sizeof(field), "messages.%zu", idx);
        if (!cJSON_IsObject(m)) {
            bad(err, proto, "messages", NULL,
                "%s: Input should be a valid dictionary", field);
            goto out;
        }
        role_ok = cJSON_IsString(role) &&
                  (strcmp(role->valuestring, "user") == 0 ||
                   strcmp(role->valuestring, "assistant") == 0 ||
                   (!an && (strcmp(role->valuestring, "system") == 0 ||
                            strcmp(role->valuestring, "developer") == 0 ||
                            strcmp(role->valuestring, "tool") == 0)));
        if (!role_ok) {
            bad(err, proto, "messages", NULL,
                an ? "%s.role: Input should be 'user' or 'assistant'"
                   : "%s.role: Invalid value",
                field);
            goto out;
        }
        if (content == NULL && an) {
            bad(err, proto, "messages", NULL, "%s.content: Field required",
                field);
            goto out;
        }
        mockbuf_clear(&text);
        r = content_text(content, &text);
        if (r < 0) {
            oom(err);
            goto out;
        }
        if (r > 0 || (an && cJSON_IsNull(content))) {
            bad(err, proto, "messages", NULL,
                "%s.content: Input should be a valid string or list of "
                "content blocks",
                field);
            goto out;
        }
        words += mocktext_count_words(text.data ? text.data : "", text.len);
        if (!have_key && strcmp(role->valuestring, "user") == 0) {
            have_key = 1;
            if (mockbuf_append(&key, text.data ? text.data : "", text.len) <
                0) {
                oom(err);
                goto out;
            }
        }
        last = m;
        idx++;
    }
    if (mockbuf_append(&key, "", 0) < 0) {
        oom(err);
        goto out;
    }
    g->key = key.data;
    g->key_len = key.len;
    key.data = NULL;
    g->key_hash = mocktext_hash(g->key, g->key_len);
    g->input_tokens = words > 0 ? words : 1;

    /* A trailing assistant turn is a prefill: continue after it. */
    g->k = 0;
    if (last != NULL) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(last, "role");
        if (strcmp(role->valuestring, "assistant") == 0) {
            mockbuf_clear(&text);
            if (content_text(cJSON_GetObjectItemCaseSensitive(last, "content"),
                             &text) < 0) {
                oom(err);
                goto out;
            }
            if (mocktext_prefix_tokens(g->key, g->key_len, article_default,
                                       text.data ? text.data : "", text.len,
                                       &g->k) < 0) {
                bad(err, proto, "messages", NULL,
                    "mock: assistant prefill is not a prefix of the article");
                goto out;
            }
        }
    }

    g->model = strdup(model->valuestring);
    if (g->model == NULL) {
        oom(err);
        goto out;
    }
    limit = g->max_tokens > SIZE_MAX - g->k ? SIZE_MAX : g->k + g->max_tokens;
    g->art = mocktext_article_new(g->key, g->key_len, article_default, limit);
    if (g->art == NULL) {
        oom(err);
        goto out;
    }
    if (mocktext_reply(g->art, g->k, g->max_tokens,
                       (const char *const *)g->stops, g->nstops,
                       &g->reply) < 0) {
        mockapi_error_set(err, 500, "api_error", "mock: reply out of range");
        goto out;
    }
    rc = 0;
out:
    mockbuf_free(&text);
    mockbuf_free(&key);
    return rc;
}

void
mockapi_gen_free(struct mockapi_gen *g)
{
    free(g->model);
    free(g->key);
    for (size_t i = 0; i < g->nstops; i++)
        free(g->stops[i]);
    free(g->stops);
    mocktext_article_free(g->art);
    memset(g, 0, sizeof(*g));
}
