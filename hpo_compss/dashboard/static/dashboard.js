// The dashboard of hpo-compss: studies followed live from `hpo-compss serve`, or shown from the data a
// one-file report carries. Read-only: it only ever asks the server for data. Charts are uPlot (time
// series) and plain canvas (parallel coordinates, pair plot, learning curves, workers), drawn from
// the rows the server hands over, each redrawn at most every few seconds on large studies.
"use strict";

const LIVE = document.body.dataset.live === "1";
const TOKEN = new URLSearchParams(location.search).get("token") || "";
const STATUSES = ["complete", "failed", "pruned", "paused", "running", "retrying", "cancelled"];
const STATUS_COLOURS = { complete: "#16a34a", failed: "#dc2626", pruned: "#9ca3af", paused: "#0ea5e9",
  running: "#f97316", retrying: "#eab308", cancelled: "#6b7280" };
// best (dark purple) to worst (yellow): viridis stops
const PALETTE = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
const ROW_HEIGHT = 22;
const POLL_MS = 1000;
const SLOW_PARTS_MS = 5000;   // curves and importance are fetched at most this often
const MAX_LINES = 4000;       // parallel coordinates draws at most this many lines (the best always)
const MAX_POINTS = 20000;     // the pair plot draws at most this many points (the best always)
const TABLE_PARAMS = 8;       // parameters shown as table columns

const studies = [];
let current = 0;              // the study shown, or -1 for the side-by-side view
let lastUpdate = 0;
const sorting = { key: "trial", dir: 1 };
let tableRows = [];
const charts = {};
let drawing = 0;             // the chart drawing under way: a newer one cancels it

// -- data ---------------------------------------------------------------------------------------
async function api(path, params = {}) {
  const query = new URLSearchParams({ ...params, token: TOKEN });
  const response = await fetch(`${path}?${query}`, { cache: "no-store" });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

function newStudy(info) {
  return { info, epoch: 0, version: 0, params: [], rows: new Map(), summary: null, curves: null,
           importance: {}, details: null, drawn: -1, slowAt: 0, slowVersion: -1 };
}

function ingest(study, state) {
  if (state.epoch !== study.epoch) study.rows = new Map();
  study.epoch = state.epoch;
  study.version = state.version;
  study.params = state.params;
  study.summary = state.summary;
  const columns = state.columns;
  for (const raw of state.rows) {
    const row = {};
    columns.forEach((name, i) => { row[name] = raw[i]; });
    study.rows.set(row.trial, row);
  }
}

async function poll() {
  try {
    for (let i = 0; i < studies.length; i++) {
      const study = studies[i];
      ingest(study, await api("/api/state", { study: i, epoch: study.epoch, since: study.version }));
    }
    lastUpdate = Date.now();
    render();
    for (let i = 0; i < studies.length; i++) {   // the parts that cost more, after the first drawing
      const study = studies[i];
      const every = study.rows.size > 2000 ? SLOW_PARTS_MS : POLL_MS;   // small studies: at each change
      const due = Date.now() - study.slowAt >= every && study.slowVersion !== study.version;
      if ((i === current || current === -1) && due) {
        study.slowAt = Date.now();
        study.slowVersion = study.version;
        study.importance = await api("/api/importance", { study: i });
        study.curves = await api("/api/curves", { study: i });
        if (i === current) requestAnimationFrame(() => {   // only the views they feed
          const rows = Array.from(study.rows.values());
          guarded(renderParameters, study, rows);
          guarded(renderFidelity, study, rows);
        });
      }
    }
  } catch (error) {
    document.getElementById("freshness").textContent = `server unreachable (${error.message}); retrying`;
  }
  setTimeout(poll, POLL_MS);
}

async function start() {
  if (LIVE) {
    for (const info of await api("/api/studies")) studies.push(newStudy(info));
    buildTabs();
    poll();
  } else {
    for (const part of JSON.parse(document.getElementById("report-data").textContent)) {
      const study = newStudy(part.study);
      ingest(study, part.state);
      Object.assign(study, { curves: part.curves, importance: part.importance, details: part.details });
      studies.push(study);
    }
    buildTabs();
    render();
  }
  setInterval(showFreshness, 1000);
  window.addEventListener("resize", () => { for (const s of studies) s.drawn = -1; render(); });
}

// -- formatting ---------------------------------------------------------------------------------
function fmt(v) {
  if (v === null || v === undefined) return "";
  if (typeof v !== "number") return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3) : String(+v.toPrecision(5));
}

