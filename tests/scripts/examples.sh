#!/bin/bash
# The public protocol (README "Producers and consumers in any language") and
# the examples built on it, against the test Redis, the mock and real
# workers: the README's redis-cli LPUSH (feed entry with article_id 7, the
# result by HGET), then for examples/python (redis-py, Debian's
# python3-redis, /usr/bin/python3) and examples/node (ioredis, `npm ci`
# into examples/node/node_modules) each: enqueue_and_wait (the text printed
# is the stored result's), bulk_from_csv (200 of the 10,000 topics, ids
# checked), consumer (one OUT/ID.md per succeeded job with the topic as
# title, then a restart resuming from its saved position), and a consumer
# that fell behind a small feed being told so. Missing tools fail, naming
# the package (scripts/deps.sh test installs them).
set -uo pipefail
: "${GENQ_BIN:?run through make test}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
missing=""
$PY -c 'import redis' 2>/dev/null || missing="$missing python3-redis"
command -v node >/dev/null || missing="$missing nodejs"
command -v npm >/dev/null || missing="$missing npm"
command -v redis-cli >/dev/null || missing="$missing redis-tools"
[ -z "$missing" ] || {
    echo "FAIL: missing:$missing (scripts/deps.sh test installs them)"
    exit 1
}
T="$GENQ_TEST_TMP/examples-$$"
mkdir -p "$T"
sh "$ROOT/scripts/npm-ci.sh" "$ROOT/examples/node" "$T/npm.log" || exit 1

export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in examples/python
RURL=$GENQ_TEST_REDIS_URL
R() { redis-cli -u "$RURL" --raw "$@"; }
pass=0 fail=0
# check NAME EXPR: EXPR is eval'ed (single-quoted by the callers, so it sees
# the variables of the moment)
check() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1"; fi; }
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; wait 2>/dev/null' EXIT
worker() { # log, args...
    local log=$1
    shift
    GENQ_API_KEY=x "$GENQ_BIN/genq-worker" --redis "$RURL" \
        --api-base "$GENQ_TEST_MOCK_URL" --concurrency 50 --log-level warn \
        "$@" 2>"$T/$log" &
    pids="$pids $!"
}
qa="articles-$$" qpy="py-$$" qnode="node-$$" qlag="lag-$$"
worker worker.log --queue "$qa" --queue "$qpy" --queue "$qnode"
worker worker-lag.log --queue "$qlag" --feed-maxlen 10
export GENQ_REDIS_URL=$RURL

# The README's example, with redis-cli only.
R LPUSH "genq:{$qa}:inbox" '{"prompt":"Write about Redis","max_tokens":200,"metadata":{"article_id":7},"notify":["article_id"]}' >/dev/null
R XREAD COUNT 1 BLOCK 20000 STREAMS "genq:{$qa}:feed" 0-0 >"$T/xread.txt"
id=$(awk 'p == "id" { print; exit } { p = $0 }' "$T/xread.txt")
if [ -z "$id" ]; then
    echo "FAIL: no feed entry 20 s after LPUSH onto genq:{$qa}:inbox: the" \
        "workers do not admit inbox entries (inbox left: $(R LLEN "genq:{$qa}:inbox"))"
    exit 1
fi
check "XREAD gets the entry, succeeded, with article_id 7 ($(tr '\n' ' ' <"$T/xread.txt"))" \
    '[ -n "$id" ] && grep -qx succeeded "$T/xread.txt" &&
     grep -qx "{\"article_id\":7}" "$T/xread.txt"'
R HGET "genq:{$qa}:results" "$id" >"$T/result.json"
check "HGET genq:{Q}:results ID is the result document" \
    '$PY - "$T/result.json" "$id" <<EOF
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(not (d["id"] == sys.argv[2] and d["state"] == "succeeded" and
              d["text"] and d["metadata"] == {"article_id": 7}))
EOF'


