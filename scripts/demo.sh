#!/bin/sh
# make demo: the real job end to end on local defaults. Installs what is
# missing (Debian, as root), builds, starts redis-server (AOF on) and
# genq-mockllm on free loopback ports, enqueues examples/articles.jsonl,
# runs two workers, prints results and queue counts, stops what it started.
# The package list is scripts/deps.sh's (demo).
# GENQ_DEMO_REAL=1 with ANTHROPIC_API_KEY set calls the real API instead.
set -eu
cd "$(dirname "$0")/.."

sh scripts/deps.sh demo
make -s -j"$(nproc)" all

D=$(mktemp -d /tmp/genq-demo.XXXXXX)
WORKDIR=$D
. scripts/lib.sh

RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$D" --appendonly yes \
    --appendfsync everysec --save '' --logfile "$D/redis.log" &
pids="$pids $!"
until redis-cli -p "$RPORT" ping >/dev/null 2>&1; do sleep 0.05; done
export GENQ_REDIS_URL="redis://127.0.0.1:$RPORT/0"
echo "demo: redis-server on 127.0.0.1:$RPORT (AOF, appendfsync everysec)"

if [ "${GENQ_DEMO_REAL:-0}" = 1 ] && [ -n "${ANTHROPIC_API_KEY:-}" ]; then
    API_BASE=https://api.anthropic.com
    echo "demo: calling the real Anthropic API"
else
    bin/genq-mockllm --listen 127.0.0.1:0 --port-file "$D/mock.port" \
        --latency-ms 200 --tokens-per-s 400 --chunk-tokens 4 \
        --article-tokens 300 2>"$D/mock.log" &
    pids="$pids $!"
    until [ -s "$D/mock.port" ]; do sleep 0.05; done
    API_BASE="http://127.0.0.1:$(cat "$D/mock.port")"
    export GENQ_API_KEY=demo-key
    echo "demo: genq-mockllm on $API_BASE (200 ms latency, 400 tokens/s)"
fi

echo "demo: enqueueing examples/articles.jsonl"
bin/genq enqueue --json examples/articles.jsonl > "$D/enq.jsonl"
sed -n 's/.*"id":"\([^"]*\)".*/\1/p' "$D/enq.jsonl" > "$D/ids"
echo "demo: $(wc -l < "$D/ids") jobs enqueued; starting 2 workers"

for i in 1 2; do
    bin/genq-worker --api-base "$API_BASE" --concurrency 8 \
        --visibility-timeout 30 2>"$D/worker$i.log" &
    pids="$pids $!"
done

n=$(wc -l < "$D/ids")
t=0
while :; do
    bin/genq status --json - < "$D/ids" > "$D/status.jsonl" || true
    done_n=$(grep -c '"state":"\(succeeded\|dead\|canceled\)"' "$D/status.jsonl" || true)
    if [ -t 1 ]; then printf '\rdemo: %s/%s jobs finished' "$done_n" "$n";
    elif [ "$done_n" != "${last:-}" ]; then echo "demo: $done_n/$n jobs finished"; last=$done_n; fi
    [ "$done_n" -ge "$n" ] && break
    t=$((t + 1)); [ $t -gt 900 ] && { echo; echo "demo: timed out"; exit 1; }
    sleep 0.2
done
echo

for id in $(head -3 "$D/ids"); do
    echo "---- result $id (first 300 bytes)"
    bin/genq result "$id" | head -c 300; echo " …"
done
echo "---- queue stats (genq stats)"
bin/genq stats
echo "---- live workers (genq workers)"
bin/genq workers
echo "---- one result document"
bin/genq result --json "$(head -1 "$D/ids")" | cut -c1-400
echo "demo: done; stopping workers, mock and redis"
