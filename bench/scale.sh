#!/bin/bash
# Issue 15 benches, behind `make bench` after bench/run.sh:
#
#   bench/scale.sh [--quick] [--only reads,mem,backlog] [--backlog N]
#
# reads    what operators' reads cost Redis: N_RES retained results are
#          written; one no-op worker (c=100) drains N_R jobs ALT_ROUNDS
#          times, and while jobs are ready windows of 0.5 s alternate
#          alone / the stats script 10 times a second on one connection
#          (what `genq stats --watch` or a dashboard sends): the median
#          jobs/s, Redis and worker CPU per job of each side; then
#          N_R jobs on the queue with the results and, on that data
#          (results retained, the events of its last minute, the tallies),
#          Redis CPU per call of genq
#          stats / queues / workers / status ID and of the worker's metrics
#          gauges (INFO cpu around N calls, Redis otherwise idle; the genq
#          process's connect included). GENQ_BENCH_OLD_BIN=DIR also measures
#          the `genq stats` of another build on the same data (before/after).
# mem      Redis memory per job: INFO used_memory before and after N_M
#          realistic ~300-byte article requests are enqueued (genq enqueue
#          of a JSONL file; BullMQ Queue.addBulk of the same data), then
#          after a no-op worker finished them all (results retained: genq
#          keeps each for --result-ttl, BullMQ its completed jobs by default).
# backlog  N_B (default 10,000,000; --backlog N) article requests enqueued
#          with one `genq enqueue` (time, Redis memory), then the Redis CPU
#          per job of claim.lua at the head of that backlog against the same
#          on a queue of 1,000 jobs (CALLS calls of 100 jobs each).
#
# Own redis-server (no persistence) on a free port; BullMQ from npm like
# run.sh. Prints a table and writes bench/results/scale.json with the
# machine. The machine may be shared: compare the ratios of one run.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -eu

BENCH_TMP=genq-scale # common.sh: TMP=/tmp/genq-scale.XXXXXX
QUICK=0
ONLY="reads,mem,backlog"
N_B=""
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) QUICK=1 ;;
    --only) ONLY="$2"; shift ;;
    --backlog) N_B="$2"; shift ;;
    -h | --help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "usage: bench/scale.sh [--quick] [--only reads,mem,backlog] [--backlog N]" >&2; exit 2 ;;
    esac
    shift
done

# shellcheck source=bench/lib/common.sh
. "$(dirname "$0")/lib/common.sh"
SPY="$ROOT/bench/lib/scale.py"
sp() { python3 "$SPY" "$@"; }
RES="$ROOT/bench/results"
[ $QUICK = 1 ] && RES="$ROOT/bench/results/quick"
mkdir -p "$RES"
T_START=$(date +%s)
log() { printf '[%3ds] %s\n' "$(($(date +%s) - T_START))" "$*" >&2; }
die() { echo "scale: $*" >&2; exit 1; }

if [ $QUICK = 1 ]; then
    N_RES=20000 N_R=100000 N_M=20000 CALLS=20 ALT_ROUNDS=2 # N_R: windows to alternate
    : "${N_B:=50000}"
else
    N_RES=1000000 N_R=300000 N_M=1000000 CALLS=200 ALT_ROUNDS=4
    : "${N_B:=10000000}"
fi

RPORT=$(py freeport)
RURL="redis://127.0.0.1:$RPORT/0"
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$TMP" --logfile "$TMP/redis.log" &
pids="$pids $!"
i=0
until redis-cli -p "$RPORT" ping >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt 100 ] && die "redis-server did not start"
    sleep 0.05