function fmtSeconds(s) {
  if (s === null || s === undefined || !isFinite(s)) return "";
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60), h = Math.floor(m / 60), d = Math.floor(h / 24);
  if (d > 0) return `${d} d ${h % 24} h`;
  if (h > 0) return `${h} h ${String(m % 60).padStart(2, "0")} min`;
  return `${m} min ${String(Math.floor(s % 60)).padStart(2, "0")} s`;
}

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attributes)) {
    if (k === "class") node.className = v; else if (k === "style") node.style.cssText = v; else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function fillTable(table, header, rows) {
  table.replaceChildren(el("tr", {}, ...header.map(h => el("th", {}, h))),
    ...rows.map(r => el("tr", {}, ...r.map(c => c instanceof Node ? el("td", {}, c) : el("td", {}, fmt(c))))));
}

function colourAt(t, alpha = 1) {   // t in [0, 1]: 0 best, 1 worst
  const x = Math.min(Math.max(t, 0), 1) * (PALETTE.length - 1), i = Math.min(Math.floor(x), PALETTE.length - 2), f = x - i;
  const c = PALETTE[i].map((a, k) => Math.round(a + f * (PALETTE[i + 1][k] - a)));
  return `rgba(${c[0]},${c[1]},${c[2]},${alpha})`;
}

function sampled(lines, most) {   // ranked lines, at most ``most``: the best half of them, an even sample of the rest
  if (lines.length <= most) return lines;
  const keep = Math.floor(most / 2), best = lines.slice(-keep), rest = lines.slice(0, -keep);
  const step = Math.ceil(rest.length / keep);
  return rest.filter((_, i) => i % step === 0).concat(best);
}

function buckets(lines, n = 32) {   // ranked lines (worst first) grouped by colour, worst group first
  const groups = Array.from({ length: n }, (_, k) => ({ t: 1 - (k + 0.5) / n, items: [] }));
  for (const line of lines) groups[Math.min(n - 1, Math.floor((1 - line.t) * n))].items.push(line);
  return groups.filter(g => g.items.length);
}

function better(study) { return study.info.mode === "max" ? (a, b) => a > b : (a, b) => a < b; }

function ranked(study, rows) {   // rows sorted worst first (drawn first), with t: 0 best .. 1 worst
  const sign = study.info.mode === "max" ? 1 : -1;
  const sorted = rows.slice().sort((a, b) => sign * (a.value - b.value));
  const n = Math.max(sorted.length - 1, 1);
  return sorted.map((row, i) => ({ row, t: 1 - i / n }));
}

// -- layout ---------------------------------------------------------------------------------------
function buildTabs() {
  const nav = document.getElementById("tabs");
  nav.replaceChildren();
  studies.forEach((study, i) => {
    const button = el("button", { "data-study": i }, study.info.name);
    button.onclick = () => { current = i; for (const s of studies) { s.drawn = -1; s.tabled = -1; } render(); };
    nav.append(button);
  });
  if (studies.length > 1) {
    const button = el("button", { "data-study": -1 }, "side by side");
    button.onclick = () => { current = -1; render(); };
    nav.append(button);
  }
  const status = document.getElementById("filter-status");
  for (const s of STATUSES) status.append(el("option", { value: s }, s));
  for (const id of ["filter-status", "filter-branch", "filter-min", "filter-max"]) {
    for (const kind of ["input", "change"]) document.getElementById(id).addEventListener(kind, () => { buildTable(studies[current]); });
  }
  document.getElementById("table-body").addEventListener("scroll", drawTableRows);
}

function showFreshness() {
  const node = document.getElementById("freshness");
  if (!LIVE) { node.textContent = "report: as the study stood when it was written"; return; }
  if (lastUpdate) node.textContent = `live · updated ${Math.round((Date.now() - lastUpdate) / 1000)} s ago`;
}

function render() {
  for (const button of document.querySelectorAll("#tabs button")) {
    button.classList.toggle("active", Number(button.dataset.study) === current);
  }
  document.getElementById("compare").hidden = current !== -1;
  document.getElementById("study").hidden = current === -1;
  showFreshness();
  if (current === -1) { renderCompare(); return; }
  const study = studies[current];
  if (!study || !study.summary) return;
  renderOverview(study);
  if (study.drawn === study.version) return;
  if (study.tabled !== study.version) { study.tabled = study.version; buildTable(study); }
  // large studies redraw their charts less often: a redraw costs in proportion to the trials
  const every = study.rows.size > 20000 ? 5000 : study.rows.size > 2000 ? 2000 : 0;
  if (study.drawn >= 0 && Date.now() - (study.drawnAt || 0) < every) return;
  study.drawn = study.version;
  study.drawnAt = Date.now();
  const rows = Array.from(study.rows.values());
  // one chart per frame: the cards and the table show at once, the charts follow
  const generation = ++drawing;
  const parts = [renderProgress, renderParameters, renderFidelity, renderTimeline];
  const next = () => {
    if (generation !== drawing) return;
    if (!parts.length) { performance.mark("charts-drawn"); return; }   // (for benchmarks)
    guarded(parts.shift(), study, rows);
    requestAnimationFrame(next);
  };
  requestAnimationFrame(next);
}

const problems = [];   // what went wrong in the page: the tests read it, a view that fails leaves the others drawn
window.addEventListener("error", event => problems.push(String(event.message)));

function guarded(draw, ...args) {
  try { draw(...args); } catch (error) { problems.push(`${draw.name}: ${error.message}`); console.error(error); }
}

// -- overview -------------------------------------------------------------------------------------
function renderOverview(study) {
  const s = study.summary;
  const planned = study.info.trials * study.info.repeats;
  const cards = [["trials", `${s.n_trials} / ${planned}`], ["complete", s.n_complete], ["failed", s.n_failed],
    ["running", s.n_running], ["pruned", s.n_pruned], ["paused", s.n_paused], ["retrying", s.n_retrying],
    ["cancelled", s.n_cancelled], ["reports", s.n_reports],
    ["elapsed", s.started && s.now >= s.started ? fmtSeconds((s.stopped && !s.driver_running ? s.stopped.time : s.now) - s.started) : ""], ["time left", s.time_left === null ? "unknown" : fmtSeconds(s.time_left)]];
  document.getElementById("cards").replaceChildren(...cards.map(([label, value]) =>
    el("div", { class: "card", "data-card": label }, el("b", {}, fmt(value)), el("span", {}, label))));
  const reading = s.size - s.read > 1e6 ? `reading the journal: ${(s.read / 1e6).toFixed(0)} of ${(s.size / 1e6).toFixed(0)} MB; ` : "";
  document.getElementById("stopped").textContent = reading + (s.stopped && s.stopped.final ? `finished: ${s.stopped.reason}`
    : s.driver_running ? "a driver is running it"
    : `no driver is running it${s.stopped ? ` (stopped: ${s.stopped.reason})` : ""}: \`hpo-compss resume\` goes on` +
      (s.n_running ? `; its ${s.n_running} running trial(s) were interrupted and run again then` : ""));
  const best = s.best;
  document.getElementById("best").textContent = best
    ? `${study.info.metric} = ${fmt(best.value)}  (trial ${best.trial}, config ${best.config_id}${best.n ? `, mean of ${best.n}` : ""})\n${JSON.stringify(best.config, null, 2)}`
    : "no trial has completed yet";
  fillTable(document.getElementById("failures"), ["reason", "trials"],
    Object.entries(s.failures).sort((a, b) => b[1] - a[1]));
  document.getElementById("running-count").textContent = `(${s.running.length})`;
  fillTable(document.getElementById("running"), ["trial", "host", "class", "cores", "GPUs", "attempt", "budget", "elapsed"],
    s.running.slice(0, 500).map(r => [r.trial, r.host || "(placed by the runtime)", r.class, (r.cores || []).join(","),
      (r.gpus || []).join(","), r.attempt, r.budget, fmtSeconds(r.elapsed)]));
}

// -- progress (uPlot) -------------------------------------------------------------------------------
function bestSoFar(study, values) {
  const isBetter = better(study);
  let best = null;
  return values.map(v => (best = best === null || isBetter(v, best) ? v : best));
}

function logScale(values) {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
  return lo > 0 && hi / lo >= 30;
}

function spanOf(values, f = x => x) {   // [low, high] of f(values), a long tail cut off so the rest stays readable
  const sorted = Float64Array.from(values, f).sort();
  if (!sorted.length) return [0, 1];
  const at = q => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const q05 = at(0.05), q95 = at(0.95), span = q95 - q05, lo = sorted[0], hi = sorted[sorted.length - 1];
  return [lo < q05 - 2 * span ? q05 - 0.2 * span : lo, hi > q95 + 2 * span ? q95 + 0.2 * span : hi];
}

function haloText(ctx, text, x, y) {   // text with a white halo, readable over lines
  ctx.save(); ctx.strokeStyle = "rgba(255,255,255,0.85)"; ctx.lineWidth = 3; ctx.strokeText(text, x, y); ctx.restore();
  ctx.fillText(text, x, y);
}

function plot(id, series, data, xLabel, log, span, logX) {
  if (charts[id]) charts[id].destroy();
  const target = document.getElementById(id);
  const y = log ? { distr: 3 } : {};
  if (span) y.range = log ? () => span.map(v => 10 ** v) : () => span;
  const opts = {
    width: Math.max(target.clientWidth, 300), height: 260, series: [{ label: xLabel }, ...series],
    scales: { x: logX ? { time: false, distr: 3 } : { time: false }, y },
    axes: [{ label: xLabel }, {}], legend: { live: true }, cursor: { drag: { x: true, y: true, uni: 30 } },
  };
  charts[id] = new uPlot(opts, data, target);
}

function renderProgress(study, rows) {
  const done = rows.filter(r => r.status === "complete" && r.value !== null);
  const start = study.summary.started || 0;
  const byEnd = done.filter(r => r.end !== null).sort((a, b) => a.end - b.end);
  const values = byEnd.map(r => r.value);
  const log = logScale(done.map(r => r.value));
  const span = bestQuarter(study, done.map(r => r.value), log);
  const points = { label: "trial", stroke: "rgba(100,116,139,0.5)", paths: () => null,
                   points: { show: true, size: byEnd.length > MAX_POINTS / 4 ? 3 : 5, fill: "rgba(71,85,105,0.6)" } };
  const line = { label: "best so far", stroke: "#2563eb", width: 2 };
  const bestTime = bestSoFar(study, values);
  plot("best-time", [points, line], [byEnd.map(r => r.end - start), thinned(values, bestTime), bestTime], "seconds", log, span);
  const byTrial = done.slice().sort((a, b) => a.trial - b.trial);
  const indexValues = byTrial.map(r => r.value), bestIndex = bestSoFar(study, indexValues);
  plot("best-index", [{ ...points }, { ...line }], [byTrial.map(r => r.trial), thinned(indexValues, bestIndex), bestIndex], "trial", log, span);
}

function bestQuarter(study, values, log) {   // the y range of the best quarter of the values (in log10 with log)
  const f = log ? Math.log10 : x => x;
  const sorted = Float64Array.from(values, f).sort();
  if (sorted.length < 20) return null;
  const max = study.info.mode === "max";
  const [lo, hi] = max ? [sorted[Math.floor(sorted.length * 0.75)], sorted[sorted.length - 1]]
                       : [sorted[0], sorted[Math.floor(sorted.length * 0.25)]];
  const pad = (hi - lo) * 0.05 || 1;
  return [lo - pad, hi + pad];
}

function thinned(values, best) {   // each trial's point, or beyond MAX_POINTS / 4 an even sample and every new best
  const every = Math.ceil(values.length / (MAX_POINTS / 4));
  return every <= 1 ? values : values.map((v, i) => (i % every === 0 || v === best[i] ? v : null));
}

// -- canvas helpers -------------------------------------------------------------------------------
function canvas2d(id, height) {
  const canvas = document.getElementById(id);
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 800;
  height = height || Number(canvas.getAttribute("height"));
  canvas.style.height = `${height}px`;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.font = "11px system-ui, sans-serif";
  return { ctx, width, height };
}

function axis(values, categorical, log) {   // a map from values to [0, 1] and its tick labels; log: true, false or by range
  if (categorical) {
    const levels = Array.from(new Set(values.map(String))).sort();
    const at = new Map(levels.map((v, i) => [v, levels.length === 1 ? 0.5 : i / (levels.length - 1)]));
    return { map: v => at.get(String(v)), ticks: levels.slice(0, 12).map(v => [at.get(v), v]) };
  }
  let lo = Infinity, hi = -Infinity;
  for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
  if (!isFinite(lo)) { lo = 0; hi = 1; }
  log = lo > 0 && (log ?? hi / lo >= 30);
  const f = log ? Math.log10 : x => x;
  const [a, top] = spanOf(values, f), b = top === a ? a + 1 : top;   // a long tail is drawn at the edge
  const ticks = [];
  for (let i = 0; i <= 4; i++) { const u = a + (b - a) * i / 4; ticks.push([i / 4, fmt(+(log ? 10 ** u : u).toPrecision(4))]); }
  return { map: v => Math.min(1.02, Math.max(-0.02, (f(v) - a) / (b - a))), ticks, log };
}

function isCategorical(values) { return values.some(v => typeof v !== "number"); }

function noData(ctx, width, height, text) {
  ctx.fillStyle = "#6b7280";
  ctx.fillText(text, width / 2 - ctx.measureText(text).width / 2, height / 2);
}

// -- parameters -------------------------------------------------------------------------------------
function orderedParams(study) {
  const score = name => (study.importance[name] && study.importance[name].score) || 0;
  return study.params.map((name, i) => ({ name, i })).sort((a, b) => score(b.name) - score(a.name));
}

function renderParameters(study, rows) {
  const done = rows.filter(r => r.status === "complete" && r.value !== null);
  const params = orderedParams(study).slice(0, 10);
  drawParallel(study, done, params);
  fillTable(document.getElementById("importance"), ["parameter", "importance", "", "trials"],
    orderedParams(study).map(({ name }) => {
      const s = study.importance[name] || {};
      const bar = el("span", { style: `display:inline-block;height:10px;background:#2563eb;width:${Math.round(200 * (s.score || 0))}px` });
      const score = s.score === undefined ? "…" : s.score === null ? "too few trials" : fmt(+s.score.toFixed(3));
      return [name, score, bar, s.n ?? ""];
    }));
  drawPair(study, done, params.slice(0, 2));
}

function drawParallel(study, done, params) {
  const { ctx, width, height } = canvas2d("parallel");
  if (done.length < 2 || params.length === 0) { noData(ctx, width, height, "parallel coordinates appear once two trials have completed"); return; }
  let lines = sampled(ranked(study, done), MAX_LINES);
  const names = params.map(p => p.name).concat([study.info.metric]);
  const columns = params.map(p => done.map(r => r.params[p.i]).filter(v => v !== null && v !== undefined));
  columns.push(done.map(r => r.value));
  const logs = new Set(study.info.log_params || []);
  const axes = columns.map((values, k) => axis(values, isCategorical(values), k < params.length ? logs.has(params[k].name) : undefined));
  const left = 60, right = width - 60, top = 30, bottom = height - 18;
  const x = k => left + (right - left) * k / Math.max(names.length - 1, 1);
  const y = u => bottom - (bottom - top) * u;
  const alpha = Math.min(0.9, Math.max(0.08, 60 / lines.length));
  const top10 = lines.length - Math.min(50, Math.max(1, Math.floor(lines.length / 10)));
  const path = (items) => {
    ctx.beginPath();
    for (const { row } of items) {
      let pen = false;
      names.forEach((_, k) => {
        const v = k < params.length ? row.params[params[k].i] : row.value;
        if (v === null || v === undefined) { pen = false; return; }
        const px = x(k), py = y(axes[k].map(v));
        if (pen) ctx.lineTo(px, py); else ctx.moveTo(px, py);
        pen = true;
      });
    }
    ctx.stroke();
  };
  ctx.lineWidth = 1;
  for (const bucket of buckets(lines.slice(0, top10))) { ctx.strokeStyle = colourAt(bucket.t, alpha); path(bucket.items); }
  for (const line of lines.slice(top10)) {   // the best tenth (at most 50) one by one, brightest last
    ctx.strokeStyle = colourAt(line.t, 0.9);
    ctx.lineWidth = line.t < 0.02 ? 2 : 1.2;
    path([line]);
  }
  ctx.fillStyle = "#1d2330";
  names.forEach((name, k) => {
    ctx.strokeStyle = "#374151"; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(x(k), top); ctx.lineTo(x(k), bottom); ctx.stroke();
    const label = name.length > 22 ? `…${name.slice(-21)}` : name;
    ctx.fillText(label, Math.min(Math.max(x(k) - ctx.measureText(label).width / 2, 0), width - ctx.measureText(label).width), 12);
    for (const [u, text] of axes[k].ticks) haloText(ctx, String(text).slice(0, 10), x(k) + 3, y(u) + 4);
  });
}

function drawPair(study, done, params) {
  const { ctx, width, height } = canvas2d("pair");
  const title = document.getElementById("pair-title");
  if (params.length < 2 || done.length < 2) {
    title.textContent = "Two most important parameters";
    noData(ctx, width, height, "needs two parameters and two completed trials"); return;
  }
  title.textContent = `${params[0].name} against ${params[1].name} (colour: ${study.info.metric}, ringed: the best` +
    `${done.length > MAX_POINTS ? `; the best ${MAX_POINTS / 2} and an even sample of the rest` : ""})`;
  const has = done.filter(r => r.params[params[0].i] != null && r.params[params[1].i] != null);
  const xs = has.map(r => r.params[params[0].i]), ys = has.map(r => r.params[params[1].i]);
  const logs = new Set(study.info.log_params || []);
  const ax = axis(xs, isCategorical(xs), logs.has(params[0].name)), ay = axis(ys, isCategorical(ys), logs.has(params[1].name));
  const left = 60, right = width - 20, top = 12, bottom = height - 30;
  const px = u => left + (right - left) * u, py = u => bottom - (bottom - top) * u;
  const jitter = (categorical, trial) => categorical ? ((trial * 7919) % 100 / 100 - 0.5) * 0.04 : 0;
  const cx = isCategorical(xs), cy = isCategorical(ys);
  const size = has.length > 5000 ? 1.5 : 3;
  const lines = sampled(ranked(study, has), MAX_POINTS);
  for (const bucket of buckets(lines)) {   // one path per colour: 100,000 points in a few strokes
    ctx.fillStyle = colourAt(bucket.t, 0.8);
    ctx.beginPath();
    for (const { row } of bucket.items) {
      const x = px(ax.map(row.params[params[0].i]) + jitter(cx, row.trial)), y = py(ay.map(row.params[params[1].i]) + jitter(cy, row.trial + 1));
      if (size < 2) ctx.rect(x - 1, y - 1, 2, 2); else { ctx.moveTo(x + size, y); ctx.arc(x, y, size, 0, 7); }
    }
    ctx.fill();
  }
  const best = lines[lines.length - 1].row;
  ctx.strokeStyle = "#dc2626"; ctx.lineWidth = 2; ctx.beginPath();
  ctx.arc(px(ax.map(best.params[params[0].i])), py(ay.map(best.params[params[1].i])), 8, 0, 7); ctx.stroke();
  ctx.fillStyle = "#1d2330"; ctx.strokeStyle = "#9ca3af"; ctx.lineWidth = 1;
  ctx.strokeRect(left, top, right - left, bottom - top);
  for (const [u, text] of ax.ticks) ctx.fillText(String(text).slice(0, 10), px(u) - 12, bottom + 14);
  for (const [u, text] of ay.ticks) ctx.fillText(String(text).slice(0, 9), 2, py(u) + 4);
  ctx.fillText(params[0].name, right - ctx.measureText(params[0].name).width, bottom + 26);
}

// -- multi-fidelity ---------------------------------------------------------------------------------
function rungsOf(scheduler) {
  if (!scheduler || !["asha", "hyperband"].includes(scheduler.name)) return [];
  const eta = scheduler.eta || 3, rungs = [];
  for (let r = scheduler.min || 1; r < (scheduler.max || 1) - 1e-9; r *= eta) rungs.push(r);
  return rungs;
}

function renderFidelity(study, rows) {
  const curves = study.curves;
  const section = document.getElementById("fidelity");
  section.hidden = !curves || curves.n === 0;
  if (section.hidden) return;
  document.getElementById("curves-note").textContent =
    `${curves.n} trials reported as they ran${curves.n > Object.keys(curves.curves).length ? `; drawn: the best half of ${Object.keys(curves.curves).length} and an even sample of the rest` : ""}. ` +
    "Grey: paused, pruned or still running (a dot where each stopped); coloured by final value: ran to the full budget; dashed: the rungs.";
  const { ctx, width, height } = canvas2d("curves");
  const drawn = Object.entries(curves.curves).map(([trial, flat]) => ({ row: study.rows.get(Number(trial)), flat }))
    .filter(c => c.row && c.flat.length >= 2);
  let maxStep = 1, values = [];
  for (const c of drawn) { for (let i = 0; i < c.flat.length; i += 2) { maxStep = Math.max(maxStep, c.flat[i]); values.push(c.flat[i + 1]); } }
  const ay = axis(values, false);
  const left = 60, right = width - 20, top = 10, bottom = height - 28;
  const px = s => left + (right - left) * s / maxStep, py = v => bottom - (bottom - top) * ay.map(v);
  const complete = drawn.filter(c => c.row.status === "complete");
  const colours = new Map(ranked(study, complete.map(c => c.row)).map(({ row, t }) => [row.trial, t]));
  const grey = drawn.filter(c => c.row.status !== "complete");
  const alpha = Math.min(0.7, Math.max(0.1, 40 / Math.max(grey.length, 1)));
  const stroke = (c, colour, dot) => {
    ctx.strokeStyle = colour; ctx.beginPath();
    for (let i = 0; i < c.flat.length; i += 2) { const x = px(c.flat[i]), y = py(c.flat[i + 1]); if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y); }
    ctx.stroke();
    if (dot) { ctx.fillStyle = colour; ctx.beginPath(); ctx.arc(px(c.flat[c.flat.length - 2]), py(c.flat[c.flat.length - 1]), 2, 0, 7); ctx.fill(); }
  };
  ctx.lineWidth = 1;
  for (const c of grey) stroke(c, `rgba(120,120,120,${alpha})`, true);
  ctx.lineWidth = 1.5;
  complete.sort((a, b) => colours.get(b.row.trial) - colours.get(a.row.trial));
  for (const c of complete) stroke(c, colourAt(colours.get(c.row.trial), 0.85), false);
  ctx.setLineDash([4, 4]); ctx.strokeStyle = "#6b7280"; ctx.lineWidth = 1;
  for (const r of rungsOf(study.info.scheduler)) { ctx.beginPath(); ctx.moveTo(px(r), top); ctx.lineTo(px(r), bottom); ctx.stroke(); }
  ctx.setLineDash([]);
  ctx.fillStyle = "#1d2330"; ctx.strokeStyle = "#9ca3af"; ctx.strokeRect(left, top, right - left, bottom - top);
  for (const [u, text] of ay.ticks) ctx.fillText(String(text), 2, bottom - (bottom - top) * u + 4);
  for (let k = 0; k <= 4; k++) ctx.fillText(fmt(+(maxStep * k / 4).toPrecision(3)), px(maxStep * k / 4) - 8, bottom + 14);
  const resource = (study.info.scheduler && study.info.scheduler.resource) || "step";
  ctx.fillText(resource, right - ctx.measureText(resource).width, bottom + 26);
  // the rung table: runs that ended at each budget, paused there or complete, and the best value reached there
  const budgets = new Map();
  for (const row of rows) {
    if (row.budget === null || !["paused", "complete", "pruned"].includes(row.status)) continue;
    const key = row.status === "pruned" ? row.step : row.budget;
    if (key === null || key === undefined) continue;
    const entry = budgets.get(key) || { paused: 0, complete: 0, pruned: 0, best: null };
    entry[row.status] += 1;
    if (row.value !== null && (entry.best === null || better(study)(row.value, entry.best))) entry.best = row.value;
    budgets.set(key, entry);
  }
  fillTable(document.getElementById("rungs"), ["budget", "paused there", "complete", "pruned there", `best ${study.info.metric}`],
    Array.from(budgets.entries()).sort((a, b) => a[0] - b[0]).map(([b, e]) => [b, e.paused, e.complete, e.pruned, e.best]));
}

