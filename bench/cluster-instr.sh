#!/bin/bash
# Redis instructions per no-op job on Redis Cluster (issue 16's slot guard,
# session 9): bench/redis-instr.sh's measure on a one-node cluster
# (redis-server --cluster-enabled yes, every slot; the queue's script calls
# then declare the slot guard too, keys.h QKEY_GUARD) under callgrind: N jobs
# enqueued through redis-cluster://, the counters zeroed, one genq-worker
# (--provider noop, concurrency 100) drains them; instructions / N. Compare
# with bench/redis-instr.sh (GENQ_INSTR_NO_ID=1: the same bulk path on a
# single Redis). Not part of `make bench` (slow).
#   bash bench/cluster-instr.sh [N]     (default 10000; GENQ_BENCH_BIN: bin dir)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${GENQ_BENCH_BIN:-$ROOT/bin}
N=${1:-10000}
command -v valgrind >/dev/null || { echo "cluster-instr: valgrind not installed" >&2; exit 2; }
TMP=$(mktemp -d /tmp/genq-cinstr.XXXXXX)
vp="" wp=""
cleanup() { [ -n "$wp" ] && kill "$wp" 2>/dev/null; [ -n "$vp" ] && kill "$vp" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
P=$(python3 "$ROOT/bench/lib/bench.py" freeport)
R() { redis-cli -p "$P" "$@"; }
valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.out" \
    redis-server --port "$P" --bind 127.0.0.1 --save '' --appendonly no --cluster-enabled yes \
    --cluster-config-file "$TMP/nodes.conf" --dir "$TMP" >"$TMP/vg.log" 2>&1 &
vp=$!
for _ in $(seq 1200); do R ping >/dev/null 2>&1 && break; sleep 0.1; done
R cluster addslotsrange 0 16383 >/dev/null
for _ in $(seq 300); do R cluster info | grep -q 'cluster_state:ok' && break; sleep 0.1; done
URL="redis-cluster://127.0.0.1:$P"
python3 "$ROOT/bench/lib/bench.py" gen-jobs "$N" r "$TMP/jobs.jsonl" --no-id
"$BIN/genq" queues --redis "$URL" >/dev/null
"$BIN/genq" enqueue --redis "$URL" --queue r "$TMP/jobs.jsonl" >/dev/null 2>&1
callgrind_control -z "$vp" >/dev/null 2>&1
"$BIN/genq-worker" --redis "$URL" --queue r --concurrency 100 --provider noop --log-level warn 2>"$TMP/worker.err" &
wp=$!
for _ in $(seq 6000); do [ "$(R hget 'genq:{r}:stats' succeeded)" = "$N" ] && break; sleep 0.1; done
[ "$(R hget 'genq:{r}:stats' succeeded)" = "$N" ] || { echo "cluster-instr: jobs did not finish" >&2; cat "$TMP/worker.err"; exit 1; }
callgrind_control -d "$vp" >/dev/null 2>&1
kill "$wp"; wait "$wp" 2>/dev/null || true; wp=""
# shellcheck disable=SC2012 # callgrind names its dumps cg.out.N
f=$(ls "$TMP"/cg.out.* | sort -t. -k3 -n | tail -1)
tot=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
echo "redis-server (one-node cluster): $((tot / N)) instructions per no-op job ($tot for $N jobs, worker concurrency 100)"
