#!/bin/bash
# /metrics of a real worker after real work (successes, retries, a dead
# job) passes `promtool check metrics` (Debian's prometheus package), and its
# counters say what happened. With --processes 2 each child serves its own
# port (base + index).
set -euo pipefail
: "${GENQ_BIN:?run through make test}"
PROMTOOL=$(command -v promtool || true)
[ -n "$PROMTOOL" ] || { echo "FAIL: promtool not installed (apt-get install prometheus; make test installs it)"; exit 1; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# a base port whose next one is free too (a pool child i listens on base + i;
# base + 1 of a random free port can be taken, e.g. by an outgoing connection)
free_port_pair() {
    /usr/bin/python3 -c '
import socket
for _ in range(200):
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", p + 1))
    except OSError:
        a.close(); b.close(); continue
    a.close(); b.close(); print(p); break'
}
q="metrics-$$"
G="$GENQ_BIN/genq"
R="$GENQ_TEST_REDIS_URL"
pass=0; fail=0
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1"; fi; }

{
    for i in $(seq 1 30); do printf '{"id":"m-%d","prompt":"metrics %d","max_tokens":40}\n' "$i" "$i"; done
    printf '{"id":"m-dead","prompt":"gone [mock:fail=400]"}\n'
    printf '{"id":"m-retry","prompt":"flaky %s [mock:fail=500*1]","max_tokens":40}\n' "$$"
} | "$G" enqueue --redis "$R" --queue "$q" - 2>/dev/null
# the inbox intake: a duplicate of m-1 (admitted, not run again) and a bad entry
rport=$(echo "$R" | sed -n 's#.*:\([0-9]*\)/.*#\1#p')
redis-cli -p "$rport" LPUSH "genq:{$q}:inbox" '{"id":"m-1","prompt":"metrics 1","max_tokens":40}' '{"prompt":5}' >/dev/null

port=$(free_port)
GENQ_API_KEY=x "$GENQ_BIN/genq-worker" --redis "$R" --queue "$q" \
    --api-base "$GENQ_TEST_MOCK_URL" --metrics-addr "127.0.0.1:$port" \
    --retry-base 0.01 --log-level warn 2>"$GENQ_TEST_TMP/metrics-worker.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for t in $(seq 1 100); do
    n=$("$G" status --redis "$R" --queue "$q" --json m-dead m-retry $(seq -f 'm-%g' 1 30) 2>/dev/null \
        | grep -c '"state":"\(succeeded\|dead\)"' || true)
    [ "$n" -ge 32 ] && break
    sleep 0.1
done
# the depth gauges are sampled every fifth maintenance tick (worker/depth.c):
# wait for the sample that sees the dead job instead of a fixed sleep
for t in $(seq 1 150); do
    curl -fsS "http://127.0.0.1:$port/metrics" > "$GENQ_TEST_TMP/metrics.txt" || true
    grep -q "genq_queue_jobs{queue=\"$q\",state=\"dead\"} 1" "$GENQ_TEST_TMP/metrics.txt" && break
    sleep 0.1
done
out=$("$PROMTOOL" check metrics < "$GENQ_TEST_TMP/metrics.txt" 2>&1) && rc=0 || rc=$?
check "promtool check metrics passes ($out)" '[ $rc -eq 0 ]'
M="$GENQ_TEST_TMP/metrics.txt"
check "31 jobs succeeded" "grep -q 'genq_jobs_total{queue=\"$q\",outcome=\"succeeded\"} 31' $M"
check "1 job dead" "grep -q 'genq_jobs_total{queue=\"$q\",outcome=\"dead\"} 1' $M"
check "a 400 counted as permanent" "grep -q 'genq_api_requests_total{status=\"400\",class=\"permanent\"} 1' $M"
check "a 500 counted as retryable" "grep -q 'genq_api_requests_total{status=\"500\",class=\"retryable\"} 1' $M"
check "one in-attempt retry" "grep -q '^genq_api_retries_total 1$' $M"
reqs=$(awk '/^genq_api_requests_total/ {s += $2} END {print s}' $M)
check "one latency sample per API call ($reqs)" "grep -q '^genq_api_request_duration_seconds_count $reqs\$' $M"
check "ttft histogram" "grep -q '^genq_api_time_to_first_token_seconds_count' $M"
check "tokens" "grep -q 'genq_tokens_total{direction=\"output\"}' $M"
check "dead set depth sampled" "grep -q 'genq_queue_jobs{queue=\"$q\",state=\"dead\"} 1' $M"
check "redis up" "grep -q '^genq_redis_up 1$' $M"
check "inbox: one entry admitted" "grep -q 'genq_inbox_entries_total{queue=\"$q\",result=\"admitted\"} 1' $M"
check "inbox: one entry rejected" "grep -q 'genq_inbox_entries_total{queue=\"$q\",result=\"rejected\"} 1' $M"
check "a P2 alert" "grep -q 'genq_alerts_total{level=\"P2\"} 1' $M"
check "healthz" "curl -fsS http://127.0.0.1:$port/healthz | grep -q ok"
kill $pid; wait $pid || true

# a pool: child i on base port + i
port=$(free_port_pair)
GENQ_API_KEY=x "$GENQ_BIN/genq-worker" --redis "$R" --queue "$q" --processes 2 \
    --api-base "$GENQ_TEST_MOCK_URL" --metrics-addr "127.0.0.1:$port" \
    --log-level warn 2>>"$GENQ_TEST_TMP/metrics-worker.log" &
pid=$!
ok0=0; ok1=0
# up to 20 s: sanitizer builds start slowly; a child that never binds fails
for t in $(seq 1 200); do
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && ok0=1
    curl -fsS "http://127.0.0.1:$((port + 1))/healthz" >/dev/null 2>&1 && ok1=1
    [ $ok0 -eq 1 ] && [ $ok1 -eq 1 ] && break
    sleep 0.1
done
check "pool child 0 serves on the base port" '[ $ok0 -eq 1 ]'
check "pool child 1 serves on base + 1" '[ $ok1 -eq 1 ]'
kill $pid; wait $pid || true
echo "metrics: $pass passed, $fail failed"
[ $fail -eq 0 ]
