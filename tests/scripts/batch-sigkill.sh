#!/bin/bash
# Batch mode is crash-safe (issue 14, README "Batch mode"): workers are
# SIGKILLed at the three points that matter, a second worker takes over,
# and in every case no batch is submitted twice and every job is settled
# once. The mock (genq-mockllm, its batch APIs) logs one
# {"event":"batch_created"} line per batch it creates.
#   recorded  the record is written and the create was sent, but it never
#             reached the provider (--batch-create-hang 1): the next worker
#             finds no batch carrying the token and submits it, once
#   created   the provider created the batch but its reply was not back
#             yet (--batch-create-delay-s): the next worker finds the batch
#             by its token (Anthropic: custom_id prefix once it ended;
#             OpenAI: metadata) and adopts it -- never a second create
#   polling   the batch is open at the provider and its poller dies: the
#             batch lease runs out and the next worker polls and settles
#   settling  the poller dies half-way through settling 20,000 jobs: the
#             next worker settles the batch again; the jobs settled before
#             the kill are not settled twice (their lease tokens are spent)
# Checked per case: one batch created, N jobs succeeded, N entries on the
# completion feed (a job settled twice would add a second), every result
# document naming the batch, the record ended. Run by tests/run.sh.
# shellcheck disable=SC2317 # cleanup and the predicates run indirectly
set -euo pipefail
: "${GENQ_BIN:?run through make test}"
N=300
WORKER_EXTRA=()
rport=$(echo "$GENQ_TEST_REDIS_URL" | sed -n 's#.*:\([0-9]*\)/.*#\1#p')
rc() { redis-cli -p "$rport" "$@"; }
tmp=$(mktemp -d)
pids=""
cleanup() {
    local p
    for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
fail=0
check() { # what got want
    if [ "$2" != "$3" ]; then echo "FAIL: $1: $2, want $3"; fail=1; else echo "ok: $1 = $2"; fi
}

start_mock() { # name args...
    local name=$1
    shift
    "$GENQ_BIN/genq-mockllm" --listen 127.0.0.1:0 --port-file "$tmp/$name.port" \
        --log "$tmp/$name.log" "$@" 2>"$tmp/$name.err" &
    mock=$!
    pids="$pids $mock"
    for _ in $(seq 1 100); do [ -s "$tmp/$name.port" ] && break; sleep 0.05; done
    murl="http://127.0.0.1:$(cat "$tmp/$name.port")"
}

start_worker() { # queue provider model log
    GENQ_API_KEY=x "$GENQ_BIN/genq-worker" --redis "$GENQ_TEST_REDIS_URL" \
        --queue "$1" --batch-queue "$1" --provider "$2" --model "$3" \
        --api-base "$murl" --visibility-timeout 2 --batch-wait 0.3 \
        --batch-poll 0.2 --batch-poll-max 0.5 --timeout 60 "${WORKER_EXTRA[@]}" \
        >>"$4" 2>&1 &
    worker=$!
    pids="$pids $worker"
}

wait_for() { # seconds command...: until the command succeeds
    local n=$(($1 * 200))
    shift
    for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.005; done
    return 1
}

record_state() { # queue: the state of its (first) batch record
    local tok
    tok=$(rc ZRANGE "genq:{$1}:batchlog" 0 0)
    [ -n "$tok" ] && rc HGET "genq:{$1}:batch:$tok" state
}
is_state() { [ "$(record_state "$1")" = "$2" ]; }
created() { grep -c '"event":"batch_created"' "$tmp/$1.log" || true; }
has_created() { [ "$(created "$1")" -ge 1 ]; }
sent_create() { grep -q '"method":"POST","path":"/v1/messages/batches"' "$tmp/$1.log"; }
succeeded() { rc HGET "genq:{$1}:stats" succeeded | sed 's/^$/0/'; }
all_done() { [ "$(succeeded "$1")" -ge "$N" ]; }
some_done() { [ "$(succeeded "$1")" -gt 0 ]; }

run_case() { # name provider model how mock-args...: how = the second
    # worker's log line that shows the way it took over
    local name=$1 provider=$2 model=$3 how=$4 q="batch-kill-$1-$$"
    shift 4
    echo "== case $name ($provider)"
    start_mock "$name" "$@"
    python3 -c "
import json
for i in range($N):
    j = {'prompt': 'crash-safe note %d' % i, 'max_tokens': 16}
    if i % 2 == 0:
        j['id'] = 'bk-%04d' % i
    print(json.dumps(j))" >"$tmp/$name.jsonl"
    "$GENQ_BIN/genq" enqueue --redis "$GENQ_TEST_REDIS_URL" --queue "$q" \
        --file "$tmp/$name.jsonl" >/dev/null
    # half the jobs without an id: stored inline, then claimed in held
    # claims (layout 5), whose batch record copies each request into the
    # jobs hash, where a resubmission reads it; the other half by id
    inl=$(rc LRANGE "genq:{$q}:ready" 0 -1 | grep -c '^@' || true)
    [ "$inl" = $((N / 2)) ] || { echo "FAIL: $inl jobs stored inline, want $((N / 2))"; fail=1; }
    start_worker "$q" "$provider" "$model" "$tmp/$name.w1"
    case $name in
    recorded*)
        wait_for 20 sent_create "$name" || { echo "FAIL: no create sent"; fail=1; }
        is_state "$q" submitting || { echo "FAIL: record not submitting: $(record_state "$q")"; fail=1; } ;;
    created*)
        wait_for 20 has_created "$name" || { echo "FAIL: no batch created"; fail=1; }
        is_state "$q" submitting || { echo "FAIL: the reply came before the kill"; fail=1; } ;;
    polling*)
        wait_for 20 is_state "$q" open || { echo "FAIL: batch never opened"; fail=1; } ;;
    settling*)
        wait_for 60 some_done "$q" || { echo "FAIL: nothing settled"; fail=1; } ;;
    esac
    kill -9 "$worker"
    wait "$worker" 2>/dev/null || true
    echo "SIGKILLed the worker: record $(record_state "$q"), $(created "$name") created, $(succeeded "$q") succeeded"
    if [ "$name" = settling ]; then
        local at
        at=$(succeeded "$q")
        if [ "$at" -eq 0 ] || [ "$at" -ge "$N" ]; then
            echo "FAIL: settling: killed at $at of $N settled: nothing proven"; fail=1
        fi
    else
        check "$name: nothing settled before the kill" "$(succeeded "$q")" 0
    fi
    start_worker "$q" "$provider" "$model" "$tmp/$name.w2"
    wait_for 60 all_done "$q" || echo "timed out: $(succeeded "$q") of $N"
    sleep 0.5 # a second settlement or create would show by now
    kill "$worker"
    wait "$worker" 2>/dev/null || true
    check "$name: batches created" "$(created "$name")" 1
    check "$name: jobs succeeded" "$(succeeded "$q")" "$N"
    check "$name: results stored" "$(rc HLEN "genq:{$q}:results")" "$N"
    check "$name: feed entries (one per settled job)" "$(rc XLEN "genq:{$q}:feed")" "$N"
    check "$name: results naming the batch" \
        "$(rc HVALS "genq:{$q}:results" | grep -c '"batch_id":"' || true)" "$N"
    check "$name: record state" "$(record_state "$q")" ended
    check "$name: jobs left in open batches" "$(rc HGET "genq:{$q}:stats" batch_open_jobs)" 0
    grep -q "$how" "$tmp/$name.w2" ||
        { echo "FAIL: $name: the second worker did not log '$how'"; fail=1; }
    if [ "$how" = "batch settled" ] &&
        grep -q "batch submitted\|submitting it\|adopted" "$tmp/$name.w2"; then
        echo "FAIL: $name: the poller's successor submitted or adopted"; fail=1
    fi
    kill "$mock" 2>/dev/null || true
}

run_case recorded anthropic claude-sonnet-4-5 "submitting it" \
    --batch-latency-s 0.5 --batch-create-hang 1
run_case created anthropic claude-sonnet-4-5 "adopted" \
    --batch-latency-s 0.5 --batch-create-delay-s 4
run_case created-openai openai gpt-4o-mini "adopted" \
    --batch-latency-s 0.5 --batch-create-delay-s 4
run_case polling anthropic claude-sonnet-4-5 "batch settled" \
    --batch-latency-s 3
N=20000
WORKER_EXTRA=(--batch-size 20000 --batch-wait 3 --concurrency 1000 --claim-batch 1000)
run_case settling anthropic claude-sonnet-4-5 "batch settled" \
    --batch-latency-s 0.5
exit $fail
