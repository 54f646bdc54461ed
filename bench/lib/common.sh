# Sourced (bash) by bench/run.sh and bench/profile.sh after their options:
# cd to the repository; SRC_BIN, the binaries under test (GENQ_BENCH_BIN or
# bin/), copied to BIN=$TMP/bin first so that a rebuild during the run (the
# tree is shared) cannot mix two builds in one table; PYB and py() for
# bench/lib/bench.py; TMP (a fresh /tmp/$BENCH_TMP.XXXXXX), and pids: every
# process listed there is stopped on exit (TERM, then KILL) and TMP removed.
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SRC_BIN="${GENQ_BENCH_BIN:-$ROOT/bin}"
PYB="$ROOT/bench/lib/bench.py"
py() { python3 "$PYB" "$@"; }
TMP=$(mktemp -d "/tmp/$BENCH_TMP.XXXXXX")
pids=""

cleanup() {
    set +e
    for p in $pids; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.2
    for p in $pids; do kill -KILL "$p" 2>/dev/null; done
    for p in $pids; do wait "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

BIN="$TMP/bin"
mkdir -p "$BIN"
for b in genq genq-worker genq-mockllm; do
    [ -x "$SRC_BIN/$b" ] || { echo "$SRC_BIN/$b missing: run make first" >&2; exit 1; }
    cp -p "$SRC_BIN/$b" "$BIN/"
done
