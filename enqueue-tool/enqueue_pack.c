/* genq enqueue: the stored form of a validated job's payload (common/pack.h),
 * made in the validating thread that owns e->pk (not for --dry-run). A job
 * with an idempotency key stays plain JSON: the Lua scripts that delete
 * jobs read the key from the payload (oplib.lua idem_forget). */
#include "fmacros.h"

#include "enqueue.h"
#include "pack.h"

const char *
enq_pack(struct enq *e, const char *id, const char *idem, const char *json,
         size_t len, size_t *out_len)
{
    const char *out = json;

    *out_len = len;
    if (e->pk && !e->dry_run && !(idem && *idem) &&
        pack_payload(e->pk, id, json, len, &out, out_len) < 0) {
        out = json; /* zstd failed (out of memory): plain is always right */
        *out_len = len;
    }
    return out;
}
