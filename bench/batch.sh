#!/bin/bash
# Batch mode at scale (issue 14): N jobs (default 50,000) through provider
# batches of --batch-size (default 10,000) against genq-mockllm's Message
# Batches (or OpenAI files + batches) with --batch-latency-s 1. Not part of
# `make bench`; run `bash bench/batch.sh [--jobs N] [--size S] [--provider
# anthropic|openai]` (~15 s on 2 cores). Reports: batches created (the
# mock's log), wall time from the worker's start to the last job settled,
# the Redis CPU and commands per job over that time, Redis memory at the
# end, and writes bench/results/batch.json.
# Starts its own redis-server (no persistence) and mock on free loopback
# ports; every process started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
N=50000
SIZE=10000
PROVIDER=anthropic
while [ $# -gt 0 ]; do
    case $1 in
    --jobs) N=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --provider) PROVIDER=$2; shift 2 ;;
    *) echo "usage: bench/batch.sh [--jobs N] [--size S] [--provider P]" >&2; exit 2 ;;
    esac
done
BIN=${GENQ_BIN:-bin}
tmp=$(mktemp -d /tmp/genq-bench-batch.XXXXXX)
pids=""
cleanup() {
    local p
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$tmp" --logfile "$tmp/redis.log" &
pids="$pids $!"
for _ in $(seq 1 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.05; done
R="redis://127.0.0.1:$rport/0"
"$BIN/genq-mockllm" --listen 127.0.0.1:0 --port-file "$tmp/mock.port" \
    --batch-latency-s 1 --log "$tmp/mock.log" 2>"$tmp/mock.err" &
pids="$pids $!"
for _ in $(seq 1 100); do [ -s "$tmp/mock.port" ] && break; sleep 0.05; done
q=bench-batch
python3 -c "
for i in range($N):
    print('{\"prompt\":\"scale note %d\",\"max_tokens\":16}' % i)" >"$tmp/jobs.jsonl"
"$BIN/genq" enqueue --redis "$R" --queue "$q" --file "$tmp/jobs.jsonl" >/dev/null
cpu() { redis-cli -p "$rport" info cpu | awk -F: '/used_cpu_(sys|user):/ {s += $2} END {printf "%.3f", s}'; }
cmds() { redis-cli -p "$rport" info commandstats | sed -n 's/^cmdstat_[^:]*:calls=\([0-9]*\),.*/\1/p' | awk '{s += $1} END {print s}'; }
cpu0=$(cpu)
cmd0=$(cmds)
t0=$(date +%s.%N)
GENQ_API_KEY=bench "$BIN/genq-worker" --redis "$R" --queue "$q" --batch-queue "$q" \
    --provider "$PROVIDER" --model m1 --batch-size "$SIZE" --batch-wait 2 \
    --batch-poll 0.5 --batch-poll-max 1 --concurrency 500 --claim-batch 500 \
    --api-base "http://127.0.0.1:$(cat "$tmp/mock.port")" 2>"$tmp/worker.log" &
w=$!
pids="$pids $w"
done_n=0
for _ in $(seq 1 3000); do
    done_n=$(redis-cli -p "$rport" HGET "genq:{$q}:stats" succeeded)
    [ "${done_n:-0}" -ge "$N" ] && break
    sleep 0.1
done
t1=$(date +%s.%N)
kill "$w"
wait "$w" 2>/dev/null || true
cpu1=$(cpu)
cmd1=$(cmds)
made=$(grep -c '"event":"batch_created"' "$tmp/mock.log" || true)
mem=$(redis-cli -p "$rport" info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
python3 - "$N" "${done_n:-0}" "$made" "$t0" "$t1" "$cpu0" "$cpu1" "$cmd0" "$cmd1" "$mem" "$SIZE" "$PROVIDER" <<'EOF'
import json, sys
n, ok, made = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
t0, t1, c0, c1 = (float(x) for x in sys.argv[4:8])
k0, k1, mem, size, prov = int(sys.argv[8]), int(sys.argv[9]), int(sys.argv[10]), int(sys.argv[11]), sys.argv[12]
r = {"jobs": n, "succeeded": ok, "batch_size": size, "provider": prov,
     "batches_created": made, "mock_batch_latency_s": 1,
     "wall_s": round(t1 - t0, 2),
     "redis_cpu_us_per_job": round((c1 - c0) * 1e6 / n, 1),
     "redis_commands_per_job": round((k1 - k0) / n, 2),
     "redis_used_memory_mb": round(mem / 1e6, 1)}
print(json.dumps(r))
with open("bench/results/batch.json", "w") as f:
    json.dump(r, f, indent=2)
    f.write("\n")
sys.exit(0 if ok == n else 1)
EOF
