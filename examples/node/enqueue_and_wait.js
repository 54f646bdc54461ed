#!/usr/bin/env node
// Enqueue one job through genq's inbox and wait for it: LPUSH the job with
// an id of our own (UUIDv7), XREAD the completion feed until its entry
// comes, then HGET its result document and print the text.
//
//   GENQ_REDIS_URL=redis://127.0.0.1:6379/0 node enqueue_and_wait.js \
//       "Write about Redis" --article-id 7
//
// Exit 0 with the text on stdout; 1 when the job ended dead or canceled,
// was rejected by the intake, or did not finish within --timeout seconds.
"use strict";
const { parseArgs } = require("util");
const gq = require("./genqproto");

async function main() {
  const { values: a, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      queue: { type: "string", default: gq.defaultQueue() },
      "max-tokens": { type: "string", default: "200" },
      "article-id": { type: "string", default: "7" },
      timeout: { type: "string", default: "600" },
    },
  });
  if (positionals.length !== 1) {
    process.stderr.write("usage: enqueue_and_wait.js PROMPT [--queue Q] " +
      "[--max-tokens N] [--article-id N] [--timeout S]\n");
    return 2;
  }
  const r = gq.connect();
  try {
    const jobId = gq.uuid7();
    const job = {
      id: jobId, prompt: positionals[0], max_tokens: Number(a["max-tokens"]),
      metadata: { article_id: Number(a["article-id"]) },
      notify: ["article_id"],
    };
    // where the feed is now, read before the push: the job's entry comes
    // after it, however fast the worker is
    const since = await gq.feedPosition(r, a.queue);
    const rejections = await new gq.Rejections(r, a.queue).start();
    await gq.push(r, a.queue, [job]);
    process.stderr.write(`enqueued ${jobId}\n`);

    const deadline = Date.now() + 1000 * Number(a.timeout);
    let nextCheck = 0, fields = null;
    for await (const item of gq.readFeed(r, a.queue, since)) {
      if (item && item[1].id === jobId) {
        fields = item[1];
        break;
      }
      const now = Date.now();
      if (now >= nextCheck) { // about once a second, not per feed entry
        nextCheck = now + 1000;
        for (const rej of await rejections.next())
          if (gq.entryIdOf(rej) === jobId) {
            process.stderr.write(`rejected: ${rej.field}: ${rej.error}\n`);
            return 1;
          }
      }
      if (now > deadline) {
        process.stderr.write(`${jobId} did not finish within ${a.timeout} s\n`);
        return 1;
      }
    }
    const echo = JSON.parse(fields.metadata || "{}");
    process.stderr.write(`${jobId} ${fields.state} (article_id ` +
      `${echo.article_id})\n`);
    if (fields.state !== "succeeded") return 1;
    const doc = await gq.result(r, a.queue, jobId);
    if (doc === null) {
      process.stderr.write(`${jobId}: result already expired\n`);
      return 1;
    }
    process.stdout.write(doc.text + "\n");
    return 0;
  } finally {
    r.disconnect();
  }
}

gq.run("enqueue_and_wait", main);
