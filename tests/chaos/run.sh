#!/usr/bin/env bash
# Chaos soak (issue 6, item 1): `make chaos [CHAOS_S=S]` or
#   bash tests/chaos/run.sh [--seconds S] [--jobs N] [--workers W]
#        [--concurrency C] [--seed S] [--fsync always|everysec] [--keep]
#
# Starts its own redis-server (AOF, same port and data directory across
# restarts) and genq-mockllm (10% mixed transient faults, latency, token
# pacing) on free loopback ports, enqueues N jobs (tests/chaos/check.c gen:
# distinct prompts, ~1% with a permanent-error marker, long articles that
# need continuations, priorities, delays), runs W workers (a mix of
# Anthropic/OpenAI, streaming/plain), and for 60% of S seconds SIGKILLs random
# workers at random moments (restarting them) and SIGKILLs Redis at least
# twice (restarting it from its AOF), while the last 20% of the jobs are
# enqueued in chunks, retried across the crashes. Then the chaos stops and the
# remaining work may finish until S seconds have passed; then the invariants
# are checked (tests/chaos/check.c verify) and printed as a table. Exit 0 when
# every invariant holds, 1 on any breach (the temporary directory with every
# log is kept then and printed), 2 on a setup failure.
#
# Durability (DESIGN.md: say which one a test used): Redis runs with
# `appendfsync always` by default, so no acknowledged write may be lost and
# every check is strict. With --fsync everysec a machine crash may lose ~1 s
# of acknowledged writes, and the checker tolerates jobs that vanished (it
# says how many). Either way this SIGKILLs the redis-server process, not the
# machine: what Redis wrote to its AOF survives in the page cache, so the
# soak tests process crashes, not power loss.
#
# A worker is "alive" unless the soak SIGKILLed it: a job that dies of a
# lease expiry of a live worker (an attempt lost to a Redis outage) is a
# breach. tests/chaos/repro-outage.sh reproduces that case alone.
set -euo pipefail
export PATH="/usr/bin:$PATH" # Debian's python3 first, as tests/run.sh
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

SECS=300
JOBS=""
WORKERS=6
CONC=12
SEED=""
FSYNC=always
KEEP=0
usage() {
    sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}
while [ $# -gt 0 ]; do
    case "$1" in
    --seconds) SECS=${2:?}; shift 2 ;;
    --jobs) JOBS=${2:?}; shift 2 ;;
    --workers) WORKERS=${2:?}; shift 2 ;;
    --concurrency) CONC=${2:?}; shift 2 ;;
    --seed) SEED=${2:?}; shift 2 ;;
    --fsync) FSYNC=${2:?}; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage ;;
    *) echo "chaos: unknown argument '$1'" >&2; usage ;;
    esac
done
case "$SECS" in '' | *[!0-9]*) echo "chaos: --seconds: a number" >&2; exit 2 ;; esac
[ "$SECS" -ge 30 ] || { echo "chaos: --seconds must be >= 30" >&2; exit 2; }
[ "$WORKERS" -ge 4 ] && [ "$WORKERS" -le 8 ] ||
    { echo "chaos: --workers must be 4..8" >&2; exit 2; }
case "$FSYNC" in always | everysec) ;; *) echo "chaos: --fsync always|everysec" >&2; exit 2 ;; esac
# 10,000 jobs for 300 s; shorter runs scale down (2,000 for 60 s)
[ -n "$JOBS" ] || JOBS=$((SECS >= 300 ? 10000 : SECS * 10000 / 300))
[ -n "$SEED" ] || SEED=$(( $(date +%s) % 100000 ))
RANDOM=$SEED

: "${GENQ_BIN:=bin}"
GENQ_BIN=$(cd "$GENQ_BIN" && pwd)
for b in genq genq-worker genq-mockllm; do
    [ -x "$GENQ_BIN/$b" ] || { echo "chaos: $GENQ_BIN/$b missing (run make)" >&2; exit 2; }
