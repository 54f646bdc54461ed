#!/bin/bash
# Every --json document of the operators' commands validates against
# schemas/: enqueue jobs (some with [mock:fail=400] so they die), run the
# real worker against the mock, cancel and pause, then validate the output
# of stats, queues, budget, status, result, results (stream and export), dlq ls,
# show, export, requeue, purge, cancel, pause and resume, and the entries of
# the completion feed, with Debian's python3-jsonschema (and python3-redis).
# Run by tests/run.sh; prints "N passed, N failed".
set -euo pipefail
: "${GENQ_BIN:?run through make test}"
: "${GENQ_TEST_REDIS_URL:?}" "${GENQ_TEST_MOCK_URL:?}" "${GENQ_TEST_TMP:?}"
cd "$(dirname "$0")/../.."
q="ops-schemas-$$"
d="$GENQ_TEST_TMP/ops-schemas-$$"
mkdir -p "$d"
genq() { "$GENQ_BIN/genq" "$@" --redis "$GENQ_TEST_REDIS_URL" --queue "$q"; }

cat >"$d/jobs.jsonl" <<'EOF'
{"id":"ok-1","prompt":"Write about Redis Streams","max_tokens":60,"metadata":{"article_id":1}}
{"id":"ok-2","messages":[{"role":"user","content":"Write about Lua scripts"}],"max_tokens":40}
{"id":"ok-3","prompt":"Write about fsync","max_tokens":30,"priority":"high"}
{"id":"bad-1","prompt":"Refused [mock:fail=400]","idempotency_key":"k-bad-1"}
{"id":"bad-2","prompt":"Refused too [mock:fail=400]","max_attempts":2}
{"id":"bad-3","prompt":"Refused again [mock:fail=400]","priority":"low"}
{"id":"later","prompt":"Not yet","delay_s":3600}
EOF
genq enqueue "$d/jobs.jsonl" >/dev/null 2>&1
# ok-1's notify echo, as an enqueue with "notify":["article_id"] writes it
redis-cli -u "$GENQ_TEST_REDIS_URL" HSET "genq:{$q}:notify" ok-1 \
    '{"article_id":1}' >/dev/null

GENQ_API_KEY=test-key-not-secret "$GENQ_BIN/genq-worker" \
    --redis "$GENQ_TEST_REDIS_URL" --queue "$q" \
    --api-base "$GENQ_TEST_MOCK_URL" >"$d/worker.log" 2>&1 &
wpid=$!
trap 'kill $wpid 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
    s=$(genq stats --json)
    case "$s" in *'"dead":3,'*'"succeeded":3,'*) break ;; esac
    sleep 0.1
done
kill "$wpid" 2>/dev/null || true
wait "$wpid" 2>/dev/null || true
trap - EXIT

genq stats --json >"$d/stats.jsonl"
genq stats --json --dead-warn 1 >>"$d/stats.jsonl" 2>/dev/null
"$GENQ_BIN/genq" queues --json --redis "$GENQ_TEST_REDIS_URL" >"$d/queues.jsonl"
"$GENQ_BIN/genq" budget --json --redis "$GENQ_TEST_REDIS_URL" >"$d/budget.jsonl"
genq cancel --json later nope >"$d/cancel.jsonl" || true
genq pause --json >"$d/pause.jsonl"
genq pause --json >>"$d/pause.jsonl"
genq resume --json >>"$d/pause.jsonl"
genq status --json ok-1 ok-2 ok-3 bad-1 bad-2 bad-3 later nope \
    >"$d/status.jsonl" || true
genq status --json --with-result ok-1 >>"$d/status.jsonl"
genq result --json ok-1 >"$d/result.jsonl"
genq result --json ok-2 >>"$d/result.jsonl"
genq results --from-start >>"$d/result.jsonl"
genq results export >>"$d/result.jsonl"
genq dlq show --json bad-1 bad-2 bad-3 >"$d/deadletter.jsonl"
genq dlq export >>"$d/deadletter.jsonl"
genq dlq ls --json >"$d/dlq-entry.jsonl"
genq dlq requeue --all --dry-run --json >"$d/dlq-change.jsonl"
genq dlq purge --all --dry-run --json >>"$d/dlq-change.jsonl"
genq dlq requeue --json bad-3 >>"$d/dlq-change.jsonl"
genq dlq purge --json --yes --class permanent >>"$d/dlq-change.jsonl"
/usr/bin/python3 - "$GENQ_TEST_REDIS_URL" "genq:{$q}:feed" \
    >"$d/feed-entry.jsonl" <<'PY'
import json, sys
import redis
r = redis.Redis.from_url(sys.argv[1], decode_responses=True)
for _, fields in r.xrange(sys.argv[2]):
    print(json.dumps(fields))
PY
"$GENQ_BIN/genq" limits --json --redis "$GENQ_TEST_REDIS_URL" >"$d/limits.jsonl"

/usr/bin/python3 -c "import jsonschema" 2>/dev/null ||
    { echo "FAIL: /usr/bin/python3 has no jsonschema module (apt-get install python3-jsonschema)"; exit 1; }
exec /usr/bin/python3 - "$d" <<'PY'
import glob, json, os, sys

from jsonschema import Draft202012Validator

d = sys.argv[1]
schemas = {}
for path in glob.glob("schemas/*.schema.json"):
    with open(path, encoding="utf-8") as f:
        s = json.load(f)
    schemas[os.path.basename(path)[: -len(".schema.json")]] = s
sys.dont_write_bytecode = True
sys.path.insert(0, "tests/schemas")
from validator import make_validator  # noqa: E402

validator = make_validator(schemas.values())

expect = {  # file: (schema, minimum number of lines)
    "stats": ("stats", 2), "queues": ("queues", 1), "cancel": ("cancel", 2),
    "pause": ("pause", 3), "status": ("status", 9), "result": ("result", 8),
    "deadletter": ("deadletter", 6), "dlq-entry": ("dlq-entry", 3),
    "dlq-change": ("dlq-change", 4), "budget": ("budget", 1),
    "feed-entry": ("feed-entry", 7), "limits": ("limits", 1),
}
passed = failed = 0
for name, (schema, least) in sorted(expect.items()):
    v = validator(schemas[schema])
    with open(os.path.join(d, name + ".jsonl"), encoding="utf-8") as f:
        lines = [l for l in f.read().split("\n") if l]
    if len(lines) < least:
        failed += 1
        print(f"FAIL  {name}: {len(lines)} lines, expected at least {least}")
        continue
    for i, line in enumerate(lines, 1):
        try:
            doc = json.loads(line)
        except ValueError as e:
            failed += 1
            print(f"FAIL  {name}:{i}: not JSON: {e}")
            continue
        errs = sorted(v.iter_errors(doc), key=lambda e: list(e.path))
        if errs:
            failed += 1
            where = "/".join(str(p) for p in errs[0].absolute_path) or "(root)"
            print(f"FAIL  {name}:{i} ({schema}): {where}: {errs[0].message[:200]}")
        else:
            passed += 1
print(f"ops-schemas: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