// -- workers timeline ---------------------------------------------------------------------------------
function renderTimeline(study, rows) {
  const now = study.summary.now, start = study.summary.started;
  const bars = [];
  const lanes = new Set();
  for (const row of rows) {
    const begin = row.start ?? (row.status === "running" ? row.submitted : null);
    if (begin === null || begin === undefined || !row.host) continue;
    const end = row.end ?? (row.status === "running" ? now : null);
    if (end === null) continue;
    const cores = row.cores && row.cores.length ? row.cores : [row.class || "?"];
    for (const core of cores) { const lane = `${row.host} ${core}`; lanes.add(lane); bars.push([lane, begin, end, row.status]); }
  }
  const names = Array.from(lanes).sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const laneHeight = Math.max(2, Math.min(16, Math.floor(560 / Math.max(names.length, 1))));
  const { ctx, width, height } = canvas2d("timeline", Math.max(120, names.length * laneHeight + 40));
  if (!bars.length) { noData(ctx, width, height, "no trial has run yet"); return; }
  let t0 = start ?? Infinity, t1 = -Infinity;
  for (const b of bars) { t0 = Math.min(t0, b[1]); t1 = Math.max(t1, b[2]); }
  const left = 110, right = width - 10, top = 6;
  const index = new Map(names.map((n, i) => [n, i]));
  const px = t => left + (right - left) * (t - t0) / Math.max(t1 - t0, 1e-9);
  for (const status of Object.keys(STATUS_COLOURS)) {   // one path per colour
    ctx.fillStyle = STATUS_COLOURS[status];
    ctx.beginPath();
    for (const [lane, begin, end, s] of bars) {
      if (s === status) ctx.rect(px(begin), top + index.get(lane) * laneHeight, Math.max(px(end) - px(begin) - 0.5, 1), Math.max(laneHeight - 1, 1));
    }
    ctx.fill();
  }
  ctx.fillStyle = "#1d2330";
  if (laneHeight >= 10) names.forEach((n, i) => ctx.fillText(n.slice(0, 16), 2, top + i * laneHeight + laneHeight - 3));
  else ctx.fillText(`${names.length} cores`, 2, top + 12);
  const bottom = top + names.length * laneHeight;
  for (let k = 0; k <= 5; k++) {
    const t = t0 + (t1 - t0) * k / 5;
    const text = fmtSeconds(t - t0);
    ctx.fillText(text, Math.min(px(t), right - ctx.measureText(text).width), bottom + 14);
  }
  let x = left;
  for (const s of STATUSES) {
    ctx.fillStyle = STATUS_COLOURS[s]; ctx.fillRect(x, bottom + 20, 10, 10);
    ctx.fillStyle = "#374151"; ctx.fillText(s, x + 14, bottom + 29);
    x += ctx.measureText(s).width + 30;
  }
}

