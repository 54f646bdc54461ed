#!/usr/bin/env python3
"""Per wave of a scenario (s) run: when its jobs started and how long they
took, from the per-job times `BENCH_KEEP_TIMES=DIR bash bench/run.sh --only s`
keeps (lines "enqueue_ms start_ms finish_ms"). Wave k is the k-th group of
CONC jobs in start order; a growing start spread is slots falling behind
the first wave turn after turn (the refill after each wave ends).
  python3 bench/lib/waves.py TIMES CONC JOB_S      (scenario s: 10000 6.2)"""
import sys


def pct(a, q):
    a = sorted(a)
    return a[min(len(a) - 1, int(q / 100 * len(a)))]


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    rows = []
    with open(argv[0]) as f:
        for line in f:
            p = line.split()
            if len(p) >= 3 and "" not in p:
                rows.append((int(p[1]), int(p[2])))
    conc, job_ms = int(argv[1]), float(argv[2]) * 1000
    if not rows or conc <= 0:
        sys.exit("waves: no jobs in %s" % argv[0])
    rows.sort()
    t0, t1 = rows[0][0], max(f for _, f in rows)
    waves = len(rows) // conc
    print("%d jobs, %.2f s from the first start to the last finish; ideal %.2f s: %.1f %%"
          % (len(rows), (t1 - t0) / 1000, waves * job_ms / 1000,
             100 * waves * job_ms / (t1 - t0)))
    for k in range(waves):
        w = rows[k * conc:(k + 1) * conc]
        st = [s - t0 for s, _ in w]
        du = [f - s for s, f in w]
        print("wave %2d: start p50 %6d ms (%+5d behind k x job time), p1..p99 spread %5d ms;"
              " duration p50 %5d, p99 %5d ms"
              % (k, pct(st, 50), pct(st, 50) - k * job_ms, pct(st, 99) - pct(st, 1),
                 pct(du, 50), pct(du, 99)))


if __name__ == "__main__":
    main(sys.argv[1:])