done
command -v redis-server >/dev/null || { echo "chaos: redis-server not found" >&2; exit 2; }

TMP=$(mktemp -d /tmp/genq-chaos.XXXXXX)
QUEUE=chaos
API_KEY="chaos-test-key"
declare -a WPID WKILLED
MOCKPID=""
RPID=""
FEEDPID=""
OK_TO_DELETE=0

log() { printf '[chaos %5.1fs] %s\n' "$(elapsed)" "$*"; }
T0=$(date +%s.%N)
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
now_s() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%d", b - a }'; }

cleanup() {
    local p
    trap - EXIT INT TERM
    for p in "${WPID[@]:-}" $FEEDPID $MOCKPID $RPID; do
        [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true
    done
    for p in "${WPID[@]:-}" $FEEDPID $MOCKPID $RPID; do
        [ -n "$p" ] && wait "$p" 2>/dev/null || true
    done
    if [ "$OK_TO_DELETE" = 1 ] && [ "$KEEP" = 0 ]; then
        rm -rf "$TMP"
    else
        echo "chaos: logs kept in $TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---- the checker, built with the Makefile's flags -------------------------
sh tests/chaos/build-check.sh "$TMP/chaos-check" ||
    { echo "chaos: cannot build the checker" >&2; exit 2; }

# ---- Redis with AOF ----------------------------------------------------------
RPORT=$(free_port)
RURL="redis://127.0.0.1:$RPORT/0"
mkdir -p "$TMP/redis"
start_redis() {
    redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$TMP/redis" \
        --appendonly yes --appendfsync "$FSYNC" --save '' \
        --auto-aof-rewrite-min-size 8mb \
        --logfile "$TMP/redis/redis.log" --daemonize no &
    RPID=$!
    local i=0 r
    while :; do
        r=$(redis-cli -p "$RPORT" ping 2>/dev/null || true)
        [ "$r" = PONG ] && return 0
        i=$((i + 1))
        if [ $i -gt 600 ] || ! kill -0 "$RPID" 2>/dev/null; then
            echo "chaos: redis-server did not come up" >&2
            tail -20 "$TMP/redis/redis.log" >&2
            exit 2
        fi
        sleep 0.05
    done
}
rcli() { redis-cli -p "$RPORT" "$@"; }
start_redis

# ---- the mock LLM ------------------------------------------------------------
# shellcheck disable=SC2054
MOCK_ARGS=(--latency-ms 100 --tokens-per-s 200 --chunk-tokens 3
    --fault-rate 0.1 --faults 429,500,503,529,stream-error,drop,stall,malformed
    --retry-after 0 --retry-after-ms 100 --stall-s 3 --seed "$SEED")
GENQ_MOCK_API_KEY=$API_KEY "$GENQ_BIN/genq-mockllm" --listen 127.0.0.1:0 \
    --port-file "$TMP/mock.port" --log "$TMP/mock.log" "${MOCK_ARGS[@]}" \
    2>"$TMP/mock.err" &
MOCKPID=$!
i=0
until [ -s "$TMP/mock.port" ]; do
    i=$((i + 1))
    [ $i -gt 200 ] && { echo "chaos: genq-mockllm did not start" >&2; cat "$TMP/mock.err" >&2; exit 2; }
    sleep 0.05
done
MOCKURL="http://127.0.0.1:$(cat "$TMP/mock.port")"

# ---- the jobs ----------------------------------------------------------------
CHAOS_S=$((SECS * 6 / 10))
MAX_DELAY=$((SECS / 10))
"$TMP/chaos-check" gen --jobs "$JOBS" --seed "$SEED" --max-delay "$MAX_DELAY" \
    >"$TMP/jobs.jsonl"
FIRST=$((JOBS * 8 / 10))
head -n "$FIRST" "$TMP/jobs.jsonl" >"$TMP/jobs-first.jsonl"
tail -n +"$((FIRST + 1))" "$TMP/jobs.jsonl" >"$TMP/jobs-late.jsonl"
mkdir -p "$TMP/late"
split -l 100 -d -a 4 "$TMP/jobs-late.jsonl" "$TMP/late/chunk-"

WORKER_FLAGS=(--redis "$RURL" --queue "$QUEUE" --api-base "$MOCKURL"
    --concurrency "$CONC" --visibility-timeout 5 --max-attempts 5
    --max-tokens 2000 --max-continuations 3 --job-backoff-base 0.2
    --stall-timeout 2 --circuit-max 1 --max-retries 1 --retry-base 0.1 --retry-cap 1
    --claim-batch 8 --drain-timeout 5 --log-format json --log-level debug)
VARIANTS=("--provider anthropic --stream" "--provider anthropic --no-stream"
    "--provider openai --stream" "--provider openai --no-stream")

echo "chaos soak: seed $SEED, $SECS s (chaos ${CHAOS_S} s, then finish), $JOBS jobs" \
    "($FIRST before the workers start, $((JOBS - FIRST)) fed during the chaos)," \
    "$WORKERS workers x concurrency $CONC"
echo "  redis 127.0.0.1:$RPORT appendonly yes, appendfsync $FSYNC" \
    "($([ "$FSYNC" = always ] && echo 'no acknowledged write may be lost' ||
        echo 'a machine crash may lose ~1 s of acknowledged writes'))"
