#!/bin/bash
# The no-op lifecycle on Redis Cluster (issue 16), 1 shard against 3 shards
# in one run, behind `make bench` (after bench/run.sh):
#
#   bench/cluster.sh [--quick] [--jobs N] [--workers W]
#
# Each setup is a fresh cluster of Debian's redis-server on loopback ports
# (no persistence, `redis-cli --cluster create`, no replicas): 1 master
# holding all 16384 slots, then 3 masters. The same six queues (two on each
# master of the 3-shard cluster: cq0 cq4, cq1 cq737, cq2 cq3), N jobs spread
# evenly, enqueued first through redis-cluster://; then W genq-worker
# processes (--provider noop, --concurrency 100, all six queues each) drain
# the backlog.
#  - jobs/s = N / (time from the workers' start to the last success seen by
#    polling `genq queues`, every 0.1 s);
#  - worker CPU per job (utime + stime of the workers over all N jobs) and
#    the machine's busy cores during the drain (/proc/stat, every process:
#    the bench shares the machine with whatever else runs);
#  - Redis CPU per job per shard = the growth of INFO cpu (used_cpu_sys +
#    used_cpu_user) of that master during the drain, over the jobs of the
#    queues it serves (the enqueue is not counted).
# Prints a table and writes bench/results/cluster.json.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -eu
N=60000 WORKERS=2
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) N=12000 ;;
    --jobs) N="$2"; shift ;;
    --workers) WORKERS="$2"; shift ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "usage: bench/cluster.sh [--quick] [--jobs N] [--workers W]" >&2; exit 2 ;;
    esac
    shift
done
BENCH_TMP=genq-bench-cluster
# shellcheck source=bench/lib/common.sh
. "$(dirname "$0")/lib/common.sh"
# shellcheck source=scripts/redis-cluster.sh
. "$ROOT/scripts/redis-cluster.sh"
QUEUES="cq0 cq4 cq1 cq737 cq2 cq3"
PER=$((N / 6))
N=$((PER * 6))
for q in $QUEUES; do
    python3 - "$q" "$PER" >"$TMP/$q.jsonl" <<'PY'
import sys
q, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    print('{"id":"%s-%d","prompt":"p %d","max_tokens":8}' % (q, i, i))
PY
done
# CPU seconds of process $1 (utime + stime) added to $2
proc_cpu() { awk -v add="$2" -v hz="$(getconf CLK_TCK)" \
    '{print add + ($14 + $15) / hz}' "/proc/$1/stat" 2>/dev/null || echo "$2"; }
# CPU seconds the whole machine has been busy (every process, every core)
busy_s() { awk -v hz="$(getconf CLK_TCK)" \
    '/^cpu / {print ($2 + $3 + $4 + $7 + $8) / hz}' /proc/stat; }
cpu_of() { redis-cli -p "$1" info cpu | tr -d '\r' |
    awk -F: '/^used_cpu_(sys|user):/ {s += $2} END {printf "%.6f\n", s}'; }
done_total() {
    "$BIN/genq" queues --redis "$CURL" --json |
        sed -n 's/.*"succeeded":\([0-9]*\).*/\1/p' | awk '{s += $1} END {print s + 0}'
}

run() { # shards
    local shards=$1 dir="$TMP/s$1" q p t0 t1 i
    mkdir -p "$dir"
    start_cluster "$dir" "$shards"
    for q in $QUEUES; do
        "$BIN/genq" enqueue --redis "$CURL" --queue "$q" "$TMP/$q.jsonl" >/dev/null 2>&1
    done
    declare -A cpu0
    for p in $CPORTS; do cpu0[$p]=$(cpu_of "$p"); done
    local wp=""
    qargs=""
    for q in $QUEUES; do qargs="$qargs --queue $q"; done
    t0=$(date +%s.%N)
    local busy0
    busy0=$(busy_s)
    for i in $(seq 1 "$WORKERS"); do
        # shellcheck disable=SC2086 # one word per option
        "$BIN/genq-worker" --redis "$CURL" $qargs --provider noop \
            --concurrency 100 --log-level error 2>>"$dir/worker.err" &
        wp="$wp $!"
        pids="$pids $!"
    done
    i=0
    until [ "$(done_total)" -ge "$N" ]; do
        i=$((i + 1))
        [ $i -gt 6000 ] && { echo "timeout: $(done_total) of $N done" >&2; exit 1; }
        sleep 0.1
    done
    t1=$(date +%s.%N)
    local wcpu=0 busy1
    busy1=$(busy_s)
    for p in $wp; do wcpu=$(proc_cpu "$p" "$wcpu"); done
    for p in $wp; do kill "$p" 2>/dev/null || true; done
    for p in $wp; do wait "$p" 2>/dev/null || true; done
    # per shard: its CPU growth and the jobs of the queues it serves
    local per="" node
    for p in $CPORTS; do
        local jobs=0
        for q in $QUEUES; do
            node=$("$BIN/genq" queues --redis "$CURL" --json |
                sed -n "s/.*\"queue\":\"$q\".*\"node\":\"127.0.0.1:\([0-9]*\)\".*/\1/p")
            [ "$node" = "$p" ] && jobs=$((jobs + PER))
        done
        per="$per $p:$jobs:$(cpu_of "$p"):${cpu0[$p]}"
    done
    python3 - "$shards" "$N" "$t0" "$t1" "$per" "$wcpu" "$busy0" "$busy1" >>"$TMP/rows.jsonl" <<'PY'
import json, os, sys
shards, n, t0, t1, per = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5].split()
wcpu, busy = float(sys.argv[6]), float(sys.argv[8]) - float(sys.argv[7])
rows = []
for e in per:
    port, jobs, c1, c0 = e.split(":")
    cpu = float(c1) - float(c0)
    rows.append({"port": int(port), "jobs": int(jobs), "redis_cpu_s": round(cpu, 3),
                 "redis_cpu_us_per_job": round(cpu / int(jobs) * 1e6, 1) if int(jobs) else None})
print(json.dumps({"shards": shards, "jobs": n, "seconds": round(t1 - t0, 3),
                  "jobs_per_s": round(n / (t1 - t0)),
                  "worker_cpu_us_per_job": round(wcpu / n * 1e6, 1),
                  "machine_busy_cores": round(busy / (t1 - t0), 2),
                  "per_shard": rows}))
PY
    # stop this cluster before the next one
    for p in $CPORTS; do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done
}

echo "cluster bench: $N no-op jobs over 6 queues, $WORKERS workers x c=100, $(nproc) cores"
run 1
run 3
python3 - "$TMP/rows.jsonl" "$ROOT/bench/results/cluster.json" "$N" "$WORKERS" <<'PY'
import json, sys, os, time
rows = [json.loads(l) for l in open(sys.argv[1])]
print("%-8s %8s %9s %12s %10s  %s" % ("shards", "jobs/s", "seconds", "worker us/job",
      "busy cores", "Redis CPU per job, per shard (us)"))
for r in rows:
    print("%-8d %8d %9.2f %12.1f %10.2f  %s" % (r["shards"], r["jobs_per_s"], r["seconds"],
          r["worker_cpu_us_per_job"], r["machine_busy_cores"],
          "  ".join("%.1f (%d jobs)" % (s["redis_cpu_us_per_job"], s["jobs"])
                    for s in r["per_shard"] if s["jobs"])))
doc = {"scenario": "cluster", "jobs": int(sys.argv[3]), "workers": int(sys.argv[4]),
       "concurrency": 100, "provider": "noop", "cores": os.cpu_count(),
       "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "runs": rows}
with open(sys.argv[2], "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
PY
