#!/bin/bash
# Shared by the bench/ops scripts: a private redis-server and genq-mockllm
# on free loopback ports (never touching anything already running), torn
# down on exit, and helpers to make dead jobs the real way (the worker
# against the mock with [mock:fail=400] prompts).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${GENQ_BIN:-$ROOT/bin}
TMP=$(mktemp -d /tmp/genq-bench-ops.XXXXXX)
WORKDIR=$TMP
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

start_servers() {
    # no persistence: the bench measures genq's work, not the disk
    start_redis "$TMP"
    REDIS="redis://127.0.0.1:$RPORT/0"
    REDIS_PORT=$RPORT
    "$BIN/genq-mockllm" --listen 127.0.0.1:0 --port-file "$TMP/mock.port" \
        --log /dev/null >/dev/null 2>&1 &
    pids="$pids $!"
    until [ -s "$TMP/mock.port" ]; do sleep 0.05; done
    MOCK="http://127.0.0.1:$(cat "$TMP/mock.port")"
}

# stat FIELD: one number from `genq stats --json` of queue $Q
stat() {
    "$BIN/genq" stats --json --dead-warn 1000000000 --redis "$REDIS" --queue "$Q" |
        python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"
}

# wait_for FIELD N TIMEOUT_S
wait_for() {
    local i=0 lim=$(($3 * 10))
    while [ "$(stat "$1")" -lt "$2" ]; do
        i=$((i + 1))
        [ $i -gt $lim ] && { echo "timeout waiting for $1 >= $2"; return 1; }
        sleep 0.1
    done
}

# make_dead N: enqueue N jobs the mock refuses (400) and let a worker kill
# them (permanent errors: dead at once).
make_dead() {
    python3 - "$1" >"$TMP/dead.jsonl" <<'PY'
import sys
for i in range(int(sys.argv[1])):
    print('{"id":"dead-%06d","prompt":"Write article %d about Redis [mock:fail=400]","max_tokens":50}' % (i, i))
PY
    "$BIN/genq" enqueue "$TMP/dead.jsonl" --batch 1000 --redis "$REDIS" \
        --queue "$Q" 2>/dev/null
    GENQ_API_KEY=bench-not-secret "$BIN/genq-worker" --redis "$REDIS" \
        --queue "$Q" --api-base "$MOCK" --processes 2 --concurrency 256 \
        --no-stream >"$TMP/worker-dead.log" 2>&1 &
    local w=$!
    wait_for dead "$1" 600
    kill "$w"
    wait "$w" 2>/dev/null || true
}

now_s() { date +%s.%N; }
