/* Job validation: the rules of schemas/job.schema.json over a parsed cJSON
 * tree -- document-wide checks (depth, duplicate keys, UTF-8, finite
 * numbers), unknown fields with "did you mean", typed field checks -- and
 * the wording of every rejection. */
#include "fmacros.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "job_int.h"
#include "template.h"
#include "timefmt.h"
#include "utf8.h"

#define QUOTE_MAX 40 /* bytes of a user value quoted in a message */
#define QBUF      (QUOTE_MAX * 4 + 8) /* quote() output, \xNN escapes incl. */

const char *const job_fields[] = {"v",          "id",
                                  "prompt",     "messages",
                                  "template",   "vars",
                                  "system",     "model",
                                  "max_tokens", "temperature",
                                  "top_p",      "stop_sequences",
                                  "priority",   "run_at",
                                  "delay_s",    "max_attempts",
                                  "timeout_s",  "idempotency_key",
                                  "metadata",   "max_continuations",
                                  "notify",     "template_ref",
                                  "batch",      NULL};

/* Index of key in job_fields, or -1. */
static int
field_index(const char *key)
{
    for (int i = 0; job_fields[i]; i++)
        if (key[0] == job_fields[i][0] && strcmp(key, job_fields[i]) == 0)
            return i;
    return -1;
}
static const char *const message_fields[] = {"role", "content", NULL};
static const char *const block_fields[] = {"type", "text", "cache_control",
                                           NULL};
/* Breakpoints a request may carry (the Anthropic API's limit). */
#define CACHE_BREAKPOINTS_MAX 4

/* 'value' for messages: at most QUOTE_MAX bytes (cut at a character, "..."
 * appended), control characters shown as \xNN. */
static const char *
quote(char *buf, size_t cap, const char *s)
{
    size_t n = strlen(s), cut = n > QUOTE_MAX ? utf8_truncate(s, QUOTE_MAX) : n;
    size_t o = 0;

    buf[o++] = '\'';
    for (size_t i = 0; i < cut && o + 6 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7F)
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02X", c);
        else
            buf[o++] = (char)c;
    }
    buf[o] = '\0';
    snprintf(buf + o, cap - o, "%s'", cut < n ? "..." : "");
    return buf;
}

static const char *
type_name(const cJSON *v)
{
    if (cJSON_IsString(v))
        return "string";
    if (cJSON_IsNumber(v))
        return "number";
    if (cJSON_IsBool(v))
        return "boolean";
    if (cJSON_IsNull(v))
        return "null";
    if (cJSON_IsArray(v))
        return "array";
    if (cJSON_IsObject(v))
        return "object";
    return "invalid value";
}

/* A number's text for "got 2.5"; the type name for anything else. */
static const char *
got(char *buf, size_t cap, const cJSON *v)
{
    if (cJSON_IsNumber(v)) {
        char num[32];
        job_format_number(v->valuedouble, num);
        snprintf(buf, cap, "%s", num);
    } else {
        snprintf(buf, cap, "%s", type_name(v));
    }
    return buf;
}

/* ---- generic tree checks ------------------------------------------------ */

/* out = parent + ".key" (or "key" at the top) or parent + "[idx]" when
 * idx >= 0; cut to cap at a character boundary. */
static void
child_path(char *out, size_t cap, const char *parent, const cJSON *item,
           int idx)
{
    char num[16];
    const char *parts[3];
    size_t n = 0;

    parts[0] = parent;
    if (idx >= 0) {
        snprintf(num, sizeof num, "[%d]", idx);
        parts[1] = num;
        parts[2] = "";
    } else {
        parts[1] = *parent ? "." : "";
        parts[2] = item->string;
    }
    for (int i = 0; i < 3; i++)
        for (const char *p = parts[i]; *p && n + 1 < cap; p++)
            out[n++] = *p;
    out[utf8_truncate(out, n)] = '\0';
}

struct keyref {
    const char *key;
    int idx;
};

