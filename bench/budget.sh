#!/bin/bash
# bench/budget.sh: a day cap of 200,000 tokens against genq-mockllm (issue 13
# acceptance "Budget"). Two `genq-worker --processes 2` (four loops) at
# concurrency 64 each drain jobs of ~200 tokens (more than the cap in all);
# the script samples the reservations in flight every 50 ms, waits for the
# fleet to stop (the P0 alert, then no spend for 3 s), and reports the spend
# at the stop against the cap, the overshoot, the most reservations seen in
# flight and the bound (loops x concurrency x one call's estimate). Then it
# raises the cap with `genq budget set` and times the resume to the last job.
# Usage: bash bench/budget.sh [--jobs N] [--cap TOKENS]
# Output: a table, and bench/results/budget.json.
set -euo pipefail
# shellcheck disable=SC2034 # read by lib/common.sh
BENCH_TMP=genq-bench-budget
JOBS=1500
CAP=200000
while [ $# -gt 0 ]; do
    case "$1" in
    --jobs) JOBS=$2; shift 2 ;;
    --cap) CAP=$2; shift 2 ;;
    *) echo "usage: bench/budget.sh [--jobs N] [--cap TOKENS]" >&2; exit 2 ;;
    esac
done
# scripts/lib.sh for start_redis (its WORKDIR unused: common.sh cleans up)
# shellcheck disable=SC2034
WORKDIR=/nonexistent
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/../scripts/lib.sh"
# shellcheck source=bench/lib/common.sh
. "$(dirname "$0")/lib/common.sh"

start_redis "$TMP"
R="redis://127.0.0.1:$RPORT/0"
"$BIN/genq-mockllm" --listen 127.0.0.1:0 --port-file "$TMP/mock.port" \
    --latency-ms 200 --article-tokens 180 2>"$TMP/mock.err" &
pids="$pids $!"
until [ -s "$TMP/mock.port" ]; do sleep 0.05; done
MOCK="http://127.0.0.1:$(cat "$TMP/mock.port")"

# jobs of ~200 tokens: a short prompt, 180 tokens of answer (max_tokens
# 256 > 180: no continuation); each call reserves prompt/4 + 256
python3 -c "
import json
for i in range($JOBS):
    print(json.dumps({'prompt': 'Budget bench %d' % i, 'max_tokens': 256}))
" >"$TMP/jobs.jsonl"
"$BIN/genq" enqueue --redis "$R" --queue bb --file "$TMP/jobs.jsonl" >/dev/null

export GENQ_API_KEY=bench-not-secret
for i in 1 2; do
    "$BIN/genq-worker" --redis "$R" --queue bb --api-base "$MOCK" --insecure \
        --processes 2 --concurrency 64 --budget-tokens-day "$CAP" \
        --price-in-mtok 3 --price-out-mtok 15 >"$TMP/worker$i.log" 2>&1 &
    pids="$pids $!"
done
DAY=$(date -u +%F)
KEY="genq:budget:day:$DAY"
t0=$(date +%s.%N)
max_res=0
alert_at=""
last=-1
still=0
while :; do
    res=$(redis-cli -p "$RPORT" hget "$KEY" res_tok)
    res=${res:-0}
    [ "$res" -gt "$max_res" ] && max_res=$res
    if [ -z "$alert_at" ] && [ "$(redis-cli -p "$RPORT" xlen genq:alerts)" -gt 0 ]; then
        alert_at=$(date +%s.%N)
    fi
    if [ -n "$alert_at" ]; then
        tok=$(redis-cli -p "$RPORT" hget "$KEY" tok)
        if [ "$tok" = "$last" ]; then still=$((still + 1)); else still=0; last=$tok; fi
        [ $still -ge 60 ] && break # 3 s without spend
    fi
    sleep 0.05
done
spent=$(redis-cli -p "$RPORT" hget "$KEY" tok)
alerts=$(redis-cli -p "$RPORT" xlen genq:alerts)
"$BIN/genq" stats --redis "$R" --queue bb --json >"$TMP/stats1.json"
succeeded=$(python3 -c "import json;print(json.load(open('$TMP/stats1.json'))['succeeded'])")
queued=$(python3 -c "import json;d=json.load(open('$TMP/stats1.json'));print(d['ready'])")
# the worker's estimate of a call: its stored job / 4 + 1 + max_tokens
job=$(redis-cli -p "$RPORT" hrandfield 'genq:{bb}:jobs')
est=$(( $(redis-cli -p "$RPORT" --raw hget 'genq:{bb}:jobs' "$job" | wc -c) / 4 + 1 + 256 ))
bound=$((4 * 64 * est))

t1=$(date +%s.%N)
"$BIN/genq" budget set --redis "$R" --tokens-day 100000000
until [ "$("$BIN/genq" stats --redis "$R" --queue bb --json |
    python3 -c 'import json,sys;print(json.load(sys.stdin)["succeeded"])')" -ge "$JOBS" ]; do
    sleep 0.2
done
t2=$(date +%s.%N)
alerts_end=$(redis-cli -p "$RPORT" xlen genq:alerts)

mkdir -p "$ROOT/bench/results"
python3 - "$CAP" "$spent" "$max_res" "$est" "$bound" "$alerts" "$alerts_end" \
    "$succeeded" "$queued" "$t0" "$alert_at" "$t1" "$t2" "$JOBS" \
    >"$ROOT/bench/results/budget.json" <<'EOF'
import json, sys
(cap, spent, max_res, est, bound, alerts, alerts_end, ok, queued,
 t0, ta, t1, t2, jobs) = sys.argv[1:]
print(json.dumps({
    "cap_tokens": int(cap), "spent_at_stop": int(spent),
    "overshoot_tokens": int(spent) - int(cap),
    "max_reserved_in_flight_tokens": int(max_res),
    "estimate_per_call_tokens": int(est),
    "bound_tokens": int(bound),
    "p0_alerts": int(alerts), "p0_alerts_after_resume": int(alerts_end),
    "succeeded_at_stop": int(ok), "queued_at_stop": int(queued),
    "s_to_cap": round(float(ta) - float(t0), 2),
    "s_resume_to_last_job": round(float(t2) - float(t1), 2),
    "jobs": int(jobs), "loops": 4, "concurrency": 64}, indent=1))
EOF
cat "$ROOT/bench/results/budget.json"
echo "cap $CAP tokens: spend stopped at $spent (overshoot $((spent - CAP)));" \
    "most reserved in flight $max_res; bound 4 x 64 x $est = $bound"
