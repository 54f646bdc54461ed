/* Unit tests of the batch APIs' wire formats: genq's side (common/
 * batch_anthropic.c, batch_openai.c: custom_ids, create bodies, batch
 * objects, list pages, result lines) against the mock's side (tests/
 * mock-llm/mock_batch.c: parsing what genq sends, rendering what genq
 * reads), both providers, and malformed input. */
#include "fmacros.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_wire.h"
#include "mock_batch.h"

Test(batch_wire, custom_ids)
{
    char cid[BATCH_CID_MAX + 1];
    char longid[80];

    batch_cid(cid, "0123456789abcdef", "job-00001", 7);
    cr_assert_str_eq(cid, "01234567_job-00001");
    cr_assert(batch_cid_valid(cid));
    /* a UUIDv7 fits: 8 + 1 + 36 */
    batch_cid(cid, "0123456789abcdef", "01a249ef-5bea-76f0-b17d-a25b0bd5bd8d",
              0);
    cr_assert_str_eq(cid, "01234567_01a249ef-5bea-76f0-b17d-a25b0bd5bd8d");
    /* characters outside the pattern, or too long: the index instead */
    batch_cid(cid, "0123456789abcdef", "a.b:c", 42);
    cr_assert_str_eq(cid, "01234567_n42");
    memset(longid, 'x', 60);
    longid[60] = '\0';
    batch_cid(cid, "0123456789abcdef", longid, 3);
    cr_assert_str_eq(cid, "01234567_n3");
    cr_assert(!batch_cid_valid(""));
    cr_assert(!batch_cid_valid("a b"));
    memset(longid, 'y', 65);
    longid[65] = '\0';
    cr_assert(!batch_cid_valid(longid));
    longid[64] = '\0';
    cr_assert(batch_cid_valid(longid));
}

/* genq's create body / input file, parsed back by the mock. */
static void
round_trip(enum llm_provider p)
{
    struct buf b;
    struct mock_bentry *e = NULL;
    size_t n = 0;
    char err[256];
    cJSON *body;

    buf_init(&b, 0);
    cr_assert_eq(batch_body_open(p, &b), 0);
    cr_assert_eq(batch_entry_append(p, &b, 1, "tok_a",
                                    "{\"model\":\"m\",\"max_tokens\":5}", 29),
                 0);
    cr_assert_eq(batch_entry_append(p, &b, 0, "tok_b",
                                    "{\"model\":\"m\",\"max_tokens\":6}", 29),
                 0);
    cr_assert_eq(batch_body_close(p, &b), 0);
    if (p == LLM_ANTHROPIC) {
        body = cJSON_ParseWithLength(b.data, b.len);
        cr_assert(body, "%.*s", (int)b.len, b.data);
        cr_assert_eq(mock_batch_parse_anthropic(body, &e, &n, err, sizeof(err)),
                     0, "%s", err);
        cJSON_Delete(body);
    } else {
        cr_assert_eq(
            mock_batch_parse_openai(b.data, b.len, &e, &n, err, sizeof(err)), 0,
            "%s", err);
    }
    cr_assert_eq(n, 2);
    cr_assert_str_eq(e[0].cid, "tok_a");
    cr_assert_str_eq(e[1].cid, "tok_b");
    cr_assert_eq(cJSON_GetObjectItem(e[1].params, "max_tokens")->valuedouble,
                 6);
    mock_batch_entries_free(e, n);
    buf_free(&b);
}

Test(batch_wire, create_bodies_round_trip)
{
    round_trip(LLM_ANTHROPIC);
    round_trip(LLM_OPENAI);
}