static int
keyref_cmp(const void *a, const void *b)
{
    const struct keyref *x = a, *y = b;
    int c = strcmp(x->key, y->key);

    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/* The first key of obj (in document order) that repeats an earlier one, in
 * *dup; 0 = none, -1 = out of memory. Sorts when the object is large, so a
 * 1 MiB line of distinct keys stays fast. */
static int
find_duplicate(const cJSON *obj, const cJSON **dup)
{
    const cJSON *c, *d;
    struct keyref *refs;
    int n = 0, best = -1, i;

    *dup = NULL;
    for (c = obj->child; c; c = c->next)
        n++;
    if (n <= 16) {
        for (c = obj->child; c; c = c->next)
            for (d = obj->child; d != c; d = d->next)
                if (strcmp(c->string, d->string) == 0) {
                    *dup = c;
                    return 0;
                }
        return 0;
    }
    refs = malloc((size_t)n * sizeof *refs);
    if (!refs)
        return -1;
    for (c = obj->child, i = 0; c; c = c->next, i++) {
        refs[i].key = c->string;
        refs[i].idx = i;
    }
    qsort(refs, (size_t)n, sizeof *refs, keyref_cmp);
    for (i = 1; i < n; i++)
        if (strcmp(refs[i].key, refs[i - 1].key) == 0 &&
            (best < 0 || refs[i].idx < best))
            best = refs[i].idx;
    free(refs);
    if (best >= 0) {
        for (c = obj->child, i = 0; i < best; c = c->next, i++)
            ;
        *dup = c;
    }
    return 0;
}

/* Depth, duplicate keys, UTF-8 of keys and strings, finite numbers: the
 * checks that apply anywhere in the document, metadata included. Recursion
 * stops at depth JOB_MAX_DEPTH (the syntax scan bounds it as well). */
/* NOLINTBEGIN(misc-no-recursion) */
static int
walk(const cJSON *node, const char *path, int depth, struct job_err *err)
{
    char cpath[256];
    const cJSON *c;
    size_t off;
    int idx = 0;

    if (depth > JOB_MAX_DEPTH)
        return job_err_set(err, path, "nested deeper than %d levels",
                           JOB_MAX_DEPTH);
    if (cJSON_IsNumber(node) && !isfinite(node->valuedouble))
        return job_err_set(err, path, "%s is out of range (not finite)",
                           *path ? path : "number");
    if (cJSON_IsString(node)) {
        if (!node->valuestring)
            return job_err_set(err, path, "%s is not a valid string", path);
        if (!utf8_check(node->valuestring, strlen(node->valuestring), &off))
            return job_err_set(err, path, "%s is not valid UTF-8 (byte %zu)",
                               path, off);
    }
    if (!cJSON_IsObject(node) && !cJSON_IsArray(node))
        return 0;
    if (cJSON_IsObject(node)) {
        const cJSON *dup;
        for (c = node->child; c; c = c->next) {
            if (!c->string)
                return job_err_set(err, path, "object member without a key");
            if (!utf8_check(c->string, strlen(c->string), &off)) {
                char q[QBUF];
                return job_err_set(err, path,
                                   "key %s is not valid UTF-8 (byte %zu)",
                                   quote(q, sizeof q, c->string), off);
            }
        }
        if (find_duplicate(node, &dup) < 0)
            return job_err_set(err, "", "out of memory");
        if (dup) {
            char q[QBUF];
            child_path(cpath, sizeof cpath, path, dup, -1);
            return job_err_set(err, cpath, "duplicate field %s",
                               quote(q, sizeof q, dup->string));
        }
    }
    for (c = node->child; c; c = c->next, idx++) {
        child_path(cpath, sizeof cpath, path, c,
                   cJSON_IsArray(node) ? idx : -1);
        if (walk(c, cpath, depth + 1, err) < 0)
            return -1;
    }
    return 0;
}
/* NOLINTEND(misc-no-recursion) */

/* Edit distance of two short ASCII-ish strings, case-insensitive; larger
 * strings count as far apart. */
static size_t
distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[65];

    if (la > 64 || lb > 64)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            char ca = a[i - 1], cb = b[j - 1];
            if (ca >= 'A' && ca <= 'Z')
                ca = (char)(ca - 'A' + 'a');
            if (cb >= 'A' && cb <= 'Z')
                cb = (char)(cb - 'A' + 'a');
            size_t best = diag + (ca != cb);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static int
known(const char *key, const char *const *names)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(key, names[i]) == 0)
            return 1;
    return 0;
}

/* "unknown field 'x'", with a "did you mean" for near misses. */
int
job_check_unknown(const cJSON *obj, const char *path, const char *const *names,
                  struct job_err *err)
{
    for (const cJSON *c = obj->child; c; c = c->next) {
        char cpath[256], q[QBUF];
        const char *best = NULL;
        size_t bestd = 3;

        if (known(c->string, names))
            continue;
        for (int i = 0; names[i]; i++) {
            size_t d = distance(c->string, names[i]);
            /* a near miss, not just any short word */
            if (d > 0 && d * 3 > strlen(c->string))
                continue;
            if (d < bestd) {
                bestd = d;
                best = names[i];
            }
        }
        child_path(cpath, sizeof cpath, path, c, -1);
        if (best)
            return job_err_set(err, cpath,
                               "unknown field %s (did you mean '%s'?)",
                               quote(q, sizeof q, c->string), best);
        return job_err_set(err, cpath, "unknown field %s",
                           quote(q, sizeof q, c->string));
    }
    return 0;
}

