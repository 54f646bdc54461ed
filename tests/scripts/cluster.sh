#!/bin/bash
# Redis Cluster on real servers (issue 16): three masters on free loopback
# ports (Debian's redis-server, `redis-cli --cluster create`), six queues
# spread over the three shards, 6,000 jobs, two workers serving all six
# queues against a mock API with 25 ms latency. While jobs flow, the 64
# slots that hold one busy queue (cq737, slot 5512) move to another master
# with `redis-cli --cluster reshard`: every job ends succeeded exactly once
# (one success each in its queue's feed, nothing dead), the workers followed
# MOVED, and genq shows the node now serving each queue. Then a migration
# held open by hand (deterministic where the reshard is a race): 300 more
# jobs of one queue run while its slot is MIGRATING, then split (keys
# moved, slot not yet), and every one succeeds once. Plus the errors of
# bad redis-cluster:// URLs. A failed job check prints each missing job's
# state (GENQ_TEST_KEEP=DIR keeps the temp dir). Wake-ups go by sharded pub/sub (Redis >= 7):
# each worker SSUBSCRIBEs a queue's wake channel on the master serving it,
# the scripts SPUBLISH there, nothing is PUBLISHed (a broadcast to every
# node), and the subscription follows the slot through the reshard; a node
# without SSUBSCRIBE gets a SUBSCRIBE instead. About 45 s.
# shellcheck disable=SC2034 # P2, ok, r, q2, out, rc: read in check's eval strings
set -euo pipefail
: "${GENQ_BIN:?run through make test}"
WORKDIR=$(mktemp -d "$GENQ_TEST_TMP/cluster.XXXXXX")
. scripts/lib.sh
. scripts/redis-cluster.sh
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1"; fi; }
# After a failed check of the jobs (cleanup deletes $T): each job $2N
# (N = 1..$3) of queue $1 missing from its feed with its state in Redis
# (the meta record, lease, ready lists, jobs / results hashes, done and dead
# sets, `genq status`), what the workers logged of it and of Redis errors.
# GENQ_TEST_KEEP=DIR keeps a copy of $T there.
diagnose() {
    local k="genq:{$1}:" id
    [ -z "${GENQ_TEST_KEEP:-}" ] || cp -a "$T" "$GENQ_TEST_KEEP/" || true
    for id in $(seq 1 "$3" | sed "s/^/$2/" | sort | comm -23 - <(grep "^$2" "$T/feed.$1" | sort)); do
        echo "  missing $id: meta=$(redis-cli -c -p "$P0" hget "${k}meta" "$id")" \
            "lease=$(redis-cli -c -p "$P0" zscore "${k}leases" "$id")" \
            "ready=$(for l in ready:high ready ready:low; do redis-cli -c -p "$P0" lpos "$k$l" "$id"; done | tr '\n' ,)" \
            "jobs=$(redis-cli -c -p "$P0" hexists "${k}jobs" "$id")" \
            "result=$(redis-cli -c -p "$P0" hexists "${k}results" "$id")" \
            "done=$(redis-cli -c -p "$P0" zscore "${k}done" "$id")" \
            "dead=$(redis-cli -c -p "$P0" zscore "${k}dead" "$id")"
        "$G" status --redis "$CURL" --queue "$1" "$id" 2>&1 | sed 's/^/    /' || true
        grep -h "job=$id " "$T/w1.log" "$T/w2.log" | sed 's/^/    log: /' | head -5 || true
    done
    echo "  stats of $1: $(redis-cli -c -p "$P0" hgetall "${k}stats" | tr '\n' ' ')"
    grep -h "redis error\|lease lost" "$T/w1.log" "$T/w2.log" | sed 's/^/    log: /' | head -30 || true
}
# Whether queue $1's feed holds each job $2N (N = 1..$3) once, as a
# success, and $4 successes in all; else what it holds (and diagnose).
feed_once() {
    local ids uniq succ
    redis-cli -c -p "$P0" xrange "genq:{$1}:feed" - + >"$T/feed.$1"
    ids=$(grep -c "^$2[0-9]*\$" "$T/feed.$1" || true)
    uniq=$(grep "^$2[0-9]*\$" "$T/feed.$1" | sort -u | wc -l)
    succ=$(grep -c "^succeeded\$" "$T/feed.$1" || true)
    [ "$ids" -eq "$3" ] && [ "$uniq" -eq "$3" ] && [ "$succ" -eq "$4" ] && return 0
    echo "queue $1: $ids feed entries of $2*, $uniq distinct, $succ successes in all"
    diagnose "$1" "$2" "$3"
    return 1
}
G="$GENQ_BIN/genq" W="$GENQ_BIN/genq-worker"
T=$WORKDIR

