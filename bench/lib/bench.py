#!/usr/bin/env python3
"""Helpers of bench/run.sh (Python 3 standard library only).

Subcommands (run.sh calls them; each prints or writes JSON):
  freeport                          a free loopback TCP port
  gen-jobs N PREFIX FILE [--no-id] [--max-tokens M]
                                    N job lines (JSONL) and FILE.ids
  redis-snap PORT OUT               INFO cpu + commandstats + memory
  wait-done PORT SYSTEM QUEUE N TIMEOUT_S
                                    poll until N jobs finished (genq: the
                                    stats hash; bullmq: completed+failed)
  hwm OUT PID...                    VmHWM (kB) of the PIDs' descendants
                                    (the PIDs are bench.py rusage wrappers)
  rusage OUT -- CMD...              run CMD, forward TERM/INT, write its
                                    rusage (µs CPU incl. reaped children)
  pstat PID                         utime+stime µs of a live process tree
  genq-times STATUS_JSONL OUT       "enq start finish" ms per job
  json-ids ENQUEUE_JSON OUT         ids of `genq enqueue --json`'s enqueued lines
  row ...                           compute one result row (see cmd_row)
  report RESULTS_DIR MACHINE_JSON [partial]
                                    combine rows, print the table (and
                                    write latest.json unless partial)
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime

CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---- a minimal RESP client ------------------------------------------------


class Redis:
    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        self.s = socket.create_connection((host, int(port)), timeout=timeout)
        self.f = self.s.makefile("rb")

    def cmd(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        self.s.sendall(b"".join(out))
        return self._read()

    def _read(self):
        line = self.f.readline()
        if not line:
            raise ConnectionError("redis closed the connection")
        t, rest = line[:1], line[1:-2]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data.decode("utf-8", "replace")
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise RuntimeError("bad RESP reply %r" % line)

    def close(self):
        self.s.close()


def info(r, section):
    d = {}
    for line in r.cmd("INFO", section).splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            d[k] = v
    return d


def redis_snap(port):
    r = Redis(port)
    cpu = info(r, "cpu")
    cs = info(r, "commandstats")
    mem = info(r, "memory")
    srv = info(r, "server")
    r.close()
    cmds, usec = {}, {}
    for k, v in cs.items():
        m = re.search(r"calls=(\d+),usec=(\d+)", v)
        if m:
            cmds[k.replace("cmdstat_", "")] = int(m.group(1))
            usec[k.replace("cmdstat_", "")] = int(m.group(2))
    return {
        "t": time.time(),
        "cpu_us": round((float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"])) * 1e6),
        "cmds": cmds,
        "usec": usec,
        "used_memory": int(mem.get("used_memory", 0)),
        "redis_version": srv.get("redis_version"),
    }


# ---- processes -------------------------------------------------------------


def children(pid):
    out = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def descendants(pid):
    seen, todo = [], children(pid)
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += children(p)
    return seen


def proc_hwm_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_cpu_us(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1e6 / CLK_TCK
    except (OSError, IndexError):
        return 0.0


def cmd_rusage(argv):
    out = argv[0]
    cmd = argv[2:] if argv[1] == "--" else argv[1:]

    def child_setup():
        # die with the wrapper, whatever kills it
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
        except Exception:
            pass

    t0 = time.monotonic()
    p = subprocess.Popen(cmd, preexec_fn=child_setup)

    def fwd(sig, _frame):
        try:
            p.send_signal(sig)
        except ProcessLookupError:
            pass

    signal.signal(signal.SIGTERM, fwd)
    signal.signal(signal.SIGINT, fwd)
    while True:
        try:
            _, status, ru = os.wait4(p.pid, 0)
            break
        except InterruptedError:
            continue
    # the child's own wall time, from its start to its exit: not this
    # wrapper's (Python's start-up is ~0.1 s)
    wall = time.monotonic() - t0
    rc = os.waitstatus_to_exitcode(status)
    with open(out + ".tmp", "w") as f:
        json.dump({"cpu_us": round((ru.ru_utime + ru.ru_stime) * 1e6),
                   "wall_s": round(wall, 6),
                   "user_us": round(ru.ru_utime * 1e6),
                   "sys_us": round(ru.ru_stime * 1e6),
                   "maxrss_kb": ru.ru_maxrss, "rc": rc}, f)
    os.rename(out + ".tmp", out)
    sys.exit(rc if rc >= 0 else 128 - rc)


# ---- waiting ---------------------------------------------------------------


def done_count(r, system, queue):
    if system == "genq":
        st = r.cmd("HMGET", "genq:{%s}:stats" % queue, "succeeded", "dead")
        return sum(int(x or 0) for x in st)
    return r.cmd("ZCARD", "bull:%s:completed" % queue) + r.cmd(
        "ZCARD", "bull:%s:failed" % queue)


def cmd_wait_done(argv):
    port, system, queue, n, timeout = argv[0], argv[1], argv[2], int(argv[3]), float(argv[4])
    r = Redis(port)
    t0 = time.time()
    c = polls = 0
    while time.time() - t0 < timeout:
        c = done_count(r, system, queue)
        polls += 1
        if c >= n:
            # the commands this poll sent, to be subtracted from the counts
            own = {"hmget": polls} if system == "genq" else {"zcard": 2 * polls}
            print("%.3f %s" % (time.time() - t0, json.dumps(own, separators=(",", ":"))))
            return 0
        time.sleep(0.02)
    sys.stderr.write("timeout: %d of %d jobs finished after %.0f s\n" % (c, n, timeout))
    return 1


# ---- per-job times ---------------------------------------------------------


def iso_ms(s):
    # 2026-11-26T13:59:43.466Z
    dt = datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")
    return int((dt - datetime(1970, 1, 1)).total_seconds() * 1000 + 0.5)


def cmd_genq_times(argv):
    src, out = argv
    bad = 0
    with open(src) as f, open(out, "w") as o:
        for line in f:
            d = json.loads(line)
            res = d.get("result")
            if d.get("state") != "succeeded" or not res:
                bad += 1
                continue
            fin = iso_ms(res["finished_at"])
            o.write("%d %d %d\n" % (iso_ms(d["enqueued_at"]), fin - int(res["latency_ms"]), fin))
    if bad:
        sys.stderr.write("%d jobs did not succeed\n" % bad)


def pct(sorted_vals, p):
    if not sorted_vals:
        return None
    k = (len(sorted_vals) - 1) * p / 100.0
    i = int(k)
    j = min(i + 1, len(sorted_vals) - 1)
    return sorted_vals[i] + (sorted_vals[j] - sorted_vals[i]) * (k - i)


# ---- one result row --------------------------------------------------------


def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def wave_losses(starts, fins, conc, job_s):
    """Where the slot-time of a waves run (scenario s) went, as shares of
    conc x (last finish - first start), from each job's start and finish
    (ms): "slower" -- jobs took longer than the job time; idle slots during
    the "ramp" (until conc jobs first ran at once), "gaps" (after that,
    until the last job started: a slot between its jobs) and the "tail"
    (after the last start). 1 - efficiency = their sum."""
    t0, t1 = min(starts), max(fins)
    total = conc * (t1 - t0) / 1000.0
    if total <= 0:
        return None
    busy = sum(f - s for s, f in zip(starts, fins)) / 1000.0
    ev = sorted([(s, 1) for s in starts] + [(f, -1) for f in fins])
    last_start = max(starts)
    cur, prev, reached = 0, t0, False
    idle = {"ramp": 0.0, "gaps": 0.0, "tail": 0.0}
    for t, d in ev:
        gap = (t - prev) / 1000.0 * max(conc - cur, 0)
        idle["ramp" if not reached else "tail" if t > last_start else "gaps"] += gap
        cur += d
        prev = t
        if cur >= conc:
            reached = True
    out = {k: round(v / total, 4) for k, v in idle.items()}
    out["slower"] = round((busy - len(fins) * job_s) / total, 4)
    return out


def cmd_row(argv):
    """row KEY=VALUE...: scenario system variant n times= snap0= snap1= snap2=
    rusage=a,b ready=a,b hwm= conc= procs= lat_s= mock0= mock1= out= extra="""
    a = dict(x.split("=", 1) for x in argv)
    n = int(a["n"])
    row = {"scenario": a["scenario"], "system": a["system"], "variant": a.get("variant", ""),
           "jobs": n}
    if a.get("extra"):
        row.update(json.loads(a["extra"]))
    # per-job times
    enq, svc, fins, wait = [], [], [], []
    if a.get("times") and os.path.exists(a["times"]):
        with open(a["times"]) as f:
            for line in f:
                p = line.split()
                if len(p) < 3 or "" in p:
                    continue
                e, s, fi = int(p[0]), int(p[1]), int(p[2])
                enq.append(fi - e)
                svc.append(fi - s)
                wait.append(s - e)
                fins.append(fi)
    row["completed"] = len(fins)
    if fins and a.get("rate_from") == "start" and a.get("lat_s"):
        row["lost"] = wave_losses([f - s for f, s in zip(fins, svc)], fins,
                                  int(a["conc"]) * int(a.get("procs", "1")), float(a["lat_s"]))
    if fins:
        first_start = min(f - s for f, s in zip(fins, svc))
        enq.sort()
        svc.sort()
        fins.sort()
        span = (fins[-1] - fins[0]) / 1000.0
        row["window_s"] = round(span, 3)
        row["jobs_per_s"] = round((len(fins) - 1) / span, 1) if span > 0 else None
        if a.get("rate_from") == "start":
            # a few waves of one job time each: jobs / (last finish - first start)
            span = (fins[-1] - first_start) / 1000.0
            row["window_s"] = round(span, 3)
            row["jobs_per_s"] = round(len(fins) / span, 1) if span > 0 else None
            row["rate_from"] = "first start"
        row["e2e_ms"] = {"p50": pct(enq, 50), "p99": pct(enq, 99), "max": enq[-1]}
        row["service_ms"] = {"p50": pct(svc, 50), "p99": pct(svc, 99), "max": svc[-1]}
        wait.sort()  # enqueue -> start of processing (issue 15: wake-up)
        row["start_ms"] = {"p50": pct(wait, 50), "p99": pct(wait, 99), "max": wait[-1]}
    if a.get("wall_s"):
        w = a["wall_s"].split(None, 1)
        row["wall_s"] = float(w[0])
        if len(w) > 1:
            a["own"] = w[1]
    # efficiency: throughput / (concurrency / latency)
    if a.get("lat_s") and row.get("jobs_per_s"):
        limit = int(a["conc"]) * int(a.get("procs", "1")) / float(a["lat_s"])
        row["limit_jobs_per_s"] = limit
        row["efficiency"] = round(row["jobs_per_s"] / limit, 4)
    # worker CPU and memory
    if a.get("rusage"):
        tot, ready, usr, sy = 0, 0, 0, 0
        for f in a["rusage"].split(","):
            ru = load(f, {}) or {}
            tot += ru.get("cpu_us", 0)
            usr += ru.get("user_us", 0)
            sy += ru.get("sys_us", 0)
        # user/sys split of the whole process lifetime (start-up included)
        row["worker_user_sys_us_per_job"] = [round(usr / n, 2), round(sy / n, 2)]
        for f in [x for x in a.get("ready", "").split(",") if x]:
            ready += (load(f, {}) or {}).get("cpu_us", 0)
        row["worker_cpu_us_total"] = tot - ready
        row["worker_startup_cpu_us"] = ready
        row["worker_cpu_us_per_job"] = round((tot - ready) / n, 2)
    if a.get("tokens_per_job") and row.get("worker_cpu_us_total") is not None:
        row["tokens_per_job"] = int(a["tokens_per_job"])
        row["worker_cpu_us_per_1k_tokens"] = round(
            row["worker_cpu_us_total"] / (n * int(a["tokens_per_job"]) / 1000.0), 1)
    if a.get("hwm"):
        h = load(a["hwm"], {})
        row["worker_rss_kb"] = h.get("total_kb")
        row["worker_rss_kb_each"] = h.get("each_kb")
    if a.get("mockstats"):
        row["mock"] = load(a["mockstats"], None)
    if a.get("mock0") and a.get("mock1"):
        m0, m1 = float(a["mock0"]), float(a["mock1"])
        row["mock_cpu_us_per_job"] = round((m1 - m0) / n, 2)
    # Redis: the enqueue window (snap0→snap1), the processing window
    # (snap1→snap2) and the whole lifecycle (snap0→snap2)
    s0, s1, s2 = (load(a.get(k, ""), None) for k in ("snap0", "snap1", "snap2"))

    own = json.loads(a.get("own") or "{}")  # the harness's polling commands

    def delta(x, y, sub={}):
        cmds = {}
        for k, v in y["cmds"].items():
            d = v - x["cmds"].get(k, 0) - sub.get(k, 0)
            if k in ("info", "config|resetstat", "ping"):
                continue  # the harness's own
            if d > 0:
                cmds[k] = d
        tot = sum(cmds.values())
        # time Redis spent in each command (a script's time includes the
        # commands it runs, which are also listed on their own)
        us = {}
        for k, v in y.get("usec", {}).items():
            d = v - x.get("usec", {}).get(k, 0)
            if k not in ("info", "config|resetstat", "ping") and d > 0:
                us[k] = round(d / n, 3)
        return {
            "redis_cmd_usec_per_job": dict(sorted(us.items(), key=lambda kv: -kv[1])),
            "redis_cpu_us_per_job": round((y["cpu_us"] - x["cpu_us"]) / n, 2),
            "redis_cmds_per_job": round(tot / n, 2),
            "redis_cmds_by_name_per_job": {k: round(v / n, 3) for k, v in
                                           sorted(cmds.items(), key=lambda kv: -kv[1])},
        }

    if s1 and s2:
        row["process"] = delta(s1, s2, own)
    if s0 and s1:
        row["enqueue"] = delta(s0, s1)
    if s0 and s2:
        row["lifecycle"] = delta(s0, s2, own)
    # the table's figures: processing (claim → complete: the definition of
    # issue 7's BullMQ reference figures) or, for enqueue-only rows, enqueue
    main = row.get("process") or row.get("enqueue")
    if main:
        row["redis_cpu_us_per_job"] = main["redis_cpu_us_per_job"]
        row["redis_cmds_per_job"] = main["redis_cmds_per_job"]
    if row.get("lifecycle"):
        row["redis_cpu_us_per_job_lifecycle"] = row["lifecycle"]["redis_cpu_us_per_job"]
        row["redis_cmds_per_job_lifecycle"] = row["lifecycle"]["redis_cmds_per_job"]
    with open(a["out"], "w") as f:
        json.dump(row, f, indent=1)
    return 0


# ---- the report ------------------------------------------------------------

TARGETS = [
    # scenario, variant, metric, comparison, threshold, description
    ("a", "1 proc c=100", "jobs_per_s", ">=", 4.0, "(a) throughput >= 4x BullMQ"),
    ("a", "1 proc c=100", "redis_cpu_us_per_job", "<=", 0.25, "(a) Redis CPU/job <= 1/4 BullMQ"),
    ("a", "1 proc c=100", "redis_cpu_us_per_job_lifecycle", "<=", 0.2,
     "(a) life Redis CPU/job <= 1/5 BullMQ"),
    ("b", "0 ms, no stream, c=100", "jobs_per_s", ">=", 3.0, "(b) 0 ms throughput >= 3x BullMQ"),
    ("b", "200 ms, stream, c=1000", "worker_rss_kb", "<=", 0.25, "(b) c=1000 RSS <= 1/4 BullMQ"),
    ("c", "100k jobs", "jobs_per_s", ">=", 6.0, "(c) enqueue >= 6x BullMQ addBulk"),
]


def issue15_targets(rows):
    """Issue 15's process-side targets (4-6) from the rows of this run."""
    tl = []
    for r in rows:
        if r["scenario"] == "s" and r["system"] == "genq" and r.get("efficiency") is not None:
            tl.append("%-40s %s  %.1f%% of %s jobs/s" % (
                "(s) 10k streams >= 95% of ideal", "MET   " if r["efficiency"] >= 0.95 else "MISSED",
                100 * r["efficiency"], fmt(r.get("limit_jobs_per_s"))))
            mb = (r.get("worker_rss_kb") or 0) / 1024.0
            tl.append("%-40s %s  %.1f MB" % ("(s) 10k streams RSS <= 300 MB",
                                               "MET   " if mb <= 300 else "MISSED", mb))
        if r["scenario"] == "lat" and r["system"] == "genq" and r.get("start_ms"):
            p50, p99 = r["start_ms"]["p50"], r["start_ms"]["p99"]
            tl.append("%-40s %s  p50 %.1f ms, p99 %.1f ms" % (
                "(lat) enqueue->start p50<=2, p99<=10 ms",
                "MET   " if p50 <= 2 and p99 <= 10 else "MISSED", p50, p99))
        if (r["scenario"] == "c" and r["system"] == "genq" and r["variant"] == "1M lines"
                and r.get("lpush_ceiling_ops_per_s")):
            x = r["jobs_per_s"] / r["lpush_ceiling_ops_per_s"]
            tl.append("%-40s %s  %.2f of the ceiling (%s lines)" % (
                "(c) enqueue >= 70% of LPUSH -P 64", "MET   " if x >= 0.7 else "MISSED", x,
                fmt(r["jobs"])))
    return tl


