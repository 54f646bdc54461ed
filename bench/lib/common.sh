# Sourced (bash) by bench/run.sh and bench/profile.sh after their options:
# cd to the repository; SRC_BIN, the binaries under test (GENQ_BENCH_BIN or
# bin/), copied to BIN=$TMP/bin first so that a rebuild during the run (the
# tree is shared) cannot mix two builds in one table; PYB and py() for
# bench/lib/bench.py; TMP (a fresh /tmp/$BENCH_TMP.XXXXXX), and pids: every
# process listed there is stopped on exit (TERM, then KILL) and TMP removed.
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# want SCENARIO: whether --only (ONLY, comma-separated) names it
want() { case ",${ONLY:-}," in *",$1,"*) return 0 ;; esac; return 1; }
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

# bullmq_install: BullMQ from npm (`npm ci`, bench/peers/bullmq) into
# BQ=$TMP/bullmq. Sets BULL=1 and BULLMQ_VERSION, IOREDIS_VERSION; or
# BULL=0 and SKIP_WHY (printed as "SKIP bullmq: ...") when node/npm are
# missing, the registry is unreachable or BENCH_NO_PEER is set. Needs log().
bullmq_install() {
    BULL=1
    BQ="$TMP/bullmq"
    SKIP_WHY=""
    if [ -n "${BENCH_NO_PEER:-}" ]; then
        SKIP_WHY="BENCH_NO_PEER is set"
    elif ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        SKIP_WHY="node/npm not installed (apt-get install nodejs npm)"
    elif [ "$(node -e 'console.log(typeof fetch === "function" ? 1 : 0)')" != 1 ]; then
        SKIP_WHY="this node ($(node --version)) has no built-in fetch (need >= 18)"
    else
        mkdir -p "$BQ"
        cp bench/peers/bullmq/package.json bench/peers/bullmq/package-lock.json \
            bench/peers/bullmq/*.js "$BQ/"
        log "npm ci bullmq into $BQ"
        if ! (cd "$BQ" && timeout 240 npm ci --no-audit --no-fund --ignore-scripts \
            --loglevel=error >"$TMP/npm.log" 2>&1); then
            SKIP_WHY="npm ci failed: $(tail -n 3 "$TMP/npm.log" | tr '\n' ' ')"
        fi
    fi
    if [ -n "$SKIP_WHY" ]; then
        BULL=0
        echo "SKIP bullmq: $SKIP_WHY"
    else
        BULLMQ_VERSION=$(node -p "require('$BQ/node_modules/bullmq/package.json').version")
        IOREDIS_VERSION=$(node -p "require('$BQ/node_modules/ioredis/package.json').version")
        log "bullmq $BULLMQ_VERSION, ioredis $IOREDIS_VERSION, node $(node --version)"
    fi
}