/* ---- typed field checks ------------------------------------------------- */
static int
check_int(const cJSON *v, const char *name, long long lo, long long hi,
          struct job_err *err)
{
    char g[40];
    double d;

    if (!cJSON_IsNumber(v))
        return job_err_set(err, name, "%s must be an integer, got %s", name,
                           type_name(v));
    d = v->valuedouble;
    if (d > -9e18 && d < 9e18 && d != (double)(long long)d)
        return job_err_set(err, name, "%s must be an integer, got %s", name,
                           got(g, sizeof g, v));
    if (d < (double)lo || d > (double)hi)
        return job_err_set(err, name,
                           "%s must be between %lld and %lld, got %s", name, lo,
                           hi, got(g, sizeof g, v));
    return 0;
}

/* A number in [lo, hi], or (lo, hi] when lo_excl. */
static int
check_num(const cJSON *v, const char *name, double lo, int lo_excl, double hi,
          struct job_err *err)
{
    char g[40], l[32], h[32];
    double d;

    if (!cJSON_IsNumber(v))
        return job_err_set(err, name, "%s must be a number, got %s", name,
                           type_name(v));
    d = v->valuedouble;
    if ((lo_excl ? d > lo : d >= lo) && d <= hi)
        return 0;
    job_format_number(lo, l);
    job_format_number(hi, h);
    if (lo_excl)
        return job_err_set(err, name,
                           "%s must be greater than %s and at most %s, got %s",
                           name, l, h, got(g, sizeof g, v));
    return job_err_set(err, name, "%s must be between %s and %s, got %s", name,
                       l, h, got(g, sizeof g, v));
}

/* A string of min..max characters (code points; max 0 = no limit). */
static int
check_str(const cJSON *v, const char *name, size_t min, size_t max,
          struct job_err *err)
{

    size_t n;

    if (!cJSON_IsString(v))
        return job_err_set(err, name, "%s must be a string, got %s", name,
                           type_name(v));
    n = utf8_count(v->valuestring, strlen(v->valuestring));
    if (n < min)
        return job_err_set(err, name, "%s must not be empty", name);
    if (max && n > max)
        return job_err_set(err, name, "%s is %zu characters; the limit is %zu",
                           name, n, max);
    return 0;
}

static int
check_id(const cJSON *v, struct job_err *err)
{
    char q[QBUF];

    if (check_str(v, "id", 1, JOB_ID_MAX, err) < 0)
        return -1;
    for (const char *p = v->valuestring; *p; p++) {
        char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
            (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
            c == '-')
            continue;
        return job_err_set(err, "id",
                           "id may only contain A-Z a-z 0-9 . _ : -, got %s",
                           quote(q, sizeof q, v->valuestring));
    }
    return 0;
}

/* obj's member key, a non-empty string; fpath (cap bytes) receives its
 * path, parent + "." + key. NULL with *err filled when it is missing or not
 * such a string. */
static const cJSON *
required_str(const cJSON *obj, const char *parent, const char *key, char *fpath,
             size_t cap, struct job_err *err)
{
    const cJSON *v;

    snprintf(fpath, cap, "%s.%s", parent, key);
    v = job_get(obj, key);
    if (!v) {
        job_err_set(err, fpath, "%s is required", fpath);
        return NULL;
    }
    return check_str(v, fpath, 1, 0, err) < 0 ? NULL : v;
}

/* A content (or system): a string, or a non-empty array of text blocks,
 * each {type: "text", text, cache_control?}; *nbp counts cache_control. */
static int
check_content(const cJSON *content, const char *path, int *nbp,
              struct job_err *err)
{
    char bpath[200], fpath[sizeof bpath + 16];
    int idx = 0;

