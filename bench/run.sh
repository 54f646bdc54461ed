#!/bin/bash
# genq benchmark harness (issue 7), behind `make bench [QUICK=1]`.
#
#   bench/run.sh [--quick] [--only a,b,c,inbox,d,lat,s] [--repeat N] [--pin]
#
# --repeat N: each (a)/(b) pair N times, the table shows the median run.
# --pin: Redis on CPU 0, everything else on the other CPUs. Without it the
#   scheduler places Redis and the worker; whether they share a core changes
#   a latency-bound run like (a) by up to ~1.5x from one invocation to the
#   next (measured: 31-35k jobs/s across cores, 44-52k on one core).
#
# Starts its own redis-server (no persistence: --save '' --appendonly no)
# and genq-mockllm instances on free loopback ports, runs every scenario for
# genq and for BullMQ (bench/peers/bullmq, installed with `npm ci` into a
# temporary folder) against the same Redis in the same run, prints a table
# and writes bench/results/<scenario>.json and bench/results/latest.json.
#
# Method (the same for both systems):
#  - Redis is FLUSHALLed before each run; the N jobs are enqueued first
#    (`genq enqueue FILE` / Queue.addBulk in chunks of 1,000), then the
#    workers start and drain the backlog.
#  - jobs/s = (completed - 1) / (last finish - first finish), from each job's
#    own timestamps (genq: the result's finished_at; BullMQ: finishedOn), so
#    process start-up is not counted.
#  - e2e latency = finish - enqueue per job (genq: enqueued_at from
#    `genq status --json`; BullMQ: job.timestamp). In the backlog runs it is
#    mostly the wait in the backlog; the `lat` rows are paced light load.
#  - worker CPU = rusage of the worker processes (wait4, children included)
#    minus what a BullMQ worker had spent when it became ready (module
#    loading); per job over all N jobs. RSS = sum of VmHWM of the worker
#    processes, read just before they are stopped.
#  - Redis CPU = INFO cpu used_cpu_sys+used_cpu_user; commands = the sum of
#    INFO commandstats calls (this counts the commands Lua scripts run, not
#    only what clients send); both per job, over the whole lifecycle
#    (enqueue + processing). results/*.json split them per phase.
# Every process started here is stopped on exit; every wait is bounded.
# `make bench` runs this with sh: carry on in bash
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -eu

QUICK=0
ONLY="a,b,c,inbox,d,lat,s"
REPEAT=1
PIN=0
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) QUICK=1 ;;
    --only) ONLY="$2"; shift ;;
    --repeat) REPEAT="$2"; shift ;;
    --pin) PIN=1 ;;
    -h | --help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "usage: bench/run.sh [--quick] [--only a,b,c,inbox,d,lat,s] [--repeat N] [--pin]" >&2; exit 2 ;;
    esac
    shift
done

BENCH_TMP=genq-bench
# shellcheck source=bench/lib/common.sh
. "$(dirname "$0")/lib/common.sh"
RES="$ROOT/bench/results"
[ $QUICK = 1 ] && RES="$ROOT/bench/results/quick" # never over a full run's files
MOCK_KEY=bench-key

