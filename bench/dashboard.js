// The dashboard bench's clients (bench/dashboard.sh):
//   node bench/dashboard.js page URL QUEUE RUNS
//     open the page RUNS times in headless /usr/bin/chromium (playwright-core
//     from tests/browser/node_modules) and print, per run, the ms from
//     navigation until the page is interactive: the queues shown and the
//     first page of dead letters listed (the page's data-ready and
//     data-dlq-ready marks, both performance.now()).
//   node bench/dashboard.js viewers URL QUEUE N SECONDS
//     N simulated viewers for SECONDS, each making the page's requests at the
//     page's pace (queues + workers every 2 s, the series every 5 s, first
//     dead-letter page once); prints requests made and failed.
"use strict";
const path = require("path");
const http = require("http");

const [mode, URL, QUEUE] = process.argv.slice(2);

async function page(runs) {
  const { chromium } = require(path.join(__dirname, "../tests/browser/node_modules/playwright-core"));
  const b = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu"] });
  for (let i = 0; i < runs; i++) {
    const ctx = await b.newContext({ viewport: { width: 1400, height: 1000 } });
    const p = await ctx.newPage();
    await p.goto(`${URL}/#queue=${encodeURIComponent(QUEUE)}`);
    await p.waitForSelector("body[data-ready][data-dlq-ready]", { timeout: 30000 });
    const rows = await p.locator("#dlq tbody tr").count();
    const t = await p.evaluate(() => Math.max(Number(document.body.dataset.ready),
      Number(document.body.dataset.dlqReady)));
    console.log(`run ${i + 1}: interactive in ${t} ms (${rows} dead letters listed)`);
    await ctx.close();
  }
  await b.close();
}

function getWith(p, agent) {
  return new Promise((resolve) => {
    const req = http.get(URL + p, { agent }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode === 200));
    });
    req.on("error", () => resolve(false));
  });
}

async function viewers(n, seconds) {
  const end = Date.now() + seconds * 1000;
  let made = 0, failed = 0;
  const q = encodeURIComponent(QUEUE);
  const one = async (k) => {
    // a browser keeps its connections open
    const agent = new http.Agent({ keepAlive: true, maxSockets: 3 });
    const get = (p) => getWith(p, agent);
    await new Promise((r) => setTimeout(r, (k * 2000) / n)); // spread out
    const ok = await get(`/api/dlq?queue=${q}&limit=100`);
    made++; failed += ok ? 0 : 1;
    let tick = 0;
    while (Date.now() < end) {
      const rs = [get("/api/queues"), get("/api/workers")];
      if (tick % 5 === 0) rs.push(get(`/api/series?queue=${q}`));
      for (const ok2 of await Promise.all(rs)) { made++; failed += ok2 ? 0 : 1; }
      tick += 2;
      await new Promise((r) => setTimeout(r, 2000));
    }
  };
  await Promise.all(Array.from({ length: n }, (_, k) => one(k)));
  http.globalAgent.destroy();
  console.log(`viewers: ${n}, requests: ${made}, failed: ${failed}`);
}

(mode === "page" ? page(Number(process.argv[5] || 5))
  : viewers(Number(process.argv[5]), Number(process.argv[6]))).catch((e) => {
  console.error("bench/dashboard.js: " + e.message);
  process.exit(1);
});
