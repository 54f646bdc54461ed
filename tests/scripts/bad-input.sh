#!/bin/bash
# The bad-input corpus through the real CLI: for every tests/bad-input/*.jsonl
# (plus the generated huge-prompt.jsonl) `genq enqueue --json` against the
# test Redis must reject exactly the lines and fields of expected.txt, exit 1
# and leave the queue byte-for-byte as it was; an empty file exits 1 with
# "no jobs"; the file's good lines alone enqueue exactly those lines.
# Run by tests/run.sh (GENQ_BIN, GENQ_TEST_REDIS_URL, GENQ_TEST_TMP).
set -euo pipefail
: "${GENQ_BIN:?run through make test (tests/run.sh)}"
: "${GENQ_TEST_REDIS_URL:?run through make test (tests/run.sh)}"
: "${GENQ_TEST_TMP:?run through make test (tests/run.sh)}"
export PATH="/usr/bin:$PATH"
cd "$(dirname "$0")/../.."

dir=tests/bad-input
work=$(mktemp -d "$GENQ_TEST_TMP/bad-input.XXXXXX")
trap 'rm -rf "$work"' EXIT
sh "$dir/gen.sh" "$work"

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }

rcli() { timeout 30 redis-cli -u "$GENQ_TEST_REDIS_URL" "$@"; }
genq() { timeout 120 "$GENQ_BIN/genq" "$@" --redis "$GENQ_TEST_REDIS_URL"; }

# The jobs stored in queue $1: its jobs hash's fields and the inline jobs
# of its ready lists (common/meta.h: the bulk path of `genq enqueue`).
stored() {
    rcli EVAL "local n = redis.call('HLEN', KEYS[1])
for i = 2, 4 do
  for _, e in ipairs(redis.call('LRANGE', KEYS[i], 0, -1)) do
    if string.byte(e, 1) == 64 then n = n + 1 end
  end
end
return n" 4 "genq:{$1}:jobs" "genq:{$1}:ready:high" "genq:{$1}:ready" \
        "genq:{$1}:ready:low"
}

# Every key of queue $1 with a digest of its DUMP, sorted: equal snapshots
# mean the queue was not touched.
snapshot() {
    local k
    rcli --scan --pattern "genq:{$1}:*" | sort | while IFS= read -r k; do
        printf '%s %s\n' "$k" "$(rcli --raw DUMP "$k" | sha1sum | cut -c1-40)"
    done
}

# "LINE RESULT" rows of expected.txt for file $1, sorted.
expected_rows() {
    awk -v f="$1" '$1 == f { print $2, $3 }' "$dir/expected.txt" | sort
}

# "LINE RESULT" rows from genq's --json output $1 ("-" for an empty field,
# "ok" for valid/enqueued lines), sorted; statuses other than $2 and
# "rejected" are reported as "LINE status:<status>".
actual_rows() {
    /usr/bin/python3 -c '
import json, sys
for l in open(sys.argv[1], encoding="utf-8", errors="replace"):
    try:
        o = json.loads(l)
    except ValueError:
        print("not-json:", l.strip()[:60])
        continue
    st = o.get("status")
    if st == "rejected":
        print(o.get("line"), (o.get("error") or {}).get("field") or "-")
    elif st == sys.argv[2]:
        print(o.get("line"), "ok")
    else:
        print(o.get("line"), "status:%s" % st)
' "$1" "$2" | sort
}

# Field $1 of each JSON line on stdin ("" for null or bad JSON); with a
# second argument, only of the lines whose "status" is $2.
jfield() {
    /usr/bin/python3 -c '
import json, sys
for l in sys.stdin:
    try:
        o = json.loads(l)
    except ValueError:
        print("")
        continue
    if len(sys.argv) < 3 or o.get("status") == sys.argv[2]:
        v = o.get(sys.argv[1])
        print("" if v is None else v)
' "$@"
}

