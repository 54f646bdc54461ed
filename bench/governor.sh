#!/bin/bash
# Fleet governor benchmark (issue 13): the fleet as one client of a
# rate-limited API. Not part of `make bench` by default (it takes ~20 min);
# run it with `bench/governor.sh` or `make bench GOVERNOR=1`. Results:
# bench/results/governor.jsonl (one line a scenario), also printed.
#
#   bench/governor.sh [--jobs N] [--only configured,learned,openai,openai-learned,outage]
#
# Each scenario: its own redis-server and genq-mockllm on free loopback
# ports; two `genq-worker --processes 2 --concurrency 64` (four loops);
# N jobs (default 3000) of mixed prompt sizes enqueued first. ~20 minutes.
#  - configured / learned: mock --limit-rpm 600 --limit-itpm 40000
#    (anthropic); the workers get --limit-rpm 600 --limit-itpm 40000, or
#    nothing (they learn the limits from the rate-limit headers).
#  - openai / openai-learned: the same with --provider openai, mock
#    --limit-rpm 600 --limit-tpm 40000 (OpenAI meters total tokens).
#  - outage: no limits; 1 s into the run the mock answers 503 to everything
#    for 30 s; --circuit-max 4.
# Prompts: 10..200 words of three letters, so the default input estimate
# (bytes / 4) equals the mock's count (one token a word); mean ~58 words:
# the request limit binds, the token limit nearly does. Every article is
# 16 tokens (max_tokens 24), one call per job.
# Reported from the mock's request log: 429 share of the API requests; the
# share of the binding limit used after the first 20 s (requests/min / 600
# and input tokens/min / 40000 from 20 s after the first request to the
# last success, the larger), also the 429s after the first 20 s; for the
# outage the 503s in its first second (the calls in flight when it began)
# and after it (the breaker's probes: how many, the gaps between them), the
# attempts retried with the attempt counted (stats "retried"), the tries
# handed back uncounted ("requeued"), dead jobs, and the succeeded.
set -euo pipefail
BENCH_TMP=genq-governor
JOBS=3000
ONLY="configured,learned,openai,openai-learned,outage"
while [ $# -gt 0 ]; do
    case "$1" in
    --jobs) JOBS=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    -h|--help) sed -n 2,30p "$0"; exit 0 ;;
    *) echo "governor.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done
# shellcheck source=bench/lib/common.sh
. "$(dirname "$0")/lib/common.sh"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# jobs FILE N: N jobs of mixed prompt sizes
make_jobs() {
    python3 - "$1" "$2" <<'PY'
import json, random, sys
path, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(13)
sizes = [10, 20, 30, 45, 60, 80, 120, 200]
weights = [14, 16, 16, 14, 14, 12, 8, 6]
with open(path, "w") as f:
    for i in range(n):
        w = rnd.choices(sizes, weights)[0] - 1
        words = " ".join("%03d" % rnd.randrange(1000) for _ in range(w))
        f.write(json.dumps({"id": "g%05d" % i, "max_tokens": 24,
                            "prompt": "[mock:tokens=16] " + words}) + "\n")
PY
}

# scenario NAME PROVIDER "MOCK ARGS" "WORKER ARGS" OUTAGE(0/1)
scenario() {
    local name=$1 provider=$2 margs=$3 wargs=$4 outage=$5
    local d="$TMP/$name" rport mport t0 pid_r pid_m w1 w2
    mkdir -p "$d"
    rport=$(free_port)
    redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$d" --logfile "$d/redis.log" &
    pid_r=$!
    pids="$pids $pid_r"
    until redis-cli -p "$rport" ping >/dev/null 2>&1; do sleep 0.05; done
    # shellcheck disable=SC2086 # margs is a list of flags
    "$BIN/genq-mockllm" --listen 127.0.0.1:0 --port-file "$d/mock.port" \
        --log "$d/mock.jsonl" --latency-ms 200 $margs 2>"$d/mock.err" &
    pid_m=$!
    pids="$pids $pid_m"
    until [ -s "$d/mock.port" ]; do sleep 0.05; done
    mport=$(cat "$d/mock.port")
    local R="redis://127.0.0.1:$rport/0"
    make_jobs "$d/jobs.jsonl" "$JOBS"
    "$BIN/genq" enqueue --redis "$R" "$d/jobs.jsonl" >/dev/null
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086 # wargs is a list of flags
    GENQ_API_KEY=bench-key-not-secret "$BIN/genq-worker" --redis "$R" \
        --provider "$provider" --api-base "http://127.0.0.1:$mport" \
        --insecure --processes 2 --concurrency 64 $wargs \
        >"$d/w1.log" 2>&1 &
    w1=$!
    # shellcheck disable=SC2086
    GENQ_API_KEY=bench-key-not-secret "$BIN/genq-worker" --redis "$R" \
        --provider "$provider" --api-base "http://127.0.0.1:$mport" \
        --insecure --processes 2 --concurrency 64 $wargs \
        >"$d/w2.log" 2>&1 &
    w2=$!
    pids="$pids $w1 $w2"
    if [ "$outage" = 1 ]; then
        # unmetered, the fleet does ~1000 jobs/s: start it early
        sleep 1
        curl -s -d '{"outage_s":30}' "http://127.0.0.1:$mport/mock/control" >/dev/null
        date +%s.%N >"$d/outage.t"
    fi
    for _ in $(seq 1 1800); do
        s=$("$BIN/genq" stats --json --redis "$R")
        case "$s" in *"\"succeeded\":$JOBS,"*) break ;; esac
        sleep 1
    done
    local t1
    t1=$(date +%s.%N)
    "$BIN/genq" stats --json --redis "$R" >"$d/stats.json"
    "$BIN/genq" limits --json --redis "$R" >"$d/limits.json" || true
    kill -TERM "$w1" "$w2" 2>/dev/null || true
    wait "$w1" "$w2" 2>/dev/null || true
    kill -TERM "$pid_m" "$pid_r" 2>/dev/null || true
    wait "$pid_m" "$pid_r" 2>/dev/null || true
    python3 - "$d" "$name" "$JOBS" "$t0" "$t1" <<'PY'
