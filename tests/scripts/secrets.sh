#!/bin/bash
# No secret in argv, logs, documents or Redis: runs genq-worker three ways
# against the test mock -- API key in GENQ_API_KEY (Anthropic x-api-key),
# --auth jwt with an HS256 secret file, --api-key-file (OpenAI bearer) --
# with --log-format json --log-level debug, over jobs that succeed, die
# (400), hit a 401 and a 500; then greps for the secrets (and the JWTs the
# mock received) in the worker's stdout/stderr, /proc/PID/cmdline while it
# runs, --print-config, `genq status/result/results/dlq --json`, and every
# key and value of the test Redis. The mock's own request log legitimately
# holds the credentials: it is only read, as proof they were sent.
# Run by tests/run.sh (GENQ_BIN, GENQ_TEST_REDIS_URL, GENQ_TEST_MOCK_URL,
# GENQ_TEST_TMP); GENQ_TEST_KEEP=1 keeps its work directory for a look.
set -euo pipefail
: "${GENQ_BIN:?run through make test (tests/run.sh)}"
: "${GENQ_TEST_REDIS_URL:?run through make test (tests/run.sh)}"
: "${GENQ_TEST_MOCK_URL:?run through make test (tests/run.sh)}"
: "${GENQ_TEST_TMP:?run through make test (tests/run.sh)}"
export PATH="/usr/bin:$PATH"
cd "$(dirname "$0")/../.."

