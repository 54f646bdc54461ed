#!/usr/bin/env python3
"""Helpers of bench/scale.sh (issue 15: reads, memory, backlog), Python 3
standard library only, on bench.py's RESP client.

Subcommands:
  gen-articles N FILE [--ids PREFIX]   N realistic article requests (~300
                                       bytes of JSON each), optional ids
  fill-results PORT QUEUE N            N retained result documents (~400
                                       bytes) in the queue's results hash
                                       and done set, 10,000 per EVAL
  poll-stats PORT QUEUE ROOT HZ STOPFILE
                                       the stats script (ROOT/common/lua, the
                                       arguments `genq stats` sends) HZ times
                                       a second on one connection, as `genq
                                       stats --watch` or a dashboard does,
                                       until STOPFILE exists; prints calls
  alternate PORT ROOT BIN URL QUEUE JOBS ROUNDS WIN HZ OUT
                                       one no-op worker (c=100) drains the
                                       JOBS file ROUNDS times (queue paused
                                       while it is enqueued); while the
                                       queue holds jobs, windows of WIN s
                                       alternate alone / the stats script at
                                       HZ (A B B A ...); per window jobs/s,
                                       Redis CPU (INFO cpu) and worker CPU
                                       per job; OUT: the medians of each
                                       side, their spread, every window
  read-cost OUT PORT GENQ URL QUEUE ID N
                                       Redis CPU (INFO cpu) per call of each
                                       read: stats, queues, workers, status
                                       of one job (each a genq process), the
                                       stats script alone on one connection,
                                       the metrics gauges; N
                                       calls each, Redis otherwise idle
  claim-cost PORT QUEUE ROOT CALLS N   Redis CPU per claimed job: CALLS
                                       claim.lua calls of N jobs each (the
                                       script from ROOT/common/lua), INFO
                                       cpu and commandstats around them
  mem PORT                             used_memory (bytes)
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

QKEYS = ["ready:high", "ready", "ready:low", "jobs", "meta", "leases", "delayed",
         "results", "done", "dead", "errors", "history", "progress", "events",
         "stats", "paused", "seq"]  # common/keys.c qkey_suffix[]

# the repository (the scripts the bench measures)
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TOPICS = ["Redis Streams", "consumer groups", "Lua scripting in Redis",
          "visibility timeouts", "idempotent producers", "rate limiting",
          "backpressure", "exactly-once outcomes"]


def article(i):
    """A realistic article request, ~300 bytes of JSON (the issue's size)."""
    return {
        "prompt": ("Write a technical article of about 900 words on %s for site "
                   "reliability engineers: explain the idea, show one worked "
                   "example with commands, list three pitfalls seen in production "
                   "and how to avoid them, end with a short checklist. Plain "
                   "Markdown, no preamble. Article number %d." % (TOPICS[i % len(TOPICS)], i)),
        "max_tokens": 1500,
        "metadata": {"article_id": i},
    }


def lua_source(root, *names):
    """A script as common/scripts.c builds it: the files concatenated
    ("lazy:transitions": transitions.lua as claim.lua has it, the body of
    transitions_lazy: TR_LAZY_OPEN, TR_LAZY_CLOSE there)."""
    src = ""
    for n in names:
        lazy = n.startswith("lazy:")
        with open(os.path.join(root, "common/lua/%s.lua" % n[5 * lazy:])) as f:
            text = f.read()
        if lazy:
            text = ("local function transitions_lazy()\n" + text +
                    "\nreturn reap, promote\nend\n")
        src += text
    return src


def script_source(root, name):
    """The text common/scripts.c builds for a script of the worker's
    (claim, extend, complete) or one of prelude, queue keys, transitions
    and oplib (stats)."""
    if name in ("extend", "complete"):
        return lua_source(root, "prelude", name)
    if name == "claim":
        return lua_source(root, "prelude", "queue_keys", "lazy:transitions",
                          "claim")
    return lua_source(root, "prelude", "queue_keys", "transitions", "oplib",
                      name)


def cpu_us(r):
    c = bench.info(r, "cpu")
    return (float(c["used_cpu_sys"]) + float(c["used_cpu_user"])) * 1e6


def per_call(r, n, fn):
    """Redis CPU µs per call of fn, n calls; the INFO calls' own cost
    (measured with no call between) subtracted."""
    a = cpu_us(r)
    b = cpu_us(r)
    info_cost = b - a
    t0 = cpu_us(r)
    for _ in range(n):
        fn()
    t1 = cpu_us(r)
    return max(0.0, (t1 - t0 - info_cost) / n)


def run_quiet(argv):
    p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise SystemExit("%s: exit %d: %s" % (argv[1], p.returncode, p.stderr.decode()[-300:]))


def redis_cpu_s(r):
    info = r.cmd("INFO", "cpu")
    info = info.decode() if isinstance(info, bytes) else info
    return sum(float(l.split(":")[1]) for l in info.splitlines()
               if l.startswith(("used_cpu_user:", "used_cpu_sys:")))


def proc_cpu_s(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2.0


def cmd_alternate(a):
    """Short alternating windows on one running worker: the machine's other
    load moves both sides alike within seconds, so the medians compare."""
    import threading
    port, root, bindir, url, q, jobs = a[0], a[1], a[2], a[3], a[4], a[5]
    rounds, win, hz, out = int(a[6]), float(a[7]), float(a[8]), a[9]
    r = bench.Redis(port, timeout=60)
    pre = "genq:{%s}:" % q
    keys = [pre + k for k in QKEYS]
    sha = r.cmd("SCRIPT", "LOAD", script_source(root, "stats"))
    poll_on = threading.Event()
    stop = threading.Event()
    calls = [0]

    def poller():
        # its own connection, as `genq stats --watch` or a dashboard
        pr = bench.Redis(port, timeout=60)
        t0, k = time.time(), 0
        while not stop.is_set():
            if not poll_on.is_set():
                poll_on.wait(0.05)
                t0, k = time.time(), 0
                continue
            # enqueue-tool/cmd_stats.c: window, max events, samples
            pr.cmd("EVALSHA", sha, str(len(keys)), *keys, pre, "60000", "2000", "200")
            calls[0] += 1
            k += 1
            d = t0 + k / hz - time.time()
            if d > 0:
                time.sleep(d)

    def done():
        st = r.cmd("HMGET", pre + "stats", "succeeded", "dead")
        return sum(int(x or 0) for x in st)

    def ready():
        return sum(r.cmd("LLEN", pre + k) for k in ("ready:high", "ready", "ready:low"))

    th = threading.Thread(target=poller, daemon=True)
    th.start()
    wp = subprocess.Popen([os.path.join(bindir, "genq-worker"), "--redis", url, "--queue", q,
                           "--concurrency", "100", "--provider", "noop", "--log-level", "warn",
                           "--drain-timeout", "5"], stderr=subprocess.DEVNULL)
    wins = []
    pattern = [0, 1, 1, 0]  # A B B A: a trend of the other load cancels out
    k = 0
    try:
        for _ in range(rounds):
            subprocess.run([os.path.join(bindir, "genq"), "pause", q, "--redis", url],
                           check=True, stdout=subprocess.DEVNULL)
            subprocess.run([os.path.join(bindir, "genq"), "enqueue", "--redis", url, "--queue", q,
                            jobs], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            base = done()
            subprocess.run([os.path.join(bindir, "genq"), "resume", q, "--redis", url],
                           check=True, stdout=subprocess.DEVNULL)
            # skip the worker's ramp: from the first completions on
            while done() == base:
                time.sleep(0.01)
            time.sleep(0.2)
            while True:
                mode = pattern[k % 4]
                if mode:
                    poll_on.set()
                else:
                    poll_on.clear()
                time.sleep(0.05)  # the switch settles
                d0, c0, w0, t0 = done(), redis_cpu_s(r), proc_cpu_s(wp.pid), time.time()
                time.sleep(win)
                d1, c1, w1, t1 = done(), redis_cpu_s(r), proc_cpu_s(wp.pid), time.time()
                if ready() == 0:
                    break  # ran dry within the window: not counted
                n = d1 - d0
                if n > 0:
                    wins.append({"poll": mode, "jobs": n, "jobs_per_s": n / (t1 - t0),
                                 "redis_us_per_job": (c1 - c0) * 1e6 / n,
                                 "worker_us_per_job": (w1 - w0) * 1e6 / n})
                    k += 1
            poll_on.clear()
            while ready() > 0 or done() < base + int(subprocess.check_output(
                    ["wc", "-l", jobs]).split()[0]):
                time.sleep(0.05)
    finally:
        stop.set()
        poll_on.set()
        wp.terminate()
        wp.wait()
    res = {"windows": len(wins), "window_s": win, "hz": hz, "stats_calls": calls[0]}
    for side, m in (("alone", 0), ("polled", 1)):
        ws = [w for w in wins if w["poll"] == m]
        if not ws:
            continue
        for f in ("jobs_per_s", "redis_us_per_job", "worker_us_per_job"):
            v = [w[f] for w in ws]
            res["%s_%s" % (side, f)] = {"median": round(median(v), 2), "min": round(min(v), 2),
                                        "max": round(max(v), 2), "n": len(v)}
    # the ratio of neighbouring windows (each B with the A next to it)
    pairs = [wins[i + 1]["jobs_per_s"] / wins[i]["jobs_per_s"] if wins[i + 1]["poll"] else
             wins[i]["jobs_per_s"] / wins[i + 1]["jobs_per_s"]
             for i in range(0, len(wins) - 1, 2) if wins[i]["poll"] != wins[i + 1]["poll"]]
    if pairs:
        ps = sorted(pairs)
        res["pair_ratio"] = {"median": round(median(pairs), 4), "min": round(min(pairs), 4),
                             "max": round(max(pairs), 4), "q1": round(ps[len(ps) // 4], 4),
                             "q3": round(ps[(3 * len(ps)) // 4], 4), "n": len(pairs)}
    res["all"] = wins
    with open(out, "w") as f:
        json.dump(res, f, indent=1)
    return 0


def main():
    c, a = sys.argv[1], sys.argv[2:]
    if c == "gen-articles":
        n, path = int(a[0]), a[1]
        prefix = a[3] if len(a) > 3 and a[2] == "--ids" else None
        with open(path, "w") as f:
            for i in range(n):
                d = article(i)
                if prefix:
                    d = {"id": "%s-%08d" % (prefix, i), **d}
                f.write(json.dumps(d, separators=(",", ":")) + "\n")
    elif c == "fill-results":
        port, q, n = a[0], a[1], int(a[2])
        r = bench.Redis(port, timeout=120)
        pre = "genq:{%s}:" % q
        script = """
local base, n, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local text = string.rep('Lorem ipsum dolor sit amet, consectetur. ', 5)
for i = base, base + n - 1 do
  local id = 'kept-' .. i
  redis.call('HSET', KEYS[1], id, '{"id":"' .. id .. '","state":"succeeded","text":"' ..
    text .. '","model":"claude-sonnet-4-5","stop_reason":"end_turn","usage":{' ..
    '"input_tokens":80,"output_tokens":1200},"attempts":1,"latency_ms":' ..
    (1000 + i % 997) .. ',"first_token_ms":200,"cached":false,' ..
    '"finished_at":"2026-12-06T00:00:00Z","request_id":null,"continuations":0}')
  redis.call('ZADD', KEYS[2], now + 86400000, id)
end
return n
"""
        now = int(time.time() * 1000)
        for b in range(0, n, 10000):
            r.cmd("EVAL", script, "2", pre + "results", pre + "done", str(b),
                  str(min(10000, n - b)), str(now))
        print(n)
    elif c == "alternate":
        return cmd_alternate(a)
    elif c == "poll-stats":
        port, q, root, hz, stop = a[0], a[1], a[2], float(a[3]), a[4]
        r = bench.Redis(port, timeout=60)
        sha = r.cmd("SCRIPT", "LOAD", script_source(root, "stats"))
        pre = "genq:{%s}:" % q
        keys = [pre + k for k in QKEYS]
        calls, t0 = 0, time.time()
        while not os.path.exists(stop):
            # enqueue-tool/cmd_stats.c: window, max events, samples
            r.cmd("EVALSHA", sha, str(len(keys)), *keys, pre, "60000", "2000", "200")
            calls += 1
            nxt = t0 + calls / hz
            d = nxt - time.time()
            if d > 0:
                time.sleep(d)
        print(calls)
    elif c == "read-cost":
        out, port, genq, url, q, jid, n = a[0], a[1], a[2], a[3], a[4], a[5], int(a[6])
        r = bench.Redis(port, timeout=60)
        base = ["--redis", url, "--queue", q]
        res = {}
        for name, argv in (("stats", ["stats", "--json"]), ("queues", ["queues", "--json"]),
                           ("workers", ["workers", "--json"]),
                           ("status", ["status", "--json", jid])):
            # a process per call: its connect (layout check, SCRIPT LOAD of
            # cached scripts) is counted too, as an operator pays it
            res[name] = round(per_call(r, n, lambda: run_quiet([genq] + argv + base)), 1)
        pre = "genq:{%s}:" % q
        sha = r.cmd("SCRIPT", "LOAD", script_source(REPO, "stats"))
        keys = [pre + k for k in QKEYS]
        res["stats_script"] = round(per_call(r, n, lambda: r.cmd(
            "EVALSHA", sha, str(len(keys)), *keys, pre, "60000", "2000", "200")), 1)

        def gauges():  # worker/depth.c: what one metrics sample sends
            r.cmd("EVAL", "return redis.call('LLEN', KEYS[1]) + redis.call('LLEN', KEYS[2])"
                  " + redis.call('LLEN', KEYS[3])", "3", pre + "ready:high", pre + "ready",
                  pre + "ready:low")
            for k in ("leases", "delayed", "dead"):
                r.cmd("ZCARD", pre + k)
        res["gauges"] = round(per_call(r, n, gauges), 1)
        res["calls_each"] = n
        with open(out, "w") as f:
            json.dump(res, f)
        print(json.dumps(res))
    elif c == "claim-cost":
        port, q, root, calls, n = a[0], a[1], a[2], int(a[3]), int(a[4])
        r = bench.Redis(port, timeout=60)
        sha = r.cmd("SCRIPT", "LOAD", script_source(root, "claim"))
        pre = "genq:{%s}:" % q
        keys = [pre + k for k in QKEYS]
        s0 = bench.redis_snap(port)
        got = 0
        for _ in range(calls):
            rep = r.cmd("EVALSHA", sha, str(len(keys)), *keys, pre, "bench", str(n),
                        "600000", "3", "0")
            got += (len(rep) - 1) // 4
        s1 = bench.redis_snap(port)
        print(json.dumps({
            "jobs": got,
            "cpu_us_per_job": round((s1["cpu_us"] - s0["cpu_us"]) / max(got, 1), 2),
            "evalsha_us_per_job": round((s1["usec"].get("evalsha", 0) -
                                         s0["usec"].get("evalsha", 0)) / max(got, 1), 2),
        }))
    elif c != "mem":
        sys.stderr.write(__doc__)
        return 2
    else:
        print(int(bench.info(bench.Redis(a[0]), "memory")["used_memory"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
