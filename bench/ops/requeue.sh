#!/bin/bash
# bench/ops/requeue.sh: requeueing 10,000 dead jobs (`genq dlq requeue
# --all`) must take under 2 s, and then all of them must complete (a worker
# with --provider noop). Starts its own redis-server (no persistence) and
# genq-mockllm on free ports. Usage: bench/ops/requeue.sh [N]
. "$(dirname "$0")/lib.sh"
N=${1:-10000}
Q=bench-requeue
start_servers
echo "making $N dead jobs (worker against the mock, [mock:fail=400]) ..."
make_dead "$N"
echo "dead: $(stat dead)"

t0=$(now_s)
"$BIN/genq" dlq requeue --all --json --redis "$REDIS" --queue "$Q" >"$TMP/rq.json"
t1=$(now_s)
req=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
echo "genq dlq requeue --all: $(cat "$TMP/rq.json") in ${req} s (limit 2 s)"
[ "$(stat dead)" -eq 0 ] || { echo "FAIL: dead jobs left"; exit 1; }

GENQ_API_KEY=x "$BIN/genq-worker" --redis "$REDIS" --queue "$Q" \
    --provider noop --concurrency 256 >"$TMP/worker-noop.log" 2>&1 &
w=$!
pids="$pids $w"
t2=$(now_s)
wait_for succeeded "$N" 120
t3=$(now_s)
done_s=$(awk -v a="$t2" -v b="$t3" 'BEGIN { printf "%.2f", b - a }')
echo "all $N requeued jobs succeeded in ${done_s} s (worker --provider noop)"
"$BIN/genq" stats --redis "$REDIS" --queue "$Q"
awk -v r="$req" 'BEGIN { exit !(r < 2.0) }' || { echo "FAIL: requeue took ${req} s"; exit 1; }
echo "requeue bench: 1 passed, 0 failed"
