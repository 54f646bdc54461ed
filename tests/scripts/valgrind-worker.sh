#!/bin/bash
# genq-worker under valgrind processes 1,000 jobs against genq-mockllm, then
# drains on SIGTERM: no leak (definite or indirect) and no memory error.
# Run by tests/run.sh (skipped in the sanitizer build).
set -euo pipefail
: "${GENQ_BIN:?run through make test}"
command -v valgrind >/dev/null || { echo "valgrind not installed"; exit 1; }
q="vg-$$"
log="$GENQ_TEST_TMP/valgrind-$q.log"
G="$GENQ_BIN/genq"
for i in $(seq 1 1000); do
    printf '{"id":"vg-%04d","prompt":"valgrind job %d","max_tokens":30}\n' "$i" "$i"
done > "$GENQ_TEST_TMP/vg.jsonl"
"$G" enqueue --redis "$GENQ_TEST_REDIS_URL" --queue "$q" "$GENQ_TEST_TMP/vg.jsonl" 2>/dev/null
GENQ_API_KEY=x valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect \
    --error-exitcode=99 --log-file="$log" \
    "$GENQ_BIN/genq-worker" --redis "$GENQ_TEST_REDIS_URL" --queue "$q" \
    --api-base "$GENQ_TEST_MOCK_URL" --concurrency 32 --log-level warn &
pid=$!
sed -n 's/.*"id":"\([^"]*\)".*/\1/p' "$GENQ_TEST_TMP/vg.jsonl" > "$GENQ_TEST_TMP/vg.ids"
for t in $(seq 1 600); do
    n=$("$G" status --redis "$GENQ_TEST_REDIS_URL" --queue "$q" --json - \
        < "$GENQ_TEST_TMP/vg.ids" | grep -c '"state":"succeeded"' || true)
    [ "$n" -ge 1000 ] && break
    sleep 0.5
done
kill -TERM $pid
rc=0; wait $pid || rc=$?
echo "valgrind worker: $n/1000 jobs succeeded, exit $rc"
grep -E "ERROR SUMMARY|definitely lost|indirectly lost|in use at exit" "$log" || true
[ "$n" -eq 1000 ] && [ "$rc" -eq 0 ] && grep -q "ERROR SUMMARY: 0 errors" "$log"
