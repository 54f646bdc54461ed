#!/bin/bash
# Inbox intake is crash-safe (issue 18): 50,000 job documents LPUSHed onto a
# queue's inbox -- half with their own ids, half without -- a worker
# SIGKILLed while it admits them, then a second worker (after the first's
# intake lock runs out): every entry admitted exactly once. Checked: the
# inbox is empty, nothing rejected, 50,000 jobs stored and counted
# enqueued, no duplicates (a round applied twice would count its given ids
# as duplicates and store its id-less jobs twice), every given id stored.
# The queue is paused: only the intake runs. Run by tests/run.sh.
set -euo pipefail
: "${GENQ_BIN:?run through make test}"
N=50000
q="inbox-kill-$$"
rport=$(echo "$GENQ_TEST_REDIS_URL" | sed -n 's#.*:\([0-9]*\)/.*#\1#p')
rc() { redis-cli -p "$rport" "$@"; }
tmp=$(mktemp -d)
pid=""
trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT

python3 - "$tmp/fill.resp" "$q" "$N" <<'EOF'
import sys
path, q, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
key = ("genq:{%s}:inbox" % q).encode()
with open(path, "wb") as f, open(path + ".ids", "w") as ids:
    for s in range(0, n, 500):
        items = []
        for i in range(s, s + 500):
            if i % 2:
                items.append(b'{"id":"k-%06d","prompt":"note %d","max_tokens":20}' % (i, i))
                ids.write("k-%06d\n" % i)
            else:
                items.append(b'{"prompt":"note %d","max_tokens":20,"metadata":{"n":%d},"notify":["n"]}' % (i, i))
        parts = [b"LPUSH", key] + items
        f.write(b"*%d\r\n" % len(parts))
        for p in parts:
            f.write(b"$%d\r\n%s\r\n" % (len(p), p))
EOF
rc --pipe <"$tmp/fill.resp" >/dev/null
[ "$(rc LLEN "genq:{$q}:inbox")" = "$N" ] || { echo "inbox not filled"; exit 1; }
"$GENQ_BIN/genq" pause "$q" --redis "$GENQ_TEST_REDIS_URL" >/dev/null

worker() {
    GENQ_API_KEY=x "$GENQ_BIN/genq-worker" --redis "$GENQ_TEST_REDIS_URL" \
        --queue "$q" --api-base "$GENQ_TEST_MOCK_URL" --intake-batch 200 \
        --intake-interval 0.05 2>>"$tmp/worker.log" &
    pid=$!
}
admitted() { rc HGET "genq:{$q}:stats" intake_admitted | sed 's/^$/0/'; }

worker
for _ in $(seq 1 2000); do
    a=$(admitted)
    [ "$a" -gt 0 ] && break
    sleep 0.005
done
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
left=$(rc LLEN "genq:{$q}:inbox")
echo "SIGKILLed the worker with $(admitted) admitted, $left entries left in the inbox"
[ "$left" -gt 0 ] || { echo "the worker finished before the kill: nothing proven"; exit 1; }
[ -n "$(rc GET "genq:{$q}:inbox:lock")" ] || { echo "no intake lock left by the killed worker"; exit 1; }

worker
for _ in $(seq 1 600); do
    [ "$(rc LLEN "genq:{$q}:inbox")" = 0 ] && break
    sleep 0.05
done
kill "$pid"
wait "$pid" 2>/dev/null || true
pid=""

fail=0
check() { # what got want
    if [ "$2" != "$3" ]; then echo "FAIL: $1: $2, want $3"; fail=1; else echo "ok: $1 = $2"; fi
}
check "inbox left" "$(rc LLEN "genq:{$q}:inbox")" 0
check "rejected" "$(rc LLEN "genq:{$q}:rejected")" 0
check "jobs stored" "$(rc HLEN "genq:{$q}:jobs")" "$N"
check "ready" "$(rc LLEN "genq:{$q}:ready")" "$N"
check "counted enqueued" "$(rc HGET "genq:{$q}:stats" enqueued)" "$N"
check "intake admitted" "$(admitted)" "$N"
check "duplicates" "$(rc HGET "genq:{$q}:stats" intake_duplicates | sed 's/^$/0/')" 0
check "notify echoes" "$(rc HLEN "genq:{$q}:notify")" $((N / 2))
# every given id once (the ready list holds each job once)
rc LRANGE "genq:{$q}:ready" 0 -1 | grep '^k-' | sort >"$tmp/got.ids"
sort "$tmp/fill.resp.ids" >"$tmp/want.ids"
if cmp -s "$tmp/got.ids" "$tmp/want.ids"; then
    echo "ok: the $(wc -l <"$tmp/want.ids") given ids, each once"
else
    echo "FAIL: given ids differ: $(diff "$tmp/want.ids" "$tmp/got.ids" | head -5)"
    fail=1
fi
[ "$(rc LRANGE "genq:{$q}:ready" 0 -1 | sort | uniq -d | wc -l)" = 0 ] ||
    { echo "FAIL: an id is twice on the ready list"; fail=1; }
exit $fail
