#!/bin/bash
# genq dashboard in a real browser: installs playwright-core with `npm ci`
# in tests/browser (pinned by its package-lock.json), then drives Debian's
# headless /usr/bin/chromium against a dashboard on the test Redis, with a
# worker against the mock (a job that dies once with 400, then succeeds)
# and a worker against tests/browser/fake-llm.js (an error text holding
# <script>): the charts render with data, the dead job is requeued from the
# page and completes, an action without the token is refused, the markup
# shows as text; and a worker whose content review flags every text (from
# fake-llm.js, Markdown holding <script>): a flagged result is approved from
# the page and reads as succeeded, the flagged text's markup shows as text
# (tests/browser/dashboard.test.js). Missing tools fail,
# naming the package (scripts/deps.sh test installs them); nothing skips.
# DASH_SHOT=FILE also saves a screenshot of the page there.
set -uo pipefail
: "${GENQ_BIN:?run through make test}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
missing=""
command -v node >/dev/null || missing="$missing nodejs"
command -v npm >/dev/null || missing="$missing npm"
[ -x /usr/bin/chromium ] || missing="$missing chromium"
[ -z "$missing" ] || {
    echo "FAIL: missing:$missing (scripts/deps.sh test installs them)"
    exit 1
}
T="$GENQ_TEST_TMP/dashboard-$$"
mkdir -p "$T"
sh "$ROOT/scripts/npm-ci.sh" "$ROOT/tests/browser" "$T/npm.log" || exit 1

RURL=$GENQ_TEST_REDIS_URL
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; wait 2>/dev/null' EXIT
q="dash-$$" qx="dashx-$$" dead="dead-$$" xss="xss-$$"
qr="dashr-$$" rok="rv-ok-$$" rxss="rv-xss-$$"
umask 077
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/token"
token=$(cat "$T/token")

