#!/usr/bin/python3
"""Enqueue one job through genq's inbox and wait for it: LPUSH the job with
an id of our own (UUIDv7), XREAD the completion feed until its entry comes,
then HGET its result document and print the text.

  GENQ_REDIS_URL=redis://127.0.0.1:6379/0 ./enqueue_and_wait.py \\
      "Write about Redis" --article-id 7

Exit 0 with the text on stdout; 1 when the job ended dead or canceled, was
rejected by the intake, or did not finish within --timeout seconds.
"""
import argparse
import json
import sys
import time

import genqproto as gq


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("prompt")
    ap.add_argument("--queue", default=gq.default_queue())
    ap.add_argument("--max-tokens", type=int, default=200)
    ap.add_argument("--article-id", type=int, default=7,
                    help="metadata.article_id, echoed in the feed entry")
    ap.add_argument("--timeout", type=float, default=600)
    a = ap.parse_args()

    r = gq.connect()
    job_id = gq.uuid7()
    job = {"id": job_id, "prompt": a.prompt, "max_tokens": a.max_tokens,
           "metadata": {"article_id": a.article_id},
           "notify": ["article_id"]}
    # where the feed is now, read before the push: the job's entry comes
    # after it, however fast the worker is
    since = gq.feed_position(r, a.queue)
    rejections = gq.Rejections(r, a.queue)
    gq.push(r, a.queue, [job])
    print("enqueued %s" % job_id, file=sys.stderr)

    deadline = time.monotonic() + a.timeout
    next_check = 0
    for item in gq.read_feed(r, a.queue, since):
        if item is not None and item[1]["id"] == job_id:
            fields = item[1]
            break
        now = time.monotonic()
        if now >= next_check:  # about once a second, not per feed entry
            next_check = now + 1
            for rej in rejections.new():
                if gq.entry_id_of(rej) == job_id:
                    print("rejected: %s: %s" % (rej.get("field"),
                                                rej["error"]), file=sys.stderr)
                    return 1
        if now > deadline:
            print("%s did not finish within %g s" % (job_id, a.timeout),
                  file=sys.stderr)
            return 1
    echo = json.loads(fields.get("metadata", "{}"))
    print("%s %s (article_id %s)" % (job_id, fields["state"],
                                     echo.get("article_id")), file=sys.stderr)
    if fields["state"] != "succeeded":
        return 1
    doc = gq.result(r, a.queue, job_id)
    if doc is None:
        print("%s: result already expired" % job_id, file=sys.stderr)
        return 1
    sys.stdout.write(doc["text"])
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
