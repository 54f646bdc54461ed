#!/bin/bash
# Where genq's time goes, per job (issue 7). Not part of `make bench`
# (callgrind is slow): run it by hand, `bash bench/profile.sh [--quick]`.
#
#  1. genq-worker under valgrind --tool=callgrind, --provider noop (scenario
#     a), and against genq-mockllm (0 ms latency, 50 tokens) streaming and
#     not: each for N1 and N2 jobs; instructions per job = (Ir(N2) -
#     Ir(N1)) / (N2 - N1), which cancels start-up and shutdown. Top symbols
#     (self) and genq's own functions (inclusive) from the N2 run.
#     (This machine's perf has no hardware counters, so instructions come
#     from callgrind; callgrind does not see kernel time: see the user/sys
#     split in results/a.json.)
#  2. perf record -e cpu-clock of redis-server while a plain genq-worker
#     (noop, c=100) drains 50,000 jobs, if perf works here: Redis's top
#     symbols; and INFO commandstats of that run.
# Writes bench/results/profile.txt. Starts its own redis-server and mock on
# free loopback ports and stops them on exit.
# `make bench` runs this with sh: carry on in bash
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -eu
QUICK=0
[ "${1:-}" = --quick ] && QUICK=1
BENCH_TMP=genq-profile
# shellcheck source=bench/lib/common.sh
. "$(dirname "$0")/lib/common.sh"
OUT="$ROOT/bench/results/profile.txt"
command -v valgrind >/dev/null || { echo "valgrind not installed (apt-get install valgrind)"; exit 1; }

if [ $QUICK = 1 ]; then
    NOOP="300 1300" HTTP="200 600" NPERF=5000
else
    NOOP="1000 5000" HTTP="1000 3000" NPERF=50000
fi

RPORT=$(py freeport)
RURL="redis://127.0.0.1:$RPORT/0"
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$TMP" --logfile "$TMP/redis.log" &
RPID=$!
pids="$pids $RPID"
until redis-cli -p "$RPORT" ping >/dev/null 2>&1; do sleep 0.05; done
GENQ_MOCK_API_KEY=k "$BIN/genq-mockllm" --listen 127.0.0.1:0 --port-file "$TMP/mock.port" \
    --article-tokens 50 2>"$TMP/mock.err" &
pids="$pids $!"
until [ -s "$TMP/mock.port" ]; do sleep 0.05; done
MOCK="http://127.0.0.1:$(cat "$TMP/mock.port")"

: >"$OUT.tmp"
say() { echo "$*" | tee -a "$OUT.tmp"; }

cg_run() { # mode n args... → prints total Ir
    local mode=$1 n=$2
    shift 2
    redis-cli -p "$RPORT" flushall >/dev/null
    [ -f "$TMP/j$n.jsonl" ] || py gen-jobs "$n" p "$TMP/j$n.jsonl"
    "$BIN/genq" enqueue --redis "$RURL" --queue q "$TMP/j$n.jsonl" >/dev/null 2>&1
    GENQ_API_KEY=k valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.$mode.$n" \
        "$BIN/genq-worker" --redis "$RURL" --queue q --concurrency 100 --log-level warn \
        "$@" 2>"$TMP/cg.$mode.$n.err" &
    local wp=$!
    pids="$pids $wp"
    py wait-done "$RPORT" genq q "$n" 600 >/dev/null || { cat "$TMP/cg.$mode.$n.err"; exit 1; }
    kill -TERM "$wp"
    wait "$wp" || true
    sed -n 's/^summary: *//p' "$TMP/cg.$mode.$n"
}