# Count the lines of file $2 for which "$1 LINE" succeeds.
count_ok() {
    local n=0 x
    while read -r x; do $1 "$x" && n=$((n + 1)); done <"$2"
    echo "$n"
}
# lang, queue, interpreter, script suffix, succeeded in qlag afterwards
run_examples() {
    local lang=$1 q=$2 run=$3 ext=$4 lagged=$5 dir out n rc id i
    dir="$ROOT/examples/$lang"
    out="$T/$lang-out"
    export GENQ_QUEUE=$q
    has_result() { [ "$(R HEXISTS "genq:{$q}:results" "$1")" = 1 ]; }
    has_article() { [ -s "$out/$1.md" ]; }

    # enqueue_and_wait: the text printed is the stored result's
    $run "$dir/enqueue_and_wait.$ext" "Write about Redis from $lang" \
        --article-id 7 --timeout 30 >"$T/$lang-wait.out" 2>"$T/$lang-wait.err"
    rc=$?
    check "$lang enqueue_and_wait exits 0 ($(tr '\n' ' ' <"$T/$lang-wait.err"))" \
        '[ $rc -eq 0 ]'
    id=$(sed -n 's/^enqueued //p' "$T/$lang-wait.err")
    check "$lang enqueue_and_wait names the state and the echo" \
        'grep -q "^$id succeeded (article_id 7)\$" "$T/$lang-wait.err"'
    "$GENQ_BIN/genq" result --redis "$RURL" --queue "$q" "$id" \
        >"$T/$lang-want.out" 2>&1
    check "$lang enqueue_and_wait prints the result's text" \
        '[ -s "$T/$lang-want.out" ] && cmp -s "$T/$lang-want.out" "$T/$lang-wait.out"'

    # bulk_from_csv: 200 topics with our own ids, all succeeded
    $run "$dir/bulk_from_csv.$ext" "$ROOT/examples/topics.csv" --count 200 \
        --ids "$T/$lang-ids.txt" --timeout 60 2>"$T/$lang-bulk.err"
    rc=$?
    check "$lang bulk_from_csv exits 0 ($(tail -n 2 "$T/$lang-bulk.err" | tr '\n' ' '))" \
        '[ $rc -eq 0 ]'
    check "$lang bulk_from_csv shows its progress" \
        'grep -q "^finished 200/200" "$T/$lang-bulk.err"'
    n=$(grep -cE '^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' \
        "$T/$lang-ids.txt")
    check "$lang bulk_from_csv: 200 distinct UUIDv7 ids ($n)" \
        '[ "$n" -eq 200 ] && [ "$(sort -u "$T/$lang-ids.txt" | wc -l)" -eq 200 ]'
    n=$(count_ok has_result "$T/$lang-ids.txt")
    check "$lang bulk_from_csv: every id has its result ($n)" '[ "$n" -eq 200 ]'

    # consumer: everything the feed holds (1 + 200 succeeded), then resume
    $run "$dir/consumer.$ext" --out "$out" --from 0 --count 201 --timeout 15 \
        2>"$T/$lang-cons.err"
    rc=$?
    check "$lang consumer exits 0 ($(tail -n 1 "$T/$lang-cons.err"))" '[ $rc -eq 0 ]'
    n=$(count_ok has_article "$T/$lang-ids.txt")
    check "$lang consumer wrote OUT/ID.md for each bulk job ($n)" '[ "$n" -eq 200 ]'
    check "$lang consumer wrote the enqueue_and_wait article" '[ -s "$out/$id.md" ]'
    i=$(head -n 1 "$T/$lang-ids.txt")
    "$GENQ_BIN/genq" result --redis "$RURL" --queue "$q" "$i" >"$T/$lang-one.txt"
    check "$lang consumer: title from metadata.topic, then the text" \
        '[ "$(head -n 1 "$out/$i.md")" = "# Redis Streams for beginners" ] &&
         tail -n +3 "$out/$i.md" | cmp -s - "$T/$lang-one.txt"'
    $run "$dir/bulk_from_csv.$ext" "$ROOT/examples/topics.csv" --count 20 \
        --ids "$T/$lang-ids2.txt" --timeout 60 2>/dev/null
    $run "$dir/consumer.$ext" --out "$out" --count 20 --timeout 15 \
        2>"$T/$lang-cons2.err"
    n=$(count_ok has_article "$T/$lang-ids2.txt")
    check "$lang consumer resumes from OUT/.feed-position ($n new)" \
        '[ "$n" -eq 20 ] && [ "$(ls "$out" | grep -c "\.md$")" -eq 221 ]'

    # a consumer behind a feed of ~10 entries is told so
    GENQ_QUEUE=$qlag $run "$dir/bulk_from_csv.$ext" "$ROOT/examples/topics.csv" \
        --count 300 --no-wait 2>/dev/null
    for _ in $(seq 300); do
        [ "$(R HGET "genq:{$qlag}:stats" succeeded)" = "$lagged" ] && break
        sleep 0.1
    done
    GENQ_QUEUE=$qlag $run "$dir/consumer.$ext" --out "$T/$lang-lag" \
        --from 0-1 --count 1 --timeout 10 2>"$T/$lang-lag.err"
    check "$lang consumer that fell behind is told so ($(head -n 1 "$T/$lang-lag.err"))" \
        'grep -q "fell behind" "$T/$lang-lag.err"'
}
run_examples python "$qpy" "$PY" py 300
run_examples node "$qnode" node js 600

echo "examples: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
