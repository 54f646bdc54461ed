/* libFuzzer target: llm_parse_body() for every provider and any HTTP status
 * (3 config bytes: provider, status, options), with an optional request-id
 * header value; then again after llm_result_reset(), with the same verdict. */
#include "fmacros.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_llm.h"

static void
check_result(const struct llm_result *r, int rc, int status, int utf8)
{
    FUZZ_CHECK(rc == 0 || rc == -1);
    FUZZ_CHECK(rc == 0 || r->failed);
    FUZZ_CHECK(!r->failed || r->err.type[0] != '\0');
    FUZZ_CHECK(!r->complete || !r->failed);
    FUZZ_CHECK(r->err.http_status == status);
    if (status < 200 || status > 299)
        FUZZ_CHECK(r->failed && !r->complete); /* an error status fails */
    fuzz_check_llm_result(r, utf8);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int statuses[] = {200, 201, 204, 299, 400, 401, 403,
                                   404, 408, 409, 413, 422, 429, 500,
                                   502, 503, 504, 529, 302, 0,   -1};
    uint64_t cfg = fuzz_take_seed(&data, &size, 3);
    enum llm_provider p = (enum llm_provider)(cfg % 3);
    int status;
    const char *body = (const char *)data;
    const char *rid = NULL;
    char ridbuf[300];
    size_t len = size;

    if ((cfg >> 2) & 1)
        status = 100 + (int)((cfg >> 3) % 500);
    else
        status = statuses[(cfg >> 3) % (sizeof statuses / sizeof statuses[0])];
    /* "\x1e" splits an optional request-id header value from the body. */
    if ((cfg >> 16) & 1) {
        const char *sep = memchr(body, '\x1e', len);
        if (sep != NULL) {
            size_t n = (size_t)(sep - body);
            if (n >= sizeof ridbuf)
                n = sizeof ridbuf - 1;
            memcpy(ridbuf, body, n);
            ridbuf[n] = '\0';
            rid = ridbuf;
            len -= (size_t)(sep - body) + 1;
            body = sep + 1;
        }
    }
    int utf8 =
        utf8_valid(body, len) && (rid == NULL || utf8_valid(rid, strlen(rid)));

    struct llm_result r;
    llm_result_init(&r);
    if ((cfg >> 17) & 1)
        r.text.max = 1 + (size_t)((cfg >> 18) % 32);
    int rc = llm_parse_body(p, status, len ? body : NULL, len, rid, &r);
    check_result(&r, rc, status, utf8);
    if (p == LLM_NOOP && status >= 200 && status <= 299)
        FUZZ_CHECK(rc == 0 && r.complete);

    /* A second body into a reset result behaves the same. */
    char type[sizeof r.err.type];
    int failed = r.failed;
    memcpy(type, r.err.type, sizeof type);
    llm_result_reset(&r);
    rc = llm_parse_body(p, status, len ? body : NULL, len, rid, &r);
    check_result(&r, rc, status, utf8);
    FUZZ_CHECK(r.failed == failed && strcmp(type, r.err.type) == 0);
    llm_result_free(&r);
    return 0;
}
