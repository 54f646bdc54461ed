/* The enqueue fast path: job_parse_info() checks the common job -- a flat
 * object of known fields with plain strings and in-range numbers -- by a
 * direct scan without a cJSON tree, and hands every other line to the full
 * path (job_parse.c), which words the errors. */
#include "fmacros.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "job_int.h"
#include "jsonscan.h"
#include "utf8.h"
#include "uuid.h"

/* The lengths of job_fields (fast_scan). */
static const size_t job_field_len[] = {1, 2, 6, 8,  8, 4,  6, 5,  10, 11, 5, 14,
                                       8, 6, 7, 12, 9, 15, 8, 17, 6,  12, 5};

_Static_assert(sizeof(job_field_len) / sizeof(job_field_len[0]) == F_COUNT,
               "job_field_len follows job_fields");

/* ---- the enqueue fast path ---------------------------------------------- */

/* Set by tests only (job_fast_path_disable): every line takes the full
 * path, so the two can be compared. */
static int fast_off;

/* Lines accepted here, per thread (job_fast_taken). */
static _Thread_local unsigned long fast_taken;

void
job_fast_path_disable(int off)
{
    fast_off = off;
}

unsigned long
job_fast_taken(void)
{
    return fast_taken;
}

/* What fast_scan() found: borrowed pointers into the line. */
struct fast {
    const char *id, *idem, *prio;
    size_t id_len, idem_len, prio_len;
    long long max_attempts;
    int have_prompt, have_temp, have_top_p;
};

/* One string at s[*i] (the opening quote): its raw bytes [*a, *b) and its
 * length in characters. Returns -1 (take the full path) on a \u escape or
 * anything JSON does not allow in a string (a control character, an
 * unknown escape, no closing quote), 1 when it holds another escape, else
 * 0. The line is valid UTF-8 (utf8_check). */
static int
fast_string(const char *s, size_t len, size_t *i, size_t *a, size_t *b,
            size_t *chars)
{
    size_t k = *i + 1, n = 0;
    int esc = 0;

    *a = k;
    while (k < len && s[k] != '"') {
        unsigned char c = (unsigned char)s[k];
        if (k + 8 <= len && jsonscan_plain8(s + k)) {
            k += 8;
            n += 8;
            continue;
        }
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            char x = 'u'; /* cut after the backslash: the full path */
            if (k + 1 < len)
                x = s[k + 1];
            if (!jsonscan_simple_escape(x))
                return -1; /* \u and the invalid ones: the full path */
            esc = 1;
            k += 2;
            n++;
            continue;
        }
        n += (c & 0xC0) != 0x80;
        k++;
    }
    if (k >= len)
        return -1;
    *b = k;
    *i = k + 1;
    *chars = n;
    return esc;
}

/* A plain integer token ([-]digits, at most 9, no leading zero): its
 * value; -1 when it is anything else (a fraction, exponent, long). */
static int
fast_int(const char *s, size_t len, size_t *i, long long *out)
{
    size_t k = *i;
    int neg = 0, nd = 0;
    long long v = 0;

    if (k < len && s[k] == '-') {
        neg = 1;
        k++;
    }
    while (k < len && s[k] >= '0' && s[k] <= '9' && nd < 10) {
        v = v * 10 + (s[k] - '0');
        k++;
        nd++;
    }
    if (nd == 0 || nd > 9 || (nd > 1 && s[k - nd] == '0'))
        return -1;
    if (k < len && (s[k] == '.' || s[k] == 'e' || s[k] == 'E'))
        return -1;
    *out = neg ? -v : v;
    *i = k;
    return 0;
}

/* A plain decimal in [lo, hi] (or (lo, hi]): JSON's 0 or [1-9][0-9]*,
 * then maybe '.' and digits, nothing else; 0 when it is one and in range,
 * -1 otherwise. */
static int
fast_decimal(const char *s, size_t len, size_t *i, double lo, int lo_excl,
             double hi)
{
    char buf[32];
    size_t k = *i, n;
    double d;

    if (k < len && s[k] == '0')
        k++;
    else if (k < len && s[k] >= '1' && s[k] <= '9')
        while (k < len && s[k] >= '0' && s[k] <= '9')
            k++;
    else
        return -1;
    if (k < len && s[k] == '.') {
        size_t f = ++k;
        while (k < len && s[k] >= '0' && s[k] <= '9')
            k++;
        if (k == f)
            return -1;
    }
    n = k - *i;
    if (n >= sizeof(buf) ||
        (k < len && (s[k] == 'e' || s[k] == 'E' || s[k] == '-' || s[k] == '+' ||
                     s[k] == '.')))
        return -1;
    memcpy(buf, s + *i, n);
    buf[n] = '\0';
    d = strtod(buf, NULL); /* the same conversion cJSON makes */
    if (!((lo_excl ? d > lo : d >= lo) && d <= hi))
        return -1;
    *i = k;
    return 0;
}