done
SRC_BIN="$BIN" py machine "$TMP/machine.json" "$RPORT" "$([ $QUICK = 1 ] && echo quick || echo full) scale run" >/dev/null
bullmq_install
rflush() { redis-cli -p "$RPORT" flushall >/dev/null; }
mem() { sp mem "$RPORT"; }
OUT="$TMP/scale.json"
echo '{}' >"$OUT"
put() { # key json: into the results document
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); d[sys.argv[2]]=json.loads(sys.argv[3]); json.dump(d, open(sys.argv[1],'w'), indent=1)" "$OUT" "$1" "$2"
}
# worker_run QUEUE N [extra worker args...]: a no-op worker (c=100) until
# N jobs finished; prints the seconds it took
worker_run() {
    local q=$1 n=$2 wp wall
    shift 2
    "$BIN/genq-worker" --redis "$RURL" --queue "$q" --concurrency 100 --provider noop \
        --log-level warn --drain-timeout 5 "$@" 2>"$TMP/worker-$q.err" &
    wp=$!
    pids="$pids $wp"
    wall=$(py wait-done "$RPORT" genq "$q" "$n" 600 | cut -d' ' -f1) || die "worker on $q did not finish"
    kill -TERM "$wp" 2>/dev/null; wait "$wp" 2>/dev/null || true
    echo "$wall"
}

# ---- reads -----------------------------------------------------------------------
if want reads; then
    rflush
    log "reads: $N_RES retained results, then $N_R no-op jobs $ALT_ROUNDS times on one worker, alternating alone / with the stats script at 10/s"
    sp fill-results "$RPORT" rd "$N_RES" >/dev/null
    py gen-jobs "$N_R" r "$TMP/r.jsonl" --no-id
    # throughput alone and with the poller: one no-op worker drains the N_R
    # jobs ALT_ROUNDS times (queue paused while they are enqueued) and,
    # while jobs are ready, windows of 0.5 s alternate alone / polled
    # (A B B A ...): a minute of short windows on the same Redis and worker,
    # so the machine's other load moves both sides alike; the median of
    # each side with its spread, and Redis CPU per job (INFO cpu) in both
    log "reads: $N_R no-op jobs $ALT_ROUNDS times, windows of 0.5 s alone / with the stats script at 10/s"
    sp alternate "$RPORT" "$ROOT" "$BIN" "$RURL" rt "$TMP/r.jsonl" "$ALT_ROUNDS" 0.5 10 "$TMP/alt.json" ||
        die "the alternating rounds failed"
    # the queue with the retained results gets a run of its own just before
    # the reads, so its last minute holds the events of N_R jobs (what the
    # first stats script scanned)
    "$BIN/genq" enqueue --redis "$RURL" --queue rd "$TMP/r.jsonl" >/dev/null 2>&1
    worker_run rd "$N_R" >/dev/null
    # genq queues: the one queue with the retained results
    redis-cli -p "$RPORT" srem genq:queues rt >/dev/null
    # a job the worker ran: the first id of the newest done member (a
    # batch of ids since layout 4)
    jid=$(redis-cli -p "$RPORT" zrevrange 'genq:{rd}:done' 0 0 | cut -d, -f1)
    log "reads: Redis CPU per call, $CALLS calls each"
    sp read-cost "$TMP/rc.json" "$RPORT" "$BIN/genq" "$RURL" rd "$jid" "$CALLS" >/dev/null
    old="None"
    if [ -n "${GENQ_BENCH_OLD_BIN:-}" ]; then
        old=$(python3 - "$RPORT" "$GENQ_BENCH_OLD_BIN/genq" "$RURL" "$CALLS" <<'PY'
import subprocess, sys
sys.path.insert(0, "bench/lib")
import bench, scale
r = bench.Redis(sys.argv[1], timeout=60)
g, url, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
print(round(scale.per_call(r, n, lambda: scale.run_quiet([g, "stats", "--json", "--redis", url, "--queue", "rd"])), 1))
PY
)
    fi
    put reads "$(python3 -c "
import json
rc = json.load(open('$TMP/rc.json'))
alt = json.load(open('$TMP/alt.json'))
print(json.dumps({'results_retained': $N_RES, 'jobs': $N_R, 'rounds': $ALT_ROUNDS,
  'jobs_per_s_alone': alt.get('alone_jobs_per_s', {}).get('median'),
  'jobs_per_s_with_stats_10hz': alt.get('polled_jobs_per_s', {}).get('median'), 'stats_calls_during_runs': alt['stats_calls'],
  'alternating': alt, 'redis_cpu_us_per_call': rc, 'old_stats_redis_cpu_us_per_call': $old}))")"
fi

