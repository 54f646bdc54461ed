// genq's public protocol, version 1, from Node with plain ioredis.
//
// The README section "Producers and consumers in any language" is the
// contract; this module only names its keys and wraps the few commands the
// examples use:
//
//   genq:{Q}:inbox     list    LPUSH one job document (schemas/job.schema.json)
//   genq:{Q}:rejected  list    rejection documents, newest first
//   genq:{Q}:feed      stream  one entry per finished job: v id state queue
//                              [metadata]
//   genq:{Q}:results   hash    id -> result document (schemas/result.schema.json)
//
// Environment: GENQ_REDIS_URL (default redis://127.0.0.1:6379/0), GENQ_QUEUE
// (default "articles").
"use strict";
const crypto = require("crypto");
const Redis = require("ioredis");

const PROTOCOL = 1;

// An ioredis client for GENQ_REDIS_URL.
function connect() {
  return new Redis(process.env.GENQ_REDIS_URL || "redis://127.0.0.1:6379/0");
}

function defaultQueue() {
  return process.env.GENQ_QUEUE || "articles";
}

// The public key NAME (inbox, rejected, feed, results) of queue.
function key(queue, name) {
  return `genq:{${queue}}:${name}`;
}

// A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits, so
// ids sort by creation time. Set it as the job's id to know it before genq
// does.
function uuid7() {
  const b = crypto.randomBytes(16);
  b.writeUIntBE(Date.now(), 0, 6);
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-` +
    `${h.slice(16, 20)}-${h.slice(20)}`;
}

// LPUSH the job documents (objects) onto the inbox in one round trip, in
// order: the intake takes from the tail, so the first is admitted first.
async function push(r, queue, jobs) {
  if (jobs.length > 0)
    await r.lpush(key(queue, "inbox"), ...jobs.map((j) => JSON.stringify(j)));
}

// The id of the feed's newest entry ("0-0" when empty): read from there to
// see only what finishes after this call.
async function feedPosition(r, queue) {
  const last = await r.xrevrange(key(queue, "feed"), "+", "-", "COUNT", 1);
  return last.length ? last[0][0] : "0-0";
}

// Whether stream id a ("MS-SEQ") is below b.
function idLess(a, b) {
  const [am, as] = a.split("-");
  const [bm, bs] = b.split("-");
  const x = BigInt(am), y = BigInt(bm);
  return x < y || (x === y && BigInt(as || 0) < BigInt(bs || 0));
}

// Whether entries after lastId may have been trimmed before they were read
// (the consumer fell behind the feed's bound): the feed's oldest entry is
// above lastId. (When the entry last read was itself the last one trimmed,
// nothing was missed, but this cannot tell.)
async function missed(r, queue, lastId) {
  if (lastId === "0" || lastId === "0-0") return false;
  const first = await r.xrange(key(queue, "feed"), "-", "+", "COUNT", 1);
  return first.length > 0 && idLess(lastId, first[0][0]);
}

// Yield [entryId, fields] of the feed after lastId, forever; null after each
// blockMs without news (so callers can check a deadline). Warns on stderr
// when entries were trimmed unread. Fields are strings: v, id, state, queue,
// and metadata (JSON text) for jobs with notify. While XREAD blocks, other
// commands on r wait behind it: give the reader its own connection when
// other code shares r.
async function* readFeed(r, queue, lastId, blockMs = 1000, count = 100) {
  const k = key(queue, "feed");
  for (;;) {
    const got = await r.xread("COUNT", count, "BLOCK", blockMs, "STREAMS", k,
      lastId);
    if (!got) {
      yield null;
      continue;
    }
    if (await missed(r, queue, lastId))
      process.stderr.write(`genq feed: fell behind: entries after ${lastId} ` +
        "may have been trimmed unread (the feed keeps about --feed-maxlen " +
        "entries)\n");
    for (const [entryId, flat] of got[0][1]) {
      lastId = entryId;
      const fields = {};
      for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]] = flat[i + 1];
      if (fields.v !== String(PROTOCOL)) continue; // a later protocol version
      yield [entryId, fields];
    }
  }
}

// The result document of a succeeded job (an object), or null when its
// retention has passed.
async function result(r, queue, jobId) {
  const doc = await r.hget(key(queue, "results"), jobId);
  return doc === null ? null : JSON.parse(doc);
}

// Reads the rejections added since start() (the rejected list is LPUSHed,
// newest first), so a producer learns which of its entries the intake
// refused and why.
class Rejections {
  constructor(r, queue) {
    this.r = r;
    this.k = key(queue, "rejected");
    this.seen = 0;
  }

  async start() {
    this.seen = await this.r.llen(this.k);
    return this;
  }

  // Rejection documents added since the last call, oldest first.
  async next() {
    const n = await this.r.llen(this.k);
    if (n <= this.seen) {
      this.seen = n; // purged meanwhile
      return [];
    }
    const docs = await this.r.lrange(this.k, 0, n - this.seen - 1);
    this.seen = n;
    return docs.reverse().map((d) => JSON.parse(d));
  }
}

// The job id of a rejected entry, when it was JSON with an id.
function entryIdOf(rejection) {
  try {
    return JSON.parse(rejection.entry).id;
  } catch (e) {
    return undefined;
  }
}

// Run async main() as the program: its value is the exit status; an error
// is printed as "NAME: message", status 1.
function run(name, main) {
  main().then((rc) => { process.exitCode = rc; }, (e) => {
    process.stderr.write(`${name}: ${e.message}\n`);
    process.exitCode = 1;
  });
}

module.exports = {
  connect, defaultQueue, key, uuid7, push, feedPosition, missed, readFeed,
  result, Rejections, entryIdOf, run,
};