# wait_file FILE WHAT: until FILE is not empty (10 s)
wait_file() {
    local i=0
    until [ -s "$1" ]; do
        i=$((i + 1))
        [ $i -gt 200 ] && { echo "FAIL: $2 did not start"; cat "$T"/*.log; exit 1; }
        sleep 0.05
    done
}
node "$ROOT/tests/browser/fake-llm.js" "$T/fake.port" 2>"$T/fake.log" &
pids="$pids $!"
"$GENQ_BIN/genq" dashboard --redis "$RURL" --listen 127.0.0.1:0 \
    --port-file "$T/dash.port" --admin-token-file "$T/token" 2>"$T/dash.log" &
pids="$pids $!"
wait_file "$T/fake.port" "fake-llm.js"
wait_file "$T/dash.port" "genq dashboard"
GENQ_API_KEY=x "$GENQ_BIN/genq-worker" --redis "$RURL" --queue "$q" \
    --api-base "$GENQ_TEST_MOCK_URL" --concurrency 20 --log-level warn 2>"$T/worker.log" &
pids="$pids $!"
GENQ_API_KEY=x "$GENQ_BIN/genq-worker" --redis "$RURL" --queue "$qx" \
    --api-base "http://127.0.0.1:$(cat "$T/fake.port")" --log-level warn 2>"$T/worker-x.log" &
pids="$pids $!"
GENQ_API_KEY=x "$GENQ_BIN/genq-worker" --redis "$RURL" --queue "$qr" \
    --api-base "http://127.0.0.1:$(cat "$T/fake.port")" --no-stream \
    --review-min-words 100000 --log-level warn 2>"$T/worker-r.log" &
pids="$pids $!"

export GENQ_REDIS_URL=$RURL
{
    echo "{\"id\":\"$dead\",\"prompt\":\"requeue me [mock:fail=400*1]\",\"max_tokens\":40}"
    for i in $(seq 1 20); do echo "{\"prompt\":\"first $i\",\"max_tokens\":30}"; done
} | "$GENQ_BIN/genq" enqueue --queue "$q" - >/dev/null || { echo "FAIL: enqueue"; exit 1; }
echo "{\"id\":\"$xss\",\"prompt\":\"markup please\",\"max_tokens\":20}" |
    "$GENQ_BIN/genq" enqueue --queue "$qx" - >/dev/null || { echo "FAIL: enqueue"; exit 1; }
printf '{"id":"%s","prompt":"[fake:markup] approve me","max_tokens":60}\n{"id":"%s","prompt":"[fake:markup] read me","max_tokens":60}\n' \
    "$rok" "$rxss" | "$GENQ_BIN/genq" enqueue --queue "$qr" - >/dev/null || { echo "FAIL: enqueue"; exit 1; }
for id in "$dead:$q:dead" "$xss:$qx:dead" "$rok:$qr:review" "$rxss:$qr:review"; do
    i=0
    want=${id##*:} id=${id%:*}
    until "$GENQ_BIN/genq" status --queue "${id#*:}" --json "${id%%:*}" | grep -q "\"state\":\"$want\""; do
        i=$((i + 1))
        [ $i -gt 200 ] && {
            echo "FAIL: ${id%%:*} not $want after 20 s: $("$GENQ_BIN/genq" status --queue "${id#*:}" "${id%%:*}")"
            exit 1
        }
        sleep 0.1
    done
done

cd "$ROOT/tests/browser" &&
    DASH_URL="http://127.0.0.1:$(cat "$T/dash.port")" TOKEN="$token" Q="$q" QX="$qx" \
        DEAD_ID="$dead" XSS_ID="$xss" QR="$qr" REVIEW_OK="$rok" REVIEW_XSS="$rxss" \
        GENQ="$GENQ_BIN/genq" SHOT="${DASH_SHOT:-}" \
        timeout 180 node dashboard.test.js
rc=$?
if [ $rc -ne 0 ]; then
    echo "--- dashboard log"; tail -n 20 "$T/dash.log"
    echo "--- worker logs"; tail -n 5 "$T/worker.log" "$T/worker-x.log" "$T/worker-r.log"
    exit 1
fi
# the API's documents validate against schemas/ (python3-jsonschema)
U="http://127.0.0.1:$(cat "$T/dash.port")"
get() { curl -fsS "$@" >"$T/doc.$n.json" 2>>"$T/curl.log" || curl -sS "$@" >"$T/doc.$n.json"; n=$((n + 1)); }
n=0
get "$U/api/queues"; get "$U/api/workers"; get "$U/api/dlq?queue=$qx"
get "$U/api/dlq/$xss?queue=$qx"; get "$U/api/jobs/$dead?queue=$q"
get "$U/api/series?queue=$q"; get "$U/api/session"; get "$U/api/dlq?queue=$q&class=bogus"
get "$U/api/limits"; get "$U/api/budget"
get -H "Authorization: Bearer $token" -H "Content-Type: application/json" \
    -d "{\"queue\":\"$qx\",\"all\":true,\"dry_run\":true}" "$U/api/dlq/requeue"
get "$U/api/review?queue=$qr&limit=1"
get -H "Authorization: Bearer $token" -H "Content-Type: application/json" \
    -d "{\"queue\":\"$qr\",\"ids\":[\"$rok\",\"nope-$$\"]}" "$U/api/review/approve"
cd "$ROOT" || exit 1
if ! /usr/bin/python3 - "$T" <<'PY'; then
import glob, json, sys
sys.path.insert(0, "tests/schemas")
from validator import make_validator
sch = {p.split("/")[-1][:-12]: json.load(open(p)) for p in glob.glob("schemas/*.schema.json")}
v = make_validator(sch.values())
names = ["api-queues", "api-workers", "api-dlq-page", "deadletter", "status",
         "api-series", "api-session", "api-error", "api-limits", "budget",
         "dlq-change", "api-review-page", "api-review-decision"]
bad = 0
for i, name in enumerate(names):
    doc = json.load(open("%s/doc.%d.json" % (sys.argv[1], i)))
    errs = list(v(sch[name]).iter_errors(doc))
    if errs or (name != "api-error" and "error" in doc and isinstance(doc, dict) and name != "deadletter"):
        bad += 1
        print("FAIL: %s document: %s" % (name, errs[0].message[:200] if errs else doc))
sys.exit(1 if bad else 0)
PY
    exit 1
fi
echo "ok: the API's documents validate against schemas/"
# the token never reaches the log
if grep -qF "$token" "$T/dash.log"; then echo "FAIL: the admin token is in the log"; exit 1; fi
echo "ok: dashboard browser tests"
