/* libFuzzer target: the payload codec (common/pack.c). The input's first
 * byte picks the id length (0-31), then the id, then the rest: decoded as a
 * stored value (never a crash, never more than JOB_MAX_BYTES; an error
 * names the job), and compressed then decoded back (the same bytes). */
#include "fmacros.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "job.h"
#include "pack.h"

static struct packer *pk;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char id[32], err[256], *back;
    const char *out, *v;
    size_t il, vl, n = 0;
    int rc;

    if (size < 1)
        return 0;
    if (!pk)
        FUZZ_CHECK((pk = packer_new()) != NULL);
    il = data[0] & 31u;
    if (il > size - 1)
        il = size - 1;
    memcpy(id, data + 1, il);
    id[il] = '\0';
    for (size_t i = 0; i < il; i++) /* an id is printable (job.h) */
        if (id[i] < 0x21 || id[i] > 0x7e)
            id[i] = 'x';
    v = (const char *)data + 1 + il;
    vl = size - 1 - il;

    /* any stored value: JSON back, or an error naming the job */
    back = pack_decode(pk, id, v, vl, &n, err, sizeof(err));
    if (back) {
        FUZZ_CHECK(n <= JOB_MAX_BYTES);
        FUZZ_CHECK(back[n] == '\0');
        free(back);
    } else {
        FUZZ_CHECK(!strncmp(err, "job ", 4) && strstr(err, id) != NULL);
    }
    /* the same bytes as a payload: stored, then read back intact */
    rc = pack_payload(pk, id, v, vl, &out, &n);
    FUZZ_CHECK(rc >= 0);
    FUZZ_CHECK(rc == 0 ? out == v && n == vl
                       : n < vl && pack_is_packed(out, n));
    if (rc == 1) {
        char *copy = malloc(n);
        FUZZ_CHECK(copy != NULL);
        memcpy(copy, out, n);
        back = pack_decode(NULL, id, copy, n, &n, err, sizeof(err));
        FUZZ_CHECK(back != NULL && n == vl && !memcmp(back, v, vl));
        free(back);
        free(copy);
    }
    return 0;
}