echo "  mock $MOCKURL ${MOCK_ARGS[*]}"
echo "  workers: ${WORKER_FLAGS[*]:4}; variants by index: anthropic/openai x stream/plain"
echo "  logs: $TMP"

# Every other job of the first part goes without its id: `genq enqueue`
# stores such a job inline and a claim keeps it in a held list (layout 5,
# common/lua/prelude.lua K_HELD), so the soak crosses those paths too; the
# ids it generated are read back from its --json output into jobs.jsonl and
# the ids file (this enqueue runs once, before the chaos: nothing re-sends
# an id-less line).
python3 -c '
import json, sys
for i, l in enumerate(open(sys.argv[1])):
    j = json.loads(l)
    if i % 2:
        del j["id"]
    print(json.dumps(j))' "$TMP/jobs-first.jsonl" >"$TMP/jobs-first-sent.jsonl"
if ! timeout 120 "$GENQ_BIN/genq" enqueue --redis "$RURL" --queue "$QUEUE" \
    --json "$TMP/jobs-first-sent.jsonl" >"$TMP/enqueue-first.out" 2>"$TMP/enqueue-first.err"; then
    echo "chaos: the initial enqueue failed" >&2
    tail -5 "$TMP/enqueue-first.err" >&2
    exit 2
fi
python3 -c '
import json, sys
got = {}
for l in open(sys.argv[2]):
    o = json.loads(l)
    got[o["line"]] = o["id"]
out = []
for i, l in enumerate(open(sys.argv[1])):
    j = json.loads(l)
    if i < int(sys.argv[3]):
        j["id"] = got[i + 1]
    out.append(json.dumps(j, separators=(",", ":")))
open(sys.argv[1], "w").write("\n".join(out) + "\n")' \
    "$TMP/jobs.jsonl" "$TMP/enqueue-first.out" "$FIRST" || {
    echo "chaos: the generated ids could not be read back" >&2; exit 2; }
cut -d'"' -f4 "$TMP/jobs.jsonl" >"$TMP/ids"
inline=$(rcli lrange "genq:{$QUEUE}:ready" 0 -1 | grep -c '^@' || true)
echo "  $inline of the first $FIRST jobs stored inline (claimed into held lists)"
[ "$inline" -gt 0 ] || { echo "chaos: no job stored inline: the held-claim paths would go untested" >&2; exit 2; }

start_worker() {
    local i=$1
    # shellcheck disable=SC2086
    GENQ_API_KEY=$API_KEY "$GENQ_BIN/genq-worker" "${WORKER_FLAGS[@]}" \
        ${VARIANTS[$((i % 4))]} >>"$TMP/worker-$i.log" 2>&1 &
    WPID[$i]=$!
    WKILLED[$i]=0
}

