#!/bin/bash
# bench/dashboard.sh (make bench): genq dashboard under load.
#  1. With 100,000 dead letters (10,000 with --quick) the page is
#     interactive within 300 ms: headless /usr/bin/chromium opens it 5 times
#     (bench/dashboard.js page); interactive = the queues shown and the
#     first 100 dead letters listed, ms since navigation. Also the API alone:
#     the first dead-letter page (curl, 10 times) and a walk through every
#     page with the cursor.
#  2. 50 concurrent viewers do not move the workers' throughput: the same
#     backlog (40,000 jobs, mock at 0 ms; 10,000 with --quick) drained by one
#     worker with no viewer and with 50 simulated viewers making the page's
#     requests at its pace (bench/dashboard.js viewers), twice each,
#     alternating; jobs/s and Redis commands/s side by side.
# Starts its own redis-server and genq-mockllm (bench/ops/lib.sh); writes
# bench/results/dashboard.json. Usage: bench/dashboard.sh [--quick]
. "$(dirname "$0")/ops/lib.sh"
QUICK=0
[ "${1:-}" = --quick ] && QUICK=1
N=100000 NT=40000 VIEWERS=50
[ $QUICK = 1 ] && { N=10000; NT=10000; }
missing=""
command -v node >/dev/null || missing="$missing nodejs"
command -v npm >/dev/null || missing="$missing npm"
[ -x /usr/bin/chromium ] || missing="$missing chromium"
[ -z "$missing" ] || { echo "bench/dashboard.sh: missing:$missing (scripts/deps.sh test)"; exit 1; }
sh "$ROOT/scripts/npm-ci.sh" "$ROOT/tests/browser" "$TMP/npm.log" || exit 1
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$TMP"' EXIT
start_servers
cmds() { redis-cli -p "$REDIS_PORT" INFO stats | awk -F: '/^total_commands_processed/ { print $2 + 0 }'; }
med() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

Q=bench-dash-dlq
echo "making $N dead letters (worker against the mock, [mock:fail=400]) ..."
make_dead "$N"
"$BIN/genq" dashboard --redis "$REDIS" --listen 127.0.0.1:0 --port-file "$TMP/dash.port" \
    2>"$TMP/dash.log" &
dpid=$!
pids="$pids $dpid"
# cpu PID: CPU seconds (user + system) the process has used so far
cpu() { awk -v t="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/stat" 2>/dev/null || echo 0; }
until [ -s "$TMP/dash.port" ]; do sleep 0.05; done
URL="http://127.0.0.1:$(cat "$TMP/dash.port")"

echo "== 1. page interactive with $(stat dead) dead letters (target < 300 ms)"
node "$ROOT/bench/dashboard.js" page "$URL" "$Q" 5 | tee "$TMP/page.txt"
page_ms=$(awk '{ print $5 }' "$TMP/page.txt" | med)
page_max=$(awk '{ print $5 }' "$TMP/page.txt" | sort -n | tail -1)
for i in $(seq 10); do
    curl -s -o /dev/null -w '%{time_total}\n' "$URL/api/dlq?queue=$Q&limit=100"
done | awk '{ print $1 * 1000 }' >"$TMP/api.txt"
api_ms=$(med <"$TMP/api.txt")
t0=$(now_s)
read -r pages total < <(python3 - "$URL" "$Q" <<'PY'
import json, sys, urllib.parse, urllib.request
url, q, cur, pages, total = sys.argv[1], sys.argv[2], None, 0, 0
while True:
    a = {"queue": q, "limit": "100"}
    if cur:
        a["cursor"] = cur
    with urllib.request.urlopen(url + "/api/dlq?" + urllib.parse.urlencode(a)) as r:
        d = json.load(r)
    pages, total, cur = pages + 1, total + len(d["entries"]), d["next"]
    if not cur:
        break
print(pages, total)
PY
)
walk_s=$(awk -v a="$t0" -v b="$(now_s)" 'BEGIN { printf "%.1f", b - a }')
echo "page interactive: median ${page_ms} ms, max ${page_max} ms (5 runs)"
echo "GET /api/dlq first page of 100: median ${api_ms} ms (10 runs)"
echo "walked $total dead letters in $pages pages of 100 in ${walk_s} s"
if awk -v m="$page_max" 'BEGIN { exit !(m < 300) }'; then verdict=met; else verdict=MISSED; fi
echo "target < 300 ms: $verdict"

