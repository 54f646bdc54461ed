// Reads back every completed job of QUEUE and prints one line per job,
// "enqueued_ms started_ms finished_ms" (BullMQ's timestamp, processedOn,
// finishedOn), for bench/lib/bench.py to compute latencies the same way as
// genq's. Also prints "failed N" when jobs failed.
'use strict';
const IORedis = require('ioredis');
const { env } = require('./common');

async function main() {
  const q = env('QUEUE');
  const r = new IORedis(Number(env('REDIS_PORT')), '127.0.0.1');
  const ids = await r.zrange(`bull:${q}:completed`, 0, -1);
  const out = [];
  for (let i = 0; i < ids.length; i += 1000) {
    const p = r.pipeline();
    for (const id of ids.slice(i, i + 1000))
      p.hmget(`bull:${q}:${id}`, 'timestamp', 'processedOn', 'finishedOn');
    for (const [err, v] of await p.exec()) {
      if (err) throw err;
      out.push(v.join(' '));
    }
  }
  process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
  const failed = await r.zcard(`bull:${q}:failed`);
  if (failed) process.stderr.write(`failed ${failed}\n`);
  r.disconnect();
}

main().catch((e) => { console.error(e); process.exit(1); });
