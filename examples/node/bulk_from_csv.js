#!/usr/bin/env node
// Enqueue one article job per row of a CSV of topics (article_id,topic)
// through genq's inbox, then follow the completion feed with a progress bar
// on stderr until every one of them has finished.
//
//   GENQ_REDIS_URL=redis://127.0.0.1:6379/0 node bulk_from_csv.js \
//       ../topics.csv                      # the 10,000 topics shipped
//   node bulk_from_csv.js ../topics.csv --count 200 --ids ids.txt
//
// Each job gets its own UUIDv7 id (written to --ids, one a line) and echoes
// article_id in its feed entry. Exit 0 when all succeeded; 1 when any ended
// dead or canceled or was rejected (each named on stderr), or on --timeout.
"use strict";
const fs = require("fs");
const path = require("path");
const { parseArgs } = require("util");
const gq = require("./genqproto");

const CHUNK = 1000; // jobs per LPUSH

// The rows of a CSV file as objects keyed by the header (RFC 4180 quoting).
function readCsv(file) {
  const rows = [];
  let row = [], field = "", quoted = false;
  const text = fs.readFileSync(file, "utf8");
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(field); field = ""; }
    else if (c === "\n") { row.push(field); rows.push(row); row = []; field = ""; }
    else if (c !== "\r") field += c;
  }
  if (field !== "" || row.length) { row.push(field); rows.push(row); }
  const head = rows.shift();
  return rows.map((r) => Object.fromEntries(head.map((h, i) => [h, r[i]])));
}

// A one-line progress bar on stderr (a line per 10 % when stderr is not a
// terminal).
class Bar {
  constructor(what, total) {
    this.what = what; this.total = total; this.step = -1;
    this.tty = process.stderr.isTTY;
  }

  show(n, extra = "") {
    const t = Math.max(this.total, 1);
    if (this.tty) {
      const fill = Math.floor(30 * n / t);
      process.stderr.write(`\r${this.what.padEnd(9)} [${"#".repeat(fill)}` +
        `${".".repeat(30 - fill)}] ${n}/${this.total} ${extra}` +
        (n >= this.total ? "\n" : ""));
    } else if (Math.floor(10 * n / t) > this.step) {
      this.step = Math.floor(10 * n / t);
      process.stderr.write(`${this.what} ${n}/${this.total} ${extra}\n`);
    }
  }
}

async function main() {
  const { values: a, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      count: { type: "string", default: "10000" },
      queue: { type: "string", default: gq.defaultQueue() },
      "max-tokens": { type: "string", default: "400" },
      ids: { type: "string" },
      "no-wait": { type: "boolean", default: false },
      timeout: { type: "string", default: "86400" },
    },
  });
  const file = positionals[0] || path.join(__dirname, "..", "topics.csv");
  const jobs = readCsv(file).slice(0, Number(a.count)).map((row) => ({
    id: gq.uuid7(),
    prompt: `Write a short article about ${row.topic}.`,
    max_tokens: Number(a["max-tokens"]),
    metadata: { article_id: Number(row.article_id), topic: row.topic },
    notify: ["article_id"],
  }));
  if (a.ids) fs.writeFileSync(a.ids, jobs.map((j) => j.id + "\n").join(""));

  const r = gq.connect();
  try {
    const since = await gq.feedPosition(r, a.queue);
    const rejections = await new gq.Rejections(r, a.queue).start();
    let bar = new Bar("enqueued", jobs.length);
    for (let i = 0; i < jobs.length; i += CHUNK) {
      await gq.push(r, a.queue, jobs.slice(i, i + CHUNK));
      bar.show(Math.min(i + CHUNK, jobs.length));
    }
    if (a["no-wait"]) return 0;

    const pending = new Set(jobs.map((j) => j.id));
    let failed = 0, nextCheck = 0;
    const deadline = Date.now() + 1000 * Number(a.timeout);
    bar = new Bar("finished", jobs.length);
    for await (const item of gq.readFeed(r, a.queue, since)) {
      if (item && pending.has(item[1].id)) {
        pending.delete(item[1].id);
        if (item[1].state !== "succeeded") {
          failed++;
          process.stderr.write(`\n${item[1].id} ${item[1].state}\n`);
        }
      }
      const now = Date.now();
      if (now >= nextCheck || pending.size === 0) {
        nextCheck = now + 500;
        for (const rej of await rejections.next()) {
          const id = gq.entryIdOf(rej);
          if (pending.delete(id)) {
            failed++;
            process.stderr.write(`\n${id} rejected: ${rej.error}\n`);
          }
        }
        bar.show(jobs.length - pending.size,
          failed ? `(${failed} not succeeded)` : "");
      }
      if (pending.size === 0) break;
      if (now > deadline) {
        process.stderr.write(`\n${pending.size} jobs did not finish within ` +
          `${a.timeout} s\n`);
        return 1;
      }
    }
    return failed ? 1 : 0;
  } finally {
    r.disconnect();
  }
}

gq.run("bulk_from_csv", main);
