#!/usr/bin/env python3
"""Driver of bench/redis-scripts.sh: calls the per-job scripts by hand, in
phases, against a redis-server under callgrind, and dumps the counters after
each phase (callgrind_control -d), so each phase's instructions are one
script's. The scripts are loaded from common/lua as common/scripts.c builds
them (scale.py script_source).

usage: scripts_instr.py ROOT PORT VALGRIND_PID N BATCH
Phases, in order (one dump each): enqueue (enqueue.lua's lean form, 200 jobs
per call, like `genq enqueue` of lines with ids), claim (BATCH per call),
extend (every claimed job once, 100 per call: one heartbeat), complete
(BATCH per call, a no-op worker's result document and arguments)."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import Redis  # noqa: E402
from scale import script_source  # noqa: E402

root, port, vpid = sys.argv[1], int(sys.argv[2]), sys.argv[3]
N, B = int(sys.argv[4]), int(sys.argv[5])


r = Redis(port, timeout=600)
sha = {name: r.cmd("SCRIPT", "LOAD", script_source(root, name).encode())
       for name in ("enqueue", "claim", "extend", "complete")}
P = "genq:{r}:"
KEYS = [P + "meta"]  # one key of the slot (common/rclient.c rclient_qkeys)


def call(name, *argv):
    return r.cmd("EVALSHA", sha[name], len(KEYS), *KEYS, P, *argv)


def dump():
    subprocess.run(["callgrind_control", "-d", vpid], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


subprocess.run(["callgrind_control", "-z", vpid], check=True,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
now = int(r.cmd("TIME")[0]) * 1000
hdr = "queued|0|0|1|||%d|%d|\n" % (now, now)
for s in range(0, N, 200):
    a = []
    for i in range(s, min(N, s + 200)):
        a += ["r-%07d" % i, hdr + '{"id":"r-%07d","prompt":"Write a short '
              'note about item %d","max_tokens":50}' % (i, i)]
    out = call("enqueue", "86400", "L", len(a) // 2, "1", *a)
    assert out == [1] * (len(a) // 2), out
dump()
claimed = []
while len(claimed) < N:
    rep = call("claim", "bench:1:w", B, "60000", "5", "100000")
    if len(rep) <= 1:
        break
    claimed += [(rep[k], rep[k + 1]) for k in range(1, len(rep), 4)]
assert len(claimed) == N, len(claimed)
dump()
for s in range(0, N, 100):
    a = []
    for id_, tok in claimed[s:s + 100]:
        a += [id_, tok, "-1"]
    assert call("extend", "60000", *a) == [1] * (len(a) // 3)
dump()
doc = ('{"id":"%s","state":"succeeded","latency_ms":0,"text":"","model":"noop",'
       '"stop_reason":"end_turn","usage":{"input_tokens":0,"output_tokens":0,'
       '"cache_creation_input_tokens":0,"cache_read_input_tokens":0},'
       '"cost_usd":0.000000,"attempts":1,"first_token_ms":null,'
       '"cached":false,"finished_at":"2026-12-06T09:11:13.126Z",'
       '"request_id":null,"continuations":0}')
for s in range(0, N, B):
    a = []
    for id_, tok in claimed[s:s + B]:
        a += [id_, tok, doc % id_]
    # the feed's bound and the documents' latencies, as the worker sends them
    lats = ",".join("0" for _ in range(len(a) // 3))
    assert call("complete", "604800000", *a, "100000", lats) == [1] * (len(a) // 3)
dump()
