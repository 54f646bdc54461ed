#!/bin/bash
# An idle genq-worker (empty queue, waiting on the wake channel) must stay
# under 1% CPU over 10 s. Prints the measured figure. Run by tests/run.sh.
set -euo pipefail
: "${GENQ_BIN:?run through make test}"
q="idle-$$"
GENQ_API_KEY=x "$GENQ_BIN/genq-worker" --redis "$GENQ_TEST_REDIS_URL" \
    --queue "$q" --api-base "$GENQ_TEST_MOCK_URL" 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
sleep 1
# on-CPU time in nanoseconds (schedstat), summed over the threads
ticks() { cat /proc/$1/task/*/schedstat | awk '{s += $1} END {print s}'; }
t0=$(ticks $pid); s0=$(date +%s.%N)
sleep 10
t1=$(ticks $pid); s1=$(date +%s.%N)
pct=$(awk -v a="$t0" -v b="$t1" -v s0="$s0" -v s1="$s1" \
    'BEGIN { printf "%.4f", (b - a) / 1e9 / (s1 - s0) * 100 }')
echo "idle worker CPU over $(awk -v a="$s0" -v b="$s1" 'BEGIN{printf "%.1f", b-a}') s: ${pct}% (limit 1%)"
awk -v p="$pct" 'BEGIN { exit !(p < 1.0) }'
