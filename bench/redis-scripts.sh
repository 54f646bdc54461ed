#!/bin/bash
# Redis instructions per job of each per-job script (issue 15), by callgrind
# on redis-server: bench/lib/scripts_instr.py calls enqueue.lua (its lean
# form), claim.lua, extend.lua (one heartbeat of every job) and complete.lua
# by hand, in phases, with the counters dumped after each, so each figure is
# one script's alone (bench/redis-instr.sh measures a real worker: all of
# them together). Instruction counts, so the machine's load does not move
# them, but runs differ by up to ~2k per job (hash seeds, rehash points):
# compare a change by a few runs before and after. Scripts from the source
# tree (ROOT).
#   bash bench/redis-scripts.sh [N (5000)] [BATCH (25: jobs per claim and
#   complete call, about what a no-op worker at concurrency 100 sends)]
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-5000}
B=${2:-25}
command -v valgrind >/dev/null || { echo "redis-scripts: valgrind not installed" >&2; exit 2; }
TMP=$(mktemp -d /tmp/genq-rscripts.XXXXXX)
vp=""
cleanup() {
    [ -n "$vp" ] && kill "$vp" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
P=$(python3 "$ROOT/bench/lib/bench.py" freeport)
valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.out" \
    redis-server --port "$P" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$TMP" >"$TMP/vg.log" 2>&1 &
vp=$!
for _ in $(seq 300); do redis-cli -p "$P" ping >/dev/null 2>&1 && break; sleep 0.1; done
python3 "$ROOT/bench/lib/scripts_instr.py" "$ROOT" "$P" "$vp" "$N" "$B"
total() { callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }'; }
i=0
for phase in "enqueue.lua (lean form, 200 per call)" "claim.lua" \
    "extend.lua (one heartbeat, 100 per call)" "complete.lua"; do
    i=$((i + 1))
    t=$(total "$TMP/cg.out.$i")
    echo "redis-server: $phase: $((t / N)) instructions per job"
done
echo "($N jobs, $B per claim/complete call)"