    if (cJSON_IsString(content))
        return check_str(content, path, 1, 0, err);
    if (!cJSON_IsArray(content))
        return job_err_set(err, path,
                           "%s must be a string or an array of text blocks, "
                           "got %s",
                           path, type_name(content));
    if (!content->child)
        return job_err_set(err, path, "%s must not be empty", path);
    for (const cJSON *b = content->child; b; b = b->next, idx++) {
        const cJSON *type, *text;
        char q[QBUF];

        snprintf(bpath, sizeof bpath, "%s[%d]", path, idx);
        if (!cJSON_IsObject(b))
            return job_err_set(err, bpath, "%s must be an object, got %s",
                               bpath, type_name(b));
        type = required_str(b, bpath, "type", fpath, sizeof fpath, err);
        if (!type)
            return -1;
        if (strcmp(type->valuestring, "text") != 0)
            return job_err_set(err, fpath, "%s must be 'text', got %s", fpath,
                               quote(q, sizeof q, type->valuestring));
        /* type first: an image block should say "must be 'text'" rather
         * than "unknown field 'source'" */
        if (job_check_unknown(b, bpath, block_fields, err) < 0)
            return -1;
        /* The APIs reject empty text blocks, so an empty one would only
         * die later as a permanent error. */
        text = required_str(b, bpath, "text", fpath, sizeof fpath, err);
        if (!text)
            return -1;
        if (job_get(b, "cache_control")) {
            snprintf(fpath, sizeof fpath, "%s.cache_control", bpath);
            if (job_check_cache_control(job_get(b, "cache_control"), fpath,
                                        err) < 0)
                return -1;
            if (++*nbp > CACHE_BREAKPOINTS_MAX)
                return job_err_set(err, fpath,
                                   "at most %d blocks may carry cache_control",
                                   CACHE_BREAKPOINTS_MAX);
        }
    }
    return 0;
}

static int
check_messages(const cJSON *msgs, int *nbp, struct job_err *err)
{
    char mpath[64], fpath[96], q[QBUF];
    int idx = 0;

    if (!cJSON_IsArray(msgs))
        return job_err_set(err, "messages", "messages must be an array, got %s",
                           type_name(msgs));
    if (!msgs->child)
        return job_err_set(err, "messages", "messages must not be empty");
    for (const cJSON *m = msgs->child; m; m = m->next, idx++) {
        const cJSON *role, *content;

        snprintf(mpath, sizeof mpath, "messages[%d]", idx);
        if (!cJSON_IsObject(m))
            return job_err_set(err, mpath, "%s must be an object, got %s",
                               mpath, type_name(m));
        if (job_check_unknown(m, mpath, message_fields, err) < 0)
            return -1;
        role = required_str(m, mpath, "role", fpath, sizeof fpath, err);
        if (!role)
            return -1;
        if (strcmp(role->valuestring, "user") != 0 &&
            strcmp(role->valuestring, "assistant") != 0)
            return job_err_set(err, fpath,
                               "%s must be user or assistant, got %s%s", fpath,
                               quote(q, sizeof q, role->valuestring),
                               strcmp(role->valuestring, "system") == 0
                                   ? " (use the top-level system field)"
                                   : "");
        if (idx == 0 && strcmp(role->valuestring, "user") != 0)
            return job_err_set(err, fpath,
                               "the first message must have role user, got "
                               "%s",
                               quote(q, sizeof q, role->valuestring));
        snprintf(fpath, sizeof fpath, "%s.content", mpath);
        content = job_get(m, "content");
        if (!content)
            return job_err_set(err, fpath, "%s is required", fpath);
        if (check_content(content, fpath, nbp, err) < 0)
            return -1;
    }
    return 0;
}

static int
check_template(const cJSON *tmpl, const cJSON *vars, struct job_err *err)
{
    char q[QBUF], vpath[256];

    if (!cJSON_IsString(tmpl))
        return job_err_set(err, "template", "template must be a string, got %s",
                           type_name(tmpl));
    if (!template_ref_valid(tmpl->valuestring))
        return job_err_set(err, "template",
                           "template must be a name of 1 to %d characters of "
                           "A-Z a-z 0-9 _ -, optionally @VERSION, got %s",
                           TEMPLATE_NAME_MAX,
                           quote(q, sizeof q, tmpl->valuestring));
    if (!vars)
        return job_err_set(err, "vars",
                           "vars is required with template (an object; {} "
                           "when the template has no placeholders)");
    if (!cJSON_IsObject(vars))
        return job_err_set(err, "vars", "vars must be an object, got %s",
                           type_name(vars));
    for (const cJSON *v = vars->child; v; v = v->next) {
        if (cJSON_IsString(v) || cJSON_IsNumber(v) || cJSON_IsBool(v))
            continue;
        child_path(vpath, sizeof vpath, "vars", v, -1);
        return job_err_set(err, vpath,
                           "%s must be a string, number or boolean, got %s",
                           vpath, type_name(v));
    }
    return 0;
}

