#!/usr/bin/python3
"""Enqueue one article job per row of a CSV of topics (article_id,topic)
through genq's inbox, then follow the completion feed with a progress bar
on stderr until every one of them has finished.

  GENQ_REDIS_URL=redis://127.0.0.1:6379/0 ./bulk_from_csv.py \\
      ../topics.csv                      # the 10,000 topics shipped
  ./bulk_from_csv.py ../topics.csv --count 200 --ids ids.txt

Each job gets its own UUIDv7 id (written to --ids, one a line) and echoes
article_id in its feed entry. Exit 0 when all succeeded; 1 when any ended
dead or canceled or was rejected (each named on stderr), or on --timeout.
"""
import argparse
import csv
import os
import sys
import time

import genqproto as gq

CHUNK = 1000  # jobs per LPUSH


class Bar:
    """A one-line progress bar on stderr (a line per 10 % when stderr is
    not a terminal)."""

    def __init__(self, what, total):
        self.what, self.total, self.tty = what, total, sys.stderr.isatty()
        self.step = -1

    def show(self, n, extra=""):
        if self.tty:
            fill = 30 * n // max(self.total, 1)
            sys.stderr.write("\r%-9s [%s%s] %d/%d %s" % (
                self.what, "#" * fill, "." * (30 - fill), n, self.total,
                extra))
            if n >= self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()
        elif 10 * n // max(self.total, 1) > self.step:
            self.step = 10 * n // max(self.total, 1)
            print("%s %d/%d %s" % (self.what, n, self.total, extra),
                  file=sys.stderr)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("csv", nargs="?",
                    default=os.path.join(here, "..", "topics.csv"))
    ap.add_argument("--count", type=int, default=10000,
                    help="enqueue the first N rows (default 10,000)")
    ap.add_argument("--queue", default=gq.default_queue())
    ap.add_argument("--max-tokens", type=int, default=400)
    ap.add_argument("--ids", help="write the job ids here, one a line")
    ap.add_argument("--no-wait", action="store_true",
                    help="only enqueue; do not follow the feed")
    ap.add_argument("--timeout", type=float, default=86400)
    a = ap.parse_args()

    jobs = []
    with open(a.csv, newline="") as f:
        for row in csv.DictReader(f):
            if len(jobs) == a.count:
                break
            jobs.append({
                "id": gq.uuid7(),
                "prompt": "Write a short article about %s." % row["topic"],
                "max_tokens": a.max_tokens,
                "metadata": {"article_id": int(row["article_id"]),
                             "topic": row["topic"]},
                "notify": ["article_id"]})
    if a.ids:
        with open(a.ids, "w") as f:
            f.writelines(j["id"] + "\n" for j in jobs)

    r = gq.connect()
    since = gq.feed_position(r, a.queue)
    rejections = gq.Rejections(r, a.queue)
    bar = Bar("enqueued", len(jobs))
    for i in range(0, len(jobs), CHUNK):
        gq.push(r, a.queue, jobs[i:i + CHUNK])
        bar.show(min(i + CHUNK, len(jobs)))
    if a.no_wait:
        return 0

    pending = {j["id"] for j in jobs}
    failed = 0
    bar = Bar("finished", len(jobs))
    deadline = time.monotonic() + a.timeout
    next_check = 0
    for item in gq.read_feed(r, a.queue, since):
        if item is not None and item[1]["id"] in pending:
            pending.discard(item[1]["id"])
            if item[1]["state"] != "succeeded":
                failed += 1
                print("\n%s %s" % (item[1]["id"], item[1]["state"]),
                      file=sys.stderr)
        now = time.monotonic()
        if now >= next_check or not pending:
            next_check = now + 0.5
            for rej in rejections.new():
                jid = gq.entry_id_of(rej)
                if jid in pending:
                    pending.discard(jid)
                    failed += 1
                    print("\n%s rejected: %s" % (jid, rej["error"]),
                          file=sys.stderr)
            bar.show(len(jobs) - len(pending),
                     "(%d not succeeded)" % failed if failed else "")
        if not pending:
            break
        if now > deadline:
            print("\n%d jobs did not finish within %g s" % (len(pending),
                                                          a.timeout),
                  file=sys.stderr)
            return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