work=$(mktemp -d "$GENQ_TEST_TMP/secrets.XXXXXX")
wpid=""
cleanup() {
    if [ -n "$wpid" ]; then
        kill -KILL "$wpid" 2>/dev/null || true
        wait "$wpid" 2>/dev/null || true
    fi
    [ -n "${GENQ_TEST_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT INT TERM
# The mock log of tests/run.sh, if there is one (only read).
mocklog="$GENQ_TEST_TMP/mock.log"

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }

# Field $1 of each JSON line on stdin ("" for null or bad JSON).
jfield() {
    /usr/bin/python3 -c '
import json, sys
for l in sys.stdin:
    try:
        v = json.loads(l).get(sys.argv[1])
    except (ValueError, AttributeError):
        v = None
    print("" if v is None else v)
' "$1"
}

rnd() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
API_KEY="sk-genq-secretscheck-env-$(rnd 16)"
FILE_KEY="sk-genq-secretscheck-file-$(rnd 16)"
JWT_SECRET="genq-secretscheck-jwt-$(rnd 24)"
umask 077
printf '%s\n' "$JWT_SECRET" >"$work/jwt.key"
printf '%s\n' "$FILE_KEY" >"$work/api.key"
ISSUER="genq-secrets-$$"

rcli() { timeout 30 redis-cli -u "$GENQ_TEST_REDIS_URL" "$@"; }
genq() { timeout 60 "$GENQ_BIN/genq" "$@" --redis "$GENQ_TEST_REDIS_URL"; }

# Worker flags of each run (the secrets themselves never go on argv).
declare -A FLAGS=(
    [env]="--provider anthropic"
    [jwt]="--provider anthropic --auth jwt --jwt-alg HS256 --jwt-key-file $work/jwt.key --jwt-issuer $ISSUER --jwt-audience llm-api"
    [file]="--provider openai --api-key-file $work/api.key"
)
COMMON="--log-format json --log-level debug --concurrency 4 --max-retries 2
    --retry-base 0.01 --retry-cap 0.05 --circuit-max 1 --visibility-timeout 20
    --drain-timeout 5 --api-base $GENQ_TEST_MOCK_URL --redis $GENQ_TEST_REDIS_URL"

# Environment of each run: GENQ_API_KEY only where it is the key's source.
worker_env() {
    local run=$1
    shift
    if [ "$run" = file ]; then
        env -u GENQ_API_KEY -u ANTHROPIC_API_KEY -u OPENAI_API_KEY -u GENQ_CONFIG "$@"
    else
        # exported, not `env GENQ_API_KEY=...`: env's own argv (read from
        # /proc/PID/cmdline before it execs the worker) would hold the key
        (export GENQ_API_KEY="$API_KEY"
            env -u ANTHROPIC_API_KEY -u OPENAI_API_KEY -u GENQ_CONFIG "$@")
    fi
}

# The same, replacing the calling (background) subshell, so that $! is the
# worker itself and killing it leaves no orphan behind.
worker_exec() {
    local run=$1
    shift
    if [ "$run" = file ]; then
        exec env -u GENQ_API_KEY -u ANTHROPIC_API_KEY -u OPENAI_API_KEY -u GENQ_CONFIG "$@"
    else
        export GENQ_API_KEY="$API_KEY" # not on env's argv (see above)
        exec env -u ANTHROPIC_API_KEY -u OPENAI_API_KEY -u GENQ_CONFIG "$@"
    fi
}

: >"$work/cmdlines"
: >"$work/outputs"
for run in env jwt file; do
    q="secrets-$$-$run"
    : >"$work/ids"
    for p in "plain one" "plain two" "dies [mock:fail=400]" \
        "auth once [mock:fail=401*1]" "flaky once [mock:fail=500*1]"; do
        if ! genq enqueue --json --queue "$q" --prompt "secrets $run $$: $p" \
            >"$work/enq" 2>&1; then
            fail "$run: cannot enqueue: $(head -c 200 "$work/enq")"
            continue 2
        fi
        jfield id <"$work/enq" >>"$work/ids"
    done

    # shellcheck disable=SC2086 # FLAGS and COMMON are word lists
    worker_exec "$run" "$GENQ_BIN/genq-worker" --queue "$q" $COMMON ${FLAGS[$run]} \
        >"$work/worker-$run.out" 2>"$work/worker-$run.err" &
    wpid=$!

    # Until every job is terminal (bounded), reading the worker's and its
    # children's command lines while they run.
    deadline=$((SECONDS + 60))
    states=""
    while [ $SECONDS -lt $deadline ]; do
        for p in $wpid $(cat /proc/"$wpid"/task/*/children 2>/dev/null); do
            if [ -r "/proc/$p/cmdline" ]; then
                { tr '\0' ' ' <"/proc/$p/cmdline"; echo; } >>"$work/cmdlines" 2>/dev/null || true
            fi
        done
        states=$(genq status --json --queue "$q" - <"$work/ids" 2>/dev/null |
            jfield state | sort | uniq -c | tr -s ' \n' ' ' | sed 's/^ //; s/ $//' || true)
        case "$states" in *queued* | *active* | *delayed* | "") ;; *) break ;; esac
        kill -0 "$wpid" 2>/dev/null || break
        sleep 0.2
    done
    kill -TERM "$wpid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$wpid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$wpid" 2>/dev/null || true
    wait "$wpid" 2>/dev/null || true
    wpid=""
    if [ "$states" = "1 dead 4 succeeded" ]; then
        pass "$run: jobs done as injected (1 dead 4 succeeded)"
    else
        fail "$run: jobs ended as: $states (expected 1 dead 4 succeeded); worker log tail:"
        tail -n 5 "$work/worker-$run.err"
    fi
    if [ -s "$work/worker-$run.err" ] && grep -q '"level":"debug"' "$work/worker-$run.err"; then
        pass "$run: worker logged at debug level ($(wc -l <"$work/worker-$run.err") lines)"
    else
        fail "$run: no debug log lines from the worker"
    fi

    # What a user sees: status, results, dead letters, and --print-config.
    {
        genq status --json --with-result --queue "$q" - <"$work/ids" || true
        genq status --queue "$q" - <"$work/ids" || true
        while read -r id; do genq result --json --queue "$q" "$id" || true; done <"$work/ids"
        genq results --json --queue "$q" --from-start --count 100 || true
        genq dlq ls --json --queue "$q" || true
        genq dlq export --json --queue "$q" || true
        # shellcheck disable=SC2086
        worker_env "$run" timeout 10 "$GENQ_BIN/genq-worker" --print-config \
            --queue "$q" $COMMON ${FLAGS[$run]} || true
    } >>"$work/outputs" 2>&1
done

# Every key and value of the test Redis, read by type in one pipeline (a
# DUMP may be compressed, so it is not enough on its own).
rcli --scan >"$work/keys" || true
quote() { sed 's/\\/\\\\/g; s/"/\\"/g; s/.*/"&"/'; }
quote <"$work/keys" | sed 's/^/TYPE /' | rcli --raw >"$work/types" || true
paste -d ' ' "$work/types" <(quote <"$work/keys") | awk '
    $1 == "string" { print "GET " $2 }
    $1 == "hash"   { print "HGETALL " $2 }
    $1 == "list"   { print "LRANGE " $2 " 0 -1" }
    $1 == "set"    { print "SMEMBERS " $2 }
    $1 == "zset"   { print "ZRANGE " $2 " 0 -1 WITHSCORES" }
    $1 == "stream" { print "XRANGE " $2 " - +" }
    { print "DUMP " $2 }' | rcli --raw >"$work/redis-values" || true
nkeys=$(wc -l <"$work/keys")
if [ "$nkeys" -gt 0 ] && grep -q "secrets env $$:" "$work/redis-values"; then
    pass "read $nkeys keys of the test Redis ($(wc -c <"$work/redis-values") bytes), this test's jobs among them"
else
    fail "could not read the test Redis ($nkeys keys)"
fi

# The JWTs the mock received from the jwt run: short-lived credentials.
secrets=("$API_KEY" "$FILE_KEY" "$JWT_SECRET")
names=("API key (GENQ_API_KEY)" "API key (--api-key-file)" "JWT secret")
if [ -r "$mocklog" ]; then
    if grep -qF "$API_KEY" "$mocklog" && grep -qF "$FILE_KEY" "$mocklog"; then
        pass "the mock received both API keys (the secrets were really used)"
    else
        fail "the mock's log lacks the API keys: were they sent?"
    fi
    mapfile -t jwts < <(/usr/bin/python3 -c '
import json, sys
for l in open(sys.argv[1], encoding="utf-8", errors="replace"):
    try:
        o = json.loads(l)
    except ValueError:
        continue
    c = o.get("jwt_claims")
    if not isinstance(c, dict) or c.get("iss") != sys.argv[2]:
        continue
    for k, v in (o.get("headers") or {}).items():
        if k.lower() == "authorization" and isinstance(v, str):
            print(v[7:] if v.startswith("Bearer ") else v)
' "$mocklog" "$ISSUER" | sort -u)
    if [ "${#jwts[@]}" -gt 0 ]; then
        pass "the mock received ${#jwts[@]} JWT(s) with iss $ISSUER"
        for t in "${jwts[@]}"; do
            secrets+=("$t")
            names+=("minted JWT ${t:0:12}...")
        done
    else
        fail "the mock received no JWT with iss $ISSUER"
    fi
else
    echo "note: no mock log at $mocklog; not checking minted JWTs"
fi

check() { # label file
    local i hit=""
    for i in "${!secrets[@]}"; do
        if grep -qaF -- "${secrets[$i]}" "$2"; then hit="$hit ${names[$i]};"; fi
    done
    if [ -z "$hit" ]; then
        pass "$1: no secret ($(wc -c <"$2") bytes)"
    else
        fail "$1: contains$hit"
    fi
}
for run in env jwt file; do
    check "worker log ($run, stderr)" "$work/worker-$run.err"
    check "worker stdout ($run)" "$work/worker-$run.out"
done
if [ -s "$work/cmdlines" ]; then
    check "/proc/PID/cmdline of the workers ($(sort -u "$work/cmdlines" | wc -l) distinct)" "$work/cmdlines"
else
    fail "could not read any worker's /proc/PID/cmdline"
fi
check "genq status/result/results/dlq output and --print-config" "$work/outputs"
check "test Redis keys" "$work/keys"
check "test Redis values" "$work/redis-values"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
