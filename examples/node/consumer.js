#!/usr/bin/env node
// Follow genq's completion feed and write each succeeded article to
// OUT/ID.md (its text under a title from metadata.topic when there is one).
//
//   GENQ_REDIS_URL=redis://127.0.0.1:6379/0 node consumer.js --out out
//
// The last feed id handled is kept in OUT/.feed-position, so a restart goes
// on where it stopped; without that file it starts with what finishes from
// now on (--from 0: everything the feed still holds). A consumer that was
// away longer than the feed's bound is told so on stderr. --count N stops
// after N articles (and --timeout S after S seconds without one).
"use strict";
const fs = require("fs");
const path = require("path");
const { parseArgs } = require("util");
const gq = require("./genqproto");

// OUT/ID.md, written whole (a temporary file renamed).
function writeArticle(out, jobId, doc) {
  const topic = (doc.metadata || {}).topic;
  const file = path.join(out, `${jobId}.md`);
  fs.writeFileSync(file + ".tmp", (topic ? `# ${topic}\n\n` : "") +
    doc.text + "\n");
  fs.renameSync(file + ".tmp", file);
}

async function main() {
  const { values: a } = parseArgs({
    options: {
      out: { type: "string", default: "out" },
      queue: { type: "string", default: gq.defaultQueue() },
      from: { type: "string" },
      count: { type: "string", default: "0" },
      timeout: { type: "string", default: "0" },
    },
  });
  const count = Number(a.count), timeout = 1000 * Number(a.timeout);
  fs.mkdirSync(a.out, { recursive: true });
  const posFile = path.join(a.out, ".feed-position");
  const r = gq.connect();
  let stop = false;
  process.on("SIGINT", () => { stop = true; });
  try {
    let since;
    if (a.from !== undefined) since = a.from;
    else if (fs.existsSync(posFile))
      since = fs.readFileSync(posFile, "utf8").trim();
    else since = await gq.feedPosition(r, a.queue);

    let written = 0, lastArticle = Date.now();
    for await (const item of gq.readFeed(r, a.queue, since)) {
      if (stop) break;
      if (item === null) {
        if (timeout && Date.now() - lastArticle > timeout) {
          process.stderr.write(`no article for ${a.timeout} s; ` +
            `${written} written\n`);
          return 1;
        }
        continue;
      }
      const [entryId, fields] = item;
      if (fields.state === "succeeded") {
        const doc = await gq.result(r, a.queue, fields.id);
        if (doc === null) {
          process.stderr.write(`${fields.id}: result expired before it ` +
            "was read\n");
        } else {
          writeArticle(a.out, fields.id, doc);
          written++;
          lastArticle = Date.now();
        }
      } else {
        process.stderr.write(`${fields.id} ${fields.state}\n`);
      }
      fs.writeFileSync(posFile, entryId + "\n");
      if (count && written >= count) break;
    }
    process.stderr.write(`${written} articles written to ${a.out}\n`);
    return 0;
  } finally {
    r.disconnect();
  }
}

gq.run("consumer", main);
