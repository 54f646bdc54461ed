// genq dashboard: the page's script. It reads only the JSON API under /api/
// (the documents of the CLI's --json), polls at most once a second, and
// builds every element with DOM calls: text from Redis goes in as text
// (textContent), never as markup.
"use strict";

const POLL_MS = 2000;
const SERIES_MS = 5000;
const LIMITS_MS = 10000;
const SVGNS = "http://www.w3.org/2000/svg";

const st = {
  session: { admin: false, authenticated: false, csrf: null },
  queues: [],
  queue: null,         // the selected queue
  filter: {},          // of the dead-letter list
  cursors: [null],     // cursor of each page seen; last = the current page's
  next: null,          // cursor of the page after the current one
  dlq: [],             // entries shown
  selected: new Set(), // ids ticked
  review: [],          // review entries shown
  reviewSel: new Set(),
  reviewCursors: [null],
  reviewNext: null,
};

const $ = (id) => document.getElementById(id);

// el("td", {class: "n"}, "text", child...): an element with text children.
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "title") e.title = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const k of kids) {
    if (k === null || k === undefined) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  return e;
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, body) {
  const opt = { credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    opt.method = "POST";
    opt.headers["Content-Type"] = "application/json";
    if (st.session.csrf) opt.headers["X-CSRF-Token"] = st.session.csrf;
    opt.body = JSON.stringify(body);
  }
  const r = await fetch(path, opt);
  let doc = null;
  try { doc = await r.json(); } catch (e) { doc = null; }
  if (!r.ok) throw new ApiError(r.status, (doc && doc.error) || r.statusText);
  return doc;
}

let toastTimer = null;
function toast(msg, bad) {
  const t = $("toast");
  t.textContent = msg;
  t.className = bad ? "bad" : "";
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, bad ? 8000 : 4000);
}

function showError(e) {
  const p = $("error");
  if (!e) { p.hidden = true; return; }
  p.textContent = String(e.message || e);
  p.hidden = false;
}

const fmtNum = (v) => (v === null || v === undefined ? "–" : String(v));
function fmtMs(v) {
  if (v === null || v === undefined) return "–";
  return v < 10000 ? v + " ms" : (v / 1000).toFixed(1) + " s";
}
function fmtAge(s) {
  if (s === null || s === undefined) return "–";
  if (s < 120) return Math.round(s) + " s";
  if (s < 7200) return Math.round(s / 60) + " m";
  if (s < 172800) return (s / 3600).toFixed(1) + " h";
  return (s / 86400).toFixed(1) + " d";
}
const fmtTime = (iso) => (iso ? iso.replace("T", " ").replace(/\.\d+Z$/, "Z") : "–");

// ---- session -----------------------------------------------------------

async function loadSession() {
  st.session = await api("/api/session");
  const s = st.session;
  $("auth-state").textContent = !s.admin ? "read-only (no admin token set)"
    : s.authenticated ? "admin" : "read-only until you log in";
  $("login-form").hidden = !s.admin || s.authenticated;
  $("logout").hidden = !s.authenticated;
}

async function login(ev) {
  ev.preventDefault();
  const tok = $("login-token").value;
  try {
    const r = await api("/api/login", { token: tok });
    $("login-token").value = "";
    st.session.csrf = r.csrf;
    await loadSession();
    toast("logged in");
  } catch (e) { toast("login: " + e.message, true); }
}

async function logout() {
  try { await api("/api/logout", {}); } catch (e) { /* the cookie is gone anyway */ }
  st.session.csrf = null;
  await loadSession();
}

// ---- queues --------------------------------------------------------------

function selectQueue(q) {
  if (st.queue === q) return;
  st.queue = q;
  $("chart-queue").textContent = q;
  $("dlq-queue").textContent = q;
  $("review-queue").textContent = q;
  st.reviewCursors = [null];
  st.reviewSel.clear();
  $("review-detail").hidden = true;
  renderQueues();
  loadSeries();
  resetDlq();
}

