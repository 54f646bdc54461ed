#!/bin/sh
# Test runner behind `make test`: starts a real redis-server and
# genq-mockllm on free loopback ports (never touching anything already
# running), runs the Criterion binaries given as arguments and the script
# tests, tears everything down, and prints one closing summary line.
# Environment for the tests: GENQ_TEST_REDIS_URL, GENQ_TEST_REDIS_PORT,
# GENQ_TEST_MOCK_URL, GENQ_BIN (directory of the binaries), GENQ_TEST_TMP.
# Usage: tests/run.sh [--quick] [--script FILE]... [CRITERION-BINARY]...
#   --quick        `make check`: the integration binary runs only the fast
#                  suites of QUICK_SUITES, and no script test runs
#   --script FILE  run these script tests instead of all of them
set -u
# The fast integration suites (each under ~10 s on 2 cores): `make check`.
QUICK_SUITES="${QUICK_SUITES:-cli|config|lifecycle|ops|limiter}"
quick=0
scripts=""
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1; shift ;;
    --script) scripts="$scripts $2"; shift 2 ;;
    *) break ;;
    esac
done
if [ -z "$scripts" ] && [ $quick = 0 ]; then
    scripts="tests/scripts/*.sh tests/mock-llm/smoke.sh tests/schemas/check.sh
        tests/conformance/run.sh"
fi
# Debian's python3 (with python3-jsonschema, python3-jwt) before any other
export PATH="/usr/bin:$PATH"
: "${GENQ_BIN:=bin}"
GENQ_BIN=$(cd "$GENQ_BIN" && pwd)
export GENQ_BIN
# the scripts that take the mock's path (tests/mock-llm/smoke.sh,
# tests/conformance/run.sh) test this build's, not bin/'s
: "${GENQ_MOCKLLM:=$GENQ_BIN/genq-mockllm}"
export GENQ_MOCKLLM
ROOT=$(pwd)
export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0"
TMP=$(mktemp -d /tmp/genq-test.XXXXXX)
export GENQ_TEST_TMP="$TMP"
WORKDIR=$TMP
. "$ROOT/scripts/lib.sh"

command -v redis-server >/dev/null || { echo "redis-server not found (apt-get install redis-server)"; exit 1; }

start_redis "$TMP"
export GENQ_TEST_REDIS_PORT="$RPORT"
export GENQ_TEST_REDIS_URL="redis://127.0.0.1:$RPORT/0"

"$GENQ_BIN/genq-mockllm" --listen 127.0.0.1:0 --port-file "$TMP/mock.port" \
    --log "$TMP/mock.log" 2>"$TMP/mock.err" &
pids="$pids $!"
i=0
until [ -s "$TMP/mock.port" ]; do
    i=$((i + 1)); [ $i -gt 100 ] && { echo "genq-mockllm did not start"; cat "$TMP/mock.err"; exit 1; }
    sleep 0.05
done
export GENQ_TEST_MOCK_URL="http://127.0.0.1:$(cat "$TMP/mock.port")"
echo "test redis $GENQ_TEST_REDIS_URL, mock $GENQ_TEST_MOCK_URL"

passed=0
failed=0
skipped=0
failures=""
notrun=""
record() { # name rc (77 = skipped: said so, never counted as passed)
    if [ "$2" -eq 0 ]; then passed=$((passed + 1));
    elif [ "$2" -eq 77 ]; then skipped=$((skipped + 1)); echo "SKIPPED: $1";
    else failed=$((failed + 1)); failures="$failures $1"; fi
}

for t in "$@"; do
    filter=""
    case "$quick,$t" in 1,*test-integration)
        filter="@($QUICK_SUITES)/*"
        echo "== $t --filter '$filter' (make check: the fast suites only)" ;;
    *) echo "== $t" ;;
    esac
    "$t" --jobs 2 --timeout 300 --short-filename ${filter:+--filter "$filter"}
    record "$t" $?
done

# shellcheck disable=SC2086 # the glob in $scripts is meant to expand
for s in $scripts; do
    [ -f "$s" ] || continue
    # Not run in the sanitizer build, and said so in the summary: valgrind
    # cannot run ASan binaries, and the idle CPU figure would measure the
    # sanitizers. `make test` (the plain build) runs both; CI runs both.
    case "$GENQ_BIN" in */san/*) case "$s" in *valgrind*|*idle*)
        echo "== $s: not run in the sanitizer build (make test runs it)"
        notrun="$notrun $s"; continue;; esac;; esac
    echo "== $s"
    bash "$s"
    record "$s" $?
done

echo
[ -n "$failures" ] && echo "failed:$failures"
[ -n "$notrun" ] && echo "not run in the sanitizer build (the plain make test runs them):$notrun"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