n=0
for f in "$dir"/*.jsonl "$work/huge-prompt.jsonl"; do
    name=$(basename "$f")
    n=$((n + 1))
    q="badinput-$$-$n"
    nbad=0
    want=$(expected_rows "$name")
    if [ -z "$want" ]; then
        fail "$name: no rows in expected.txt"
        continue
    fi

    # A sentinel job first, so "the queue is left intact" means something.
    if ! genq enqueue --queue "$q" --prompt "sentinel for $name" >/dev/null 2>"$work/err"; then
        fail "$name: could not enqueue the sentinel: $(cat "$work/err")"
        continue
    fi
    before=$(snapshot "$q")

    rc=0
    genq enqueue --json --templates templates --queue "$q" "$f" \
        >"$work/out" 2>"$work/err" || rc=$?

    if [ "$want" = "- none" ]; then
        if [ "$rc" -eq 1 ] && grep -q "no jobs" "$work/err" && [ ! -s "$work/out" ]; then
            pass "$name: exit 1, \"$(head -c 80 "$work/err" | head -n 1)\""
        else
            fail "$name: expected exit 1 and \"no jobs\", got exit $rc: $(head -c 300 "$work/err")"
        fi
    else
        nbad=$(grep -vc ' ok$' <<<"$want" || true)
        ngood=$(grep -c ' ok$' <<<"$want" || true)
        if [ "$nbad" -gt 0 ]; then
            got=$(actual_rows "$work/out" valid)
            wrc=1
        else
            got=$(actual_rows "$work/out" enqueued)
            wrc=0
        fi
        if [ "$rc" -ne "$wrc" ]; then
            fail "$name: exit $rc, expected $wrc: $(head -c 300 "$work/err")"
        elif [ "$got" != "$want" ]; then
            fail "$name: verdicts differ (expected < > got):"
            diff <(echo "$want") <(echo "$got") | grep '^[<>]' | head -n 20
        else
            pass "$name: exit $rc, $nbad rejected with line and field, $ngood valid"
        fi
    fi

    # Rejected (or empty) input: nothing enqueued, the queue untouched.
    if [ "$want" = "- none" ] || [ "${nbad:-1}" -gt 0 ]; then
        after=$(snapshot "$q")
        meta=$(stored "$q")
        if [ "$before" = "$after" ] && [ "$meta" = 1 ]; then
            pass "$name: queue intact ($(wc -l <<<"$after") keys unchanged, 1 job)"
        else
            fail "$name: queue changed (jobs now $meta):"
            diff <(echo "$before") <(echo "$after") | head -n 10
        fi
    fi

    # The file's good lines alone: exit 0, each one enqueued, exactly
    # those jobs in a fresh queue, each known to `genq status`.
    goodlines=$(awk '$2 == "ok" { print $1 }' <<<"$want" | tr '\n' ' ')
    [ -n "$goodlines" ] || continue
    q2="$q-good"
    awk -v keep=" $goodlines" 'index(keep, " " FNR " ")' "$f" >"$work/good.jsonl"
    ngood=$(wc -w <<<"$goodlines")
    rc=0
    genq enqueue --json --templates templates --queue "$q2" "$work/good.jsonl" \
        >"$work/out" 2>"$work/err" || rc=$?
    nenq=$(jfield id enqueued <"$work/out" | tee "$work/ids" | wc -l)
    meta=$(stored "$q2")
    states=$(genq status --json --queue "$q2" - <"$work/ids" |
        jfield state | sort | uniq -c | tr -s ' \n' ' ' | sed 's/ $//' || true)
    if [ "$rc" -eq 0 ] && [ "$nenq" -eq "$ngood" ] && [ "$meta" -eq "$ngood" ] &&
        ! grep -q unknown <<<"$states"; then
        pass "$name: its $ngood good lines alone: exit 0, $nenq enqueued, states:$states"
    else
        fail "$name: good lines: exit $rc, enqueued $nenq of $ngood, $meta jobs in the queue, states:$states $(head -c 300 "$work/err")"
    fi
done

# Every file named in expected.txt exists (or is the generated one).
while read -r name; do
    if [ ! -f "$dir/$name" ] && [ "$name" != huge-prompt.jsonl ]; then
        fail "expected.txt names $name, which does not exist"
    fi
done < <(awk '!/^#/ && NF { print $1 }' "$dir/expected.txt" | sort -u)

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
