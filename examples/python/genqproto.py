"""genq's public protocol, version 1, from Python with plain redis-py.

The README section "Producers and consumers in any language" is the
contract; this module only names its keys and wraps the few commands the
examples use:

  genq:{Q}:inbox     list    LPUSH one job document (schemas/job.schema.json)
  genq:{Q}:rejected  list    rejection documents, newest first
  genq:{Q}:feed      stream  one entry per finished job: v id state queue
                             [metadata]
  genq:{Q}:results   hash    id -> result document (schemas/result.schema.json)

Environment: GENQ_REDIS_URL (default redis://127.0.0.1:6379/0), GENQ_QUEUE
(default "articles").
"""
import json
import os
import sys
import time
import uuid

import redis

PROTOCOL = 1
TERMINAL = ("succeeded", "dead", "canceled", "review")


def connect():
    """A redis-py client for GENQ_REDIS_URL, strings decoded as UTF-8."""
    url = os.environ.get("GENQ_REDIS_URL", "redis://127.0.0.1:6379/0")
    return redis.Redis.from_url(url, decode_responses=True)


def default_queue():
    return os.environ.get("GENQ_QUEUE", "articles")


def key(queue, name):
    """The public key NAME (inbox, rejected, feed, results) of queue."""
    return "genq:{%s}:%s" % (queue, name)


def uuid7():
    """A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits,
    so ids sort by creation time. Set it as the job's id to know it before
    genq does."""
    b = bytearray(int(time.time() * 1000).to_bytes(6, "big") + os.urandom(10))
    b[6] = (b[6] & 0x0F) | 0x70
    b[8] = (b[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(b)))


def push(r, queue, jobs):
    """LPUSH the job documents (dicts) onto the inbox in one round trip, in
    order: the intake takes from the tail, so the first is admitted first."""
    if jobs:
        r.lpush(key(queue, "inbox"), *[json.dumps(j) for j in jobs])


def feed_position(r, queue):
    """The id of the feed's newest entry ("0-0" when empty): read from there
    to see only what finishes after this call."""
    last = r.xrevrange(key(queue, "feed"), count=1)
    return last[0][0] if last else "0-0"


def _id_less(a, b):
    am, _, aseq = a.partition("-")
    bm, _, bseq = b.partition("-")
    return (int(am), int(aseq or 0)) < (int(bm), int(bseq or 0))


def missed(r, queue, last_id):
    """Whether entries after last_id may have been trimmed before they were
    read (the consumer fell behind the feed's bound): the feed's oldest
    entry is above last_id. (When the entry last read was itself the last
    one trimmed, nothing was missed, but this cannot tell.)"""
    if last_id in ("0", "0-0"):
        return False
    first = r.xrange(key(queue, "feed"), count=1)
    return bool(first) and _id_less(last_id, first[0][0])


def read_feed(r, queue, last_id, block_ms=1000, count=100):
    """Yield (entry_id, fields) of the feed after last_id, forever; None
    after each block_ms without news (so callers can check a deadline).
    Warns on stderr when entries were trimmed unread. Fields are strings:
    v, id, state, queue, and metadata (JSON text) for jobs with notify."""
    k = key(queue, "feed")
    while True:
        got = r.xread({k: last_id}, count=count, block=block_ms)
        if not got:
            yield None
            continue
        if missed(r, queue, last_id):
            print("genq feed: fell behind: entries after %s may have been "
                  "trimmed unread (the feed keeps about --feed-maxlen "
                  "entries)" % last_id, file=sys.stderr)
        for entry_id, fields in got[0][1]:
            last_id = entry_id
            if fields.get("v") != str(PROTOCOL):
                continue  # a later protocol version: not ours to read
            yield entry_id, fields


def result(r, queue, job_id):
    """The result document of a succeeded job (a dict), or None when its
    retention has passed."""
    doc = r.hget(key(queue, "results"), job_id)
    return json.loads(doc) if doc is not None else None


class Rejections:
    """Reads the rejections added since it was created (the rejected list
    is LPUSHed, newest first), so a producer learns which of its entries the
    intake refused and why."""

    def __init__(self, r, queue):
        self.r, self.k = r, key(queue, "rejected")
        self.seen = r.llen(self.k)

    def new(self):
        """Rejection documents added since the last call, oldest first."""
        n = self.r.llen(self.k)
        if n <= self.seen:
            self.seen = n  # purged meanwhile
            return []
        docs = self.r.lrange(self.k, 0, n - self.seen - 1)
        self.seen = n
        return [json.loads(d) for d in reversed(docs)]


def entry_id_of(rejection):
    """The job id of a rejected entry, when it was JSON with an id."""
    try:
        return json.loads(rejection.get("entry", "")).get("id")
    except (ValueError, AttributeError):
        return None