T_START=$(date +%s)
log() { printf '[%3ds] %s\n' "$(($(date +%s) - T_START))" "$*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }
# next_run [PREFIX]: the next run's number SEQ, its fresh directory d and
# (with PREFIX) its queue q=PREFIX$SEQ.
next_run() {
    SEQ=$((SEQ + 1))
    d="$TMP/run-$SEQ"
    mkdir -p "$d"
    [ $# -eq 0 ] || q="$1$SEQ"
}
# killable PID: stopped on exit, and SIGKILLed on purpose (no "Killed" notice).
killable() {
    pids="$pids $1"
    disown "$1"
}

command -v redis-server >/dev/null || die "redis-server not found (apt-get install redis-server)"
command -v python3 >/dev/null || die "python3 not found"
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---- sizes ---------------------------------------------------------------
if [ $QUICK = 1 ]; then
    N_A=3000 N_B0=2000 N_B100=300 N_B1000=3000 N_C=10000 N_CEIL=200000 N_C1M=30000
    VT=2 HELD=20 LAT_JOBS=20
else
    N_A=50000 N_B0=50000 N_B100=5000 N_B1000=50000 N_C=100000 N_CEIL=1000000 N_C1M=1000000
    VT=5 HELD=50 LAT_JOBS=150
fi
# (s) streams in one process (issue 15): one worker at S_CONC against a
# mock with 200 ms to the first byte and S_TOK-token answers streamed at
# S_TPS tokens/s in deltas of S_CHUNK tokens (a model's pace), S_WAVES
# times the concurrency in jobs; BullMQ at S_BCONC.
if [ $QUICK = 1 ]; then
    S_CONC=500 S_BCONC=250 S_TOK=300 S_TPS=150 S_CHUNK=10 S_WAVES=2
else
    S_CONC=${S_CONC:-10000} S_BCONC=${S_BCONC:-5000} S_TOK=300 S_TPS=${S_TPS:-50}
    S_CHUNK=${S_CHUNK:-10} S_WAVES=${S_WAVES:-10}
fi
RUN_TIMEOUT=300 # seconds, any one run

# Two cores are shared by Redis, the workers and the mock: anything else
# running skews every figure. Say so (at the end) rather than print quietly
# wrong numbers.
BUSY=""
SYS_CPU0=$(py syscpu)

# ---- Redis and the mocks --------------------------------------------------
RPORT=$(py freeport)
RURL="redis://127.0.0.1:$RPORT/0"
PIN_REDIS=""
if [ $PIN = 1 ]; then
    [ "$(nproc)" -ge 2 ] || die "--pin needs 2 CPUs or more"
    command -v taskset >/dev/null || die "--pin needs taskset (util-linux)"
    taskset -pc "1-$(($(nproc) - 1))" $$ >/dev/null # this shell and all it starts
    PIN_REDIS="taskset -c 0"
fi
$PIN_REDIS redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$TMP" --logfile "$TMP/redis.log" &
RPID=$!
pids="$pids $RPID"
i=0
until redis-cli -p "$RPORT" ping >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt 100 ] && { cat "$TMP/redis.log"; die "redis-server did not start"; }
    sleep 0.05
done

start_mock() { # name args... → sets MOCK_<name>_URL, MOCK_<name>_PID
    local name=$1; shift
    GENQ_MOCK_API_KEY=$MOCK_KEY "$BIN/genq-mockllm" --listen 127.0.0.1:0 \
        --port-file "$TMP/mock-$name.port" "$@" 2>"$TMP/mock-$name.err" &
    local p=$!
    pids="$pids $p"
    local i=0
    until [ -s "$TMP/mock-$name.port" ]; do
        i=$((i + 1)); [ $i -gt 100 ] && { cat "$TMP/mock-$name.err"; die "genq-mockllm did not start"; }
        sleep 0.05
    done
    eval "MOCK_${name}_URL=http://127.0.0.1:\$(cat \"\$TMP/mock-$name.port\")"
    eval "MOCK_${name}_PID=$p"
}
start_mock m0 --latency-ms 0 --article-tokens 50
start_mock m200 --latency-ms 200 --article-tokens 50
start_mock hold --latency-ms 600000 --article-tokens 50

mkdir -p "$RES"
rm -rf "$RES/rows"
mkdir -p "$RES/rows"
SRC_BIN="$BIN" py machine "$TMP/machine.json" "$RPORT" "$([ $QUICK = 1 ] && echo quick || echo full) run"

# ---- BullMQ -----------------------------------------------------------------
bullmq_install # bench/lib/common.sh: BULL, BQ, SKIP_WHY, BULLMQ_VERSION, IOREDIS_VERSION

# ---- helpers ------------------------------------------------------------------
SEQ=0
rflush() { redis-cli -p "$RPORT" flushall >/dev/null; }
JOBS_MT=50   # max_tokens of the jobs run_genq/run_bull enqueue
ROW_ARGS=()  # more KEY=VALUE for their rows (bench.py row)
JOBS_NOID=0  # 1: run_genq's jobs have no ids (as BullMQ's addBulk jobs),
             # their ids come from `genq enqueue --json`
jobs_file() { # N → path of a JSONL file of N jobs with ids b-0000000.. (none: JOBS_NOID=1)
    local f="$TMP/jobs-$1-$JOBS_MT.jsonl"
    [ "$JOBS_NOID" = 1 ] && f="$TMP/jobs-$1-$JOBS_MT-noid.jsonl"
    [ -f "$f" ] || py gen-jobs "$1" b "$f" --max-tokens "$JOBS_MT" \
        $([ "$JOBS_NOID" = 1 ] && echo --no-id)
    echo "$f"
}
mock_cpu() { # mock name → CPU µs so far ("" when none)
    [ -n "${1:-}" ] || { echo 0; return; }
    eval "py pstat \$MOCK_${1}_PID"
}
mock_reset() { # mock name
    [ -n "${1:-}" ] || return 0
    eval "py mock \"\$MOCK_${1}_URL\" reset"
}
mock_stats() { # mock name, out file
    [ -n "${1:-}" ] || return 0
    eval "py mock \"\$MOCK_${1}_URL\" stats \"\$2\""
}
stop_wait() { # pids...: TERM, wait (bounded), then KILL
    local p i
    for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "$@"; do
        i=0
        while kill -0 "$p" 2>/dev/null; do
            i=$((i + 1)); [ $i -gt 300 ] && { kill -KILL "$p" 2>/dev/null || true; break; }
            sleep 0.05
        done
        wait "$p" 2>/dev/null || true
    done
}

# run_genq SCN VARIANT N PROCS CONC MOCK LAT_S -- worker args...
run_genq() {
    local scn=$1 var=$2 n=$3 procs=$4 conc=$5 mock=$6 lat=$7
    shift 8
    local d q
    next_run g
    log "$scn [$var] genq: $n jobs"
    local jf; jf=$(jobs_file "$n")
    rflush
    py redis-snap "$RPORT" "$d/s0.json"
    local ids="$jf.ids"
    if [ "$JOBS_NOID" = 1 ]; then
        ids="$d/ids"
        "$BIN/genq" enqueue --redis "$RURL" --queue "$q" --json "$jf" >"$d/enqueue.out" 2>"$d/enqueue.err" ||
            { cat "$d/enqueue.err"; die "genq enqueue failed"; }
        py json-ids "$d/enqueue.out" "$ids" || die "genq enqueue --json: ids missing"
    else
        "$BIN/genq" enqueue --redis "$RURL" --queue "$q" "$jf" >"$d/enqueue.out" 2>&1 ||
            { cat "$d/enqueue.out"; die "genq enqueue failed"; }
    fi
    py redis-snap "$RPORT" "$d/s1.json"
    local m0; m0=$(mock_cpu "$mock")
    mock_reset "$mock"
    GENQ_API_KEY=$MOCK_KEY python3 "$PYB" rusage "$d/ru.json" -- \
        "$BIN/genq-worker" --redis "$RURL" --queue "$q" --processes "$procs" \
        --concurrency "$conc" --log-level warn --drain-timeout 5 "$@" 2>"$d/worker.err" &
    local wp=$!
    pids="$pids $wp"
    local wall
    wall=$(py wait-done "$RPORT" genq "$q" "$n" "$RUN_TIMEOUT") ||
        { tail -5 "$d/worker.err"; die "$scn [$var] genq did not finish"; }
    py redis-snap "$RPORT" "$d/s2.json"
    py hwm "$d/hwm.json" "$wp"
    local m1; m1=$(mock_cpu "$mock")
    mock_stats "$mock" "$d/mock.json"
    stop_wait "$wp"
    "$BIN/genq" status --redis "$RURL" --queue "$q" --json --with-result - \
        <"$ids" >"$d/status.jsonl" || true
    py genq-times "$d/status.jsonl" "$d/times.txt"
    # BENCH_KEEP_TIMES=DIR: each genq run's per-job times (enqueue, start,
    # finish ms) kept as DIR/SCENARIO-SEQ.txt (bench/lib/waves.py reads (s)'s)
    [ -n "${BENCH_KEEP_TIMES:-}" ] && cp "$d/times.txt" "$BENCH_KEEP_TIMES/$scn-$SEQ.txt"
    py row scenario="$scn" system=genq variant="$var" n="$n" times="$d/times.txt" \
        wall_s="$wall" snap0="$d/s0.json" snap1="$d/s1.json" snap2="$d/s2.json" \
        rusage="$d/ru.json" hwm="$d/hwm.json" conc="$conc" procs="$procs" \
        ${lat:+lat_s=$lat} mock0="$m0" mock1="$m1" mockstats="$d/mock.json" \
        extra="{\"seq\": $SEQ, \"concurrency\": $conc, \"processes\": $procs}" \
        "${ROW_ARGS[@]}" out="$RES/rows/$(printf %03d $SEQ)-$scn-genq.json"
}

node_run() { # timeout-bounded node with the bench environment
    REDIS_PORT=$RPORT MOCK_KEY=$MOCK_KEY timeout "$RUN_TIMEOUT" node "$@"
}

wait_files() { # timeout_s files...
    local t=$1 i=0 f
    shift
    for f in "$@"; do
        until [ -s "$f" ]; do
            i=$((i + 1)); [ $i -gt $((t * 20)) ] && return 1
            sleep 0.05
        done
    done
}

# run_bull SCN VARIANT N PROCS CONC MOCK LAT_S -- env for worker.js...
run_bull() {
    [ $BULL = 1 ] || return 0
    local scn=$1 var=$2 n=$3 procs=$4 conc=$5 mock=$6 lat=$7
    shift 8
    local d q
    next_run bq
    log "$scn [$var] bullmq: $n jobs"
    rflush
    py redis-snap "$RPORT" "$d/s0.json"
    N=$n QUEUE=$q MODE=bulk MAX_TOKENS=$JOBS_MT node_run "$BQ/add.js" >"$d/add.json" 2>"$d/add.err" ||
        { cat "$d/add.err"; die "bullmq add failed"; }
    py redis-snap "$RPORT" "$d/s1.json"
    local m0; m0=$(mock_cpu "$mock")
    mock_reset "$mock"
    local wps="" rus="" readies="" i
    for i in $(seq 1 "$procs"); do
        env QUEUE=$q CONCURRENCY=$conc READY_FILE="$d/ready$i.json" REDIS_PORT=$RPORT \
            MOCK_KEY=$MOCK_KEY "$@" \
            python3 "$PYB" rusage "$d/ru$i.json" -- node "$BQ/worker.js" 2>"$d/worker$i.err" &
        wps="$wps $!"
        pids="$pids $!"
        rus="$rus,$d/ru$i.json"
        readies="$readies,$d/ready$i.json"
    done
    # shellcheck disable=SC2046 # split on purpose
    wait_files 60 $(echo "$readies" | tr ',' ' ') || { cat "$d"/worker*.err; die "bullmq worker not ready"; }
    local wall
    wall=$(py wait-done "$RPORT" bullmq "$q" "$n" "$RUN_TIMEOUT") ||
        { tail -5 "$d"/worker*.err; die "$scn [$var] bullmq did not finish"; }
    py redis-snap "$RPORT" "$d/s2.json"
    # shellcheck disable=SC2086
    py hwm "$d/hwm.json" $wps
    local m1; m1=$(mock_cpu "$mock")
    mock_stats "$mock" "$d/mock.json"
    # shellcheck disable=SC2086
    stop_wait $wps
    QUEUE=$q node_run "$BQ/collect.js" >"$d/times.txt" 2>"$d/collect.err" || cat "$d/collect.err"
    py row scenario="$scn" system=bullmq variant="$var" n="$n" times="$d/times.txt" \
        wall_s="$wall" snap0="$d/s0.json" snap1="$d/s1.json" snap2="$d/s2.json" \
        rusage="${rus#,}" ready="${readies#,}" hwm="$d/hwm.json" conc="$conc" procs="$procs" \
        ${lat:+lat_s=$lat} mock0="$m0" mock1="$m1" mockstats="$d/mock.json" \
        extra="{\"seq\": $SEQ, \"concurrency\": $conc, \"processes\": $procs, \"bullmq\": \"$BULLMQ_VERSION\", \"add\": $(cat "$d/add.json")}" \
        "${ROW_ARGS[@]}" out="$RES/rows/$(printf %03d $SEQ)-$scn-bullmq.json"
}

HTTP0=(--api-base "$MOCK_m0_URL" --model m --max-tokens 50 --no-stream)
HTTP200=(--api-base "$MOCK_m200_URL" --model m --max-tokens 50 --stream)

# ---- (a) queue overhead ----------------------------------------------------------
# With --repeat N each (a)/(b) pair runs N times (alternating systems) and
# the table shows the median run by jobs/s; results/*.json keeps every run.
# Like for like: genq's jobs carry no id, as BullMQ's addBulk jobs (each
# system makes its own ids); one more genq row with ids given shows what
# the duplicate check of given ids costs (enqueue.lua instead of the bulk
# path: the lifecycle column).
if want a; then
    JOBS_NOID=1
    for procs in 1 2; do
        if [ "$procs" = 1 ]; then v="1 proc c=100"; else v="$procs procs c=100"; fi
        for _ in $(seq 1 "$REPEAT"); do
            run_genq a "$v" $N_A $procs 100 "" "" -- --provider noop
            run_bull a "$v" $N_A $procs 100 "" "" -- PROC=noop
        done
    done
    JOBS_NOID=0
    run_genq a "1 proc c=100, ids given" $N_A 1 100 "" "" -- --provider noop
fi

# ---- (b) HTTP end to end ------------------------------------------------------------
if want b; then
    for _ in $(seq 1 "$REPEAT"); do
        run_genq b "0 ms, no stream, c=100" $N_B0 1 100 m0 "" -- "${HTTP0[@]}"
        run_bull b "0 ms, no stream, c=100" $N_B0 1 100 m0 "" -- PROC=http STREAM=0 MOCK_URL="$MOCK_m0_URL"
    done
    for _ in $(seq 1 "$REPEAT"); do
        run_genq b "200 ms, stream, c=100" $N_B100 1 100 m200 0.2 -- "${HTTP200[@]}"
        run_bull b "200 ms, stream, c=100" $N_B100 1 100 m200 0.2 -- PROC=http STREAM=1 MOCK_URL="$MOCK_m200_URL"
    done
    for _ in $(seq 1 "$REPEAT"); do
        run_genq b "200 ms, stream, c=1000" $N_B1000 1 1000 m200 0.2 -- "${HTTP200[@]}"
        run_bull b "200 ms, stream, c=1000" $N_B1000 1 1000 m200 0.2 -- PROC=http STREAM=1 MOCK_URL="$MOCK_m200_URL"
    done
fi

# ---- (s) ten thousand streams in one process ------------------------------------------
# jobs/s here = jobs / (last finish - first start): the run is a few waves
# of S_CONC jobs of one job time each, where (completed-1)/(last-first
# finish) would count one wave too few. job time = the mock's own:
# 200 ms + S_TOK / S_TPS s; eff = jobs/s / (concurrency / job time).
if want s; then
    start_mock ms --latency-ms 200 --article-tokens "$S_TOK" --tokens-per-s "$S_TPS" \
        --chunk-tokens "$S_CHUNK"
    s_job=$(python3 -c "print(0.2 + $S_TOK / $S_TPS)")
    JOBS_MT=$S_TOK
    ROW_ARGS=(rate_from=start tokens_per_job="$S_TOK")
    sv="c=$S_CONC, $S_TOK tok at $S_TPS/s by $S_CHUNK"
    # shellcheck disable=SC2154 # MOCK_ms_URL is set through eval in start_mock
    run_genq s "$sv" $((S_CONC * S_WAVES)) 1 "$S_CONC" ms "$s_job" -- \
        --api-base "$MOCK_ms_URL" --model m --max-tokens "$S_TOK" --stream
    sv="c=$S_BCONC, $S_TOK tok at $S_TPS/s by $S_CHUNK"
    run_bull s "$sv" $((S_BCONC * S_WAVES)) 1 "$S_BCONC" ms "$s_job" -- PROC=http STREAM=1 \
        MOCK_URL="$MOCK_ms_URL"
    JOBS_MT=50
    ROW_ARGS=()
fi

# ---- (c) bulk enqueue ----------------------------------------------------------------
if want c; then
    next_run
    log "c: raw LPUSH ceiling (redis-benchmark -t lpush -P 64 -n $N_CEIL)"
    rflush
    ceil=""
    if command -v redis-benchmark >/dev/null; then
        ceil=$(timeout 120 redis-benchmark -p "$RPORT" -t lpush -P 64 -n "$N_CEIL" -q 2>/dev/null |
            tr '\r' '\n' | sed -n 's/^LPUSH: \([0-9.]*\) requests per second.*/\1/p' | tail -1) || true
    fi
    [ -n "$ceil" ] || { echo "SKIP LPUSH ceiling: redis-benchmark missing or gave no figure"; ceil=null; }
    # run_c_genq N VARIANT: N lines through `genq enqueue FILE`
    run_c_genq() {
        local n=$1 var=$2
        [ "$n" = "$N_C" ] || next_run
        log "c [$var] genq enqueue: $n jobs, full validation"
        py gen-jobs "$n" c "$d/c.jsonl" --no-id
        rflush
        py redis-snap "$RPORT" "$d/s0.json"
        python3 "$PYB" rusage "$d/ru.json" -- "$BIN/genq" enqueue --redis "$RURL" --queue c \
            "$d/c.jsonl" >"$d/enqueue.out" 2>&1 || { cat "$d/enqueue.out"; die "genq enqueue failed"; }
        py redis-snap "$RPORT" "$d/s1.json"
        got=$(redis-cli -p "$RPORT" hget 'genq:{c}:stats' enqueued)
        [ "$got" = "$n" ] || die "genq enqueue: $got of $n enqueued"
        rm -f "$d/c.jsonl"
        # the whole genq enqueue process, start to exit (the rusage wrapper's
        # clock: its own Python start-up is not counted)
        secs=$(python3 -c "import json; print(json.load(open('$d/ru.json'))['wall_s'])")
        py row scenario=c system=genq variant="$var" n="$n" snap0="$d/s0.json" \
            snap1="$d/s1.json" rusage="$d/ru.json" \
            extra="{\"seq\": $SEQ, \"jobs_per_s\": $(python3 -c "print(round($n / $secs, 1))"), \"wall_s\": $secs, \"lpush_ceiling_ops_per_s\": $ceil, \"lpush_ceiling_cmd\": \"redis-benchmark -t lpush -P 64 -n $N_CEIL\", \"validation\": \"full (bulk jobs staged while validating)\"}" \
            out="$RES/rows/$(printf %03d $SEQ)-c-genq.json"
    }
    run_c_genq "$N_C" "100k jobs"
    # issue 15 target 6: a million validated lines against the same ceiling
    run_c_genq "$N_C1M" "1M lines"
    rflush
    if [ $BULL = 1 ]; then
        next_run
        log "c [100k jobs] bullmq addBulk: $N_C jobs in chunks of 1,000"
        rflush
        py redis-snap "$RPORT" "$d/s0.json"
        N=$N_C QUEUE=c MODE=bulk python3 "$PYB" rusage "$d/ru.json" -- \
            env REDIS_PORT="$RPORT" timeout "$RUN_TIMEOUT" node "$BQ/add.js" >"$d/add.json" 2>"$d/add.err" ||
            { cat "$d/add.err"; die "bullmq addBulk failed"; }
        py redis-snap "$RPORT" "$d/s1.json"
        py row scenario=c system=bullmq variant="100k jobs" n="$N_C" snap0="$d/s0.json" \
            snap1="$d/s1.json" rusage="$d/ru.json" \
            extra="{\"seq\": $SEQ, \"jobs_per_s\": $(python3 -c "import json; print(json.load(open('$d/add.json'))['jobs_per_s'])"), \"add\": $(cat "$d/add.json"), \"bullmq\": \"$BULLMQ_VERSION\"}" \
            out="$RES/rows/$(printf %03d $SEQ)-c-bullmq.json"
    fi
fi

# ---- (inbox) inbox intake -----------------------------------------------------------
# One worker admits N_C job documents LPUSHed onto the queue's inbox (the
# same jobs as (c), ids generated by the worker). The queue is paused, so
# the worker only takes in: the wall time runs from its exec to the empty
# inbox (start-up included).
if want inbox; then
    next_run
    log "inbox [100k jobs] one worker's intake: $N_C inbox entries"
    py gen-jobs "$N_C" i "$d/i.jsonl" --no-id
    rflush
    py inbox-fill "$RPORT" inbox "$d/i.jsonl"
    "$BIN/genq" pause inbox --redis "$RURL" >/dev/null
    py redis-snap "$RPORT" "$d/s0.json"
    py inbox-time "$RPORT" inbox "$d/t.json" "$RUN_TIMEOUT" -- \
        "$BIN/genq-worker" --redis "$RURL" --queue inbox --provider noop ||
        die "inbox intake did not finish"
    py redis-snap "$RPORT" "$d/s1.json"
    got=$(redis-cli -p "$RPORT" hget 'genq:{inbox}:stats' intake_admitted)
    [ "$got" = "$N_C" ] || die "inbox intake: $got of $N_C admitted"
    secs=$(python3 -c "import json; print(json.load(open('$d/t.json'))['wall_s'])")
    py row scenario=inbox system=genq variant="100k jobs" n="$N_C" snap0="$d/s0.json" \
        snap1="$d/s1.json" \
        extra="{\"seq\": $SEQ, \"jobs_per_s\": $(python3 -c "print(round($N_C / $secs, 1))"), \"wall_s\": $secs, \"worker_cpu_us_per_job\": $(python3 -c "import json; print(round(json.load(open('$d/t.json'))['cpu_us'] / $N_C, 2))")}" \
        out="$RES/rows/$(printf %03d $SEQ)-inbox-genq.json"
fi

# ---- (d) recovery --------------------------------------------------------------------
if want d; then
    next_run
    log "d genq: $HELD jobs held by worker A (VT $VT s), SIGKILL, until B runs them"
    rflush
    py gen-jobs "$HELD" d "$d/d.jsonl"
    "$BIN/genq" enqueue --redis "$RURL" --queue d "$d/d.jsonl" >/dev/null 2>&1
    WARGS=(--redis "$RURL" --queue d --concurrency "$HELD" --visibility-timeout "$VT"
        --api-base "$MOCK_hold_URL" --model m --stream --stall-timeout 900 --log-level error)
    GENQ_API_KEY=$MOCK_KEY "$BIN/genq-worker" "${WARGS[@]}" 2>"$d/a.err" &
    apid=$!
    killable "$apid" # it is SIGKILLed on purpose: no "Killed" notice
    py recover genq hold "$d/held.json" "$HELD" 20 "$BIN/genq" "$RURL" d "$d/d.jsonl.ids" ||
        die "d: worker A did not take the jobs"
    GENQ_API_KEY=$MOCK_KEY "$BIN/genq-worker" "${WARGS[@]}" 2>"$d/b.err" &
    bpid=$!
    killable "$bpid"
    sleep 0.5
    py recover genq kill "$d/rec.json" "$HELD" $((VT * 3 + 10)) "$BIN/genq" "$RURL" d \
        "$d/d.jsonl.ids" "$apid" "$d/held.json" || true
    kill -KILL "$bpid" 2>/dev/null || true
    py row scenario=d system=genq variant="SIGKILL, VT $VT s" n="$HELD" \
        extra="$(python3 -c "import json,sys; r=json.load(open('$d/rec.json')); r['seq']=$SEQ; r['visibility_s']=$VT; print(json.dumps(r))")" \
        out="$RES/rows/$(printf %03d $SEQ)-d-genq.json"
    if [ $BULL = 1 ]; then
        next_run
        log "d bullmq: $HELD jobs held by worker A (lockDuration ${VT}000, stalledInterval 1000), SIGKILL"
        rflush
        N=$HELD QUEUE=d MODE=bulk node_run "$BQ/add.js" >/dev/null
        : >"$d/a.log"
        : >"$d/b.log"
        QUEUE=d CONCURRENCY=$HELD PROC=hold START_LOG="$d/a.log" READY_FILE="$d/ra.json" \
            LOCK_MS=$((VT * 1000)) STALLED_MS=1000 REDIS_PORT=$RPORT node "$BQ/worker.js" 2>"$d/a.err" &
        apid=$!
        killable "$apid"
        py recover bullmq hold "$d/held.json" "$HELD" 20 "$d/a.log" || die "d: BullMQ worker A did not take the jobs"
        QUEUE=d CONCURRENCY=$HELD PROC=hold START_LOG="$d/b.log" READY_FILE="$d/rb.json" \
            LOCK_MS=$((VT * 1000)) STALLED_MS=1000 REDIS_PORT=$RPORT node "$BQ/worker.js" 2>"$d/b.err" &
        bpid=$!
        killable "$bpid"
        wait_files 30 "$d/rb.json" || die "d: BullMQ worker B not ready"
        py recover bullmq kill "$d/rec.json" "$HELD" $((VT * 3 + 10)) "$d/b.log" "$apid" || true
        kill -KILL "$bpid" 2>/dev/null || true
        py row scenario=d system=bullmq variant="SIGKILL, VT $VT s" n="$HELD" \
            extra="$(python3 -c "import json; r=json.load(open('$d/rec.json')); r['seq']=$SEQ; r['visibility_s']=$VT; r['settings']='lockDuration $((VT * 1000)) ms, stalledInterval 1000 ms'; print(json.dumps(r))")" \
            out="$RES/rows/$(printf %03d $SEQ)-d-bullmq.json"
    fi
fi

# ---- lat: end-to-end latency at light load ---------------------------------------------
if want lat; then
    next_run
    log "lat genq: $LAT_JOBS single-job enqueues at 20/s, noop worker c=100 idle"
    rflush
    python3 "$PYB" rusage "$d/ru.json" -- "$BIN/genq-worker" --redis "$RURL" --queue lat \
        --concurrency 100 --provider noop --log-level warn 2>"$d/worker.err" &
    wp=$!
    pids="$pids $wp"
    sleep 0.5
    py pace "$LAT_JOBS" 50 -- "$BIN/genq" enqueue --redis "$RURL" --queue lat \
        --id "lat-{i}" --prompt "Write a short note about item {i}" --max-tokens 50
    py wait-done "$RPORT" genq lat "$LAT_JOBS" 30 >/dev/null || die "lat: genq jobs did not finish"
    stop_wait "$wp"
    seq -f 'lat-%g' 0 $((LAT_JOBS - 1)) >"$d/ids"
    "$BIN/genq" status --redis "$RURL" --queue lat --json --with-result - <"$d/ids" >"$d/status.jsonl" || true
    py genq-times "$d/status.jsonl" "$d/times.txt"
    py row scenario=lat system=genq variant="20 jobs/s, noop c=100" n="$LAT_JOBS" \
        times="$d/times.txt" extra="{\"seq\": $SEQ, \"note\": \"one genq enqueue process per job\"}" \
        out="$RES/rows/$(printf %03d $SEQ)-lat-genq.json"
    if [ $BULL = 1 ]; then
        next_run
        log "lat bullmq: $LAT_JOBS Queue.add at 20/s, no-op worker c=100 idle"
        rflush
        QUEUE=lat CONCURRENCY=100 PROC=noop READY_FILE="$d/ready.json" REDIS_PORT=$RPORT \
            node "$BQ/worker.js" 2>"$d/worker.err" &
        wp=$!
        pids="$pids $wp"
        wait_files 30 "$d/ready.json" || die "lat: bullmq worker not ready"
        N=$LAT_JOBS QUEUE=lat MODE=paced PACE_MS=50 node_run "$BQ/add.js" >/dev/null
        py wait-done "$RPORT" bullmq lat "$LAT_JOBS" 30 >/dev/null || die "lat: bullmq jobs did not finish"
        stop_wait "$wp"
        QUEUE=lat node_run "$BQ/collect.js" >"$d/times.txt"
        py row scenario=lat system=bullmq variant="20 jobs/s, noop c=100" n="$LAT_JOBS" \
            times="$d/times.txt" extra="{\"seq\": $SEQ, \"note\": \"one Queue.add per job\"}" \
            out="$RES/rows/$(printf %03d $SEQ)-lat-bullmq.json"
    fi
fi

# CPU time the rest of the machine used meanwhile: all CPU time (/proc/stat)
# minus this harness's (its reaped children, Redis, the mocks)
times >"$TMP/times.txt" # in this shell: a subshell would report its own
own_children=$(sed -n 2p "$TMP/times.txt" | python3 -c "
import re, sys
t = re.findall(r'(\d+)m([\d.]+)s', sys.stdin.read())
print(sum(int(m) * 60 + float(x) for m, x in t))")
# shellcheck disable=SC2154 # MOCK_*_PID are set through eval in start_mock
own_live=$(python3 - "$RPORT" "$PYB" $MOCK_m0_PID $MOCK_m200_PID $MOCK_hold_PID <<'PYEOF'
import sys
sys.path.insert(0, sys.argv[2].rsplit("/", 1)[0])
import bench
r = bench.Redis(sys.argv[1])
cpu = bench.info(r, "cpu")
tot = float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"])
for p in sys.argv[3:]:
    tot += bench.proc_cpu_us(int(p)) / 1e6
print(tot)
PYEOF
)
other=$(python3 -c "print(round($(py syscpu) - $SYS_CPU0 - $own_children - $own_live, 1))")
wall=$(($(date +%s) - T_START))
if python3 -c "import sys; sys.exit(0 if $other > 0.05 * $wall * $(nproc) + 2 else 1)"; then
    echo "WARNING: other processes used ${other} CPU-seconds during the ${wall} s run" >&2
    BUSY="$BUSY others used ${other} CPU-s in ${wall} s;"
fi
if [ -n "$BUSY" ]; then
    python3 -c "import json; p='$TMP/machine.json'; m=json.load(open(p)); m['busy']='$BUSY'; json.dump(m, open(p, 'w'), indent=1)"
fi

# ---- report ------------------------------------------------------------------------------
echo
echo "genq bench ($([ $QUICK = 1 ] && echo 'QUICK: sizes prove the harness only, figures are not meaningful' || echo full)):" \
    "bench/run.sh $([ $QUICK = 1 ] && echo --quick) $([ "$ONLY" != a,b,c,inbox,d,lat,s ] && echo "--only $ONLY") $([ "$REPEAT" != 1 ] && echo "--repeat $REPEAT") $([ $PIN = 1 ] && echo --pin)"
python3 -c "import json; m=json.load(open('$TMP/machine.json')); print('machine: %(nproc)s CPUs, %(cpu_model)s, %(mem_total_mb)s MB, Linux %(kernel)s, Redis %(redis_version)s (%(redis_persistence)s), node %(node)s, %(date)s\ngenq: %(genq_commit)s (bin/genq-worker built %(genq_worker_built)s)' % m)"
[ -n "$BUSY" ] && echo "WARNING: the machine was busy ($BUSY): figures are skewed"
[ $BULL = 1 ] && echo "peer: bullmq $BULLMQ_VERSION + ioredis $IOREDIS_VERSION (bench/peers/bullmq)" ||
    echo "peer: none (SKIP bullmq: $SKIP_WHY)"
echo
PARTIAL=""
[ "$ONLY" = a,b,c,inbox,d,lat,s ] || PARTIAL=partial # a subset: latest.json stays
py report "$RES" "$TMP/machine.json" ${PARTIAL:+"$PARTIAL"}
rm -rf "$RES/rows"
log "done"