start_cluster "$T" 3
# shellcheck disable=SC2086 # one word per port
set -- $CPORTS
P0=$1 P1=$2 P2=$3
nid() { redis-cli -p "$1" cluster myid; }
# queue -> shard: cq0 cq4 on the first master (slots 0-5460), cq1 cq737 on
# the second (5461-10922), cq2 cq3 on the third
QUEUES="cq0 cq4 cq1 cq737 cq2 cq3"
check "the six queues sit on all three shards (CLUSTER KEYSLOT)" \
    '[ "$(for q in $QUEUES; do redis-cli -p "$P0" cluster keyslot "{$q}"; done | tr "\n" " ")" = "3840 3972 7969 5512 12098 16227 " ]'

"$GENQ_BIN/genq-mockllm" --listen 127.0.0.1:0 --port-file "$T/mock.port" \
    --latency-ms 25 >/dev/null 2>&1 &
pids="$pids $!"
for _ in $(seq 1 100); do [ -s "$T/mock.port" ] && break; sleep 0.05; done
API="http://127.0.0.1:$(cat "$T/mock.port")"

N=1000
for q in $QUEUES; do
    seq 1 $N | sed "s/.*/{\"id\":\"$q-&\",\"prompt\":\"p&\",\"max_tokens\":8}/" >"$T/$q.jsonl"
    "$G" enqueue --redis "$CURL" --queue "$q" "$T/$q.jsonl" >/dev/null 2>&1
done
check "6,000 jobs enqueued through redis-cluster://" \
    '[ "$("$G" queues --redis "$CURL" --json | grep -c "\"ready\":$N")" -eq 6 ]'
# the version this genq writes (common/layout.h), not a copy of it
LV=$(sed -n 's/^#define LAYOUT_VERSION "\(.*\)"$/\1/p' common/layout.h)
check "genq:layout $LV set on the cluster" \
    '[ -n "$LV" ] && [ "$(redis-cli -c -p "$P0" get genq:layout)" = "$LV" ]'

qargs=""
for q in $QUEUES; do qargs="$qargs --queue $q"; done
MPORT=$(free_port)
for i in 1 2; do
    margs=()
    [ $i = 1 ] && margs=(--metrics-addr "127.0.0.1:$MPORT")
    # shellcheck disable=SC2086 # one word per option
    GENQ_API_KEY=test-key "$W" --redis "$CURL" $qargs --api-base "$API" \
        --concurrency 8 --log-level info "${margs[@]}" >"$T/w$i.log" 2>&1 &
    pids="$pids $!"
done

# wake channel subscribers of queue $1 on master port $2: sharded, plain
shardsubs() { redis-cli -p "$2" pubsub shardnumsub "genq:{$1}:wake" | sed -n 2p; }
plainsubs() { redis-cli -p "$2" pubsub numsub "genq:{$1}:wake" | sed -n 2p; }
for _ in $(seq 1 100); do [ "$(shardsubs cq737 "$P1")" = 2 ] && break; sleep 0.05; done
check "both workers SSUBSCRIBE each wake channel on its queue's master" \
    '[ "$(shardsubs cq737 "$P1")" = 2 ] && [ "$(shardsubs cq0 "$P0")" = 2 ] &&
     [ "$(shardsubs cq3 "$P2")" = 2 ] && [ "$(shardsubs cq737 "$P0")" = 0 ]'
