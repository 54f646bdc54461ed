#!/bin/bash
# `genq results --follow` after losing Redis, as after a failover: it reads
# r1..r5 (feed ids 1000-1, -2, -3, -4, -6), then its connection is killed
# while the feed is replaced by a "new master's" one that lacks the last two
# it read (lost in the switch) and holds another worker's entry between
# them (1000-5, r6). It must connect again, say that the feed lacks the
# entries read after 1000-3, read on from there (r6, then r7 added later),
# print each result once, and exit after --count 7. Reading on after the
# last id it read (1000-6) would skip r6 and wait forever (the timeout).
# shellcheck disable=SC2016,SC2034 # the check strings are eval'd
set -euo pipefail
: "${GENQ_BIN:?run through make test}"
G="$GENQ_BIN/genq"
R="$GENQ_TEST_REDIS_URL"
T="${GENQ_TEST_TMP:-/tmp}/results-follow.$$"
mkdir -p "$T"
rport=$(echo "$R" | sed -n 's#.*:\([0-9]*\)/.*#\1#p')
rdb=$(echo "$R" | sed -n 's#.*/\([0-9]*\)$#\1#p')
q="rfollow-$$"
k="genq:{$q}:"
rc() { redis-cli -p "$rport" -n "${rdb:-0}" "$@"; }
pass=0; fail=0
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1"; fi; }
feed_add() { # ID JOB
    rc XADD "${k}feed" "$1" v 1 id "$2" state succeeded queue "$q" >/dev/null
}
for i in 1 2 3 4 5 6 7; do
    rc HSET "${k}results" "r$i" "{\"id\":\"r$i\",\"state\":\"succeeded\"}" >/dev/null
done
feed_add 1000-1 r1; feed_add 1000-2 r2; feed_add 1000-3 r3
feed_add 1000-4 r4; feed_add 1000-6 r5

timeout 30 "$G" results --redis "$R" --queue "$q" --follow --from-start --count 7 \
    >"$T/out" 2>"$T/err" &
fp=$!
for _ in $(seq 1 200); do
    [ -s "$T/out" ] && [ "$(wc -l <"$T/out")" -ge 5 ] && break
    sleep 0.05
done
check "the follower read the first five results" '[ "$(wc -l <"$T/out")" -eq 5 ]'
# the "new master": the feed without 1000-4 and 1000-6, with 1000-5
rc DEL "${k}feed" >/dev/null
feed_add 1000-1 r1; feed_add 1000-2 r2; feed_add 1000-3 r3; feed_add 1000-5 r6
# the follower's connection (blocked in XREAD) dropped
for _ in $(seq 1 100); do
    id=$(rc CLIENT LIST | awk '/cmd=xread/ { sub("id=", "", $1); print $1; exit }')
    [ -n "$id" ] && break
    sleep 0.05
done
rc CLIENT KILL ID "$id" >/dev/null
for _ in $(seq 1 100); do grep -q "connected again" "$T/err" && break; sleep 0.05; done
feed_add 1000-7 r7
wait "$fp" && frc=0 || frc=$?
check "it connected again and exited 0 after 7 results" \
    '[ $frc -eq 0 ] && grep -q "connected again" "$T/err" || { cat "$T/err"; false; }'
check "it said where the feeds part and read on from there" \
    'grep -q "lacks the entries read after 1000-3" "$T/err"'
check "each result once, in feed order: r1..r5, then r6, r7" \
    '[ "$(grep -o "\"id\":\"r[0-9]\"" "$T/out" | tr -d "\"" | sed "s/id://" | tr "\n" " ")" = "r1 r2 r3 r4 r5 r6 r7 " ]'

rc DEL "${k}feed" "${k}results" >/dev/null
rm -rf "$T"
echo "results-follow: $pass passed, $fail failed"
[ $fail -eq 0 ]
