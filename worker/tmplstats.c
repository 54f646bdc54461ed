/* tmplstats: per-template-version figures for `genq stats --by template`
 * -- each stored outcome of a job that has a template_ref (succeeded,
 * review, dead) is noted in memory when Redis acknowledges it, and the
 * batch is added to the queue's hash (tmplstats.lua, HINCRBY) right after:
 * counts, sums of output tokens, latency and micro-USD, and a histogram of
 * output tokens in buckets 10% wide (the p95, without a scan). */
#include "fmacros.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "template.h"
#include "tmplhist.h"
#include "worker_int.h"

#define TS_MAX 64 /* distinct (queue, ref) noted between two flushes */

struct tsent {
    int qi;
    char ref[TEMPLATE_REF_MAX + 1];
    long jobs, ok, review, dead, out, lat_ms, usd_u;
    long hist[TMPLHIST_BUCKETS];
};

struct tmplstats {
    struct worker *w;
    struct tsent e[TS_MAX];
    int n;
};

struct tmplstats *
tmplstats_new(struct worker *w)
{
    struct tmplstats *ts = calloc(1, sizeof(*ts));

    if (ts)
        ts->w = w;
    return ts;
}

void
tmplstats_free(struct tmplstats *ts)
{
    free(ts);
}

/* j's template_ref, or NULL. Borrowed from j->job. */
static const char *
ref_of(const struct wjob *j)
{
    const cJSON *r =
        j->job ? cJSON_GetObjectItemCaseSensitive(j->job, "template_ref")
               : NULL;

    if (!r || !cJSON_IsString(r) || !template_ref_valid(r->valuestring))
        return NULL;
    return r->valuestring;
}

int
tmplstats_doc(const struct wjob *j, struct buf *b)
{
    return tmplstats_ref_doc(ref_of(j), b);
}

int
tmplstats_ref_doc(const char *ref, struct buf *b)
{
    char name[TEMPLATE_NAME_MAX + 1], ver[TEMPLATE_VERSION_MAX + 1];
    int bad = 0;

    if (!ref || template_ref_parts(ref, name, sizeof name, ver, sizeof ver) < 0)
        return 0;
    bad |= buf_append_str(b, ",\"template\":{\"name\":") < 0;
    bad |= jsonw_str(b, name, strlen(name)) < 0;
    bad |= buf_append_str(b, ",\"version\":") < 0;
    if (ver[0])
        bad |= jsonw_str(b, ver, strlen(ver)) < 0;
    else
        bad |= buf_append_str(b, "null") < 0;
    bad |= buf_append_str(b, "}") < 0;
    return bad ? -1 : 0;
}

void
tmplstats_note(struct wjob *j, const char *state)
{
    tmplstats_add(j->w, (int)(j->q - j->w->q), ref_of(j), state, j->out_tokens,
                  (long)((ev_now(j->w->loop) - j->t_start) * 1000.0), j->usd);
}

void
tmplstats_add(struct worker *w, int qi, const char *ref, const char *state,
              long out_tokens, long lat_ms, double usd)
{
    struct tmplstats *ts = w->ts;
    struct tsent *e = NULL;

    if (!ts || !ref || !state || !template_ref_valid(ref))
        return;
    for (int i = 0; i < ts->n && !e; i++)
        if (ts->e[i].qi == qi && !strcmp(ts->e[i].ref, ref))
            e = &ts->e[i];
    if (!e) {
        if (ts->n == TS_MAX)
            tmplstats_flush(w);
        if (ts->n == TS_MAX)
            return; /* not connected: these figures are lost */
        e = &ts->e[ts->n++];
        memset(e, 0, sizeof(*e));
        e->qi = qi;
        snprintf(e->ref, sizeof(e->ref), "%s", ref);
    }
    e->jobs++;
    if (!strcmp(state, "dead")) {
        e->dead++;
        return;
    }
    e->ok++;
    if (!strcmp(state, "review"))
        e->review++;
    e->out += out_tokens;
    e->lat_ms += lat_ms;
    e->usd_u += lround(usd * 1e6);
    e->hist[tmplhist_bucket(out_tokens)]++;
}

/* Append "REF|name" and v to the argv under construction. */
static int
add(char (*fld)[96], char (*num)[24], const char **av, size_t *al, int *k,
    const char *ref, const char *name, long v)
{
    if (v == 0)
        return 0;
    snprintf(fld[*k / 2], 96, "%s|%s", ref, name);
    snprintf(num[*k / 2], 24, "%ld", v);
    av[*k] = fld[*k / 2];
    al[*k] = strlen(fld[*k / 2]);
    av[1 + *k] = num[*k / 2];
    al[1 + *k] = strlen(num[*k / 2]);
    *k += 2;
    return 1;
}

void
tmplstats_flush(struct worker *w)
{
    struct tmplstats *ts = w->ts;
    enum { PER = 8 + TMPLHIST_BUCKETS };

    if (!ts || ts->n == 0 || !rconn_is_up(w->rc))
        return;
    for (int qi = 0; qi < w->nq; qi++) {
        int cnt = 0, k = 0;
        for (int i = 0; i < ts->n; i++)
            cnt += ts->e[i].qi == qi;
        if (cnt == 0)
            continue;
        size_t max = (size_t)cnt * PER;
        char(*fld)[96] = malloc(max * sizeof(*fld));
        char(*num)[24] = malloc(max * sizeof(*num));
        const char **av = malloc(2 * max * sizeof(*av));
        size_t *al = malloc(2 * max * sizeof(*al));
        if (fld && num && av && al) {
            for (int i = 0; i < ts->n; i++) {
                struct tsent *e = &ts->e[i];
                char hb[16];
                if (e->qi != qi)
                    continue;
                add(fld, num, av, al, &k, e->ref, "jobs", e->jobs);
                add(fld, num, av, al, &k, e->ref, "ok", e->ok);
                add(fld, num, av, al, &k, e->ref, "review", e->review);
                add(fld, num, av, al, &k, e->ref, "dead", e->dead);
                add(fld, num, av, al, &k, e->ref, "out", e->out);
                add(fld, num, av, al, &k, e->ref, "lat_ms", e->lat_ms);
                add(fld, num, av, al, &k, e->ref, "usd_u", e->usd_u);
                for (int h = 0; h < TMPLHIST_BUCKETS; h++) {
                    snprintf(hb, sizeof hb, "h:%d", h);
                    add(fld, num, av, al, &k, e->ref, hb, e->hist[h]);
                }
            }
            if (k > 0)
                rconn_script(w->rc, SCRIPT_TMPLSTATS, &w->q[qi].keys, k, av, al,
                             worker_noreply, NULL);
        }
        free(fld);
        free(num);
        free(av);
        free(al);
    }
    ts->n = 0; /* sent, or lost with the connection: figures, not state */
}