import json, sys
d, name, jobs, t0, t1 = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
reqs = []
with open(d + "/mock.jsonl") as f:
    for line in f:
        o = json.loads(line)
        if o["path"] not in ("/v1/messages", "/v1/chat/completions"):
            continue
        body = o.get("body") or {}
        words = 0
        for m in body.get("messages", []) if isinstance(body, dict) else []:
            c = m.get("content")
            if isinstance(c, str):
                words += len(c.split())
        reqs.append((o["ts"], o["status"], words))
reqs.sort()
st = json.load(open(d + "/stats.json"))
succeeded = st.get("succeeded", 0)
retried = st.get("retried", 0)
n = len(reqs)
n429 = sum(1 for r in reqs if r[1] == 429)
out = {"scenario": name, "jobs": jobs, "succeeded": succeeded,
       "api_requests": n, "responses_429": n429,
       "share_429_pct": round(100.0 * n429 / n, 3) if n else 0,
       "seconds": round(t1 - t0, 1), "retried_counted": retried}
ok = [r for r in reqs if r[1] == 200]
if reqs:
    a = reqs[0][0] + 20
    late = [r for r in reqs if r[0] >= a]
    l429 = [r[0] - reqs[0][0] for r in reqs if r[1] == 429]
    out.update({"responses_429_after_20s": sum(1 for r in late if r[1] == 429),
                "share_429_after_20s_pct": round(100.0 * sum(1 for r in late if r[1] == 429) / len(late), 3) if late else 0,
                "first_429_s": round(l429[0], 2) if l429 else None,
                "last_429_s": round(l429[-1], 2) if l429 else None})
if ok and name != "outage":
    a = reqs[0][0] + 20
    b = ok[-1][0]
    win = [r for r in ok if a <= r[0] <= b]
    mins = (b - a) / 60.0
    if mins > 0:
        rpm = len(win) / mins
        # OpenAI meters total tokens: the article's 16 count too
        extra = 16 if name.startswith("openai") else 0
        itpm = sum(r[2] + extra for r in win) / mins
        out.update({"rpm_after_20s": round(rpm, 1), "itpm_after_20s": round(itpm),
                    "binding_share_pct": round(100 * max(rpm / 600, itpm / 40000), 1)})
if name == "outage":
    ot = float(open(d + "/outage.t").read())
    s503 = [r[0] for r in reqs if r[1] == 503]
    # the calls in flight when the outage began fail within its first
    # second (latency 200 ms, retries); after that only probes reach it
    late = [t for t in s503 if t >= ot + 1]
    gaps = [b - a for a, b in zip(late, late[1:])]
    per = {}
    for t in late:
        per[int(t - ot)] = per.get(int(t - ot), 0) + 1
    out.update({"responses_503": len(s503), "responses_503_first_1s": len(s503) - len(late),
                "probes_after_1s": len(late),
                "probe_gaps_s": [round(g, 2) for g in gaps],
                "min_probe_gap_s": round(min(gaps), 2) if gaps else None,
                "max_503_per_1s_window_after_1s": max(per.values()) if per else 0,
                "requeued_uncounted": st.get("requeued", 0),
                "dead": st.get("dead", 0)})
print(json.dumps(out))
PY
    rm -f "$d/mock.jsonl"
}

results="$TMP/results.jsonl"
: >"$results"
IFS=, read -r -a want <<<"$ONLY"
for s in "${want[@]}"; do
    case "$s" in
    configured) scenario configured anthropic "--limit-rpm 600 --limit-itpm 40000" \
        "--limit-rpm 600 --limit-itpm 40000" 0 ;;
    learned) scenario learned anthropic "--limit-rpm 600 --limit-itpm 40000" "" 0 ;;
    openai) scenario openai openai "--limit-rpm 600 --limit-tpm 40000" \
        "--limit-rpm 600 --limit-tpm 40000" 0 ;;
    openai-learned) scenario openai-learned openai "--limit-rpm 600 --limit-tpm 40000" "" 0 ;;
    outage) scenario outage anthropic "" "--circuit-max 4" 1 ;;
    *) echo "governor.sh: unknown scenario '$s'" >&2; exit 2 ;;
    esac | tee -a "$results"
done
mkdir -p bench/results
cp "$results" bench/results/governor.jsonl
