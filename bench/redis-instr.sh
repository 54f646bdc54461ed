#!/bin/bash
# Redis instructions per no-op job (issue 7), by callgrind on redis-server:
# a private redis-server under valgrind on a free port, N jobs enqueued,
# the counters zeroed, one genq-worker (--provider noop, concurrency 100)
# drains them, the counters dumped: instructions / N is what claim +
# complete (+ heartbeats, maintenance) cost Redis per job, repeatable
# whatever else the machine does. Not part of `make bench` (slow).
# The enqueue (`genq enqueue` of the N lines, ids given unless
# GENQ_INSTR_NO_ID=1) is counted apart, after the scripts are compiled.
# GENQ_INSTR_CLUSTER=1: the same on a one-node Redis Cluster
# (--cluster-enabled yes, every slot; genq through redis-cluster://, so the
# queue's script calls declare the slot guard too, keys.h QKEY_GUARD).
#   bash bench/redis-instr.sh [N]      (default 10000; GENQ_BENCH_BIN: bin dir)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${GENQ_BENCH_BIN:-$ROOT/bin}
N=${1:-10000}
command -v valgrind >/dev/null || { echo "redis-instr: valgrind not installed" >&2; exit 2; }
TMP=$(mktemp -d /tmp/genq-rinstr.XXXXXX)
vp="" wp=""
cleanup() {
    [ -n "$wp" ] && kill "$wp" 2>/dev/null
    [ -n "$vp" ] && kill "$vp" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
P=$(python3 "$ROOT/bench/lib/bench.py" freeport)
R() { redis-cli -p "$P" "$@"; }
URL="redis://127.0.0.1:$P/0" CL=()
[ -n "${GENQ_INSTR_CLUSTER:-}" ] &&
    URL="redis-cluster://127.0.0.1:$P" CL=(--cluster-enabled yes --cluster-config-file "$TMP/nodes.conf")
valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.out" \
    redis-server --port "$P" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$TMP" "${CL[@]}" >"$TMP/vg.log" 2>&1 &
vp=$!
for _ in $(seq 1200); do R ping >/dev/null 2>&1 && break; sleep 0.1; done
if [ -n "${GENQ_INSTR_CLUSTER:-}" ]; then
    R cluster addslotsrange 0 16383 >/dev/null
    for _ in $(seq 300); do R cluster info | grep -q cluster_state:ok && break; sleep 0.1; done
fi
python3 "$ROOT/bench/lib/bench.py" gen-jobs "$N" r "$TMP/jobs.jsonl" ${GENQ_INSTR_NO_ID:+--no-id}
# the scripts compiled first (any genq connect loads them), so the enqueue
# figure is the enqueue's own
"$BIN/genq" queues --redis "$URL" >/dev/null
callgrind_control -z "$vp" >/dev/null 2>&1
"$BIN/genq" enqueue --redis "$URL" --queue r "$TMP/jobs.jsonl" 2>/dev/null
callgrind_control -d "$vp" >/dev/null 2>&1 # dumps and zeroes
"$BIN/genq-worker" --redis "$URL" --queue r --concurrency 100 \
    --provider noop --log-level warn 2>"$TMP/worker.err" &
wp=$!
for _ in $(seq 6000); do
    [ "$(R hget 'genq:{r}:stats' succeeded)" = "$N" ] && break
    sleep 0.1
done
[ "$(R hget 'genq:{r}:stats' succeeded)" = "$N" ] || { echo "redis-instr: jobs did not finish" >&2; exit 1; }
callgrind_control -d "$vp" >/dev/null 2>&1
kill "$wp"; wait "$wp" 2>/dev/null || true; wp=""
total() { callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }'; }
dumps=$(ls "$TMP"/cg.out.* | sort -t. -k3 -n)
enq=$(total "$(echo "$dumps" | sed -n 1p)")
tot=$(total "$(echo "$dumps" | sed -n 2p)")
echo "redis-server${GENQ_INSTR_CLUSTER:+ (one-node cluster)}: $((tot / N)) instructions per no-op job ($tot for $N jobs, worker concurrency 100)"
echo "redis-server: enqueue $((enq / N)) instructions per job ($([ -n "${GENQ_INSTR_NO_ID:-}" ] && echo "bulk path, no ids" || echo "given ids: enqueue.lua")); lifecycle $(((enq + tot) / N))"