# The late jobs, fed in chunks across the crashes: a chunk whose enqueue
# failed is sent again (known ids come back as duplicates, never twice).
feeder() {
    local c n=0 tries
    for c in "$TMP"/late/chunk-*; do
        tries=0
        until timeout 20 "$GENQ_BIN/genq" enqueue --redis "$RURL" --queue "$QUEUE" \
            --json "$c" >"$c.out" 2>>"$TMP/feeder.err"; do
            tries=$((tries + 1))
            echo "chunk $(basename "$c"): enqueue failed (try $tries), again" >>"$TMP/feeder.log"
            [ $tries -ge 100 ] && { echo "chunk $(basename "$c"): gave up" >>"$TMP/feeder.log"; return 1; }
            sleep 0.5
        done
        n=$((n + 1))
        sleep "$(awk -v s="$CHAOS_S" -v n="$NCHUNKS" 'BEGIN { printf "%.2f", s * 0.7 / n }')"
    done
    echo "fed $n chunks" >>"$TMP/feeder.log"
}
NCHUNKS=$(find "$TMP/late" -name 'chunk-*' ! -name '*.out' | wc -l)

# ---- chaos -------------------------------------------------------------------
T0=$(date +%s.%N)
for ((i = 0; i < WORKERS; i++)); do start_worker "$i"; done
feeder &
FEEDPID=$!

NREDIS=$((SECS / 60 > 2 ? SECS / 60 : 2))
declare -a RKILL_AT
for ((k = 0; k < NREDIS; k++)); do
    # spread over the first 80% of the chaos window (work is still in
    # flight then), +-20% of a slot
    slot=$((CHAOS_S * 80 / NREDIS))
    RKILL_AT[$k]=$(((slot * k + slot / 2 + (RANDOM % (slot * 2 / 5 + 1)) - slot / 5) / 100))
done
log "chaos starts: redis kills planned at ${RKILL_AT[*]} s"
worker_kills=0
redis_kills=0
unexpected=0
rk=0
next_wkill=$((2 + RANDOM % 5))
: >"$TMP/events.log"
: >"$TMP/killed.pids"

reap_workers() { # restart workers that died by themselves (a crash: a bug)
    local i st
    for ((i = 0; i < WORKERS; i++)); do
        if ! kill -0 "${WPID[$i]}" 2>/dev/null; then
            st=0
            wait "${WPID[$i]}" 2>/dev/null || st=$?
            if [ "${WKILLED[$i]}" = 0 ]; then
                unexpected=$((unexpected + 1))
                log "worker $i (pid ${WPID[$i]}) exited by itself with status $st" |
                    tee -a "$TMP/events.log"
            fi
            start_worker "$i"
        fi
    done
}