check "no plain SUBSCRIBE to a wake channel on any node" \
    '[ "$(for p in $P0 $P1 $P2; do plainsubs cq737 "$p"; plainsubs cq2 "$p"; done |
         tr -d "\n")" = 000000 ]'

done_total() {
    "$G" queues --redis "$CURL" --json | sed -n 's/.*"succeeded":\([0-9]*\).*/\1/p' |
        awk '{s += $1} END {print s + 0}'
}
for _ in $(seq 1 300); do [ "$(done_total)" -ge 800 ] && break; sleep 0.1; done
before=$(done_total)
# the first 64 slots of the second master (5461-5524, cq737's among them)
redis-cli --cluster reshard "127.0.0.1:$P0" --cluster-from "$(nid "$P1")" \
    --cluster-to "$(nid "$P0")" --cluster-slots 64 --cluster-yes \
    --cluster-pipeline 100 >"$T/reshard.log" 2>&1 && rc=0 || rc=$?
after=$(done_total)
echo "reshard: $before jobs done before it, $after when it ended"
check "the reshard ran while jobs flowed ($before done before it, $after after)" \
    '[ $rc -eq 0 ] && [ "$before" -lt 6000 ] && [ "$after" -lt 6000 ]'
check "cq737's slot is served by the first master now" \
    '[ "$(redis-cli -p "$P0" cluster countkeysinslot 5512)" -gt 0 ] &&
     [ "$(redis-cli -p "$P1" cluster countkeysinslot 5512)" -eq 0 ]'

for _ in $(seq 1 600); do [ "$(done_total)" -ge 6000 ] && break; sleep 0.1; done
# the old master dropped cq737's channel with its slot (sunsubscribe); the
# workers subscribed it again on the new one
for _ in $(seq 1 100); do [ "$(shardsubs cq737 "$P0")" = 2 ] && break; sleep 0.05; done
check "after the reshard cq737's wake subscription follows its slot" \
    '[ "$(shardsubs cq737 "$P0")" = 2 ] && [ "$(shardsubs cq737 "$P1")" = 0 ] &&
     [ "$(shardsubs cq1 "$P1")" = 2 ]'
"$G" queues --redis "$CURL" --json >"$T/queues.json"
check "every queue: $N succeeded, nothing ready, active or dead" \
    '[ "$(grep -c "\"ready\":0,\"active\":0,\"delayed\":0,\"dead\":0,\"succeeded\":$N" "$T/queues.json")" -eq 6 ]'
ok=1
for q in $QUEUES; do feed_once "$q" "$q-" $N $N || ok=0; done
check "exactly one success per job in each queue's feed" '[ $ok -eq 1 ]'
# (its own line: the "redis error reply" of the MOVED may be held back by
# that line's rate limit, one a second, behind a TRYAGAIN)
check "a worker was told MOVED for the migrated slot and followed it" \
    'grep -q "slot moved conn=main slot=55[0-9][0-9] node=127.0.0.1:$P0" "$T/w1.log" "$T/w2.log"'
r=$("$G" result --redis "$CURL" --queue cq737 --json cq737-1000 2>&1) && rc=0 || rc=$?
check "a result of the migrated queue reads back" \
    '[ $rc -eq 0 ] && echo "$r" | grep -q "\"state\":\"succeeded\""'