Test(batch_wire, mock_refuses_bad_creates)
{
    struct mock_bentry *e = NULL;
    size_t n = 0;
    char err[256];
    cJSON *b;

    b = cJSON_Parse("{\"requests\":[{\"custom_id\":\"a b\",\"params\":{}}]}");
    cr_assert_eq(mock_batch_parse_anthropic(b, &e, &n, err, sizeof(err)), -1);
    cr_assert(strstr(err, "custom_id"), "%s", err);
    mock_batch_entries_free(e, n);
    cJSON_Delete(b);
    b = cJSON_Parse("{\"requests\":[{\"custom_id\":\"a\",\"params\":{}},"
                    "{\"custom_id\":\"a\",\"params\":{}}]}");
    cr_assert_eq(mock_batch_parse_anthropic(b, &e, &n, err, sizeof(err)), -1);
    cr_assert(strstr(err, "not unique"), "%s", err);
    mock_batch_entries_free(e, n);
    cJSON_Delete(b);
    b = cJSON_Parse("{\"requests\":[{\"custom_id\":\"a\",\"params\":"
                    "{\"stream\":true}}]}");
    cr_assert_eq(mock_batch_parse_anthropic(b, &e, &n, err, sizeof(err)), -1);
    cr_assert(strstr(err, "stream"), "%s", err);
    mock_batch_entries_free(e, n);
    cJSON_Delete(b);
    cr_assert_eq(mock_batch_parse_openai("{\"custom_id\":\"a\"}\n", 18, &e, &n,
                                         err, sizeof(err)),
                 -1);
    mock_batch_entries_free(e, n);
}

Test(batch_wire, openai_upload_multipart)
{
    struct buf b;
    const char *data;
    size_t dlen;
    char purpose[16], name[64], err[128];
    const char *lines = "{\"a\":1}\n{\"b\":2}\n";

    buf_init(&b, 0);
    cr_assert_eq(batch_openai_upload(&b, "genq-xyz", "0123456789abcdef", lines,
                                     strlen(lines)),
                 0);
    cr_assert_eq(mock_batch_multipart("multipart/form-data; boundary=genq-xyz",
                                      b.data, b.len, &data, &dlen, purpose,
                                      sizeof(purpose), name, sizeof(name), err,
                                      sizeof(err)),
                 0, "%s", err);
    cr_assert_str_eq(purpose, "batch");
    cr_assert_str_eq(name, "genq-0123456789abcdef.jsonl");
    cr_assert_eq(dlen, strlen(lines));
    cr_assert(!memcmp(data, lines, dlen));
    cr_assert_eq(mock_batch_multipart("application/json", b.data, b.len, &data,
                                      &dlen, purpose, sizeof(purpose), name,
                                      sizeof(name), err, sizeof(err)),
                 -1);
    buf_free(&b);
}

Test(batch_wire, openai_create_body_and_file)
{
    char *s = batch_openai_create_body("file-1", "0123456789abcdef");
    cJSON *o = cJSON_Parse(s);
    char id[32];

    cr_assert(o);
    cr_assert_str_eq(cJSON_GetObjectItem(o, "input_file_id")->valuestring,
                     "file-1");
    cr_assert_str_eq(cJSON_GetObjectItem(o, "completion_window")->valuestring,
                     "24h");
    cr_assert_str_eq(
        cJSON_GetObjectItem(cJSON_GetObjectItem(o, "metadata"), "genq_token")
            ->valuestring,
        "0123456789abcdef");
    cJSON_Delete(o);
    free(s);
    cr_assert_eq(
        batch_openai_file_id("{\"id\":\"file-9\"}", 15, id, sizeof(id)), 0);
    cr_assert_str_eq(id, "file-9");
    cr_assert_eq(batch_openai_file_id("{\"error\":{}}", 12, id, sizeof(id)),
                 -1);
}

