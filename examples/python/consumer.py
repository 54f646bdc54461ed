#!/usr/bin/python3
"""Follow genq's completion feed and write each succeeded article to
OUT/ID.md (its text under a title from metadata.topic when there is one).

  GENQ_REDIS_URL=redis://127.0.0.1:6379/0 ./consumer.py --out out

The last feed id handled is kept in OUT/.feed-position, so a restart goes
on where it stopped; without that file it starts with what finishes from
now on (--from 0: everything the feed still holds). A consumer that was
away longer than the feed's bound is told so on stderr. --count N stops
after N articles (and --timeout S after S seconds without one).
"""
import argparse
import os
import sys
import time

import genqproto as gq


def write_article(out, job_id, doc):
    """OUT/ID.md, written whole (a temporary file renamed)."""
    topic = (doc.get("metadata") or {}).get("topic")
    path = os.path.join(out, job_id + ".md")
    with open(path + ".tmp", "w") as f:
        if topic:
            f.write("# %s\n\n" % topic)
        f.write(doc["text"])
        f.write("\n")
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="out")
    ap.add_argument("--queue", default=gq.default_queue())
    ap.add_argument("--from", dest="start",
                    help="feed id to start after (0: the oldest entry)")
    ap.add_argument("--count", type=int, default=0,
                    help="stop after N articles (0: run until interrupted)")
    ap.add_argument("--timeout", type=float, default=0,
                    help="stop after S seconds without an article (0: never)")
    a = ap.parse_args()

    os.makedirs(a.out, exist_ok=True)
    pos_file = os.path.join(a.out, ".feed-position")
    r = gq.connect()
    if a.start is not None:
        since = a.start
    elif os.path.exists(pos_file):
        with open(pos_file) as f:
            since = f.read().strip()
    else:
        since = gq.feed_position(r, a.queue)

    written = 0
    last_article = time.monotonic()
    try:
        for item in gq.read_feed(r, a.queue, since):
            if item is None:
                if a.timeout and time.monotonic() - last_article > a.timeout:
                    print("no article for %g s; %d written" % (a.timeout,
                                                              written),
                          file=sys.stderr)
                    return 1
                continue
            entry_id, fields = item
            if fields["state"] == "succeeded":
                doc = gq.result(r, a.queue, fields["id"])
                if doc is None:
                    print("%s: result expired before it was read" %
                          fields["id"], file=sys.stderr)
                else:
                    write_article(a.out, fields["id"], doc)
                    written += 1
                    last_article = time.monotonic()
            else:
                print("%s %s" % (fields["id"], fields["state"]),
                      file=sys.stderr)
            with open(pos_file, "w") as f:
                f.write(entry_id + "\n")
            if a.count and written >= a.count:
                break
    except KeyboardInterrupt:
        pass
    print("%d articles written to %s" % (written, a.out), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