# A migration held open (the reshard above is a race): while 300 more jobs
# of cq2 run, its slot is MIGRATING on the third master for half a second
# (the keys still there), then its keys are MIGRATEd to the second and the
# slot held half a second more (the old master answers ASK, the new one
# takes ASKING calls), then handed over. A node refuses a command of a
# script on a key of a migrating slot it does not hold, which stops the
# script half-way, its writes so far kept: a completion then stored the
# result but never the feed entry, done-set member and count (one job in
# ~7 runs of the race above). Every script call declares the slot guard
# (keys.h QKEY_GUARD), which no node holds, so the calls wait (ASK,
# TRYAGAIN) until the slot has moved.
M=300 A=5 GS=12098 # cq2's slot (A: jobs enqueued after it)
# `genq results --follow` of the queue (plain XREADs on its feed,
# rclient_command) runs across the whole migration: blocked on the old
# master when the slot is handed over, it is told MOVED (or ASK) and goes on
# reading the feed on the new one from the entry it had reached; it exits
# after the N earlier results, the M of the migration and the A enqueued after
held_follow() {
    timeout 60 "$G" results --redis "$CURL" --queue cq2 --follow --from-start \
        --count $((N + M + A)) >"$T/follow.out" 2>"$T/follow.err" &&
        echo "rc=0" >>"$T/follow.err" || echo "rc=$?" >>"$T/follow.err"
}
held_follow &
hf=$!
# it has printed the N earlier results (each batch is flushed), so it is
# connected to the queue's old master, and blocked there at the handover
for _ in $(seq 1 200); do
    [ -s "$T/follow.out" ] && [ "$(wc -l <"$T/follow.out")" -ge "$N" ] && break
    sleep 0.05
done
seq 1 $M | sed 's/.*/{"id":"cq2-m&","prompt":"m&","max_tokens":8}/' >"$T/m.jsonl"
"$G" enqueue --redis "$CURL" --queue cq2 "$T/m.jsonl" >/dev/null 2>&1
redis-cli -p "$P1" cluster setslot $GS importing "$(nid "$P2")" >/dev/null
redis-cli -p "$P2" cluster setslot $GS migrating "$(nid "$P1")" >/dev/null
# a genq command on the queue meanwhile waits too (TRYAGAIN, then ASK to the
# new master and TRYAGAIN there with ASKING), started in each half of the
# migration (`genq result --wait`: its script calls follow redirections)
# (each records its exit code; under set -e a bare failing command would
# end the function before it)
held_result() { # $1: its output file
    "$G" result --redis "$CURL" --queue cq2 --json --wait 20 cq2-m1 >"$1" 2>&1 &&
        echo "rc=0" >>"$1" || echo "rc=$?" >>"$1"
}
# and `genq status` of three of its jobs, whose pipelined call (idwin.c)
# goes to the master the queue was on and is refused there (MOVED, ASK,
# TRYAGAIN): made again alone, following the cluster
held_status() { # $1: its output file
    "$G" status --redis "$CURL" --queue cq2 --json cq2-m1 cq2-m2 cq2-m3 >"$1" 2>&1 &&
        echo "rc=0" >>"$1" || echo "rc=$?" >>"$1"
}
# and a page of its dead set (the dlq pager pipelines its calls too), and
# a `genq dlq purge` of 1,300 ids (two pipelined calls of 1,000 and 300 in
# flight at once, each refused and made again alone): none is dead, each
# is named as not dead (exit 1)
held_dlq() { # $1: its output file
    "$G" dlq ls --redis "$CURL" --queue cq2 --json >"$1" 2>&1 &&
        echo "rc=0" >>"$1" || echo "rc=$?" >>"$1"
    { seq 1 "$N"; seq 1 300; } | sed 's/^/cq2-/' |
        "$G" dlq purge --redis "$CURL" --queue cq2 --yes - >"$1.purge" 2>&1 &&
        echo "rc=0" >>"$1.purge" || echo "rc=$?" >>"$1.purge"
}
held_result "$T/held1" &
hp1=$!
held_status "$T/hstat1" &
hs1=$!
held_dlq "$T/hstat1.dlq" &
hd1=$!
sleep 0.5
# shellcheck disable=SC2046 # one argument per key
redis-cli -p "$P2" migrate 127.0.0.1 "$P1" "" 0 5000 keys \
    $(redis-cli -p "$P2" cluster getkeysinslot $GS 1000) >"$T/migrate.log" 2>&1
