#!/usr/bin/env bash
# Reproduction found by the chaos soak: a Redis outage longer than the
# visibility timeout turns finished work of a live, healthy worker into
# lease expiries. 20 jobs (max_attempts 1, ~3 s each) run on one worker
# (--visibility-timeout 5); 1 s in, Redis is SIGKILLed and restarted from its
# AOF (appendfsync always) 7 s later, when every job has finished and waits
# in the worker to be written. Expected: 20 succeeded (the worker holds
# every result and re-sends it after reconnecting). Prints the states and
# the worker's log lines about the jobs; exits 1 when a job is not
# succeeded. Usage: bash tests/chaos/repro-outage.sh [--down S]
# (--down 4, under the 5 s visibility timeout, fails the same way: the lease
# was last renewed at the claim, 1 s before the kill.)
set -euo pipefail
export PATH="/usr/bin:$PATH"
cd "$(dirname "$0")/../.."
DOWN=7
[ "${1:-}" = --down ] && DOWN=${2:?}
: "${GENQ_BIN:=bin}"
TMP=$(mktemp -d /tmp/genq-repro.XXXXXX)
pids=()
RPID=""
cleanup() {
    for p in "${pids[@]}" $RPID; do kill -9 "$p" 2>/dev/null || true; done
    for p in "${pids[@]}" $RPID; do wait "$p" 2>/dev/null || true; done
    echo "logs: $TMP"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RPORT=$(port)
start_redis() {
    redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$TMP" --appendonly yes \
        --appendfsync always --save '' --logfile "$TMP/redis.log" &
    RPID=$!
    for _ in $(seq 1 200); do
        [ "$(redis-cli -p "$RPORT" ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.05
    done
    echo "redis-server did not start" >&2
    exit 2
}
start_redis
GENQ_MOCK_API_KEY=k "$GENQ_BIN/genq-mockllm" --listen 127.0.0.1:0 \
    --port-file "$TMP/mock.port" --tokens-per-s 50 --chunk-tokens 5 2>/dev/null &
pids+=($!)
for _ in $(seq 1 200); do [ -s "$TMP/mock.port" ] && break; sleep 0.05; done
URL="redis://127.0.0.1:$RPORT/0"
for i in $(seq -w 1 20); do
    echo "{\"id\":\"r$i\",\"prompt\":\"outage $i [mock:tokens=150]\",\"max_attempts\":1}"
done >"$TMP/jobs.jsonl"
"$GENQ_BIN/genq" enqueue --redis "$URL" --queue r "$TMP/jobs.jsonl" >/dev/null 2>&1
GENQ_API_KEY=k "$GENQ_BIN/genq-worker" --redis "$URL" --queue r \
    --api-base "http://127.0.0.1:$(cat "$TMP/mock.port")" --concurrency 40 \
    --visibility-timeout 5 --log-format json --log-level debug \
    >"$TMP/worker.log" 2>&1 &
pids+=($!)
sleep 1
echo "t=1s: $(redis-cli -p "$RPORT" ZCOUNT 'genq:{r}:leases' -inf '(+inf') jobs leased; SIGKILL redis for $DOWN s"
kill -9 "$RPID"
wait "$RPID" 2>/dev/null || true
sleep "$DOWN"
start_redis
echo "redis restarted from its AOF"
for _ in $(seq 1 100); do
    n=$(redis-cli -p "$RPORT" ZCOUNT 'genq:{r}:leases' -inf '(+inf')
    [ "$n" = 0 ] && [ "$(redis-cli -p "$RPORT" LLEN 'genq:{r}:ready')" = 0 ] && break
    sleep 0.2
done
cut -d'"' -f4 "$TMP/jobs.jsonl" | "$GENQ_BIN/genq" status --redis "$URL" --queue r --json - \
    >"$TMP/status.jsonl" || true
python3 - "$TMP/status.jsonl" <<'EOF'
import collections, json, sys
c = collections.Counter()
for l in open(sys.argv[1]):
    s = json.loads(l)
    e = s.get("last_error") or {}
    c[(s["state"], e.get("class"))] += 1
print("states:", dict(c))
EOF
echo "worker log:"
grep -E 'redis connected|lease lost|job succeeded' "$TMP/worker.log" | cut -c1-220 | head -8
ok=$(grep -c '"state":"succeeded"' "$TMP/status.jsonl" || true)
echo "$ok of 20 succeeded"
[ "$ok" = 20 ]