// -- trials table -------------------------------------------------------------------------------------
function tableColumns(study) {
  const fixed = [["trial", 60], ["status", 80], ["value", 100], ["config_id", 70], ["attempt", 60], ["budget", 70],
    ["step", 60], ["class", 70], ["host", 90], ["duration", 80], ["reason", 180]];
  const params = study.params.slice(0, TABLE_PARAMS).map((name, i) => [`p${i}`, 110, name]);
  return fixed.map(([key, width]) => ({ key, width, label: key === "config_id" ? "config" : key }))
    .concat(params.map(([key, width, name]) => ({ key, width, label: name })));
}

function cellOf(row, key) {
  if (key === "duration") return row.start !== null && row.end !== null ? row.end - row.start : null;
  if (key[0] === "p" && /^p\d+$/.test(key)) return row.params[Number(key.slice(1))] ?? null;
  return row[key];
}

function buildTable(study) {
  if (!study) return;
  const columns = tableColumns(study);
  const template = columns.map(c => `${c.width}px`).join(" ");
  const head = document.getElementById("table-head");
  head.style.gridTemplateColumns = template;
  head.replaceChildren(...columns.map(c => {
    const cell = el("div", { "data-key": c.key, title: c.label }, c.label + (sorting.key === c.key ? (sorting.dir > 0 ? " ▲" : " ▼") : ""));
    if (sorting.key === c.key) cell.classList.add("sorted");
    cell.onclick = () => { sorting.dir = sorting.key === c.key ? -sorting.dir : 1; sorting.key = c.key; buildTable(study); };
    return cell;
  }));
  const branch = document.getElementById("filter-branch");
  const branches = new Set(Array.from(study.rows.values(), r => r.subspace).filter(Boolean));
  if (branch.options.length - 1 !== branches.size) {
    const chosen = branch.value;
    branch.replaceChildren(el("option", { value: "" }, "all"), ...Array.from(branches).sort().map(b => el("option", { value: b }, b)));
    branch.value = chosen;
  }
  const status = document.getElementById("filter-status").value, sub = branch.value;
  const lo = parseFloat(document.getElementById("filter-min").value), hi = parseFloat(document.getElementById("filter-max").value);
  tableRows = Array.from(study.rows.values()).filter(r => (!status || r.status === status) && (!sub || r.subspace === sub)
    && (isNaN(lo) || (r.value !== null && r.value >= lo)) && (isNaN(hi) || (r.value !== null && r.value <= hi)));
  const key = sorting.key, dir = sorting.dir;
  tableRows.sort((a, b) => {
    const x = cellOf(a, key), y = cellOf(b, key);
    if (x === y) return a.trial - b.trial;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y))) * dir;
  });
  document.getElementById("shown").textContent = `${tableRows.length} of ${study.rows.size} trials`;
  document.getElementById("shown").dataset.count = tableRows.length;
  if (!performance.getEntriesByName("first-view").length) performance.mark("first-view");   // (for benchmarks)
  const space = document.getElementById("table-space");
  space.style.height = `${tableRows.length * ROW_HEIGHT}px`;
  space.style.width = `${columns.reduce((a, c) => a + c.width, 0)}px`;
  space.dataset.template = template;
  drawTableRows();
}