# ---- mem ---------------------------------------------------------------------------
if want mem; then
    log "mem: $N_M article requests (~300 bytes), genq then BullMQ"
    sp gen-articles "$N_M" "$TMP/m.jsonl"
    rflush
    m0=$(mem)
    "$BIN/genq" enqueue --redis "$RURL" --queue mem "$TMP/m.jsonl" >/dev/null 2>&1
    m1=$(mem)
    worker_run mem "$N_M" >/dev/null
    m2=$(mem)
    g="{\"queued_bytes_per_job\": $(((m1 - m0) / N_M)), \"retained_bytes_per_result\": $(((m2 - m0) / N_M))"
    g="$g, \"result_doc_bytes\": $(redis-cli -p "$RPORT" hstrlen 'genq:{mem}:results' "$(redis-cli -p "$RPORT" hrandfield 'genq:{mem}:results')")}"
    put mem_genq "$g"
    if [ "$BULL" = 1 ]; then
        rflush
        m0=$(mem)
        # the same request text as data
        N=$N_M QUEUE=mem MODE=bulk PROMPT_PREFIX="$(python3 -c "
import sys; sys.path.insert(0, 'bench/lib'); import scale; print(scale.article(0)['prompt'].rsplit(' ', 1)[0])")" \
            REDIS_PORT=$RPORT timeout 900 node "$BQ/add.js" >/dev/null
        m1=$(mem)
        QUEUE=mem CONCURRENCY=100 PROC=noop READY_FILE="$TMP/bready.json" REDIS_PORT=$RPORT \
            node "$BQ/worker.js" 2>"$TMP/bworker.err" &
        bp=$!
        pids="$pids $bp"
        py wait-done "$RPORT" bullmq mem "$N_M" 900 >/dev/null || die "mem: bullmq did not finish"
        kill -TERM "$bp" 2>/dev/null; wait "$bp" 2>/dev/null || true
        m2=$(mem)
        put mem_bullmq "{\"queued_bytes_per_job\": $(((m1 - m0) / N_M)), \"retained_bytes_per_result\": $(((m2 - m0) / N_M))}"
    fi
fi

# ---- backlog -------------------------------------------------------------------------
if want backlog; then
    rflush
    log "backlog: $N_B article requests in one genq enqueue"
    sp gen-articles "$N_B" "$TMP/b.jsonl"
    m0=$(mem)
    t0=$(date +%s.%N)
    "$BIN/genq" enqueue --redis "$RURL" --queue big "$TMP/b.jsonl" >/dev/null 2>&1 || die "backlog: enqueue failed"
    t1=$(date +%s.%N)
    m1=$(mem)
    rm -f "$TMP/b.jsonl"
    head=$(sp claim-cost "$RPORT" big "$ROOT" "$CALLS" 100)
    : >"$TMP/small.jsonl"
    for _ in $(seq $((CALLS / 10))); do
        redis-cli -p "$RPORT" del 'genq:{small}:ready' >/dev/null
        sp gen-articles 1000 "$TMP/s.jsonl"
        "$BIN/genq" enqueue --redis "$RURL" --queue small "$TMP/s.jsonl" >/dev/null 2>&1
        sp claim-cost "$RPORT" small "$ROOT" 10 100 >>"$TMP/small.jsonl"
    done
    put backlog "$(python3 -c "
import json, sys
s = [json.loads(x) for x in open(sys.argv[1])]
jobs = sum(x['jobs'] for x in s)
print(json.dumps({'jobs': $N_B, 'enqueue_s': round($t1 - $t0, 1), 'jobs_per_s': round($N_B / ($t1 - $t0)),
  'redis_bytes_per_job': ($m1 - $m0) // $N_B, 'redis_used_memory_mb': round($m1 / 1048576),
  'claim_at_head': json.loads('$head'),
  'claim_at_1000': {'jobs': jobs, 'cpu_us_per_job': round(sum(x['cpu_us_per_job'] * x['jobs'] for x in s) / jobs, 2),
                    'evalsha_us_per_job': round(sum(x['evalsha_us_per_job'] * x['jobs'] for x in s) / jobs, 2)}}))" "$TMP/small.jsonl")"
fi

python3 - "$OUT" "$TMP/machine.json" "$RES/scale.json" "$QUICK" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); m = json.load(open(sys.argv[2]))
try:  # the scenarios of an earlier run stay, each with its own machine
    keep = json.load(open(sys.argv[3]))