function renderQueues() {
  const tb = $("queues").tBodies[0];
  const review = st.queues.some((q) => typeof q.review === "number");
  tb.replaceChildren();
  for (const h of document.querySelectorAll(".review-col")) h.hidden = !review;
  for (const q of st.queues) {
    const tr = el("tr", { class: "click" + (q.queue === st.queue ? " sel" : ""),
      "data-queue": q.queue, onclick: () => selectQueue(q.queue) },
    el("td", { class: "mono" }, q.queue),
    el("td", { class: q.paused ? "paused" : "running" }, q.paused ? "paused" : "running"),
    el("td", { class: "n" }, q.ready),
    el("td", { class: "n" }, `${q.ready_high}/${q.ready_normal}/${q.ready_low}`),
    el("td", { class: "n" }, q.active),
    el("td", { class: "n" }, q.delayed),
    el("td", { class: "n" + (q.dead_warn ? " deadwarn" : "") }, q.dead),
    el("td", { class: "n" }, q.succeeded),
    el("td", { class: "n" }, q.canceled),
    review ? el("td", { class: "n" }, fmtNum(q.review)) : null,
    el("td", { class: "n" }, q.completed_per_s),
    el("td", { class: "n" }, fmtMs(q.latency_p50_ms)),
    el("td", { class: "n" }, fmtMs(q.latency_p95_ms)),
    el("td", { class: "n" }, fmtAge(q.oldest_ready_age_s)));
    tb.append(tr);
  }
  $("no-queues").hidden = st.queues.length > 0;
  const cur = st.queues.find((q) => q.queue === st.queue);
  $("review-section").hidden = !(cur && typeof cur.review === "number");
}

async function loadQueues() {
  st.queues = await api("/api/queues");
  if (!st.queue && st.queues.length) selectQueue(st.queues[0].queue);
  renderQueues();
  if (!$("review-section").hidden) await loadReview();
}

// ---- charts --------------------------------------------------------------