function drawTableRows() {
  const study = studies[current];
  if (!study) return;
  const body = document.getElementById("table-body"), space = document.getElementById("table-space");
  const columns = tableColumns(study);
  const first = Math.floor(body.scrollTop / ROW_HEIGHT), last = Math.min(tableRows.length, first + Math.ceil(body.clientHeight / ROW_HEIGHT) + 2);
  const nodes = [];
  for (let i = first; i < last; i++) {
    const row = tableRows[i];
    const line = el("div", { class: "trow", "data-trial": row.trial, style: `top:${i * ROW_HEIGHT}px;grid-template-columns:${space.dataset.template}` },
      ...columns.map(c => {
        const v = cellOf(row, c.key);
        const text = c.key === "duration" ? fmtSeconds(v) : fmt(v);
        return el("div", c.key === "status" ? { class: `st-${v}`, title: text } : { title: text }, text);
      }));
    line.onclick = () => openDetail(study, row.trial);
    nodes.push(line);
  }
  space.replaceChildren(...nodes);
}

// -- a trial's detail -------------------------------------------------------------------------------------
async function openDetail(study, trial) {
  const dialog = document.getElementById("detail"), body = document.getElementById("detail-body");
  const row = study.rows.get(trial);
  body.replaceChildren(el("h2", {}, `trial ${trial}`), el("p", {}, "loading…"));
  if (!dialog.open) dialog.showModal();
  let detail = null;
  try {
    detail = LIVE ? await api("/api/trial", { study: studies.indexOf(study), trial }) : (study.details || {})[String(trial)] || null;
  } catch (error) {
    body.replaceChildren(el("h2", {}, `trial ${trial}`), el("p", {}, `could not load it: ${error.message}`));
    return;
  }
  const parts = [el("h2", {}, `trial ${trial}: ${row.status}${row.value !== null ? `, ${study.info.metric} ${fmt(row.value)}` : ""}`)];
  if (row.subspace) parts.push(el("p", {}, `branch ${row.subspace}`));
  parts.push(el("h3", {}, "config"), el("pre", { id: "detail-config" }, JSON.stringify(detail ? detail.records[0].config
    : Object.fromEntries(study.params.map((name, i) => [name, row.params[i]]).filter(([, v]) => v !== null && v !== undefined)), null, 2)));
  if (!detail) {
    parts.push(el("p", { class: "note" }, "This report holds the full records of the best and the failed trials only; the study folder has this one's."));
  } else {
    const table = el("table", { class: "grid" });
    fillTable(table, ["status", "attempt", "host", "cores", "GPUs", "budget", "step", "value", "ran", "reason"],
      detail.records.map(r => [r.status, r.attempt, r.host || "", (r.cores || []).join(","), (r.gpus || []).join(","),
        r.budget ?? "", r.step ?? "", r.value ?? "", r.start && r.end ? fmtSeconds(r.end - r.start) : "", r.reason || ""]));
    parts.push(el("h3", {}, "attempts and runs"), table);
    if (detail.curve.length) parts.push(el("h3", {}, `reports (${detail.curve.length / 2})`),
      el("pre", {}, Array.from({ length: detail.curve.length / 2 }, (_, i) => `${fmt(detail.curve[2 * i])}\t${fmt(detail.curve[2 * i + 1])}`).join("\n")));
    if (detail.extras) parts.push(el("h3", {}, "extras"), el("pre", {}, JSON.stringify(detail.extras, null, 2)));
    for (const [name, text] of Object.entries(detail.outputs)) parts.push(el("h3", {}, `${name} (its end)`), el("pre", { class: "output" }, text || "(empty)"));
  }
  body.replaceChildren(...parts);
}

