// The dashboard in a real browser: Debian's /usr/bin/chromium, headless,
// driven by playwright-core. Run by tests/scripts/dashboard.sh, which starts
// Redis-backed processes (the dashboard, workers against the mock and
// against fake-llm.js) and passes them in the environment:
//   DASH_URL, TOKEN, Q (queue with the dead job DEAD_ID), QX (queue whose
//   dead letter XSS_ID has markup in its error), QR (queue whose results
//   REVIEW_OK and REVIEW_XSS wait in review, their text holding markup),
//   GENQ, GENQ_REDIS_URL,
//   SHOT (optional: where to save a screenshot of the main page).
// Prints "ok: NAME" or "FAIL: NAME: WHY" per check; exits 1 on a failure.
"use strict";
const { chromium } = require("playwright-core");
const { execFileSync } = require("child_process");

const E = process.env;
const URL = E.DASH_URL;
let failed = 0;

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function check(name, fn) {
  try {
    await fn();
    console.log("ok: " + name);
  } catch (e) {
    failed++;
    console.log("FAIL: " + name + ": " + (e && e.message ? e.message.split("\n")[0] : e));
  }
}

// Poll fn until it returns a truthy value (returned), or throw after ms.
async function waitFor(fn, ms, what) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) { last = e.message; }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function openPage(ctx, queue, problems) {
  const page = await ctx.newPage();
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy|Refused to/.test(m.text())) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  await page.goto(`${URL}/#queue=${encodeURIComponent(queue)}`);
  await page.waitForSelector("body[data-ready]", { timeout: 15000 });
  return page;
}

async function jobState(page, queue, id) {
  const r = await page.request.get(`${URL}/api/jobs/${encodeURIComponent(id)}?queue=${encodeURIComponent(queue)}`);
  return (await r.json()).state;
}

// Tick the row of dead letter id in the list (paging on if needed).
async function tick(page, id) {
  const row = page.locator(`#dlq tr[data-id="${id}"]`);
  await row.waitFor({ timeout: 10000 });
  await row.locator("input[type=checkbox]").check();
}