while [ "$(now_s)" -lt "$CHAOS_S" ]; do
    t=$(now_s)
    if [ $rk -lt $NREDIS ] && [ "$t" -ge "${RKILL_AT[$rk]}" ]; then
        kill -9 "$RPID"
        wait "$RPID" 2>/dev/null || true
        redis_kills=$((redis_kills + 1))
        # every other outage outlasts the 5 s visibility timeout, so leases
        # of live workers expire while Redis is away
        if [ $((redis_kills % 2)) = 0 ]; then
            down=$(awk -v r=$RANDOM 'BEGIN { printf "%.1f", 6 + (r % 21) / 10 }')
        else
            down=$(awk -v r=$RANDOM 'BEGIN { printf "%.1f", 0.5 + (r % 21) / 10 }')
        fi
        log "SIGKILL redis (kill $redis_kills); down for $down s" | tee -a "$TMP/events.log"
        sleep "$down"
        t1=$(date +%s.%N)
        start_redis
        log "redis restarted from its AOF in $(awk -v a="$t1" -v b="$(date +%s.%N)" \
            'BEGIN { printf "%.2f", b - a }') s; $(rcli HGET "genq:{$QUEUE}:stats" succeeded) succeeded so far" |
            tee -a "$TMP/events.log"
        rk=$((rk + 1))
    fi
    if [ "$t" -ge "$next_wkill" ]; then
        n=$((RANDOM % 4 == 0 ? 2 : 1))
        for ((x = 0; x < n; x++)); do
            i=$((RANDOM % WORKERS))
            if kill -0 "${WPID[$i]}" 2>/dev/null; then
                WKILLED[$i]=1
                echo "${WPID[$i]} $(date +%s%3N)" >>"$TMP/killed.pids"
                kill -9 "${WPID[$i]}" 2>/dev/null || true
                wait "${WPID[$i]}" 2>/dev/null || true # no "Killed" notice
                worker_kills=$((worker_kills + 1))
                log "SIGKILL worker $i (pid ${WPID[$i]})" | tee -a "$TMP/events.log"
            fi
        done
        sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.1f", (r % 16) / 10 }')"
        reap_workers
        next_wkill=$(($(now_s) + 2 + RANDOM % 5))
    fi
    reap_workers
    sleep 0.2
done
log "chaos over: $worker_kills worker SIGKILLs, $redis_kills redis SIGKILLs + AOF restarts," \
    "$unexpected unexpected worker exits; letting the work finish (until ${SECS} s)"

# ---- finish: no chaos; wait for the queue to drain (bounded) -----------------
left() {
    local a b c d e
    a=$(rcli LLEN "genq:{$QUEUE}:ready:high" 2>/dev/null || echo x)
    b=$(rcli LLEN "genq:{$QUEUE}:ready" 2>/dev/null || echo x)
    c=$(rcli LLEN "genq:{$QUEUE}:ready:low" 2>/dev/null || echo x)
    d=$(rcli ZCOUNT "genq:{$QUEUE}:leases" -inf "(+inf" 2>/dev/null || echo x)
    e=$(rcli ZCARD "genq:{$QUEUE}:delayed" 2>/dev/null || echo x)
    case "$a$b$c$d$e" in *[!0-9]*) echo 999999 ;; *) echo $((a + b + c + d + e)) ;; esac
}
feeder_done=0
while [ "$(now_s)" -lt "$SECS" ]; do
    reap_workers
    if [ $feeder_done = 0 ] && ! kill -0 "$FEEDPID" 2>/dev/null; then
        st=0
        wait "$FEEDPID" || st=$?
        feeder_done=1
        FEEDPID=""
        [ $st = 0 ] || log "feeder failed (status $st): $(tail -1 "$TMP/feeder.log")"
    fi
    if [ $feeder_done = 1 ] && [ "$(left)" = 0 ]; then break; fi
    sleep 1
done
log "finish: $(left) job(s) not terminal; stopping the workers"
for ((i = 0; i < WORKERS; i++)); do kill -TERM "${WPID[$i]}" 2>/dev/null || true; done
bad_exit=0
for ((i = 0; i < WORKERS; i++)); do
    for ((x = 0; x < 100; x++)); do kill -0 "${WPID[$i]}" 2>/dev/null || break; sleep 0.1; done
    kill -9 "${WPID[$i]}" 2>/dev/null || true
    st=0
    wait "${WPID[$i]}" 2>/dev/null || st=$?
    if [ $st != 0 ]; then # a drain must exit 0; 137: still running after 10 s
        bad_exit=$((bad_exit + 1))
        log "worker $i (pid ${WPID[$i]}) exited with status $st after SIGTERM" | tee -a "$TMP/events.log"
    fi
done
WPID=()
if [ -n "$FEEDPID" ]; then kill -9 "$FEEDPID" 2>/dev/null || true; wait "$FEEDPID" 2>/dev/null || true; FEEDPID=""; fi

