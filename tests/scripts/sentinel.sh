#!/bin/bash
# Redis Sentinel on real servers (issue 16): a master, a replica and three
# sentinels from Debian's redis-server/redis-sentinel on free loopback ports
# (tests/sentinel/lib.sh), passwords on both Redis and the sentinels. Then:
#   1. every genq command through a sentinel:// URL, bad URLs and passwords;
#   2. a forced failover (SENTINEL FAILOVER) in the middle of 2,000 jobs
#      with three workers;
#   3. the master SIGKILLed in the middle of 2,000 more (the sentinels
#      promote the replica).
# After each run chaos-check verify (tests/chaos/check.c) checks on the
# surviving master that every job ended once with one success event and its
# text intact; this script checks that all 2,000 succeeded, no lease expired
# and the workers lived through it, and prints the stall (failover start to
# the first completion after it, and the longest gap between completions)
# and the LLM calls beyond 2,000 (jobs run again). Timings are reported,
# never asserted.
#
# Durability, what the runs tolerate: Redis replicates asynchronously and
# genq sends no WAIT. A write the old master acknowledged but did not pass
# on before it was demoted or killed is lost: a finished job's outcome
# (the job is handed back by the worker's release after the reconnect, or
# its lease expires, and it runs again: an extra LLM call, still one
# success), a claim (the job is still queued on the new master; the first
# claimant's outcome is refused as stale). Both are tolerated and counted;
# a lost enqueue would not be: the jobs are enqueued and WAIT-ed onto the
# replica before the failover, so every job must end succeeded.
set -euo pipefail
: "${GENQ_BIN:?run through make test}"
cd "$(dirname "$0")/../.."
T=$(mktemp -d "$GENQ_TEST_TMP/sentinel.XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pass=0
fail=0
check() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1"; fi; }
G="$GENQ_BIN/genq"
W="$GENQ_BIN/genq-worker"
now_ms() { date +%s%3N; }

# ---- the checker (as tests/chaos/run.sh builds it) --------------------------
sh tests/chaos/build-check.sh "$T/chaos-check" ||
    { echo "sentinel: cannot build the checker"; exit 1; }

# ---- the topology and the mock ----------------------------------------------
. tests/sentinel/lib.sh
t0=$(now_ms)
snt_setup
echo "sentinel topology up in $(($(now_ms) - t0)) ms: master :$MPORT, replica :$RPORT," \
    "sentinels :${SPORTS[*]} (down-after 1000 ms, quorum 2)"
GENQ_MOCK_API_KEY=k "$GENQ_BIN/genq-mockllm" --listen 127.0.0.1:0 \
    --port-file "$T/mock.port" --latency-ms 150 2>"$T/mock.err" &
pids+=($!)
snt_wait "the mock" test -s "$T/mock.port"
MOCK="http://127.0.0.1:$(cat "$T/mock.port")"
export GENQ_API_KEY=k

# ---- 1. every command through the sentinel URL --------------------------------
export GENQ_REDIS_URL="$SURL"
q=snt-cmds
out=$(printf '%s\n' '{"id":"c1","prompt":"a"}' '{"id":"c2","prompt":"b","delay_s":3600}' |
    "$G" enqueue --queue "$q" - 2>&1) && rc=0 || rc=$?
check "enqueue through GENQ_REDIS_URL=sentinel://" '[ $rc -eq 0 ] && echo "$out" | grep -q "enqueued 2"'
succeeded() { "$G" status --queue "$q" --json "$1" | grep -q '"state":"succeeded"'; }
# noop_worker URL ID LOG: a noop worker on URL until job ID succeeded (20 s
# at most), then SIGTERM; rc is its exit status
noop_worker() {
    "$W" --redis "$1" --queue "$q" --provider noop --log-level warn 2>"$3" &
    local wp=$!
    snt_wait "job $2 by a noop worker" succeeded "$2" || true
    kill "$wp"
    wait "$wp" && rc=0 || rc=$?
}
noop_worker "$SURL" c1 "$T/cmds-worker.log"
check "a worker on sentinel:// completes a job and stops cleanly" '[ $rc -eq 0 ] && succeeded c1'
# the first sentinel of the URL hangs (SIGSTOP: it accepts connections,
# never answers): the CLI and the worker's asynchronous lookup time out on
# it and ask the next one. (The third sentinel: a stopped sentinel goes into
# TILT for 30 s once resumed, and the runs below ask the first.)
HURL="sentinel://:$RPASS@127.0.0.1:${SPORTS[2]},127.0.0.1:${SPORTS[0]}/$MASTER"
kill -STOP "${SPIDS[2]}"
echo '{"id":"h1","prompt":"a"}' | "$G" enqueue --redis "$HURL" --queue "$q" - >/dev/null 2>&1 && rc=0 || rc=$?
check "enqueue with the first sentinel hung" '[ $rc -eq 0 ]'
noop_worker "$HURL" h1 "$T/hung-worker.log"
kill -CONT "${SPIDS[2]}"
check "a worker whose first sentinel hangs completes a job (lookup timeout)" \
    '[ $rc -eq 0 ] && succeeded h1 && grep -q "no answer in 1.0 s" "$T/hung-worker.log"'
[ "$rc" -eq 0 ] || tail -5 "$T/hung-worker.log"
for c in "status c1" "result c1" "results" "stats" "queues" "dlq ls" \
    "rejected ls" "cancel c2" "pause" "resume" "workers" "budget" "limits"; do
    # shellcheck disable=SC2086
    out=$("$G" $c --redis "$SURL" --queue "$q" 2>&1) && rc=0 || rc=$?
    check "genq $c through --redis sentinel://" '[ $rc -eq 0 ]'
    [ "$rc" -eq 0 ] || echo "$out" | head -3
done
# operators: the node serving each queue is the master the sentinels name
out=$("$G" queues --redis "$SURL" --json 2>&1) && rc=0 || rc=$?
check "genq queues --json names the master as the queue's node" \
    'echo "$out" | grep -q "\"queue\":\"$q\".*\"node\":\"127.0.0.1:$MPORT\""'
check "genq stats shows a node column with the master" \
    '"$G" stats --redis "$SURL" --queue "$q" | head -1 | grep -q "node" &&
     "$G" stats --redis "$SURL" --queue "$q" | sed -n 2p | grep -q "127.0.0.1:$MPORT"'
bad=$(GENQ_SENTINEL_PASSWORD=wrong-Sx1 "$G" stats --queue "$q" 2>&1) && rc=0 || rc=$?
check "a wrong sentinel password: exit 1, AUTH failed, not shown" \
    '[ $rc -eq 1 ] && echo "$bad" | grep -q "AUTH failed" && ! echo "$bad" | grep -q wrong-Sx1'
bad=$(GENQ_SENTINEL_PASSWORD="" "$G" stats --queue "$q" 2>&1) && rc=0 || rc=$?
check "no sentinel password: exit 1, NOAUTH named" '[ $rc -eq 1 ] && echo "$bad" | grep -qi "auth"'
printf '%s\n' "$SPASS" >"$T/spw"
out=$(GENQ_SENTINEL_PASSWORD="" "$G" stats --queue "$q" \
    --redis "${SURL}?sentinel_password_file=$T/spw" 2>&1) && rc=0 || rc=$?
check "?sentinel_password_file= gives the sentinels' password" '[ $rc -eq 0 ]'
bad=$("$G" stats --queue "$q" --redis "${SURL}?sentinel_password=leak-Pp2" 2>&1) && rc=0 || rc=$?
check "?sentinel_password= refused (a secret in argv), not echoed" \
    '[ $rc -ne 0 ] && echo "$bad" | grep -q GENQ_SENTINEL_PASSWORD && ! echo "$bad" | grep -q leak-Pp2'
bad=$("$G" stats --queue "$q" --redis "${SURL/:$RPASS@/:bad-Rp3@}" 2>&1) && rc=0 || rc=$?
check "a wrong Redis password behind the sentinels: AUTH failed, not shown" \
    '[ $rc -eq 1 ] && echo "$bad" | grep -q "AUTH failed" && ! echo "$bad" | grep -q bad-Rp3'
bad=$("$G" stats --queue "$q" --redis "${SURL/$MASTER/nosuchmaster}" 2>&1) && rc=0 || rc=$?
check "an unknown master name: exit 1, named" '[ $rc -eq 1 ] && echo "$bad" | grep -q nosuchmaster'
bad=$("$W" --redis "sentinel://127.0.0.1:1/" --queue "$q" 2>&1) && rc=0 || rc=$?
check "worker: a sentinel URL without a master name is a usage error" \
    '[ $rc -eq 2 ] && echo "$bad" | grep -q "master"'
out=$("$W" --redis "$SURL" --print-config 2>&1) && rc=0 || rc=$?
check "worker --print-config masks both passwords of a sentinel URL" \
    '[ $rc -eq 0 ] && ! echo "$out" | grep -q -e "$RPASS" -e "$SPASS" && echo "$out" | grep -q "sentinel password: \*\*\*\*"'
unset GENQ_REDIS_URL

# ---- 2 and 3: failovers under load ------------------------------------------
NJOBS=2000
run() { # NAME MODE(failover|kill)
    local name=$1 mode=$2 q="snt-$1" mp newmp i wpids=() t_fail t_new ok
    python3 -c "
import json
for i in range($NJOBS):
    print(json.dumps({'id': 'chaos-%06d' % i, 'prompt': 'Sentinel $name job %d: an article on failover.' % i, 'metadata': {'n': i}}))
" >"$T/$name.jsonl"
    cut -d'"' -f4 "$T/$name.jsonl" >"$T/$name.ids"
    "$G" enqueue --redis "$SURL" --queue "$q" "$T/$name.jsonl" >/dev/null
    mp=$(snt_master_port)
    # after the first run the old master rejoins as a replica: wait for it
    snt_wait "$name: a replica online" sh -c \
        "redis-cli -p $mp -a $RPASS --no-auth-warning INFO replication | grep -q 'slave0:.*state=online'"
    check "$name: the $NJOBS jobs are on the replica before the failover (WAIT 1)" \
        '[ "$(rcli "$mp" WAIT 1 5000)" = 1 ]'
    curl -s -X POST "$MOCK/mock/reset" >/dev/null
    local mport margs
    mport=$(free_port)
    # --visibility-timeout 30: nothing expires while the switch takes less
    # than two thirds of it (README "Leases across the switch"); on the
    # loaded 2-core test machine (make test and SAN side by side) a switch
    # once took ~6.5 s, past the two thirds of 10 s, and a lease expired
    for i in 1 2 3; do
        margs=()
        [ "$i" = 1 ] && margs=(--metrics-addr "127.0.0.1:$mport")
        "$W" --redis "$SURL" --queue "$q" --api-base "$MOCK" --provider anthropic \
            --concurrency 16 --visibility-timeout 30 --log-format json \
            --log-level info "${margs[@]}" 2>"$T/$name-w$i.log" &
        wpids+=($!)
        pids+=($!)
    done
    # a `genq results --follow` of the queue through the sentinels, from its
    # first entry: the failover drops its connection (sentinels kill the
    # old master's clients; a killed master drops them), it connects again
    # to the new master and reads on from the entry it had reached
    "$G" results --redis "$SURL" --queue "$q" --follow --from-start \
        >"$T/$name.follow" 2>"$T/$name.follow.err" &
    local fpid=$!
    pids+=($fpid)
    snt_wait "$name: 600 jobs done" sh -c \
        "[ \"\$(redis-cli -p $mp -a $RPASS --no-auth-warning HGET 'genq:{$q}:stats' succeeded)\" -ge 600 ] 2>/dev/null"
    t_fail=$(now_ms)
    if [ "$mode" = failover ]; then
        scli "${SPORTS[0]}" SENTINEL FAILOVER "$MASTER" >/dev/null
    else
        kill -9 "${RPID[$mp]}"
    fi
    snt_wait "$name: the sentinels to name a new master" sh -c \
        "p=\$(redis-cli -p ${SPORTS[0]} -a $SPASS --no-auth-warning SENTINEL get-master-addr-by-name $MASTER | sed -n 2p); [ -n \"\$p\" ] && [ \"\$p\" != $mp ]"
    t_new=$(now_ms)
    newmp=$(snt_master_port)
    ok=0
    for i in $(seq 1 600); do
        [ "$(rcli "$newmp" HLEN "genq:{$q}:results" 2>/dev/null)" = "$NJOBS" ] &&
            [ "$(rcli "$newmp" ZCOUNT "genq:{$q}:leases" -inf "(+inf" 2>/dev/null)" = 0 ] && { ok=1; break; }
        sleep 0.1
    done
    check "$name: all $NJOBS results on the new master :$newmp" '[ $ok = 1 ]'
    [ $ok = 1 ] || echo "$name: results $(rcli "$newmp" HLEN "genq:{$q}:results")," \
        "leases $(rcli "$newmp" ZRANGE "genq:{$q}:leases" 0 3 WITHSCORES | tr '\n' ' ')"
    # (up to a minute: a forced failover's old master may be demoted, and
    # its clients dropped, some seconds after the switch)
    local fids=0
    for i in $(seq 1 600); do
        fids=$(grep -o '"id":"chaos-[0-9]*"' "$T/$name.follow" | sort -u | wc -l)
        [ "$fids" -ge "$NJOBS" ] && break
        sleep 0.1
    done
    check "$name: genq results --follow lived through it, connected again, printed every result" \
        'kill -0 "$fpid" 2>/dev/null && [ "$fids" = "$NJOBS" ] &&
         grep -q "connected again" "$T/$name.follow.err" ||
         { echo "  $fids results; stderr:"; sed "s/^/  /" "$T/$name.follow.err"; false; }'
    kill "$fpid" 2>/dev/null || true
    wait "$fpid" 2>/dev/null || true
    local alive=0
    for i in "${wpids[@]}"; do kill -0 "$i" 2>/dev/null && alive=$((alive + 1)); done
    check "$name: the three workers lived through it" '[ $alive = 3 ]'
    # the node shown is the new master (metrics: sampled every 5 s)
    for i in $(seq 1 100); do
        curl -s "http://127.0.0.1:$mport/metrics" >"$T/$name.metrics" || true
        grep -q "genq_queue_node{queue=\"$q\",node=\"127.0.0.1:$newmp\"} 1" \
            "$T/$name.metrics" && break
        sleep 0.1
    done
    check "$name: metrics genq_queue_node and genq workers name the new master" \
        'grep -q "genq_queue_node{queue=\"$q\",node=\"127.0.0.1:$newmp\"} 1" "$T/$name.metrics" &&
         [ "$("$G" workers --redis "$SURL" --json | grep -c "\"nodes\":{\"$q\":\"127.0.0.1:$newmp\"")" = 3 ]'
    local bad_exit=0
    for i in "${wpids[@]}"; do
        kill "$i"
        wait "$i" || bad_exit=$((bad_exit + 1))
    done
    check "$name: the workers stop cleanly on SIGTERM" '[ $bad_exit = 0 ]'
    "$G" status --redis "$SURL" --queue "$q" --json --with-result - <"$T/$name.ids" \
        >"$T/$name.status"
    "$T/chaos-check" verify --redis "$SURL" --queue "$q" --jobs "$T/$name.jsonl" \
        --status "$T/$name.status" --article-tokens 120 >"$T/$name.verify" 2>&1 &&
        rc=0 || rc=$?
    check "$name: chaos-check verify (one state, one success event, text intact)" '[ $rc = 0 ]'
    [ "$rc" = 0 ] || cat "$T/$name.verify"
    check "$name: all $NJOBS succeeded" \
        '[ "$(grep -c "\"state\":\"succeeded\"" "$T/$name.status")" = $NJOBS ]'
    local lexp
    lexp=$(rcli "$newmp" HGET "genq:{$q}:stats" lease_expired)
    check "$name: no lease expired across the switch" '[ "${lexp:-0}" = 0 ]'
    python3 - "$newmp" "$RPASS" "$q" "$t_fail" "$t_new" "$MOCK" "$name" "$NJOBS" <<'EOF'
import json, subprocess, sys, urllib.request
port, pw, q, t_fail, t_new, mock, name, njobs = sys.argv[1:]
t_fail, t_new = int(t_fail), int(t_new)
out = subprocess.run(["redis-cli", "-p", port, "-a", pw, "--no-auth-warning",
                      "--json", "XRANGE", "genq:{%s}:feed" % q, "-", "+"],
                     capture_output=True, text=True).stdout
times = []
for e in json.loads(out):
    f = e[1] if isinstance(e, list) else list(e.values())[0]
    eid = e[0] if isinstance(e, list) else list(e.keys())[0]
    if "succeeded" in (f if isinstance(f, list) else list(f.values())):
        times.append(int(eid.split("-")[0]))
times.sort()
after = [t for t in times if t > t_fail]
first = after[0] - t_fail if after else None
win = [t for t in times if t >= t_fail - 1000]
gap, at = 0, t_fail
for a, b in zip(win, win[1:]):
    if b - a > gap:
        gap, at = b - a, a
stats = json.load(urllib.request.urlopen(mock + "/mock/stats"))
calls = stats.get("requests_by_endpoint", {}).get("/v1/messages", 0)
print("%s: sentinels named the new master %d ms after the failover started;"
      " first completion after the start +%s ms; longest gap between"
      " completions %d ms (from +%d ms); LLM calls %d for %s jobs (%d run"
      " again)" % (name, t_new - t_fail, first, gap, at - t_fail, calls, njobs,
                   calls - int(njobs)))
EOF
    grep -h '"verify\|^jobs\|attempts per job\|lease expiries' "$T/$name.verify" | sed "s/^/$name: /" || true
    echo "$name: $(cat "$T/$name"-w*.log | grep -c 'reconnecting to the master') drop(s) on switch/READONLY/ROLE," \
        "$(cat "$T/$name"-w*.log | grep -c 'lease lost before the outcome') outcome(s) refused as stale," \
        "$(cat "$T/$name"-w*.log | grep -c 'handed back jobs') hand-back(s) after reconnect"
}
# SNT_ONLY=failover or =kill runs one of the two (while debugging)
if [ "${SNT_ONLY:-failover}" = failover ]; then run failover failover; fi
if [ "${SNT_ONLY:-kill}" = kill ]; then run kill kill; fi

echo "sentinel: $pass passed, $fail failed"
[ $fail -eq 0 ]