/* An array of lo..hi strings (lo 0: at most hi), each 1..max characters
 * (max 0: no limit); name words the errors, [i] added for an entry. */
static int
check_str_array(const cJSON *v, const char *name, int lo, int hi, size_t max,
                struct job_err *err)
{
    char path[48];
    int n = cJSON_GetArraySize(v), idx = 0;

    if (!cJSON_IsArray(v))
        return job_err_set(err, name, "%s must be an array, got %s", name,
                           type_name(v));
    if (lo > 0 && (n < lo || n > hi))
        return job_err_set(err, name, "%s must have %d to %d entries, got %d",
                           name, lo, hi, n);
    if (n > hi)
        return job_err_set(err, name, "%s must have at most %d entries, got %d",
                           name, hi, n);
    for (const cJSON *s = v->child; s; s = s->next, idx++) {
        snprintf(path, sizeof path, "%s[%d]", name, idx);
        if (check_str(s, path, 1, max, err) < 0)
            return -1;
    }
    return 0;
}

static int
check_stop_sequences(const cJSON *v, struct job_err *err)
{
    return check_str_array(v, "stop_sequences", 1, 8, 0, err);
}

/* notify: up to JOB_NOTIFY_MAX names of metadata keys to echo on the
 * completion feed (a name absent from metadata is not echoed). */
static int
check_notify(const cJSON *v, struct job_err *err)
{
    return check_str_array(v, "notify", 0, JOB_NOTIFY_MAX, JOB_NOTIFY_NAME_MAX,
                           err);
}

/* Serialized size of job, or (size_t)-1 when out of memory. */
size_t
job_size(const cJSON *job)
{
    char *s = cJSON_PrintUnformatted(job);
    size_t n;

    if (!s)
        return (size_t)-1;
    n = strlen(s);
    cJSON_free(s);
    return n;
}

/* v serialized is at most max bytes; name words the error, under field. */
static int
check_serialized(const cJSON *v, const char *field, const char *name, int max,
                 struct job_err *err)
{
    size_t n = job_size(v);

    if (n == (size_t)-1)
        return job_err_set(err, "", "out of memory");
    if (n > (size_t)max)
        return job_err_set(err, field,
                           "%s is %zu bytes serialized; the limit is %d", name,
                           n, max);
    return 0;
}

static int
check_metadata(const cJSON *v, struct job_err *err)
{
    if (!cJSON_IsObject(v))
        return job_err_set(err, "metadata",
                           "metadata must be an object, got %s", type_name(v));
    return check_serialized(v, "metadata", "metadata", JOB_METADATA_MAX, err);
}