# ---- check -------------------------------------------------------------------
st=0
timeout 300 "$GENQ_BIN/genq" status --redis "$RURL" --queue "$QUEUE" --json --with-result - \
    <"$TMP/ids" >"$TMP/status.jsonl" 2>"$TMP/status.err" || st=$?
[ $st -le 1 ] || { echo "chaos: genq status failed ($st)" >&2; cat "$TMP/status.err" >&2; exit 2; }
STATS_ARGS=()
if "$GENQ_BIN/genq" stats --redis "$RURL" --queue "$QUEUE" --json \
    >"$TMP/stats.json" 2>"$TMP/stats.err"; then
    STATS_ARGS=(--stats "$TMP/stats.json")
else
    echo "chaos: genq stats unavailable ($(head -c 200 "$TMP/stats.err")); its counts are not checked"
fi
echo
echo "== chaos summary (seed $SEED)"
echo "worker SIGKILLs $worker_kills, redis SIGKILL+AOF restarts $redis_kills," \
    "unexpected worker exits $unexpected, elapsed $(elapsed) s"
grep -h 'restarted' "$TMP/events.log" | sed 's/^/  /' || true
count() { cat "$@" 2>/dev/null | grep -c "$PAT" || true; }
enq=$(PAT='"status":"enqueued"' count "$TMP/enqueue-first.out" "$TMP"/late/*.out)
dup=$(PAT='"status":"duplicate"' count "$TMP"/late/*.out)
echo "enqueue: $enq enqueued, $dup duplicates from re-sent chunks," \
    "$(PAT='enqueue failed' count "$TMP/feeder.log") chunk re-sends"
stale=$(PAT='lease lost before the outcome' count "$TMP"/worker-*.log)
lost=$(PAT='lease lost; abandoning' count "$TMP"/worker-*.log)
echo "workers: $stale finished outcomes refused as stale (lease lost), $lost jobs abandoned on a lost lease," \
    "$(PAT='redis disconnected' count "$TMP"/worker-*.log) redis disconnects seen"
curl -s "$MOCKURL/mock/stats" >"$TMP/mock-stats.json" 2>/dev/null || true
python3 - "$TMP/mock-stats.json" <<'EOF' || true
import json, sys
try:
    s = json.load(open(sys.argv[1]))
except Exception:
    sys.exit(0)
f = {k: v for k, v in s.get("faults_by_kind", {}).items() if v}
print("mock: %s requests, %s faults %s, max %s concurrent streams" % (
    s.get("requests_total"), s.get("faults_total"), json.dumps(f),
    s.get("max_concurrent_streams")))
EOF
rc=0
"$TMP/chaos-check" verify --redis "$RURL" --queue "$QUEUE" --jobs "$TMP/jobs.jsonl" \
    --status "$TMP/status.jsonl" --max-tokens 2000 --max-continuations 3 \
    --article-tokens 120 --fsync "$FSYNC" --killed "$TMP/killed.pids" \
    "${STATS_ARGS[@]}" || rc=$?
if grep -l 'Sanitizer\|runtime error:' "$TMP"/worker-*.log "$TMP/mock.err" >/dev/null 2>&1; then
    echo "FAIL: sanitizer reports in $(grep -l 'Sanitizer\|runtime error:' "$TMP"/worker-*.log "$TMP/mock.err" | tr '\n' ' ')"
    grep -h -m3 'Sanitizer\|runtime error:' "$TMP"/worker-*.log "$TMP/mock.err" | cut -c1-200
    [ $rc = 0 ] && rc=1
fi
if [ $unexpected -gt 0 ] || [ $bad_exit -gt 0 ]; then
    echo "FAIL: $unexpected worker(s) exited by themselves during the run, $bad_exit" \
        "exited non-zero on the final SIGTERM (see the events above)"
    [ $rc = 0 ] && rc=1
fi
if [ $rc = 0 ]; then
    echo "chaos: PASS"
    OK_TO_DELETE=1
else
    echo "chaos: FAIL (exit $rc)"
fi
exit $rc