say "genq worker profile ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- worker common 2>/dev/null || echo ', worker/common modified'))"
say "bin/genq-worker: built $(date -u -r "$BIN/genq-worker" +%Y-%m-%dT%H:%M:%SZ), sha256 $(sha256sum "$BIN/genq-worker" | cut -c1-12)"
say "machine: $(nproc) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), Redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/')"
say ""
say "== instructions per job (callgrind, concurrency 100, differential N1→N2)"
for spec in "noop|$NOOP|--provider noop" \
    "http-plain|$HTTP|--api-base $MOCK --model m --max-tokens 50 --no-stream" \
    "http-stream|$HTTP|--api-base $MOCK --model m --max-tokens 50 --stream"; do
    mode=${spec%%|*}
    rest=${spec#*|}
    ns=${rest%%|*}
    args=${rest#*|}
    n1=${ns% *}
    n2=${ns#* }
    # shellcheck disable=SC2086
    i1=$(cg_run "$mode" "$n1" $args)
    # shellcheck disable=SC2086
    i2=$(cg_run "$mode" "$n2" $args)
    say "$(printf '%-12s %8s instructions/job   (Ir %s for %s jobs, %s for %s)' "$mode" \
        $(((i2 - i1) / (n2 - n1))) "$i1" "$n1" "$i2" "$n2")"
done
for mode in noop http-stream; do
    n2=$([ $mode = noop ] && echo "${NOOP#* }" || echo "${HTTP#* }")
    f="$TMP/cg.$mode.$n2"
    say ""
    say "== $mode, $n2 jobs: top symbols, self (Ir, % of the run)"
    callgrind_annotate --auto=no --inclusive=no "$f" 2>/dev/null | grep -E '^ *[0-9,]+ \(' |
        grep -v 'PROGRAM TOTALS' | head -25 | sed 's|\[/usr/lib/x86_64-linux-gnu/|[|; s|\[[^]]*/genq-worker\]|[genq-worker]|' | tee -a "$OUT.tmp"
    say ""
    say "== $mode: genq functions and library entry points, inclusive"
    callgrind_annotate --auto=no --inclusive=yes "$f" 2>/dev/null | grep -E '^ *[0-9,]+ \(' |
        grep -E 'genq-worker\]|cJSON_Parse |cJSON_PrintUnformatted|curl_multi_socket_action|redisAsyncHandleRead|redisFormatSdsCommandArgv|curl_easy_init|curl_easy_cleanup|curl_multi_add_handle|curl_multi_remove_handle|isoc99_sscanf|snprintf ' |
        grep -v 'below main\|main.c:main\|run_one' | head -40 |
        sed 's|\[/usr/lib/x86_64-linux-gnu/|[|; s|\[[^]]*/genq-worker\]|[genq-worker]|' | tee -a "$OUT.tmp"
done

say ""
say "== Redis during a plain worker run (noop, c=100, $NPERF jobs)"
redis-cli -p "$RPORT" flushall >/dev/null
py gen-jobs "$NPERF" r "$TMP/r.jsonl"
"$BIN/genq" enqueue --redis "$RURL" --queue q "$TMP/r.jsonl" >/dev/null 2>&1
redis-cli -p "$RPORT" config resetstat >/dev/null
PERF=0
if command -v perf >/dev/null && perf record -e cpu-clock -o "$TMP/perf.test" -- true >/dev/null 2>&1; then
    PERF=1
    perf record -e cpu-clock -F 2999 -g -p "$RPID" -o "$TMP/perf.redis" >/dev/null 2>&1 &
    perfpid=$!
    pids="$pids $perfpid"
    sleep 0.5
fi
py redis-snap "$RPORT" "$TMP/s1.json"
"$BIN/genq-worker" --redis "$RURL" --queue q --concurrency 100 --provider noop --log-level warn 2>/dev/null &
wp=$!
pids="$pids $wp"
py wait-done "$RPORT" genq q "$NPERF" 300 >/dev/null
py redis-snap "$RPORT" "$TMP/s2.json"
kill -TERM "$wp"
wait "$wp" || true
if [ $PERF = 1 ]; then
    kill -INT "$perfpid"
    wait "$perfpid" || true
fi
python3 - "$TMP/s1.json" "$TMP/s2.json" "$NPERF" <<'EOF' | tee -a "$OUT.tmp"
import json, sys
a, b, n = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), int(sys.argv[3])
print("Redis CPU %.1f µs/job; commands/job %.2f (all, incl. those scripts run)" % (
    (b["cpu_us"] - a["cpu_us"]) / n,
    sum(v - a["cmds"].get(k, 0) for k, v in b["cmds"].items() if k not in ("info",)) / n))
print("%-16s %10s %12s %12s" % ("command", "calls/job", "usec/job", "usec/call"))
rows = []
for k, v in b["cmds"].items():
    c = v - a["cmds"].get(k, 0)
    u = b["usec"].get(k, 0) - a["usec"].get(k, 0)
    if c > 0 and k != "info":
        rows.append((u, k, c))
for u, k, c in sorted(rows, reverse=True):
    print("%-16s %10.3f %12.2f %12.1f" % (k, c / n, u / n, u / c))
print("(usec: Redis's own per-command timer; evalsha includes the commands the script runs)")
EOF
if [ $PERF = 1 ]; then
    say ""
    say "== redis-server, perf cpu-clock samples by object (redis-check-rdb = redis-server)"
    perf report -i "$TMP/perf.redis" --no-children --sort dso --stdio 2>/dev/null |
        grep -E '^ +[0-9.]+%' | tee -a "$OUT.tmp"
    say ""
    say "== redis-server, perf cpu-clock samples, self (top 30 symbols; the stripped"
    say "   binary exports no Lua VM symbols: bare addresses in redis-check-rdb are"
    say "   mostly the Lua interpreter; no frame pointers, so no usable call graph)"
    perf report -i "$TMP/perf.redis" --no-children --sort dso,symbol --stdio 2>/dev/null |
        grep -E '^ +[0-9.]+%' | head -30 | tee -a "$OUT.tmp"
fi
mv "$OUT.tmp" "$OUT"
echo "wrote $OUT"
