#!/bin/bash
# Instructions per streamed job (issue 15 target 4), counted by callgrind so
# that a busy machine does not move the figure much: genq-worker at
# concurrency C against genq-mockllm streaming scenario (s)'s answers (300
# tokens in deltas of 10, 200 ms to the first byte, TPS tokens/s), for N1
# and N2 jobs; per job = (Ir(N2) - Ir(N1)) / (N2 - N1), which cancels
# start-up and shutdown. Then the same for the mock (the worker native).
# Usage: bash bench/stream-instr.sh [C N1 N2 TPS]   (default 1000 1000 3000 50)
# (WORKER_ONLY=1: the worker alone; KEEP_CG=DIR: keep the callgrind files)
# Not part of `make bench`; writes bench/results/stream-instr.txt.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -eu
C=${1:-1000} N1=${2:-1000} N2=${3:-3000} TPS=${4:-50}
BENCH_TMP=genq-streaminstr
# shellcheck source=bench/lib/common.sh
. "$(dirname "$0")/lib/common.sh"
OUT="$ROOT/bench/results/stream-instr.txt"
command -v valgrind >/dev/null || { echo "valgrind not installed" >&2; exit 1; }

RPORT=$(py freeport)
RURL="redis://127.0.0.1:$RPORT/0"
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$TMP" --logfile "$TMP/redis.log" &
pids="$pids $!"
until redis-cli -p "$RPORT" ping >/dev/null 2>&1; do sleep 0.05; done

mock_start() { # wrapper... → MOCK url, MPID
    rm -f "$TMP/mock.port"
    GENQ_MOCK_API_KEY=k "$@" "$BIN/genq-mockllm" --listen 127.0.0.1:0 \
        --port-file "$TMP/mock.port" --latency-ms 200 --article-tokens 300 \
        --tokens-per-s "$TPS" --chunk-tokens 10 2>"$TMP/mock.err" &
    MPID=$!
    pids="$pids $MPID"
    until [ -s "$TMP/mock.port" ]; do sleep 0.05; done
    MOCK="http://127.0.0.1:$(cat "$TMP/mock.port")"
}
mock_stop() { kill -TERM "$MPID"; wait "$MPID" || true; }

run_jobs() { # n wrapper... → runs a worker on n jobs
    local n=$1
    shift
    redis-cli -p "$RPORT" flushall >/dev/null
    [ -f "$TMP/j$n.jsonl" ] || py gen-jobs "$n" p "$TMP/j$n.jsonl" --max-tokens 300
    "$BIN/genq" enqueue --redis "$RURL" --queue q "$TMP/j$n.jsonl" >/dev/null 2>&1
    GENQ_API_KEY=k "$@" "$BIN/genq-worker" --redis "$RURL" --queue q \
        --concurrency "$C" --log-level warn --api-base "$MOCK" --model m \
        --max-tokens 300 --stream 2>"$TMP/w.$n.err" &
    local wp=$!
    pids="$pids $wp"
    py wait-done "$RPORT" genq q "$n" 900 >/dev/null || { cat "$TMP/w.$n.err"; exit 1; }
    kill -TERM "$wp"
    wait "$wp" || true
}

: >"$OUT.tmp"
say() { echo "$*" | tee -a "$OUT.tmp"; }
if [ -n "${GENQ_BENCH_BIN:-}" ]; then
    built="binaries of $GENQ_BENCH_BIN"
else
    built="$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- worker common tests/mock-llm 2>/dev/null || echo ', modified')"
fi
say "stream instructions ($(date -u +%Y-%m-%dT%H:%M:%SZ), $built; c=$C, $N1/$N2 jobs, 300 tok at $TPS/s by 10; load $(cut -d' ' -f1-3 /proc/loadavg))"
declare -A W M
mock_start
for n in $N1 $N2; do
    run_jobs "$n" valgrind --tool=callgrind --callgrind-out-file="$TMP/cgw.$n"
    W[$n]=$(sed -n 's/^summary: *//p' "$TMP/cgw.$n")
done
mock_stop
for n in $N1 $N2; do
    [ -n "${WORKER_ONLY:-}" ] && M[$n]=0 && continue
    mock_start valgrind --tool=callgrind --callgrind-out-file="$TMP/cgm.$n"
    run_jobs "$n"
    mock_stop
    M[$n]=$(sed -n 's/^summary: *//p' "$TMP/cgm.$n")
done
say "$(printf 'worker %8d instructions/job (Ir %s for %s jobs, %s for %s)' \
    $(((W[$N2] - W[$N1]) / (N2 - N1))) "${W[$N1]}" "$N1" "${W[$N2]}" "$N2")"
say "$(printf 'mock   %8d instructions/stream (Ir %s for %s, %s for %s)' \
    $(((M[$N2] - M[$N1]) / (N2 - N1))) "${M[$N1]}" "$N1" "${M[$N2]}" "$N2")"
for w in w $([ -n "${WORKER_ONLY:-}" ] || echo m); do
    f="$TMP/cg$w.$N2"
    say ""
    say "== $([ "$w" = w ] && echo worker || echo mock), $N2 jobs: top symbols, self"
    callgrind_annotate --auto=no --inclusive=no "$f" 2>/dev/null | grep -E '^ *[0-9,]+ \(' |
        grep -v 'PROGRAM TOTALS' | head -30 | sed 's|\[/usr/lib/x86_64-linux-gnu/|[|; s|\[[^]]*/bin/|[|' | tee -a "$OUT.tmp"
done
[ -n "${KEEP_CG:-}" ] && cp "$TMP"/cg[wm].* "$KEEP_CG"/ 2>/dev/null
mv "$OUT.tmp" "$OUT"
echo "wrote $OUT"