echo "== 2. worker throughput, no viewer vs $VIEWERS viewers ($NT jobs each, mock 0 ms)"
python3 - "$NT" >"$TMP/jobs.jsonl" <<'PY'
import sys
for i in range(int(sys.argv[1])):
    print('{"prompt":"Write article %d about Redis","max_tokens":50}' % i)
PY
rows=""
for round in 1 2 3; do
    for v in 0 $VIEWERS; do
        Q="bench-dash-tp-$round-$v"
        "$BIN/genq" enqueue "$TMP/jobs.jsonl" --batch 1000 --redis "$REDIS" --queue "$Q" 2>/dev/null
        vp=""
        if [ "$v" -gt 0 ]; then
            node "$ROOT/bench/dashboard.js" viewers "$URL" "$Q" "$v" 600 >"$TMP/viewers.txt" 2>&1 &
            vp=$!
            pids="$pids $vp"
            sleep 2
        fi
        c0=$(cmds)
        d0=$(cpu "$dpid")
        t0=$(now_s)
        GENQ_API_KEY=bench-not-secret "$BIN/genq-worker" --redis "$REDIS" --queue "$Q" \
            --api-base "$MOCK" --concurrency 200 --no-stream >"$TMP/worker.log" 2>&1 &
        w=$!
        wait_for succeeded "$NT" 600
        t1=$(now_s)
        c1=$(cmds)
        d1=$(cpu "$dpid")
        vcpu=$([ -n "$vp" ] && cpu "$vp" || echo 0)
        kill "$w"
        wait "$w" 2>/dev/null || true
        [ -n "$vp" ] && { kill "$vp" 2>/dev/null || true; wait "$vp" 2>/dev/null || true; }
        jps=$(awk -v n="$NT" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
        cps=$(awk -v c="$((c1 - c0))" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", c / (b - a) }')
        printf 'round %d, %2d viewers: %6s jobs/s, Redis %7s commands/s, dashboard CPU %s s, viewers CPU %s s over %s s\n' \
            "$round" "$v" "$jps" "$cps" "$(awk -v a="$d0" -v b="$d1" 'BEGIN { printf "%.2f", b - a }')" "$vcpu" \
            "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"
        rows="$rows$round $v $jps $cps\n"
    done
done
j0=$(printf "$rows" | awk '$2 == 0 { print $3 }' | med)
j50=$(printf "$rows" | awk -v v=$VIEWERS '$2 == v { print $3 }' | med)
echo "median jobs/s: no viewer $j0, $VIEWERS viewers $j50 ($(awk -v a="$j0" -v b="$j50" 'BEGIN { printf "%+.1f", (b - a) * 100 / a }')%)"

# the dashboard's own cost on Redis: 10 s idle (once the last viewer has
# been gone DASH_VIEW_IDLE_MS, 10 s) vs 10 s with the viewers
Q=bench-dash-dlq
sleep 12
c0=$(cmds); sleep 10; c1=$(cmds)
idle=$(((c1 - c0) / 10))
node "$ROOT/bench/dashboard.js" viewers "$URL" "$Q" "$VIEWERS" 12 >"$TMP/viewers.txt" 2>&1 &
vp=$!
sleep 2
c0=$(cmds); sleep 10; c1=$(cmds)
wait "$vp" || true
busy=$(((c1 - c0) / 10))
c0=$(cmds); "$BIN/genq" stats --json --redis "$REDIS" >/dev/null; c1=$(cmds)
one=$((c1 - c0 - 1))
echo "Redis commands/s with the dashboard: no viewer $idle, $VIEWERS viewers $busy" \
    "(one 'genq stats --json' = $one commands; $(cat "$TMP/viewers.txt"))"

mkdir -p "$ROOT/bench/results"
out="$ROOT/bench/results/dashboard.json"
[ $QUICK = 1 ] && { mkdir -p "$ROOT/bench/results/quick"; out="$ROOT/bench/results/quick/dashboard.json"; }
cat >"$out" <<EOF
{"dead_letters": $N, "page_interactive_ms_median": $page_ms, "page_interactive_ms_max": $page_max,
 "api_dlq_first_page_ms_median": $api_ms, "walk_pages": $pages, "walk_entries": $total, "walk_s": $walk_s,
 "throughput_jobs": $NT, "jobs_per_s_no_viewer": $j0, "jobs_per_s_${VIEWERS}_viewers": $j50,
 "redis_cmds_per_s_idle": $idle, "redis_cmds_per_s_${VIEWERS}_viewers": $busy, "genq_stats_cmds": $one}
EOF
echo "wrote $out"