def fmt(v, nd=0):
    if v is None:
        return "-"
    if isinstance(v, float) and nd:
        return ("%%.%df" % nd) % v
    if isinstance(v, (int, float)):
        return "{:,}".format(int(round(v)))
    return str(v)


def ratio(g, b):
    if g is None or b in (None, 0):
        return None
    return g / b


def cmd_report(argv):
    rdir, machine_path = argv[0], argv[1]
    partial = len(argv) > 2 and argv[2] == "partial"  # --only: no latest.json
    machine = load(machine_path, {})
    rows = []
    for fn in sorted(os.listdir(os.path.join(rdir, "rows"))):
        r = load(os.path.join(rdir, "rows", fn))
        if r:
            rows.append(r)
    order = {"a": 0, "b": 1, "s": 1.5, "c": 2, "inbox": 2.5, "d": 3, "lat": 4}
    rows.sort(key=lambda r: (order.get(r["scenario"], 9), r.get("seq", 0), r["system"] != "genq"))
    # repeated runs (--repeat N): keep them all in the files, show the median
    all_rows = rows
    groups = {}
    for r in rows:
        groups.setdefault((r["scenario"], r["variant"], r["system"]), []).append(r)
    spread = []
    rows = []
    for r in all_rows:
        g = groups[(r["scenario"], r["variant"], r["system"])]
        if len(g) == 1:
            rows.append(r)
            continue
        ranked = sorted(g, key=lambda x: x.get("jobs_per_s") or 0)
        med = ranked[(len(ranked) - 1) // 2]
        if r is not med:
            continue
        med["repeats"] = len(g)
        med["jobs_per_s_runs"] = [x.get("jobs_per_s") for x in g]
        rows.append(med)
        spread.append("%s [%s] %s: median of %d runs; jobs/s %s" % (
            r["scenario"], r["variant"], r["system"], len(g),
            " ".join(fmt(x.get("jobs_per_s")) for x in g)))
    first = {}
    for r in all_rows:
        k = (r["scenario"], r["variant"])
        first[k] = min(first.get(k, 1 << 30), r.get("seq", 0))
    rows.sort(key=lambda r: (order.get(r["scenario"], 9), first[(r["scenario"], r["variant"])],
                             r["system"] != "genq"))
    by_scn = {}
    for r in rows:
        by_scn.setdefault(r["scenario"], []).append(r)
    # per-scenario files and the combined one
    for scn in by_scn:
        rs = [r for r in all_rows if r["scenario"] == scn]
        with open(os.path.join(rdir, "%s.json" % scn), "w") as f:
            json.dump({"machine": machine, "rows": rs}, f, indent=1)
    pairs = {}
    for r in rows:
        pairs.setdefault((r["scenario"], r["variant"]), {})[r["system"]] = r

    hdr = ("scn", "variant", "system", "jobs", "jobs/s", "e2e p50 ms", "e2e p99 ms",
           "eff", "wrk µs/job", "redis µs/job", "cmds/job", "life µs/job", "life cmds/job",
           "RSS MB")
    lines = []
    for r in rows:
        if r["scenario"] == "d":
            continue
        lines.append((
            r["scenario"], r["variant"], r["system"], fmt(r["jobs"]),
            "-" if r["scenario"] == "lat" else fmt(r.get("jobs_per_s")),
            fmt((r.get("e2e_ms") or {}).get("p50")), fmt((r.get("e2e_ms") or {}).get("p99")),
            ("%.1f%%" % (100 * r["efficiency"])) if r.get("efficiency") else "-",
            fmt(r.get("worker_cpu_us_per_job"), 1), fmt(r.get("redis_cpu_us_per_job"), 1),
            fmt(r.get("redis_cmds_per_job"), 1),
            fmt(r.get("redis_cpu_us_per_job_lifecycle"), 1),
            fmt(r.get("redis_cmds_per_job_lifecycle"), 1),
            fmt(r["worker_rss_kb"] / 1024.0, 1) if r.get("worker_rss_kb") else "-"))
        if r["system"] == "bullmq" and r["scenario"] != "lat":
            g = pairs[(r["scenario"], r["variant"])].get("genq")
            if g:
                def rt(k, nd=2, inv=False):
                    x = ratio(g.get(k), r.get(k))
                    return "-" if x is None else ("%.*fx" % (nd, x))
                lines.append((r["scenario"], r["variant"], "genq/bullmq", "",
                              rt("jobs_per_s"), "", "", "",
                              rt("worker_cpu_us_per_job"), rt("redis_cpu_us_per_job"),
                              rt("redis_cmds_per_job"), rt("redis_cpu_us_per_job_lifecycle"),
                              rt("redis_cmds_per_job_lifecycle"), rt("worker_rss_kb")))
    widths = [max(len(str(x[i])) for x in [hdr] + lines) for i in range(len(hdr))]
    out = []
    out.append("  ".join(str(h).ljust(w) for h, w in zip(hdr, widths)))
    out.append("  ".join("-" * w for w in widths))
    for ln in lines:
        out.append("  ".join(str(x).rjust(w) if i >= 3 else str(x).ljust(w)
                             for i, (x, w) in enumerate(zip(ln, widths))))
    # scenario c ceiling and d recovery lines
    extra = []
    for r in rows:
        if r["scenario"] == "c" and r["system"] == "genq" and r.get("lpush_ceiling_ops_per_s"):
            extra.append("(c) genq enqueue [%s] %s jobs/s = %.0f%% of the raw LPUSH -P 64 ceiling %s ops/s"
                         % (r["variant"], fmt(r.get("jobs_per_s")),
                            100.0 * r["jobs_per_s"] / r["lpush_ceiling_ops_per_s"],
                            fmt(r["lpush_ceiling_ops_per_s"])))
        if r["scenario"] == "d":
            extra.append("(d) %s: %s jobs held by the killed worker running again after "
                         "p50 %s ms, max %s ms (visibility/lock %s s; target for genq VT+1 s = %s ms)%s"
                         % (r["system"], r.get("held"), fmt(r.get("recovery_ms_p50")),
                            fmt(r.get("recovery_ms_max")), r.get("visibility_s"),
                            fmt(1000 * (r.get("visibility_s") or 0) + 1000),
                            "" if r.get("recovered") == r.get("held") else
                            " — only %s recovered" % r.get("recovered")))
    # targets
    tl = []
    for scn, var, metric, cmp, thr, desc in TARGETS:
        p = pairs.get((scn, var), {})
        g, b = p.get("genq"), p.get("bullmq")
        if not g or not b:
            tl.append("%-40s n/a (no BullMQ figure)" % desc)
            continue
        x = ratio(g.get(metric), b.get(metric))
        if x is None:
            tl.append("%-40s n/a" % desc)
            continue
        ok = x >= thr if cmp == ">=" else x <= thr
        tl.append("%-40s %s  genq/bullmq = %.2f" % (desc, "MET   " if ok else "MISSED", x))
    g = pairs.get(("b", "200 ms, stream, c=1000"), {}).get("genq")
    if g and g.get("efficiency") is not None:
        tl.append("%-40s %s  genq efficiency %.1f%%" % (
            "(b) 200 ms c=1000 efficiency >= 97%", "MET   " if g["efficiency"] >= 0.97 else "MISSED",
            100 * g["efficiency"]))
    for r in rows:
        if r["scenario"] == "c" and r["system"] == "genq" and r.get("lpush_ceiling_ops_per_s"):
            x = r["jobs_per_s"] / r["lpush_ceiling_ops_per_s"]
            tl.append("%-40s %s  %.2f of the ceiling [%s]" % (
                "(c) enqueue >= 1/2 LPUSH -P 64 ceiling", "MET   " if x >= 0.5 else "MISSED", x,
                r["variant"]))
        if r["scenario"] == "inbox" and r["system"] == "genq":
            tl.append("%-40s %s  %s jobs/s" % (
                "(inbox) one worker admits >= 100k/s", "MET   " if r["jobs_per_s"] >= 100000
                else "MISSED", fmt(r["jobs_per_s"])))
        if r["scenario"] == "d" and r["system"] == "genq" and r.get("recovery_ms_max") is not None:
            lim = 1000 * r["visibility_s"] + 1000
            ok = r.get("recovered") == r.get("held") and r["recovery_ms_max"] <= lim
            tl.append("%-40s %s  max %s ms vs %s ms" % (
                "(d) recovery <= VT + 1 s", "MET   " if ok else "MISSED",
                fmt(r["recovery_ms_max"]), fmt(lim)))
    tl += issue15_targets(rows)
    for r in rows:
        if r["scenario"] == "lat" and r.get("start_ms"):
            extra.append("(lat) %s: enqueue -> start p50 %s ms, p99 %s ms, max %s ms (ms timestamps)"
                         % (r["system"], fmt(r["start_ms"]["p50"], 1), fmt(r["start_ms"]["p99"], 1),
                            fmt(r["start_ms"]["max"])))
        if r["scenario"] == "s" and r.get("worker_cpu_us_per_1k_tokens") is not None:
            lo = r.get("lost")
            extra.append("(s) %s %s: %s jobs/s of %s ideal (%s), worker CPU %s µs per 1,000 streamed "
                         "tokens, RSS %s MB, mock connections %s%s"
                         % (r["system"], r["variant"], fmt(r.get("jobs_per_s")),
                            fmt(r.get("limit_jobs_per_s")),
                            ("%.1f%%" % (100 * r["efficiency"])) if r.get("efficiency") else "-",
                            fmt(r["worker_cpu_us_per_1k_tokens"]),
                            fmt((r.get("worker_rss_kb") or 0) / 1024.0, 1),
                            fmt((r.get("mock") or {}).get("connections_total")),
                            "; lost: ramp %.1f%%, gaps between a slot's jobs %.1f%%, tail %.1f%%, "
                            "streams slower than the job time %.1f%%"
                            % (100 * lo["ramp"], 100 * lo["gaps"], 100 * lo["tail"], 100 * lo["slower"])
                            if lo else ""))
    legend = [
        "jobs/s: (completed-1)/(last finish - first finish), backlog preloaded; (c): jobs / wall time",
        "  of the producer (genq: whole `genq enqueue FILE` process, exec to exit; BullMQ: the addBulk loop);",
        "  (inbox): entries / time from the worker's exec to an empty inbox (queue paused: intake only).",
        "e2e: finish - enqueue per job; in a/b mostly the wait in the preloaded backlog; lat rows:",
        "  paced single-job enqueues to an idle worker.  eff: jobs/s / (concurrency / 0.2 s).",
        "wrk µs/job: worker processes' CPU (rusage; BullMQ minus its start-up); (c): the producer's.",
        "redis µs/job, cmds/job: processing window (claim..complete; (c): enqueue), INFO cpu",
        "  user+sys and INFO commandstats calls, which include the commands Lua scripts run;",
        "  life = enqueue + processing.  RSS: sum of VmHWM of the worker processes.",
        "(s): jobs/s = jobs / (last finish - first start) (a few waves of one job time each);",
        "  eff: jobs/s / (concurrency / job time), job time = 200 ms + tokens / the mock's pace.",
    ]
    text = "\n".join(out + legend + [""] + spread + extra + ["", "targets (issues 7, 15):"]
                     + ["  " + t for t in tl])
    combined = {"machine": machine, "rows": all_rows, "targets": tl, "table": text}
    if not partial:  # a subset would replace the full run's table
        with open(os.path.join(rdir, "latest.json"), "w") as f:
            json.dump(combined, f, indent=1)
    print(text)
    return 0


def genq_statuses(genq, url, queue, ids):
    p = subprocess.run([genq, "status", "--redis", url, "--queue", queue, "--json", "-"],
                       input="\n".join(ids) + "\n", capture_output=True, text=True, timeout=30)
    return [json.loads(x) for x in p.stdout.splitlines() if x.strip()]


def read_start_log(path):
    seen = {}
    try:
        with open(path) as f:
            for line in f:
                p = line.split()
                if len(p) == 2 and p[0] not in seen:
                    seen[p[0]] = int(p[1])
    except OSError:
        pass
    return seen


def cmd_recover(argv):
    """recover SYSTEM hold|kill OUT HELD TIMEOUT_S ...

    hold: wait until worker A holds all HELD jobs. kill: SIGKILL worker A,
    then poll until every job runs again on another worker; write per-job
    delays (ms from the kill)."""
    system, phase, out, held, timeout = argv[0], argv[1], argv[2], int(argv[3]), float(argv[4])
    rest = argv[5:]
    t_end = time.time() + timeout
    if system == "genq":
        genq, url, queue, ids_file = rest[:4]
        with open(ids_file) as f:
            ids = [x.strip() for x in f if x.strip()]
    if phase == "hold":
        while time.time() < t_end:
            if system == "genq":
                st = genq_statuses(genq, url, queue, ids)
                act = [s for s in st if s.get("state") == "active" and s.get("attempts") == 1]
                if len(act) == held and len({s["worker"] for s in act}) == 1:
                    with open(out, "w") as f:
                        json.dump({"worker": act[0]["worker"]}, f)
                    return 0
            else:
                if len(read_start_log(rest[0])) >= held:
                    return 0
            time.sleep(0.05)
        return 1
    # kill
    kill_pid = int(rest[4] if system == "genq" else rest[1])
    a_worker = load(rest[5], {}).get("worker") if system == "genq" else None
    t0 = time.time()
    os.kill(kill_pid, signal.SIGKILL)
    back, requeued = {}, {}
    while time.time() < t_end and len(back) < held:
        now_ms = (time.time() - t0) * 1000
        if system == "genq":
            for s in genq_statuses(genq, url, queue, ids):
                jid = s["id"]
                if s.get("attempts", 0) >= 2 or s.get("state") == "queued":
                    requeued.setdefault(jid, now_ms)
                if (s.get("state") == "active" and s.get("attempts", 0) >= 2
                        and s.get("worker") != a_worker):
                    back.setdefault(jid, now_ms)
        else:
            for jid, ts in read_start_log(rest[0]).items():
                back.setdefault(jid, ts - t0 * 1000)
        time.sleep(0.05)
    vals = sorted(back.values())
    r = {"held": held, "recovered": len(vals),
         "recovery_ms_p50": round(pct(vals, 50)) if vals else None,
         "recovery_ms_min": round(vals[0]) if vals else None,
         "recovery_ms_max": round(vals[-1]) if vals else None,
         "poll_interval_ms": 50}
    if requeued:
        rq = sorted(requeued.values())
        r["requeued_ms_min"], r["requeued_ms_max"] = round(rq[0]), round(rq[-1])
    with open(out, "w") as f:
        json.dump(r, f)
    return 0 if len(vals) == held else 1


def cmd_inbox_fill(argv):
    """inbox-fill PORT QUEUE FILE: LPUSH every line of FILE onto the queue's
    inbox, in order (the oldest first), 1,000 a call."""
    r = Redis(argv[0])
    key = "genq:{%s}:inbox" % argv[1]
    with open(argv[2], "rb") as f:
        lines = [x.rstrip(b"\n") for x in f if x.strip()]
    for i in range(0, len(lines), 1000):
        r.cmd("LPUSH", key, *lines[i:i + 1000])
    r.close()
    return 0


def cmd_inbox_time(argv):
    """inbox-time PORT QUEUE OUT TIMEOUT -- CMD...: start CMD (a worker), wait
    until the queue's inbox is empty, stop CMD; OUT gets the seconds from
    its start to the empty inbox and its CPU time."""
    port, queue, out, timeout = argv[0], argv[1], argv[2], float(argv[3])
    cmd = argv[argv.index("--") + 1:]
    r = Redis(port)
    key = "genq:{%s}:inbox" % queue
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while r.cmd("LLEN", key) != 0:
        if time.monotonic() - t0 > timeout or p.poll() is not None:
            p.kill()
            print("inbox-time: the inbox did not empty", file=sys.stderr)
            return 1
        time.sleep(0.005)
    wall = time.monotonic() - t0
    cpu = proc_cpu_us(p.pid)
    p.terminate()
    p.wait(timeout=30)
    with open(out, "w") as f:
        json.dump({"wall_s": round(wall, 3), "cpu_us": cpu}, f)
    return 0


def cmd_pace(argv):
    """pace K INTERVAL_MS -- CMD... : run CMD (with {i} replaced) K times,
    one start every INTERVAL_MS (sequentially; late starts catch up)."""
    k, iv = int(argv[0]), float(argv[1]) / 1000.0
    cmd = argv[3:] if argv[2] == "--" else argv[2:]
    t0 = time.time()
    for i in range(k):
        due = t0 + i * iv
        d = due - time.time()
        if d > 0:
            time.sleep(d)
        subprocess.run([c.replace("{i}", str(i)) for c in cmd], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30, check=True)
    return 0


def cmd_machine(argv):
    out, redis_port, note = argv[0], argv[1], argv[2]
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    r = Redis(redis_port)
    srv = info(r, "server")
    persistence = r.cmd("CONFIG", "GET", "appendonly")[1]
    save = r.cmd("CONFIG", "GET", "save")[1]
    r.close()
    node = None
    try:
        node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "worker", "common",
                                "enqueue-tool", "Makefile"], capture_output=True,
                               text=True).stdout.strip()
        rev += " + uncommitted changes in worker/common/enqueue-tool" if dirty else ""
    except OSError:
        rev = None
    built = None
    src = os.environ.get("SRC_BIN") or "bin"
    try:
        import hashlib
        with open(os.path.join(src, "genq-worker"), "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()[:12]
        built = "%s, sha256 %s" % (datetime.utcfromtimestamp(
            os.stat(os.path.join(src, "genq-worker")).st_mtime).strftime("%Y-%m-%dT%H:%M:%SZ"), sha)
    except OSError:
        pass
    m = {
        "genq_commit": rev,
        "genq_worker_built": built,
        "date": datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "mem_total_mb": mem_kb // 1024,
        "kernel": os.uname().release,
        "redis_version": srv.get("redis_version"),
        "redis_persistence": "appendonly %s, save '%s'" % (persistence, save),
        "node": node,
        "note": note,
    }
    with open(out, "w") as f:
        json.dump(m, f, indent=1)
    print("machine: %d CPUs (%s), %d MB RAM, Linux %s, Redis %s (%s), node %s, %s"
          % (m["nproc"], cpu, m["mem_total_mb"], m["kernel"], m["redis_version"],
             m["redis_persistence"], node or "-", m["date"]))


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    c, argv = sys.argv[1], sys.argv[2:]
    if c == "freeport":
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])
        s.close()
    elif c == "gen-jobs":
        n, prefix, path = int(argv[0]), argv[1], argv[2]
        with_id = "--no-id" not in argv
        mt = int(argv[argv.index("--max-tokens") + 1]) if "--max-tokens" in argv else 50
        with open(path, "w") as f, open(path + ".ids", "w") as ids:
            for i in range(n):
                jid = "%s-%07d" % (prefix, i)
                d = {"prompt": "Write a short note about item %d" % i, "max_tokens": mt}
                if with_id:
                    d = {"id": jid, **d}
                    ids.write(jid + "\n")
                f.write(json.dumps(d, separators=(",", ":")) + "\n")
    elif c == "json-ids":
        # genq enqueue --json output -> one id per line (enqueued jobs)
        n = 0
        with open(argv[0]) as f, open(argv[1], "w") as o:
            for line in f:
                d = json.loads(line)
                if d.get("status") == "enqueued" and d.get("id"):
                    o.write(d["id"] + "\n")
                    n += 1
        return 0 if n else 1
    elif c == "redis-snap":
        with open(argv[1], "w") as f:
            json.dump(redis_snap(argv[0]), f)
    elif c == "wait-done":
        return cmd_wait_done(argv)
    elif c == "hwm":
        each = []
        for p in argv[1:]:
            for d in descendants(int(p)):
                each.append(proc_hwm_kb(d))
        with open(argv[0], "w") as f:
            json.dump({"total_kb": sum(each), "each_kb": each}, f)
    elif c == "syscpu":
        # busy CPU seconds of the whole machine since boot
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        # user nice system idle iowait irq softirq steal ...
        print("%.2f" % ((v[0] + v[1] + v[2] + v[5] + v[6]) / CLK_TCK))
    elif c == "pstat":
        tot = 0.0
        for p in [int(argv[0])] + descendants(int(argv[0])):
            tot += proc_cpu_us(p)
        print("%.0f" % tot)
    elif c == "rusage":
        cmd_rusage(argv)
    elif c == "genq-times":
        cmd_genq_times(argv)
    elif c == "row":
        return cmd_row(argv)
    elif c == "report":
        return cmd_report(argv)
    elif c == "machine":
        cmd_machine(argv)
    elif c == "mock":
        # mock URL reset|stats [OUT]
        import urllib.request
        if argv[1] == "reset":
            urllib.request.urlopen(urllib.request.Request(argv[0] + "/mock/reset", data=b"{}",
                                                          method="POST"), timeout=10).read()
        else:
            st = json.loads(urllib.request.urlopen(argv[0] + "/mock/stats", timeout=10).read())
            with open(argv[2], "w") as f:
                json.dump({k: st.get(k) for k in ("requests_total", "connections_total",
                                                  "responses_by_status")}, f)
    elif c == "recover":
        return cmd_recover(argv)
    elif c == "pace":
        return cmd_pace(argv)
    elif c == "inbox-fill":
        return cmd_inbox_fill(argv)
    elif c == "inbox-time":
        return cmd_inbox_time(argv)
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