except (OSError, ValueError):
    keep = {}
keep.pop("machine", None)
for k in d:
    d[k]["machine"] = m
keep.update(d)
json.dump(keep, open(sys.argv[3], "w"), indent=1)
print("\ngenq scale bench (issue 15)%s: %s CPUs, %s, Redis %s, %s" % (
    " QUICK: sizes prove the harness only" if sys.argv[4] == "1" else "",
    m["nproc"], m["cpu_model"], m["redis_version"], m["date"]))
if "reads" in d:
    r = d["reads"]; c = r["redis_cpu_us_per_call"]
    print("reads: %d results retained; Redis CPU per call (µs): genq stats %s, queues %s, workers %s, status %s (each a genq process, its connect included); the stats script alone %s, metrics gauges %s%s"
          % (r["results_retained"], c["stats"], c["queues"], c["workers"], c["status"], c["stats_script"], c["gauges"],
             "; the other build's stats %s" % r["old_stats_redis_cpu_us_per_call"] if r["old_stats_redis_cpu_us_per_call"] is not None else ""))
    a = r["alternating"]
    def side(k):
        v = a[k]
        return "%s (%s-%s)" % (round(v["median"], 1), round(v["min"], 1), round(v["max"], 1))
    if not all(k in a for k in ("alone_jobs_per_s", "polled_jobs_per_s", "pair_ratio")):
        print("reads: alternating windows: too few (%d windows of %.1f s: the jobs drained faster; more jobs, N_R, give more)"
              % (a["windows"], a["window_s"]))
    else:
      print("reads: no-op worker c=100, %d windows of %.1f s alternating (%d stats calls), median (min-max): jobs/s alone %s, with the stats script 10/s %s: %.1f%%; neighbouring windows polled/alone median %.3f, quartiles %.3f-%.3f, range %.3f-%.3f (%d pairs)"
            % (a["windows"], a["window_s"], a["stats_calls"], side("alone_jobs_per_s"), side("polled_jobs_per_s"),
               100.0 * r["jobs_per_s_with_stats_10hz"] / r["jobs_per_s_alone"],
               a["pair_ratio"]["median"], a["pair_ratio"]["q1"], a["pair_ratio"]["q3"],
               a["pair_ratio"]["min"], a["pair_ratio"]["max"], a["pair_ratio"]["n"]))
      print("reads: per job alone / polled: Redis CPU %s / %s µs, worker CPU %s / %s µs (medians, INFO cpu and /proc)"
            % (side("alone_redis_us_per_job"), side("polled_redis_us_per_job"),
               side("alone_worker_us_per_job"), side("polled_worker_us_per_job")))
if "mem_genq" in d:
    g = d["mem_genq"]; b = d.get("mem_bullmq")
    print("mem: bytes of Redis per queued job: genq %d%s" % (g["queued_bytes_per_job"],
          ", bullmq %d (genq/bullmq %.2f)" % (b["queued_bytes_per_job"], g["queued_bytes_per_job"] / b["queued_bytes_per_job"]) if b else ""))
    print("mem: bytes per retained result (job + result, %d-byte result documents): genq %d%s" % (
          g["result_doc_bytes"], g["retained_bytes_per_result"],
          ", bullmq %d (genq/bullmq %.2f)" % (b["retained_bytes_per_result"], g["retained_bytes_per_result"] / b["retained_bytes_per_result"]) if b else ""))
if "backlog" in d:
    b = d["backlog"]
    print("backlog: %d jobs enqueued in %.1f s (%d jobs/s), %d bytes/job, Redis %d MB; claim µs/job (CPU / in-script): head of the backlog %.2f / %.2f, queue of 1,000 %.2f / %.2f"
          % (b["jobs"], b["enqueue_s"], b["jobs_per_s"], b["redis_bytes_per_job"], b["redis_used_memory_mb"],
             b["claim_at_head"]["cpu_us_per_job"], b["claim_at_head"]["evalsha_us_per_job"],
             b["claim_at_1000"]["cpu_us_per_job"], b["claim_at_1000"]["evalsha_us_per_job"]))
PY
log done
