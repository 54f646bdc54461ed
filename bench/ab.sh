#!/bin/bash
# bench/ab.sh: the same bench harness over two builds, alternating, to
# compare a change with the build before it on a noisy machine (issue 12's
# before/after). Each side's table goes to its own file; the summary lists
# the genq rows side by side.
#   bench/ab.sh BASE_BIN_DIR NEW_BIN_DIR [ROUNDS (2)] [SCENARIOS (a,b,c)]
# BASE_BIN_DIR/NEW_BIN_DIR hold genq, genq-worker and genq-mockllm, e.g. a
# `make` of the older commit in a worktree (`git worktree add`).
set -eu
[ $# -ge 2 ] || { sed -n '2,9p' "$0" >&2; exit 2; }
BASE=$1 NEW=$2 ROUNDS=${3:-2} ONLY=${4:-a,b,c}
cd "$(dirname "$0")/.."
OUT=$(mktemp -d /tmp/genq-ab.XXXXXX)
for i in $(seq 1 "$ROUNDS"); do
    for side in base new; do
        bin=$BASE; [ "$side" = new ] && bin=$NEW
        echo "== round $i $side ($bin)"
        GENQ_BENCH_BIN=$bin bash bench/run.sh --only "$ONLY" >"$OUT/$side-$i.txt" 2>&1
    done
done
echo "genq rows (jobs/s, efficiency, worker and Redis CPU µs/job, RSS MB):"
for f in "$OUT"/*.txt; do
    run=$(basename "$f" .txt)
    awk -v run="$run" '$1 ~ /^[abc]$/ && / genq  / {
        n = split($0, c, /  +/); printf "%-28s %-7s %10s %6s %8s %8s %7s\n",
        c[1] " " c[2], run, c[5], c[8], c[9], c[10], c[n] }' "$f"
done | sort -s -k1,1
echo "(tables in $OUT)"
