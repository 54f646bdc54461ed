// Producer. MODE=bulk: N jobs with Queue.addBulk in chunks of CHUNK (1,000),
// one chunk in flight at a time; MODE=paced: N jobs one Queue.add every
// PACE_MS; MAX_TOKENS (50) is each job's max_tokens. Prints one JSON line: {n, ms, jobs_per_s, cpu_us}.
'use strict';
const { Queue } = require('bullmq');
const { env, connection, cpuUs } = require('./common');

async function main() {
  const n = Number(env('N'));
  const chunk = Number(env('CHUNK', '1000'));
  const mode = env('MODE', 'bulk');
  const pace = Number(env('PACE_MS', '50'));
  const prefix = env('PROMPT_PREFIX', 'Write a short note about item');
  const q = new Queue(env('QUEUE'), { connection: connection() });
  await q.waitUntilReady();
  const maxTokens = Number(env('MAX_TOKENS', '50'));
  const data = (i) => ({ prompt: `${prefix} ${i}`, max_tokens: maxTokens });
  const cpu0 = cpuUs();
  const t0 = Date.now();
  if (mode === 'bulk') {
    for (let i = 0; i < n; i += chunk) {
      const jobs = [];
      for (let k = i; k < Math.min(n, i + chunk); k++)
        jobs.push({ name: 'gen', data: data(k) });
      await q.addBulk(jobs);
    }
  } else {
    for (let i = 0; i < n; i++) {
      const due = t0 + i * pace;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      await q.add('gen', data(i));
    }
  }
  const ms = Date.now() - t0;
  const out = { n, ms, jobs_per_s: ms > 0 ? (n * 1000) / ms : null,
                cpu_us: cpuUs() - cpu0 };
  process.stdout.write(JSON.stringify(out) + '\n');
  await q.close();
}

main().catch((e) => { console.error(e); process.exit(1); });