static void
fast_ws(const char *s, size_t len, size_t *i)
{
    while (*i < len &&
           (s[*i] == ' ' || s[*i] == '\t' || s[*i] == '\r' || s[*i] == '\n'))
        (*i)++;
}

/* The common job, checked without building a tree: a flat object of known
 * fields with plain strings and numbers that are all in range. Returns 0
 * when the line is such a valid job (f filled), -1 when it is not or may
 * not be: the full path then decides, and words every error. It never
 * accepts a line the full path rejects (tests/unit/test_job.c and
 * tests/fuzz/fuzz_job.c compare the two). It is a JSON parser of its own
 * for what it accepts (no json_syntax_check() first); the line is valid
 * UTF-8. */
static int
fast_scan(const char *s, size_t len, struct fast *f)
{
    size_t i = 0;
    unsigned seen = 0;

    memset(f, 0, sizeof(*f));
    fast_ws(s, len, &i);
    if (i >= len || s[i] != '{')
        return -1;
    i++;
    fast_ws(s, len, &i);
    if (i < len && s[i] == '}')
        return -1; /* no prompt */
    for (;;) {
        size_t ka, kb, kn, va, vb, vn;
        int fi, esc;
        long long iv;

        if (i >= len || s[i] != '"' || fast_string(s, len, &i, &ka, &kb, &kn))
            return -1; /* a key with an escape: the full path */
        fi = -1;
        for (int k = 0; job_fields[k]; k++)
            if (job_fields[k][0] == s[ka] && job_field_len[k] == kb - ka &&
                memcmp(job_fields[k], s + ka, kb - ka) == 0) {
                fi = k;
                break;
            }
        if (fi < 0 || (seen & (1u << fi)))
            return -1; /* unknown or repeated */
        seen |= 1u << fi;
        fast_ws(s, len, &i);
        if (i >= len || s[i] != ':')
            return -1;
        i++;
        fast_ws(s, len, &i);
        if (i >= len)
            return -1;
        switch (fi) {
        case F_ID:
        case F_PROMPT:
        case F_SYSTEM:
        case F_MODEL:
        case F_PRIORITY:
        case F_IDEMPOTENCY_KEY:
            if (s[i] != '"')
                return -1;
            esc = fast_string(s, len, &i, &va, &vb, &vn);
            if (esc < 0)
                return -1;
            if (fi == F_ID) {
                if (esc || vn < 1 || vn > JOB_ID_MAX)
                    return -1;
                for (size_t k = va; k < vb; k++) {
                    char c = s[k];
                    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                          (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                          c == ':' || c == '-'))
                        return -1;
                }
                f->id = s + va;
                f->id_len = vb - va;
            } else if (fi == F_PROMPT) {
                if (vn < 1)
                    return -1;
                f->have_prompt = 1;
            } else if (fi == F_MODEL) {
                if (vn < 1 || vn > 256)
                    return -1;
            } else if (fi == F_PRIORITY) {
                if (esc || !((vb - va == 4 && !memcmp(s + va, "high", 4)) ||
                             (vb - va == 6 && !memcmp(s + va, "normal", 6)) ||
                             (vb - va == 3 && !memcmp(s + va, "low", 3))))
                    return -1;
                f->prio = s + va;
                f->prio_len = vb - va;
            } else if (fi == F_IDEMPOTENCY_KEY) {
                if (esc || vn < 1 || vn > 256)
                    return -1;
                f->idem = s + va;
                f->idem_len = vb - va;
            }
            break;
        case F_V:
            if (fast_int(s, len, &i, &iv) < 0 || iv != 1)
                return -1;
            break;
        case F_MAX_TOKENS:
            if (fast_int(s, len, &i, &iv) < 0 || iv < 1 ||
                iv > JOB_MAX_TOKENS_MAX)
                return -1;
            break;
        case F_MAX_ATTEMPTS:
            if (fast_int(s, len, &i, &iv) < 0 || iv < 1 || iv > 100)
                return -1;
            f->max_attempts = iv;
            break;
        case F_TIMEOUT_S:
            if (fast_int(s, len, &i, &iv) < 0 || iv < 1 || iv > 86400)
                return -1;
            break;
        case F_MAX_CONTINUATIONS:
            if (fast_int(s, len, &i, &iv) < 0 || iv < 0 || iv > 20)
                return -1;
            break;
        case F_TEMPERATURE:
            if (fast_decimal(s, len, &i, 0, 0, 2) < 0)
                return -1;
            f->have_temp = 1;
            break;
        case F_TOP_P:
            if (fast_decimal(s, len, &i, 0, 1, 1) < 0)
                return -1;
            f->have_top_p = 1;
            break;
        case F_BATCH: /* a JSON boolean, as the full path checks */
            if (len - i >= 4 && !memcmp(s + i, "true", 4))
                i += 4;
            else if (len - i >= 5 && !memcmp(s + i, "false", 5))
                i += 5;
            else
                return -1;
            break;
        default:
            return -1; /* messages, template, vars, run_at, delay_s, ... */
        }
        fast_ws(s, len, &i);
        if (i < len && s[i] == ',') {
            i++;
            fast_ws(s, len, &i);
            continue;
        }
        if (i < len && s[i] == '}') {
            i++;
            break;
        }
        return -1;
    }
    fast_ws(s, len, &i);
    if (i != len || !f->have_prompt || (f->have_temp && f->have_top_p))
        return -1;
    return 0;
}