held_result "$T/held2" &
hp2=$!
held_status "$T/hstat2" &
hs2=$!
held_dlq "$T/hstat2.dlq" &
hd2=$!
sleep 0.5
for p in "$P1" "$P2" "$P0"; do
    redis-cli -p "$p" cluster setslot $GS node "$(nid "$P1")" >/dev/null
done
wait "$hp1" "$hp2" "$hs1" "$hs2" "$hd1" "$hd2" || true
held_ok=1
for f in held1 held2; do
    grep -qx "rc=0" "$T/$f" && grep -q '"id":"cq2-m1"' "$T/$f" ||
        { held_ok=0; sed "s/^/  $f: /" "$T/$f"; }
done
check "a held migration: genq result of one of its jobs waited it out (both halves)" \
    '[ $held_ok -eq 1 ]'
held_ok=1
for f in hstat1 hstat2; do
    grep -qx "rc=0" "$T/$f" && [ "$(grep -c '"id":"cq2-m[123]"' "$T/$f")" -eq 3 ] ||
        { held_ok=0; sed "s/^/  $f: /" "$T/$f"; }
    grep -qx "rc=0" "$T/$f.dlq" || { held_ok=0; sed "s/^/  $f.dlq: /" "$T/$f.dlq"; }
    grep -qx "rc=1" "$T/$f.dlq.purge" &&
        [ "$(grep -c '^genq dlq purge: cq2-[0-9]*: not dead (succeeded)$' "$T/$f.dlq.purge")" -eq $((N + 300)) ] ||
        { held_ok=0; grep -v "not dead (succeeded)" "$T/$f.dlq.purge" | head -5 | sed "s/^/  $f.dlq.purge: /"; }
done
check "a held migration: genq status of three of its jobs, genq dlq ls and a purge of 1,300 ids waited it out (both halves)" \
    '[ $held_ok -eq 1 ]'
seq 1 $A | sed 's/.*/{"id":"cq2-after&","prompt":"a&","max_tokens":8}/' |
    "$G" enqueue --redis "$CURL" --queue cq2 - >/dev/null 2>&1
wait "$hf" || true
check "a held migration: genq results --follow read on across it (every result once, exit 0)" \
    'grep -qx "rc=0" "$T/follow.err" &&
     [ "$(grep -o "\"id\":\"cq2-m[0-9]*\"" "$T/follow.out" | sort -u | wc -l)" -eq $M ] &&
     [ "$(grep -c "\"id\":\"cq2-after[0-9]*\"" "$T/follow.out")" -eq $A ] &&
     [ "$(wc -l <"$T/follow.out")" -eq $((N + M + A)) ] ||
     { sed "s/^/  follow.err: /" "$T/follow.err"; false; }'
for _ in $(seq 1 300); do [ "$(done_total)" -ge $((6 * N + M + A)) ] && break; sleep 0.1; done
check "a held migration: its keys moved, the slot handed over" \
    'grep -qx OK "$T/migrate.log" && [ "$(redis-cli -p "$P1" cluster countkeysinslot $GS)" -gt 0 ] &&
     [ "$(redis-cli -p "$P2" cluster countkeysinslot $GS)" -eq 0 ]'
q2=$("$G" queues --redis "$CURL" --json | grep '"queue":"cq2"') || true
feed_once cq2 cq2-m $M $((N + M + A)) && ok=1 || ok=0
check "a held migration: every job of cq2 succeeded once, nothing stranded" \
    '[ $ok -eq 1 ] && grep -q "\"ready\":0,\"active\":0,\"delayed\":0,\"dead\":0,\"succeeded\":$((N + M + A))" <<<"$q2" ||
     { echo "  $q2"; false; }'
check "a held migration: the workers waited on TRYAGAIN (the slot guard)" \
    'grep -q "error=TRYAGAIN" "$T/w1.log" "$T/w2.log"'