Test(batch_wire, anthropic_batch_objects)
{
    const char *running =
        "{\"id\":\"msgbatch_1\",\"type\":\"message_batch\",\"processing_"
        "status\":"
        "\"in_progress\",\"request_counts\":{\"processing\":2,\"succeeded\":0,"
        "\"errored\":0,\"canceled\":0,\"expired\":0},\"created_at\":"
        "\"2024-09-24T18:37:24.100435Z\",\"results_url\":null}";
    const char *ended =
        "{\"id\":\"msgbatch_1\",\"type\":\"message_batch\",\"processing_"
        "status\":"
        "\"ended\",\"request_counts\":{\"processing\":0,\"succeeded\":1,"
        "\"errored\":1,\"canceled\":0,\"expired\":0},\"created_at\":"
        "\"2024-09-24T18:37:24Z\",\"results_url\":"
        "\"https://api.anthropic.com/v1/messages/batches/msgbatch_1/results\"}";
    struct batch_status st;

    cr_assert_eq(
        batch_status_parse(LLM_ANTHROPIC, running, strlen(running), &st), 0);
    cr_assert_eq(st.st, BPS_RUNNING);
    cr_assert_eq(st.counts[0], 2);
    cr_assert_eq(st.created_ms, 1727203044100LL);
    cr_assert_str_eq(st.results_url, "");
    cr_assert_eq(batch_status_parse(LLM_ANTHROPIC, ended, strlen(ended), &st),
                 0);
    cr_assert_eq(st.st, BPS_ENDED);
    cr_assert_eq(st.counts[1], 1);
    cr_assert_eq(st.counts[2], 1);
    cr_assert(strstr(st.results_url, "/results"));
    cr_assert_eq(
        batch_status_parse(LLM_ANTHROPIC, "{\"type\":\"message\"}", 18, &st),
        -1);
    cr_assert(strstr(st.error, "not a message_batch"), "%s", st.error);
    cr_assert_eq(batch_status_parse(LLM_ANTHROPIC, "nope", 4, &st), -1);
}

static int
count_cb(const struct batch_status *st, void *ud)
{
    (void)st;
    return ++*(int *)ud == 2; /* stop after the second */
}

Test(batch_wire, list_pages)
{
    const char *page =
        "{\"data\":[{\"id\":\"b3\",\"object\":\"batch\",\"status\":"
        "\"completed\"},{\"id\":\"b2\",\"object\":\"batch\",\"status\":"
        "\"in_progress\",\"metadata\":{\"genq_token\":\"t\"}},{\"id\":\"b1\","
        "\"object\":\"batch\",\"status\":\"failed\"}],\"has_more\":true}";
    int n = 0, more;
    char last[32];

    cr_assert_eq(batch_list_parse(LLM_OPENAI, page, strlen(page), count_cb, &n,
                                  &more, last, sizeof(last)),
                 0);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(last, "b2");
    cr_assert(more);
    cr_assert_eq(batch_list_parse(LLM_OPENAI, "{}", 2, count_cb, &n, &more,
                                  last, sizeof(last)),
                 -1);
}

Test(batch_wire, openai_batch_objects)
{
    const char *o =
        "{\"id\":\"batch_1\",\"object\":\"batch\",\"status\":\"completed\","
        "\"output_file_id\":\"file-o\",\"error_file_id\":\"file-e\","
        "\"created_at\":1711471533,\"request_counts\":{\"total\":10,"
        "\"completed\":7,\"failed\":3},\"metadata\":{\"genq_token\":\"abc\"}}";
    const char *f =
        "{\"id\":\"batch_2\",\"object\":\"batch\",\"status\":\"failed\","
        "\"errors\":{\"data\":[{\"message\":\"bad line 3\"}]}}";
    struct batch_status st;

    cr_assert_eq(batch_status_parse(LLM_OPENAI, o, strlen(o), &st), 0);
    cr_assert_eq(st.st, BPS_ENDED);
    cr_assert_str_eq(st.output_file_id, "file-o");
    cr_assert_str_eq(st.error_file_id, "file-e");
    cr_assert_str_eq(st.marker, "abc");
    cr_assert_eq(st.counts[1], 7);
    cr_assert_eq(st.counts[2], 3);
    cr_assert_eq(st.created_ms, 1711471533000LL);
    cr_assert_eq(batch_status_parse(LLM_OPENAI, f, strlen(f), &st), 0);
    cr_assert_eq(st.st, BPS_FAILED);
    cr_assert_str_eq(st.error, "bad line 3");
}