(async () => {
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu"],
  });
  const problems = [];
  const anon = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const admin = await browser.newContext({ viewport: { width: 1400, height: 1000 } });

  await check("the page carries a CSP without unsafe-inline and nosniff", async () => {
    const page = await anon.newPage();
    const r = await page.goto(URL + "/");
    const csp = r.headers()["content-security-policy"] || "";
    assert(/script-src 'self'/.test(csp) && !/unsafe-inline/.test(csp), "CSP: " + csp);
    assert(r.headers()["x-content-type-options"] === "nosniff", "no nosniff");
    await page.close();
  });

  await check("charts render with data (throughput, latency, depth)", async () => {
    const page = await openPage(anon, E.Q, problems);
    await page.locator(`#queues tr[data-queue="${E.Q}"]`).waitFor({ timeout: 10000 });
    // jobs complete while the page watches
    const lines = [];
    for (let i = 0; i < 150; i++) lines.push(JSON.stringify({ prompt: `chart job ${i}`, max_tokens: 30 }));
    execFileSync(E.GENQ, ["enqueue", "--queue", E.Q, "-"], { input: lines.join("\n") + "\n", env: E });
    await waitFor(async () => Number(await page.getAttribute("#chart-throughput", "data-max")) > 0,
      30000, "a throughput above 0 in the chart");
    const pts = await page.getAttribute("#chart-throughput polyline", "points");
    assert(pts && pts.trim().split(" ").length >= 2, "throughput polyline: " + pts);
    await waitFor(async () => Number(await page.getAttribute("#chart-latency", "data-max")) > 0,
      15000, "a latency above 0 in the chart");
    assert(await page.locator("#chart-latency polyline").count() === 2, "p50 and p95 lines");
    assert(await page.locator("#chart-depth polyline").count() === 3, "ready, active, dead lines");
    await page.close();
  });

  await check("a dead letter whose error holds <script> shows as text", async () => {
    const page = await openPage(anon, E.QX, problems);
    const row = page.locator(`#dlq tr[data-id="${E.XSS_ID}"]`);
    await row.waitFor({ timeout: 10000 });
    const msg = await row.locator(".dlq-message").textContent();
    assert(msg.includes("<script>window.__xss = 1</script>"), "message cell: " + msg);
    await row.locator(".dlq-message").click();
    const pre = page.locator("#dlq-detail pre.dead-error");
    await pre.waitFor({ timeout: 10000 });
    assert((await pre.textContent()).includes("<img src=x onerror="), "detail: " + (await pre.textContent()));
    assert(await page.evaluate(() => window.__xss === undefined), "the markup ran");
    assert(await page.locator("main script, main img").count() === 0, "markup became elements");
    await page.close();
  });

  await check("an action without the token is refused (page and API)", async () => {
    const page = await openPage(anon, E.Q, problems);
    await tick(page, E.DEAD_ID);
    await page.click("#dlq-requeue-sel");
    await page.locator("#confirm[open]").waitFor({ timeout: 5000 });
    assert((await page.textContent("#confirm-text")).includes("Requeue 1 dead job"), "confirmation text");
    await page.click("#confirm-ok");
    await waitFor(async () => /admin token required/.test(await page.textContent("#toast")), 5000,
      "the refusal on the page");
    const st = await page.evaluate(async (a) => {
      const r = await fetch("/api/dlq/requeue", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ queue: a.q, ids: [a.id] }) });
      return r.status;
    }, { q: E.Q, id: E.DEAD_ID });
    assert(st === 401, "POST without the token: " + st);
    assert(await jobState(page, E.Q, E.DEAD_ID) === "dead", "the job moved");
    await page.close();
  });

  await check("a dead job is requeued from the page and then completes", async () => {
    const page = await openPage(admin, E.Q, problems);
    await page.fill("#login-token", E.TOKEN);
    await page.click("#login");
    await page.locator("#logout").waitFor({ state: "visible", timeout: 5000 });
    // the cookie alone (no CSRF token) changes nothing
    const noCsrf = await page.evaluate(async (a) => {
      const r = await fetch("/api/dlq/requeue", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ queue: a.q, ids: [a.id] }) });
      return r.status;
    }, { q: E.Q, id: E.DEAD_ID });
    assert(noCsrf === 403, "POST with the cookie and no CSRF token: " + noCsrf);
    await tick(page, E.DEAD_ID);
    await page.click("#dlq-requeue-sel");
    await page.locator("#confirm[open]").waitFor({ timeout: 5000 });
    await page.click("#confirm-ok");
    await waitFor(async () => /requeued 1/.test(await page.textContent("#toast")), 10000, "requeued 1");
    await waitFor(async () => (await jobState(page, E.Q, E.DEAD_ID)) === "succeeded", 30000,
      "the requeued job to succeed");
    await page.fill("#job-id", E.DEAD_ID);
    await page.click("#job-show");
    await waitFor(async () => /succeeded/.test(await page.textContent("#job")), 10000, "the job page");
    assert((await page.locator("#job .markdown").textContent()).length > 0, "the result text");
    if (E.SHOT) {
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: E.SHOT });
    }
    await page.close();
  });

  await check("a flagged text holding <script> shows as text in the review section", async () => {
    const page = await openPage(anon, E.QR, problems);
    const row = page.locator(`#review tr[data-id="${E.REVIEW_XSS}"]`);
    await row.waitFor({ timeout: 10000 });
    const cut = await row.locator(".review-excerpt").textContent();
    assert(cut.includes("<script>window.__xss = 3</script>"), "excerpt cell: " + cut);
    await row.locator(".review-excerpt").click();
    const md = page.locator("#review-detail .markdown");
    await md.waitFor({ timeout: 10000 });
    const text = await md.textContent();
    assert(text.includes("<script>window.__xss = 3</script>") && text.includes("<img src=x onerror="),
      "the text: " + text);
    assert(await page.locator("#review-detail .markdown h3").textContent() === "A flagged article",
      "the Markdown heading");
    assert(await page.evaluate(() => window.__xss === undefined), "the markup ran");
    assert(await page.locator("main script, main img").count() === 0, "markup became elements");
    await page.close();
  });

  await check("a flagged result is approved from the page and then reads as succeeded", async () => {
    const page = await openPage(admin, E.QR, problems);
    if (await page.locator("#login-form").isVisible()) {
      await page.fill("#login-token", E.TOKEN);
      await page.click("#login");
    }
    await page.locator("#logout").waitFor({ state: "visible", timeout: 5000 });
    assert(await jobState(page, E.QR, E.REVIEW_OK) === "review", "not in review at the start");
    const row = page.locator(`#review tr[data-id="${E.REVIEW_OK}"]`);
    await row.waitFor({ timeout: 10000 });
    await row.locator("input[type=checkbox]").check();
    await page.click("#review-approve");
    await page.locator("#confirm[open]").waitFor({ timeout: 5000 });
    const ask = await page.textContent("#confirm-text");
    assert(ask.includes("Approve 1 result of queue " + E.QR), "confirmation text: " + ask);
    await page.click("#confirm-ok");
    await waitFor(async () => /approved 1/.test(await page.textContent("#toast")), 10000, "approved 1");
    assert(await jobState(page, E.QR, E.REVIEW_OK) === "succeeded", "the approved job's state");
    await waitFor(async () => (await row.count()) === 0, 5000, "the row to leave the review list");
    assert(await jobState(page, E.QR, E.REVIEW_XSS) === "review", "the other one moved");
    await page.close();
  });

  await check("no CSP violation or script error on any page", async () => {
    assert(problems.length === 0, problems.join("; "));
  });

  await browser.close();
  process.exit(failed ? 1 : 0);
})().catch((e) => {
  console.log("FAIL: the browser test itself: " + e.message);
  process.exit(1);
});