# an idle worker is woken by the sharded message: one more job on the
# moved queue is SPUBLISHed on its new master (a SSUBSCRIBE there sees it,
# a SUBSCRIBE sees nothing) and a worker runs it
redis-cli -p "$P0" ssubscribe "genq:{cq737}:wake" >"$T/smsg" 2>&1 &
spid=$!
redis-cli -p "$P0" subscribe "genq:{cq737}:wake" >"$T/pmsg" 2>&1 &
ppid=$!
for _ in $(seq 1 100); do [ "$(shardsubs cq737 "$P0")" = 3 ] && break; sleep 0.05; done
echo '{"id":"cq737-late","prompt":"late","max_tokens":8}' |
    "$G" enqueue --redis "$CURL" --queue cq737 - >/dev/null 2>&1
for _ in $(seq 1 200); do
    "$G" result --redis "$CURL" --queue cq737 --json cq737-late 2>/dev/null |
        grep -q '"state":"succeeded"' && break
    sleep 0.05
done
kill "$spid" "$ppid" 2>/dev/null || true
wait "$spid" "$ppid" 2>/dev/null || true
check "the late job was SPUBLISHed on its shard, not PUBLISHed, and ran" \
    'grep -qx smessage "$T/smsg" && ! grep -qx message "$T/pmsg" &&
     r=$("$G" result --redis "$CURL" --queue cq737 --json cq737-late) &&
     grep -q "\"state\":\"succeeded\"" <<<"$r"'
# (a command's output is read whole before grep -q sees it: grep -q exits at
# the first match, and under pipefail the writer's SIGPIPE failed the check)
fail0=$fail
check "the scripts never PUBLISHed (INFO commandstats of every master)" \
    's0=$(redis-cli -p "$P0" info commandstats) && s1=$(redis-cli -p "$P1" info commandstats) &&
     s2=$(redis-cli -p "$P2" info commandstats) &&
     ! grep -q "^cmdstat_publish:" <<<"$s0$s1$s2" && grep -q "^cmdstat_spublish:" <<<"$s0"'
[ "$fail" = "$fail0" ] || {
    for p in "$P0" "$P1" "$P2"; do # what was published where, for the log
        echo "  master $p: $(redis-cli -p "$p" info commandstats | grep -i 'publish\|eval' | tr -d '\r' | tr '\n' ' ')"
    done
    grep -h "redis error" "$T/w1.log" "$T/w2.log" | sed 's/^/    log: /' | head -20
    [ -z "${GENQ_TEST_KEEP:-}" ] || cp -a "$T" "$GENQ_TEST_KEEP/"
}

# operators: the node serving each queue
check "genq queues --json names each queue's node (cq737 moved)" \
    'grep -q "\"queue\":\"cq737\".*\"node\":\"127.0.0.1:$P0\"" "$T/queues.json" &&
     grep -q "\"queue\":\"cq2\".*\"node\":\"127.0.0.1:$P2\"" "$T/queues.json"'
check "genq stats shows a node column" \
    'out=$("$G" stats --redis "$CURL") && head -1 <<<"$out" | grep -q "node"'
check "genq workers lists both workers, with each queue's node" \
    '[ "$("$G" workers --redis "$CURL" --json | grep -c "\"nodes\":{\"cq0\":\"127.0.0.1:$P0\"")" -eq 2 ]'
# sampled with the queue depths (every 5 s)
for _ in $(seq 1 80); do
    curl -s "http://127.0.0.1:$MPORT/metrics" >"$T/metrics" || true
    grep -q "genq_queue_node{queue=\"cq737\",node=\"127.0.0.1:$P0\"}" "$T/metrics" && break
    sleep 0.1
done
check "metrics: genq_queue_node names the node of each queue" \
    'grep -q "genq_queue_node{queue=\"cq737\",node=\"127.0.0.1:$P0\"} 1" "$T/metrics" &&
     grep -q "genq_queue_node{queue=\"cq3\",node=\"127.0.0.1:$P2\"} 1" "$T/metrics"'