static char *
dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);

    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

void
job_info_free(struct job_info *in)
{
    free(in->text);
    free(in->id);
    free(in->idem);
    free(in->notify);
    memset(in, 0, sizeof(*in));
}

int
job_parse_info(const char *line, size_t len, const struct job_opts *o,
               struct job_err *err, struct job_info *out)
{
    struct job_err scratch;
    struct fast f;
    size_t off;
    cJSON *job;

    memset(out, 0, sizeof(*out));
    if (!err)
        err = &scratch;
    /* the checks of job_parse_core() that come before the tree, then the scan;
     * anything unusual goes the full way */
    if (fast_off || !line || len > JOB_MAX_BYTES ||
        memchr(line, '\0', len) != NULL || !utf8_check(line, len, &off) ||
        fast_scan(line, len, &f) < 0)
        goto full;
    if (f.id) {
        out->id = dup_n(f.id, f.id_len);
    } else {
        char gen[37];
        uuid7_new(gen);
        out->id = dup_n(gen, 36);
        out->id_generated = 1;
    }
    out->text = job_line_text(line, len, out->id_generated ? out->id : NULL,
                              &out->text_len);
    if (f.idem)
        out->idem = dup_n(f.idem, f.idem_len);
    if (!out->id || !out->text || (f.idem && !out->idem)) {
        job_info_free(out);
        job_err_set(err, "", "out of memory");
        return -1;
    }
    if (out->text_len > JOB_MAX_BYTES) { /* the full path words it */
        job_info_free(out);
        goto full;
    }
    out->prio = !f.prio            ? JOB_PRIO_NORMAL
                : f.prio[0] == 'h' ? JOB_PRIO_HIGH
                : f.prio[0] == 'l' ? JOB_PRIO_LOW
                                   : JOB_PRIO_NORMAL;
    out->max_attempts = (int)f.max_attempts;
    fast_taken++;
    return 0;
full:
    job = job_parse_core(line, len, o, err, &out->text, &out->text_len,
                         &out->id_generated);
    if (!job) {
        job_info_free(out);
        return -1;
    }
    {
        const char *idem = job_idempotency_key(job);
        int rc;
        out->id = strdup(job_id(job));
        out->idem = idem ? strdup(idem) : NULL;
        out->prio = (int)job_priority(job);
        out->max_attempts = job_max_attempts(job);
        if (job_schedule(job, &out->run_at_ms, &out->delay_ms) < 0)
            out->run_at_ms = out->delay_ms = 0;
        rc = job_notify_echo(job, &out->notify);
        cJSON_Delete(job);
        if (!out->id || (idem && !out->idem) || rc < 0) {
            job_info_free(out);
            job_err_set(err, "", "out of memory");
            return -1;
        }
    }
    return 0;
}