// -- several studies side by side ------------------------------------------------------------------------
function renderCompare() {
  const rows = studies.map(study => {
    const s = study.summary || {};
    return [study.info.name, study.info.directory, s.n_trials, s.n_complete, s.n_failed, s.n_running,
      s.best ? s.best.value : null, s.started ? fmtSeconds(s.now - s.started) : ""];
  });
  fillTable(document.getElementById("compare-table"), ["study", "folder", "trials", "complete", "failed", "running", "best", "elapsed"], rows);
  const curves = studies.map(study => {
    const done = Array.from(study.rows.values()).filter(r => r.status === "complete" && r.value !== null && r.end !== null)
      .sort((a, b) => a.end - b.end);
    return bestSoFar(study, done.map(r => r.value));
  });
  const n = Math.max(1, ...curves.map(c => c.length));
  const x = Array.from({ length: n }, (_, i) => i + 1);
  const palette = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2"];
  const series = studies.map((study, k) => ({ label: study.info.name, stroke: palette[k % palette.length], width: 2 }));
  const data = [x, ...curves.map(c => x.map((_, i) => (i < c.length ? c[i] : null)))];
  // y: from the best of all to the worst best-so-far after each study's fifth trial; x on a log scale,
  // so a study of 40 trials shows beside one of 10,000
  const settled = curves.flatMap(c => c.slice(Math.min(4, Math.max(c.length - 1, 0))));
  const log = logScale(curves.flat());
  const f = log ? Math.log10 : v => v;
  let span = null;
  if (settled.length) {
    const lo = Math.min(...settled.map(f)), hi = Math.max(...settled.map(f)), pad = (hi - lo) * 0.05 || 1;
    span = [lo - pad, hi + pad];
  }
  plot("compare-chart", series, data, "trials ended (log scale)", log, span, true);
}

start();