# `genq dashboard` on the cluster under concurrent requests: each request
# runs on a thread of its own beside the sampler thread, each opening and
# closing a cluster router (clustersync.c, one per thread); one shared by
# all crashed the dashboard here (free(): invalid pointer) and answered 502
# "slot not served by any node" meanwhile
"$G" dashboard --redis "$CURL" --listen 127.0.0.1:0 --port-file "$T/dash.port" \
    >"$T/dash.log" 2>&1 &
dpid=$!
pids="$pids $dpid"
for _ in $(seq 1 400); do [ -s "$T/dash.port" ] && break; sleep 0.05; done
DASH="http://127.0.0.1:$(cat "$T/dash.port")"
: >"$T/dash.codes"
for _ in $(seq 1 5); do
    cps=""
    for i in $(seq 1 30); do
        q=$(echo "$QUEUES" | cut -d' ' -f$((i % 6 + 1)))
        curl -s -m 20 -o /dev/null -w '%{http_code}\n' "$DASH/api/jobs/$q-$i?queue=$q" \
            >>"$T/dash.codes" &
        cps="$cps $!"
        curl -s -m 20 -o /dev/null -w '%{http_code}\n' "$DASH/api/dlq?queue=$q" \
            >>"$T/dash.codes" &
        cps="$cps $!"
    done
    for p in $cps; do wait "$p" || true; done
done
check "genq dashboard on the cluster: 300 concurrent API requests answered 200, still up" \
    '[ "$(grep -cx 200 "$T/dash.codes")" -eq 300 ] && kill -0 "$dpid" 2>/dev/null ||
     { sort "$T/dash.codes" | uniq -c | sed "s/^/  codes: /"; tail -3 "$T/dash.log" | sed "s/^/  dashboard: /"; false; }'

# bad URLs: clear errors, never the password
out=$("$G" stats --redis "redis-cluster://u:hunter2@127.0.0.1:$P0/3" 2>&1) && rc=0 || rc=$?
check "a database in a cluster URL is refused" \
    '[ $rc -ne 0 ] && echo "$out" | grep -q "database 0 only" && ! echo "$out" | grep -q hunter2'
dead=$(free_port)
out=$("$G" stats --redis "redis-cluster://127.0.0.1:$dead" 2>&1) && rc=0 || rc=$?
check "no seed answering: exit 1 naming the seed" \
    '[ $rc -eq 1 ] && echo "$out" | grep -q "seed 127.0.0.1:$dead"'
start_redis "$T"
out=$("$G" stats --redis "redis-cluster://127.0.0.1:$RPORT" 2>&1) && rc=0 || rc=$?
check "a Redis without cluster mode: 'not a cluster node'" \
    '[ $rc -eq 1 ] && echo "$out" | grep -q "not a cluster node"'

# a node without sharded pub/sub (as Redis 6; here SSUBSCRIBE renamed away
# on a 1-master cluster): the worker falls back to SUBSCRIBE on the node
CLUSTER_SERVER_ARGS="--rename-command SSUBSCRIBE genq-test-no-ssubscribe" \
    start_cluster "$T/c6" 1
GENQ_API_KEY=test-key "$W" --redis "$CURL" --queue cq6 --api-base "$API" \
    --log-level info >"$T/w6.log" 2>&1 &
pids="$pids $!"
for _ in $(seq 1 100); do [ "$(plainsubs cq6 "$CPORTS")" = 1 ] && break; sleep 0.05; done
check "no SSUBSCRIBE on the node: the worker SUBSCRIBEs the wake channel there" \
    '[ "$(plainsubs cq6 "$CPORTS")" = 1 ] && [ "$(shardsubs cq6 "$CPORTS")" = 0 ] &&
     grep -q "no sharded pub/sub" "$T/w6.log"'

echo "cluster: $pass passed, $fail failed"
[ $fail -eq 0 ]