// Draw lines (one per series: {name, values}) over times ts into svg.
function chart(box, ts, series, unit) {
  const W = 420, H = 150, L = 44, R = 8, T = 10, B = 22;
  box.replaceChildren();
  let max = 0, n = 0;
  for (const s of series)
    for (const v of s.values) if (v !== null) { max = Math.max(max, v); n++; }
  box.setAttribute("data-max", String(max));
  box.setAttribute("data-points", String(n));
  box.append(svg("line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }));
  box.append(svg("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }));
  const top = max > 0 ? max * 1.1 : 1;
  const label = (x, y, txt, anchor) => {
    const t = svg("text", { x, y, "text-anchor": anchor || "start" });
    t.textContent = txt;
    box.append(t);
  };
  label(L - 4, T + 8, (top >= 100 ? Math.round(top) : top.toFixed(1)) + (unit || ""), "end");
  label(L - 4, H - B, "0", "end");
  if (ts.length === 0) { label(W / 2, H / 2, "no samples yet", "middle"); return; }
  const t0 = ts[0], t1 = ts[ts.length - 1], span = Math.max(t1 - t0, 1);
  const fmt = (t) => new Date(t).toISOString().slice(11, 19);
  label(L, H - 6, fmt(t0));
  label(W - R, H - 6, fmt(t1), "end");
  series.forEach((s, i) => {
    const pts = [];
    s.values.forEach((v, k) => {
      if (v === null) return;
      const x = L + ((ts[k] - t0) / span) * (W - L - R);
      const y = H - B - (v / top) * (H - T - B);
      pts.push(x.toFixed(1) + "," + y.toFixed(1));
    });
    if (pts.length === 1) pts.push(pts[0]);
    if (pts.length) box.append(svg("polyline", { class: "s" + i, points: pts.join(" "), "data-series": s.name }));
    const lg = svg("text", { x: L + 6 + i * 70, y: T + 8, class: "legend" + i });
    lg.textContent = s.name;
    if (series.length > 1) box.append(lg);
  });
}

async function loadSeries() {
  if (!st.queue) return;
  const doc = await api("/api/series?queue=" + encodeURIComponent(st.queue));
  if (doc.queue !== st.queue) return;
  const p = doc.points;
  const ts = p.map((x) => Date.parse(x.at));
  chart($("chart-throughput"), ts, [{ name: "completed/s", values: p.map((x) => x.completed_per_s) }], "/s");
  chart($("chart-latency"), ts, [
    { name: "p50", values: p.map((x) => x.latency_p50_ms) },
    { name: "p95", values: p.map((x) => x.latency_p95_ms) }], "ms");
  chart($("chart-depth"), ts, [
    { name: "ready", values: p.map((x) => x.ready) },
    { name: "active", values: p.map((x) => x.active) },
    { name: "dead", values: p.map((x) => x.dead) }], "");
}

// ---- workers -------------------------------------------------------------

async function loadWorkers() {
  const ws = await api("/api/workers");
  const tb = $("workers").tBodies[0];
  const version = ws.some((w) => w.version !== undefined); // workers that report one
  $("workers").tHead.rows[0].cells[1].hidden = !version;
  tb.replaceChildren(...ws.map((w) => el("tr", {},
    el("td", { class: "mono" }, w.id),
    version ? el("td", {}, fmtNum(w.version)) : null,
    el("td", { class: "mono" }, (w.queues || []).join(", ")),
    el("td", { class: "n" }, `${fmtNum(w.in_flight)}/${fmtNum(w.concurrency)}`),
    el("td", {}, fmtNum(w.provider)),
    el("td", {}, fmtTime(w.started_at)),
    el("td", { class: "n" }, fmtNum(w.beat_age_s !== undefined ? w.beat_age_s.toFixed(1) + " s ago" : null)))));
  $("no-workers").hidden = ws.length > 0;
}

// ---- limits, breaker, budget (shown when there are any) -----------------

function capText(spent, cap, money) {
  const f = (v) => (money ? "$" + Number(v).toFixed(2) : String(v));
  return cap === null || cap === undefined ? f(spent) : `${f(spent)} of ${f(cap)}`;
}

async function loadLimits() {
  const [keys, doc] = await Promise.all([api("/api/limits"), api("/api/budget")]);
  const b = doc.budget;
  const caps = b.caps;
  const anyCap = ["usd-day", "usd-month", "tokens-day", "tokens-month"].some((k) => caps[k] !== null) ||
    Object.keys(caps.queues || {}).length > 0;
  $("limits-section").hidden = !keys.length && !anyCap && !b.day.usd && !b.month.usd;
  const lim = (k) => {
    const c = k.configured || {}, l = k.learned || {};
    return ["rpm", "itpm", "otpm", "tpm"].map((n) => el("td", { class: "n" },
      fmtNum(c[n] || l[n] || null)));
  };
  $("limits").tBodies[0].replaceChildren(...keys.map((k) => el("tr", {},
    el("td", { class: "mono cut", title: k.key }, k.key), ...lim(k),
    el("td", {}, Object.entries(k.buckets || {}).map(([n, v]) => `${n} ${Math.round(v.level)}/${v.limit_per_min}`).join(", ")),
    el("td", { class: k.cooldown && k.cooldown.active ? "paused" : "" },
      k.cooldown && k.cooldown.active ? "until " + fmtTime(k.cooldown.until) : "–"),
    el("td", { class: k.breaker && k.breaker.state !== "closed" ? "deadwarn" : "" },
      k.breaker ? k.breaker.state : "–"),
    el("td", { class: "n" }, fmtNum(k.admitted)), el("td", { class: "n" }, fmtNum(k.delayed)))));
  $("budget").replaceChildren(
    el("dt", {}, `today (${b.day.period})`),
    el("dd", {}, `${capText(b.day.usd, caps["usd-day"], true)}, ${capText(b.day.tokens, caps["tokens-day"], false)} tokens` +
      (b.day.reserved_usd ? ` (reserved in flight: $${Number(b.day.reserved_usd).toFixed(2)})` : "")),
    el("dt", {}, `this month (${b.month.period})`),
    el("dd", {}, `${capText(b.month.usd, caps["usd-month"], true)}, ${capText(b.month.tokens, caps["tokens-month"], false)} tokens`));
}

// ---- dead letters --------------------------------------------------------

function readFilter() {
  const f = {};
  const cls = $("f-class").value, status = $("f-status").value.trim();
  const grep = $("f-grep").value, since = $("f-since").value;
  if (cls) f.class = cls;
  if (status) f.status = status;
  if (grep) f.grep = grep;
  if (since) f.since = since;
  return f;
}

function resetDlq() {
  st.cursors = [null];
  st.selected.clear();
  $("dlq-detail").hidden = true;
  loadDlq().catch(showError);
}

// The page of path (a list with a cursor: the DLQ, review) that the last of
// cursors names, for the selected queue; null when the queue changed since.
async function fetchPage(path, params, cursors) {
  const q = new URLSearchParams({ queue: st.queue, limit: "100", ...params });
  const cur = cursors[cursors.length - 1];
  if (cur) q.set("cursor", cur);
  const doc = await api(path + "?" + q.toString());
  return doc.queue === st.queue ? doc : null;
}

// A row's checkbox, ticked when sel (a Set of ids) holds id, keeping sel in
// step; a click on it does not open the row.
function tickBox(sel, id, cls) {
  const box = el("input", { type: "checkbox", class: cls, "aria-label": "select " + id });
  box.checked = sel.has(id);
  box.addEventListener("click", (ev) => {
    ev.stopPropagation();
    if (box.checked) sel.add(id); else sel.delete(id);
  });
  return box;
}

async function loadDlq() {
  if (!st.queue) return;
  const doc = await fetchPage("/api/dlq", st.filter, st.cursors);
  if (!doc) return;
  st.dlq = doc.entries;
  st.next = doc.next;
  renderDlq();
}

function renderDlq() {
  const tb = $("dlq").tBodies[0];
  tb.replaceChildren(...st.dlq.map((e) => {
    const box = tickBox(st.selected, e.id, null);
    return el("tr", { class: "click", "data-id": e.id, onclick: () => openDead(e.id) },
      el("td", {}, box),
      el("td", { class: "id" }, e.id),
      el("td", {}, fmtTime(e.died_at)),
      el("td", {}, fmtNum(e.class)),
      el("td", { class: "n" }, fmtNum(e.http_status)),
      el("td", { class: "n" }, e.attempts),
      el("td", { class: "cut dlq-message", title: e.message }, e.message),
      el("td", { class: "cut dim", title: e.prompt_excerpt }, e.prompt_excerpt));
  }));
  const page = st.cursors.length;
  $("dlq-pos").textContent = st.dlq.length
    ? `page ${page}: ${st.dlq.length} entr${st.dlq.length === 1 ? "y" : "ies"}`
    : page > 1 ? "no more entries" : "no dead letters" + (Object.keys(st.filter).length ? " match" : "");
  $("dlq-prev").disabled = page <= 1;
  $("dlq-next").disabled = !st.next;
  $("dlq-all").checked = false;
  if (!document.body.hasAttribute("data-dlq-ready"))
    document.body.setAttribute("data-dlq-ready", String(Math.round(performance.now())));
}

function dl(pairs) {
  const d = el("dl");
  for (const [k, v] of pairs) d.append(el("dt", {}, k), el("dd", {}, v));
  return d;
}

function historyTable(h) {
  return el("table", { class: "history" },
    el("thead", {}, el("tr", {}, el("th", {}, "at"), el("th", {}, "outcome"),
      el("th", {}, "worker"), el("th", {}, "error"))),
    el("tbody", {}, ...(h || []).map((x) => el("tr", {},
      el("td", {}, fmtTime(x.at)), el("td", {}, fmtNum(x.outcome)),
      el("td", { class: "mono" }, fmtNum(x.worker)),
      el("td", {}, x.error ? `[${x.error.class || "?"}] ${x.error.message || ""}` : "")))));
}

async function openDead(id) {
  const box = $("dlq-detail");
  try {
    const d = await api(`/api/dlq/${encodeURIComponent(id)}?queue=${encodeURIComponent(st.queue)}`);
    const e = d.error || {};
    box.replaceChildren(
      el("h3", {}, "Dead letter ", el("span", { class: "mono" }, d.id)),
      dl([["died at", fmtTime(d.died_at)], ["attempts", fmtNum(d.attempts)],
        ["class", fmtNum(e.class)], ["HTTP status", fmtNum(e.http_status)],
        ["type", fmtNum(e.type)], ["request id", fmtNum(e.request_id)]]),
      el("h4", {}, "Error"), el("pre", { class: "dead-error" }, e.message || ""),
      el("h4", {}, "History"), historyTable(d.history),
      el("h4", {}, "Request (the job as stored)"),
      el("pre", { class: "dead-job" }, JSON.stringify(d.job, null, 2)),
      el("button", { type: "button", onclick: () => showJob(d.id) }, "Open the job page"));
    box.hidden = false;
  } catch (e) { toast(e.message, true); }
}

// Ask with the page's dialog; resolves true on OK.
function confirmBox(text, okLabel) {
  const d = $("confirm");
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = okLabel;
  return new Promise((resolve) => {
    const done = (v) => {
      d.close();
      $("confirm-ok").onclick = null;
      $("confirm-cancel").onclick = null;
      resolve(v);
    };
    $("confirm-ok").onclick = () => done(true);
    $("confirm-cancel").onclick = () => done(false);
    d.showModal();
  });
}

// Requeue or purge the selected ids (filtered = false) or every entry
// matching the filter (a dry run counts them first).
async function dlqAction(purge, filtered) {
  const verb = purge ? "purge" : "requeue";
  const path = "/api/dlq/" + verb;
  let body = { queue: st.queue };
  let n;
  try {
    if (filtered) {
      body = { ...body, ...st.filter };
      if (body.status) body.status = Number(body.status);
      if (!Object.keys(st.filter).length) body.all = true;
      const dry = await api(path, { ...body, dry_run: true });
      n = dry.matched;
    } else {
      body.ids = [...st.selected];
      n = body.ids.length;
      if (!n) { toast("select dead letters first", true); return; }
    }
  } catch (e) { toast(verb + ": " + e.message, true); return; }
  if (!n) { toast(`nothing to ${verb}: no dead letter matches`); return; }
  const what = `${n} dead job${n === 1 ? "" : "s"} of queue ${st.queue}`;
  const ok = await confirmBox(purge ? `Purge ${what} for good?` : `Requeue ${what}?`,
    `${purge ? "Purge" : "Requeue"} ${n}`);
  if (!ok) return;
  try {
    const r = await api(path, body);
    toast(`${purge ? "purged" : "requeued"} ${r.changed}` + (r.skipped ? ` (${r.skipped} no longer dead)` : ""));
    st.selected.clear();
    st.cursors = [null];
    await loadDlq();
    await loadQueues();
  } catch (e) { toast(verb + ": " + e.message, true); }
}

// ---- review (shown when the queue's stats document has "review") -------

const reasonsText = (rs) => (rs || []).map((r) => `${r.rule}: ${r.detail}`).join("; ");

async function loadReview() {
  if (!st.queue) return;
  const doc = await fetchPage("/api/review", {}, st.reviewCursors);
  if (!doc) return;
  st.review = doc.entries;
  st.reviewNext = doc.next;
  renderReview();
}

function renderReview() {
  $("review").tBodies[0].replaceChildren(...st.review.map((e) => {
    const box = tickBox(st.reviewSel, e.id, "review-box");
    return el("tr", { class: "click", "data-id": e.id, onclick: () => openReview(e) },
      el("td", {}, box),
      el("td", { class: "id" }, e.id),
      el("td", {}, fmtTime(e.flagged_at)),
      el("td", { class: "cut", title: reasonsText(e.reasons) }, reasonsText(e.reasons)),
      el("td", { class: "cut dim review-excerpt", title: e.excerpt }, e.excerpt));
  }));
  const page = st.reviewCursors.length;
  $("review-pos").textContent = st.review.length
    ? `page ${page}: ${st.review.length} result${st.review.length === 1 ? "" : "s"}`
    : page > 1 ? "no more results" : "nothing waits for review";
  $("review-prev").disabled = page <= 1;
  $("review-next").disabled = !st.reviewNext;
  $("review-all").checked = false;
}

// One flagged result: its reasons and its text as Markdown (built as text
// nodes, never markup), with approve and reject for it alone.
async function openReview(e) {
  const box = $("review-detail");
  try {
    const j = await api(`/api/jobs/${encodeURIComponent(e.id)}?queue=${encodeURIComponent(st.queue)}`);
    const parts = [
      el("h3", {}, "Flagged result ", el("span", { class: "mono" }, j.id)),
      dl([["state", j.state], ["flagged at", fmtTime(e.flagged_at)], ["reasons", reasonsText(e.reasons) || "–"]])];
    if (j.result) parts.push(el("h4", {}, "Text"), markdown(j.result.text));
    parts.push(el("div", { class: "actions" },
      el("button", { type: "button", onclick: () => reviewAction(true, [j.id]) }, "Approve"),
      el("button", { type: "button", class: "danger", onclick: () => reviewAction(false, [j.id]) }, "Reject")));
    box.replaceChildren(...parts);
    box.setAttribute("data-id", j.id);
    box.hidden = false;
  } catch (err) { toast(err.message, true); }
}

// Approve, or reject (with "regenerate": queue again with the note), the
// ticked results (or ids), after a confirmation that states the count.
async function reviewAction(approve, ids) {
  ids = ids || [...st.reviewSel];
  const n = ids.length;
  if (!n) { toast("select flagged results first", true); return; }
  const regen = !approve && $("review-regen").checked;
  const note = $("review-note").value.trim();
  const what = `${n} result${n === 1 ? "" : "s"} of queue ${st.queue}`;
  const text = approve ? `Approve ${what}? They become succeeded.`
    : regen ? `Reject ${what} and generate ${n === 1 ? "it" : "them"} again` + (note ? " with the note?" : "?")
      : `Reject ${what}? They go to the dead letters (class review_rejected).`;
  const ok = await confirmBox(text, `${approve ? "Approve" : regen ? "Regenerate" : "Reject"} ${n}`);
  if (!ok) return;
  const body = { queue: st.queue, ids };
  if (!approve) {
    body.action = regen ? "regenerate" : "reject";
    if (note) body.note = note;
  }
  try {
    const r = await api("/api/review/" + (approve ? "approve" : "reject"), body);
    toast(`${approve ? "approved" : regen ? "requeued" : "rejected"} ${r.changed}` +
      (r.skipped ? ` (${r.skipped} no longer in review)` : "") + (r.failed ? ` (${r.failed} failed)` : ""),
    r.failed > 0);
    for (const id of ids) st.reviewSel.delete(id);
    if (ids.includes($("review-detail").getAttribute("data-id"))) $("review-detail").hidden = true;
    await loadReview();
    await loadQueues();
  } catch (e) { toast((approve ? "approve: " : "reject: ") + e.message, true); }
}

// ---- a job ---------------------------------------------------------------

// Markdown to DOM nodes: headings, paragraphs, lists, quotes, code blocks,
// `code`, **bold**, *italic*, and http(s) links; everything else is text.
function inline(text) {
  const out = [];
  const re = /(`[^`]+`)|(\*\*[^*]+\*\*)|(\*[^*\s][^*]*\*)|(\[[^\]]+\]\((https?:\/\/[^\s)]+)\))/g;
  let at = 0, m;
  while ((m = re.exec(text))) {
    if (m.index > at) out.push(document.createTextNode(text.slice(at, m.index)));
    const s = m[0];
    if (m[1]) out.push(el("code", {}, s.slice(1, -1)));
    else if (m[2]) out.push(el("strong", {}, s.slice(2, -2)));
    else if (m[3]) out.push(el("em", {}, s.slice(1, -1)));
    else {
      const a = el("a", { rel: "noopener noreferrer nofollow", target: "_blank" }, s.slice(1, s.indexOf("](")));
      a.href = m[5];
      out.push(a);
    }
    at = m.index + s.length;
  }
  if (at < text.length) out.push(document.createTextNode(text.slice(at)));
  return out;
}

function markdown(src) {
  const root = el("div", { class: "markdown" });
  const lines = String(src || "").split("\n");
  let para = [], list = null, i = 0;
  const flush = () => {
    if (para.length) root.append(el("p", {}, ...inline(para.join(" "))));
    para = [];
  };
  while (i < lines.length) {
    const ln = lines[i];
    let m;
    if (ln.startsWith("```")) {
      flush(); list = null;
      const code = [];
      for (i++; i < lines.length && !lines[i].startsWith("```"); i++) code.push(lines[i]);
      root.append(el("pre", {}, el("code", {}, code.join("\n"))));
      i++;
      continue;
    }
    if ((m = /^(#{1,6})\s+(.*)$/.exec(ln))) {
      flush(); list = null;
      root.append(el("h" + Math.min(m[1].length + 2, 6), {}, ...inline(m[2])));
    } else if ((m = /^\s*([-*+]|\d+[.)])\s+(.*)$/.exec(ln))) {
      flush();
      const tag = /\d/.test(m[1]) ? "ol" : "ul";
      if (!list || list.tagName.toLowerCase() !== tag) { list = el(tag); root.append(list); }
      list.append(el("li", {}, ...inline(m[2])));
    } else if ((m = /^>\s?(.*)$/.exec(ln))) {
      flush(); list = null;
      root.append(el("blockquote", {}, ...inline(m[1])));
    } else if (!ln.trim()) {
      flush(); list = null;
    } else {
      list = null;
      para.push(ln);
    }
    i++;
  }
  flush();
  return root;
}

async function showJob(id) {
  $("job-id").value = id;
  const box = $("job");
  box.hidden = false;
  try {
    const j = await api(`/api/jobs/${encodeURIComponent(id)}?queue=${encodeURIComponent(st.queue || "default")}`);
    const err = j.last_error;
    const parts = [
      el("h3", {}, "Job ", el("span", { class: "mono" }, j.id)),
      dl([["state", j.state], ["attempts", `${fmtNum(j.attempts)} of ${fmtNum(j.max_attempts)}`],
        ["priority", fmtNum(j.priority)], ["worker", fmtNum(j.worker)],
        ["enqueued", fmtTime(j.enqueued_at)], ["updated", fmtTime(j.updated_at)],
        ["last error", err ? `[${err.class || "?"}] ${err.message || ""}` : "–"]]),
      el("h4", {}, "History"), historyTable(j.history)];
    if (j.result) {
      parts.push(el("h4", {}, "Result"), markdown(j.result.text));
    }
    box.replaceChildren(...parts);
    box.scrollIntoView({ block: "nearest" });
  } catch (e) {
    box.replaceChildren(el("p", { class: "error" }, e.message));
  }
}

// ---- wiring --------------------------------------------------------------

async function refresh() {
  try {
    await Promise.all([loadQueues(), loadWorkers()]);
    showError(null);
    $("live").textContent = "updated " + new Date().toISOString().slice(11, 19) + " UTC";
  } catch (e) {
    showError(e);
    $("live").textContent = "not updating";
  }
}

function wire() {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("dlq-filter").addEventListener("submit", (ev) => {
    ev.preventDefault();
    st.filter = readFilter();
    resetDlq();
  });
  $("dlq-next").addEventListener("click", () => {
    if (!st.next) return;
    st.cursors.push(st.next);
    loadDlq().catch(showError);
  });
  $("dlq-prev").addEventListener("click", () => {
    if (st.cursors.length > 1) st.cursors.pop();
    loadDlq().catch(showError);
  });
  $("dlq-all").addEventListener("change", (ev) => {
    for (const e of st.dlq) if (ev.target.checked) st.selected.add(e.id); else st.selected.delete(e.id);
    renderDlq();
    $("dlq-all").checked = ev.target.checked;
  });
  $("dlq-requeue-sel").addEventListener("click", () => dlqAction(false, false));
  $("dlq-purge-sel").addEventListener("click", () => dlqAction(true, false));
  $("dlq-requeue-all").addEventListener("click", () => dlqAction(false, true));
  $("dlq-purge-all").addEventListener("click", () => dlqAction(true, true));
  $("review-approve").addEventListener("click", () => reviewAction(true));
  $("review-reject").addEventListener("click", () => reviewAction(false));
  $("review-all").addEventListener("change", (ev) => {
    for (const e of st.review) if (ev.target.checked) st.reviewSel.add(e.id); else st.reviewSel.delete(e.id);
    renderReview();
    $("review-all").checked = ev.target.checked;
  });
  $("review-next").addEventListener("click", () => {
    if (!st.reviewNext) return;
    st.reviewCursors.push(st.reviewNext);
    loadReview().catch(showError);
  });
  $("review-prev").addEventListener("click", () => {
    if (st.reviewCursors.length > 1) st.reviewCursors.pop();
    loadReview().catch(showError);
  });
  $("job-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const id = $("job-id").value.trim();
    if (id) showJob(id);
  });
}

async function main() {
  wire();
  // a queue named in the address: its dead letters load at once, alongside
  // the session and the queues
  const want = new URLSearchParams(location.hash.slice(1)).get("queue");
  if (want) selectQueue(want);
  await Promise.all([loadSession().catch(showError), refresh()]);
  if (!want) loadSeries().catch(showError);
  setInterval(refresh, POLL_MS);
  setInterval(() => loadSeries().catch(showError), SERIES_MS);
  loadLimits().catch(showError);
  setInterval(() => loadLimits().catch(showError), LIMITS_MS);
  // when the page became usable (ms since navigation; the bench reads it)
  document.body.setAttribute("data-ready", String(Math.round(performance.now())));
}

main();
