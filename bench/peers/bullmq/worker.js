// BullMQ worker. PROC=noop: returns at once; PROC=http: the same request
// genq-worker makes, to the same genq-mockllm, with Node's built-in fetch
// (undici's global agent keeps connections alive), reading the whole
// (streamed) body and extracting the text, returned as the job's result;
// PROC=hold: logs "id ms" to START_LOG and holds the job for HOLD_MS
// (recovery scenario). Writes READY_FILE ({pid, cpu_us}) once connected.
'use strict';
const fs = require('fs');
const { Worker } = require('bullmq');
const { env, connection, cpuUs, writeJson } = require('./common');

const proc = env('PROC', 'noop');
const stream = env('STREAM', '1') === '1';
const mockUrl = env('MOCK_URL', '') + '/v1/messages';
const headers = {
  'x-api-key': env('MOCK_KEY', 'bench'),
  'anthropic-version': '2023-06-01',
  'content-type': 'application/json',
};
const startLog = env('START_LOG', '');
const holdMs = Number(env('HOLD_MS', '60000'));

function sseText(body) {
  let text = '';
  let usage = null;
  for (const line of body.split('\n')) {
    if (!line.startsWith('data: ')) continue;
    const ev = JSON.parse(line.slice(6));
    if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta')
      text += ev.delta.text;
    else if (ev.type === 'message_delta') usage = ev.usage;
    else if (ev.type === 'error') throw new Error(ev.error.message);
  }
  return { text, usage };
}

async function httpJob(job) {
  const body = JSON.stringify({
    model: 'm',
    max_tokens: job.data.max_tokens || 50,
    messages: [{ role: 'user', content: job.data.prompt }],
    stream,
  });
  const r = await fetch(mockUrl, { method: 'POST', headers, body });
  const raw = await r.text();
  if (!r.ok) throw new Error(`HTTP ${r.status}: ${raw.slice(0, 200)}`);
  if (stream) return sseText(raw);
  const m = JSON.parse(raw);
  return { text: m.content.map((c) => c.text || '').join(''), usage: m.usage };
}

async function holdJob(job) {
  fs.appendFileSync(startLog, `${job.id} ${Date.now()}\n`);
  await new Promise((r) => setTimeout(r, holdMs));
  return {};
}

const processor =
  proc === 'http' ? httpJob : proc === 'hold' ? holdJob : async () => ({});

const opts = {
  connection: connection(),
  concurrency: Number(env('CONCURRENCY', '100')),
  autorun: false,
};
if (process.env.LOCK_MS) opts.lockDuration = Number(process.env.LOCK_MS);
if (process.env.STALLED_MS) opts.stalledInterval = Number(process.env.STALLED_MS);

const w = new Worker(env('QUEUE'), processor, opts);
w.on('error', (e) => console.error('worker error:', e.message));
w.on('failed', (job, e) => console.error(`job ${job && job.id} failed: ${e.message}`));

async function main() {
  await w.waitUntilReady();
  writeJson(env('READY_FILE'), { pid: process.pid, cpu_us: cpuUs() });
  w.run();
}

let closing = false;
process.on('SIGTERM', async () => {
  if (closing) return;
  closing = true;
  await w.close(true).catch(() => {});
  process.exit(0);
});

main().catch((e) => { console.error(e); process.exit(1); });