/* The mock's line for kind, read back by genq. */
static void
line_back(enum mockapi_proto mp, enum llm_provider p, enum mock_bkind k,
          enum batch_rkind want, int status, const char *type)
{
    struct mockbuf b = {0};
    struct batch_line l;

    cr_assert_eq(
        mock_batch_line(mp, "tok_x", k, "{\"id\":\"r\"}", "req_1", "why", &b),
        0);
    cr_assert_eq(b.data[b.len - 1], '\n');
    cr_assert_eq(batch_line_parse(p, b.data, b.len - 1, &l), 0, "%s",
                 l.message);
    cr_assert_str_eq(l.cid, "tok_x");
    cr_assert_eq(l.kind, want, "%.*s", (int)b.len, b.data);
    if (want == BR_SUCCEEDED)
        cr_assert_str_eq(l.body, "{\"id\":\"r\"}");
    if (want == BR_ERRORED) {
        cr_assert_eq(l.http_status, status);
        cr_assert_str_eq(l.type, type);
        cr_assert_str_eq(l.message, "why");
    }
    batch_line_free(&l);
    mockbuf_free(&b);
}

Test(batch_wire, result_lines_both_providers)
{
    for (int i = 0; i < 2; i++) {
        enum mockapi_proto mp = i ? MOCKAPI_OPENAI : MOCKAPI_ANTHROPIC;
        enum llm_provider p = i ? LLM_OPENAI : LLM_ANTHROPIC;
        line_back(mp, p, MB_OK, BR_SUCCEEDED, 0, NULL);
        line_back(mp, p, MB_ERRORED, BR_ERRORED, 400, "invalid_request_error");
        line_back(mp, p, MB_ERRORED_RETRY, BR_ERRORED, 500,
                  i ? "server_error" : "api_error");
        line_back(mp, p, MB_EXPIRED, BR_EXPIRED, 0, NULL);
        line_back(mp, p, MB_CANCELED, BR_CANCELED, 0, NULL);
    }
}

Test(batch_wire, bad_result_lines)
{
    struct batch_line l;
    static const char *const bad[] = {
        "not json",
        "{\"result\":{\"type\":\"succeeded\",\"message\":{}}}",
        "{\"custom_id\":\"a b\",\"result\":{\"type\":\"expired\"}}",
        "{\"custom_id\":\"a\",\"result\":{\"type\":\"weird\"}}",
        "{\"custom_id\":\"a\",\"result\":{\"type\":\"succeeded\"}}",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(
            batch_line_parse(LLM_ANTHROPIC, bad[i], strlen(bad[i]), &l), -1,
            "%s", bad[i]);
        cr_assert(l.message[0], "no reason for %s", bad[i]);
        batch_line_free(&l);
    }
    cr_assert_eq(batch_line_parse(LLM_OPENAI, "{\"custom_id\":\"a\"}", 16, &l),
                 -1);
    batch_line_free(&l);
}

Test(batch_wire, mock_markers)
{
    long times;
    cJSON *p = cJSON_Parse("{\"messages\":[{\"role\":\"user\",\"content\":"
                           "\"x [mock:batch=expired*2] y\"}]}");

    cr_assert_eq(mock_batch_marker(p, &times), MB_EXPIRED);
    cr_assert_eq(times, 2);
    cJSON_Delete(p);
    p = cJSON_Parse("{\"prompt\":\"[mock:batch=errored_retry]\"}");
    cr_assert_eq(mock_batch_marker(p, &times), MB_ERRORED_RETRY);
    cr_assert_eq(times, 0);
    cJSON_Delete(p);
    p = cJSON_Parse("{\"prompt\":\"[mock:batch=erroredx]\"}");
    cr_assert_eq(mock_batch_marker(p, &times), MB_OK);
    cJSON_Delete(p);
}