int
job_check_tree(const cJSON *job, int check_size, struct job_err *err)
{
    const cJSON *v, *prompt, *msgs, *tmpl, *vars, *temp, *top_p, *run_at,
        *delay;
    const cJSON *top[F_COUNT] = {NULL};
    const char *srcs[3];
    char g[40];
    int nsrc = 0, nbp = 0; /* nbp: cache_control breakpoints */
    char q[QBUF];
    int64_t ms;

    if (!cJSON_IsObject(job))
        return job_err_set(err, "", "a job must be a JSON object, got %s",
                           job ? type_name(job) : "nothing");
    if (walk(job, "", 1, err) < 0)
        return -1;
    for (const cJSON *c = job->child; c; c = c->next) {
        int i = field_index(c->string);
        if (i < 0)
            return job_check_unknown(job, "", job_fields, err);
        top[i] = c; /* walk() rejected duplicate keys */
    }

    v = top[F_V];
    if (v && check_int(v, "v", -1000000000, 1000000000, err) < 0)
        return -1;
    if (v && v->valuedouble != 1)
        return job_err_set(err, "v",
                           "v must be 1 (the only job format version), got %s",
                           got(g, sizeof g, v));
    v = top[F_ID];
    if (v && check_id(v, err) < 0)
        return -1;

    prompt = top[F_PROMPT];
    msgs = top[F_MESSAGES];
    tmpl = top[F_TEMPLATE];
    vars = top[F_VARS];
    if (prompt)
        srcs[nsrc++] = "prompt";
    if (msgs)
        srcs[nsrc++] = "messages";
    if (tmpl)
        srcs[nsrc++] = "template";
    if (nsrc == 0)
        return job_err_set(err, "prompt",
                           "a job needs one of prompt, messages or template");
    if (nsrc > 1)
        return job_err_set(err, srcs[1],
                           "set only one of prompt, messages or template "
                           "(got %s and %s)",
                           srcs[0], srcs[1]);
    if (prompt && check_str(prompt, "prompt", 1, 0, err) < 0)
        return -1;
    if (msgs && check_messages(msgs, &nbp, err) < 0)
        return -1;
    if (tmpl && check_template(tmpl, vars, err) < 0)
        return -1;
    if (vars && !tmpl)
        return job_err_set(err, "vars", "vars is only allowed with template");

    v = top[F_SYSTEM];
    if (v && !cJSON_IsString(v) && !cJSON_IsArray(v))
        return job_err_set(err, "system",
                           "system must be a string or an array of text "
                           "blocks, got %s",
                           type_name(v));
    if (v && cJSON_IsString(v) && check_str(v, "system", 0, 0, err) < 0)
        return -1;
    if (v && cJSON_IsArray(v) && check_content(v, "system", &nbp, err) < 0)
        return -1;
    v = top[F_MODEL];
    if (v && check_str(v, "model", 1, 256, err) < 0)
        return -1;
    v = top[F_MAX_TOKENS];
    if (v && check_int(v, "max_tokens", 1, JOB_MAX_TOKENS_MAX, err) < 0)
        return -1;
    temp = top[F_TEMPERATURE];
    if (temp && check_num(temp, "temperature", 0, 0, 2, err) < 0)
        return -1;
    top_p = top[F_TOP_P];
    if (top_p && check_num(top_p, "top_p", 0, 1, 1, err) < 0)
        return -1;
    if (temp && top_p)
        return job_err_set(err, "top_p", "set temperature or top_p, not both");
    v = top[F_STOP_SEQUENCES];
    if (v && check_stop_sequences(v, err) < 0)
        return -1;
    v = top[F_PRIORITY];
    if (v && !cJSON_IsString(v))
        return job_err_set(err, "priority", "priority must be a string, got %s",
                           type_name(v));
    if (v && strcmp(v->valuestring, "high") != 0 &&
        strcmp(v->valuestring, "normal") != 0 &&
        strcmp(v->valuestring, "low") != 0)
        return job_err_set(err, "priority",
                           "priority must be high, normal or low, got %s",
                           quote(q, sizeof q, v->valuestring));
    run_at = top[F_RUN_AT];
    if (run_at && !cJSON_IsString(run_at))
        return job_err_set(err, "run_at", "run_at must be a string, got %s",
                           type_name(run_at));
    if (run_at && timefmt_rfc3339_parse(run_at->valuestring, &ms) < 0)
        return job_err_set(err, "run_at",
                           "run_at must be an RFC 3339 date-time such as "
                           "2025-01-31T09:00:00Z, got %s",
                           quote(q, sizeof q, run_at->valuestring));
    delay = top[F_DELAY_S];
    if (delay && check_num(delay, "delay_s", 0, 0, 31536000, err) < 0)
        return -1;
    if (run_at && delay)
        return job_err_set(err, "delay_s", "set run_at or delay_s, not both");
    v = top[F_MAX_ATTEMPTS];
    if (v && check_int(v, "max_attempts", 1, 100, err) < 0)
        return -1;
    v = top[F_TIMEOUT_S];
    if (v && check_int(v, "timeout_s", 1, 86400, err) < 0)
        return -1;
    v = top[F_IDEMPOTENCY_KEY];
    if (v && check_str(v, "idempotency_key", 1, 256, err) < 0)
        return -1;
    v = top[F_METADATA];
    if (v && check_metadata(v, err) < 0)
        return -1;
    v = top[F_MAX_CONTINUATIONS];
    if (v && check_int(v, "max_continuations", 0, 20, err) < 0)
        return -1;
    v = top[F_NOTIFY];
    if (v && check_notify(v, err) < 0)
        return -1;
    v = top[F_TEMPLATE_REF];
    if (v && template_ref_check(v, tmpl != NULL, err) < 0)
        return -1;
    v = top[F_BATCH];
    if (v && !cJSON_IsBool(v))
        return job_err_set(err, "batch", "batch must be true or false, got %s",
                           type_name(v));

    if (check_size)
        return check_serialized(job, "", "job", JOB_MAX_BYTES, err);
    return 0;
}

int
job_validate(const cJSON *job, struct job_err *err)
{
    return job_check_tree(job, 1, err);
}
