// The live view's page: static HTML, CSS and hand-written JS shipped inside the binary (no CDN, no
// build step). The plots and images are drawn on canvases by the script below.

/// The page's three files.
enum LivePage {
    static let html = #"""
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>operando live view</title>
<link rel="stylesheet" href="live.css">
</head>
<body>
<header>
  <h1>operando <span class="thin">live view</span></h1>
  <span id="run-name" class="muted"></span>
  <span id="connection" class="badge">connecting…</span>
  <span id="run-state" class="badge">—</span>
  <button id="stop" hidden title="LED off, cell at open circuit, dataset closed — the same safe stop as Ctrl-C">Stop the run safely…</button>
</header>
<main>
  <section class="panel" id="panel-contrast">
    <h2>Total contrast ΔI/I₀ <span class="muted" id="contrast-caption"></span></h2>
    <canvas id="contrast" width="340" height="300"></canvas>
  </section>
  <section class="panel" id="panel-raw">
    <h2>Raw frame <span class="muted" id="raw-caption"></span></h2>
    <canvas id="raw" width="300" height="300"></canvas>
  </section>
  <section class="panel" id="panel-step">
    <h2>Step</h2>
    <div id="step-title">—</div>
    <ul id="step-ends"></ul>
    <div class="progress"><div id="progress-bar"></div></div>
    <div id="progress-text" class="muted">—</div>
    <h2>Latest</h2>
    <table class="kv">
      <tr><th>run time</th><td id="latest-time">—</td></tr>
      <tr><th>frame</th><td id="latest-frame">—</td></tr>
      <tr><th>ΔI/I₀</th><td id="latest-dI">—</td></tr>
      <tr><th>SDC σ</th><td id="latest-sdc">—</td></tr>
      <tr><th>heterogeneity</th><td id="latest-het">—</td></tr>
      <tr><th>voltage</th><td id="latest-V">—</td></tr>
      <tr><th>current</th><td id="latest-I">—</td></tr>
    </table>
    <h2>Rig health</h2>
    <table class="kv">
      <tr><th>loop p99</th><td id="health-p99">—</td></tr>
      <tr><th>missed deadlines</th><td id="health-missed">—</td></tr>
      <tr><th>dropped frames</th><td id="health-dropped">—</td></tr>
      <tr><th>lockstep violations</th><td id="health-violations">—</td></tr>
      <tr><th>LED</th><td id="health-led">—</td></tr>
      <tr><th>recorded frames</th><td id="health-frames">—</td></tr>
    </table>
  </section>
  <section class="panel wide" id="panel-dI">
    <h2>ΔI/I₀ vs time</h2>
    <canvas id="plot-dI" width="400" height="210"></canvas>
  </section>
  <section class="panel wide" id="panel-echem">
    <h2>Voltage <span class="v-key">━</span> and current <span class="i-key">━</span> vs time</h2>
    <canvas id="plot-echem" width="400" height="210"></canvas>
  </section>
  <section class="panel wide" id="panel-sdc">
    <h2>SDC σ <span id="het-badge" class="badge">—</span></h2>
    <canvas id="plot-sdc" width="400" height="210"></canvas>
  </section>
  <section class="panel log" id="panel-events">
    <h2>Events <span class="muted" id="event-count"></span></h2>
    <div id="events"></div>
  </section>
</main>
<pre id="layout" hidden></pre>
<script src="live.js"></script>
</body>
</html>
"""#

    static let style = #"""
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.35 "DejaVu Sans", system-ui, sans-serif; background: #eef0f3; color: #1d232b; }
header { display: flex; align-items: center; gap: 12px; padding: 8px 14px; background: #1d232b; color: #fff; }
header h1 { font-size: 17px; margin: 0; }
.thin { font-weight: normal; }
.muted { color: #7a828c; font-weight: normal; font-size: 12px; }
header .muted { color: #aab2bc; }
.badge { padding: 1px 7px; border-radius: 9px; background: #5b6470; color: #fff; font-size: 12px; }
.badge.ok { background: #2e7d32; } .badge.warn { background: #c77700; } .badge.bad { background: #c62828; }
#stop { margin-left: auto; background: #c62828; color: #fff; border: 0; border-radius: 4px; padding: 5px 12px; font-weight: bold; cursor: pointer; }
main { display: grid; grid-template-columns: 360px 320px 1fr; gap: 8px; padding: 8px; }
.panel { background: #fff; border-radius: 6px; padding: 6px 10px 8px; box-shadow: 0 1px 2px rgba(0,0,0,.12); min-width: 0; }
.panel h2 { font-size: 13px; margin: 2px 0 4px; }
#panel-step { grid-row: span 1; }
.wide { }
main > #panel-dI { grid-column: 1 / 2; }
canvas { display: block; }
#panel-dI canvas, #panel-echem canvas, #panel-sdc canvas { width: 100%; height: 210px; }
.log { grid-column: 1 / -1; }
#events { max-height: 150px; overflow-y: auto; font-family: "DejaVu Sans Mono", monospace; font-size: 12px; }
#events div { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
#events .fault, #events .limit_tripped, #events .lockstep_violation { color: #c62828; }
#events .warning, #events .frame_dropped, #events .frame_skipped { color: #c77700; }
#events .step_started { color: #1e5aa8; }
table.kv { border-collapse: collapse; width: 100%; }
table.kv th { text-align: left; font-weight: normal; color: #5b6470; padding: 1px 6px 1px 0; }
table.kv td { text-align: right; font-variant-numeric: tabular-nums; }
td.bad { color: #c62828; font-weight: bold; }
.progress { height: 8px; background: #dde1e6; border-radius: 4px; overflow: hidden; margin: 6px 0 2px; }
#progress-bar { height: 100%; width: 0; background: #1e5aa8; }
#step-title { font-weight: bold; }
#step-ends { margin: 2px 0; padding-left: 18px; }
.v-key { color: #1e5aa8; } .i-key { color: #c2185b; }
"""#

    static let script = #"""
"use strict";
// operando live view: one WebSocket, history once then increments (each with a sequence number).
const S = { seq: -1, frameSeq: -1, statusSeq: -1, info: null,
  echem: { t: [], V: [], I: [], step: [] }, monitor: { frame: [], t: [], dI: [], sdc: [], het: [] },
  events: [], status: null, ended: null, frame: null, dirty: true };
const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.search).get("token");

function fmt(x, digits) { return (x === null || x === undefined || !isFinite(x)) ? "—" : x.toFixed(digits); }
function clock(s) {
  if (s === null || !isFinite(s) || s < 0) return "—";
  s = Math.round(s); const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, x = s % 60;
  return h + ":" + String(m).padStart(2, "0") + ":" + String(x).padStart(2, "0");
}
function concat(dst, src) { for (const k in dst) { const a = src[k] || []; for (let i = 0; i < a.length; i++) dst[k].push(a[i]); } }

function onMessage(m) {
  switch (m.type) {
    case "history":
      S.seq = m.seq; S.info = m.info; S.echem = m.echem; S.monitor = m.monitor; S.events = m.events;
      if (m.status) { S.status = m.status; S.statusSeq = m.seq; }
      S.ended = m.ended; break;
    case "frame": if (m.seq > S.frameSeq) { S.frameSeq = m.seq; S.frame = decodeFrame(m); } break;
    case "status": if (m.seq > S.statusSeq) { S.statusSeq = m.seq; S.status = m.status; } break;
    default:
      if (m.seq <= S.seq) return;
      S.seq = m.seq;
      if (m.type === "info") S.info = m.info;
      else if (m.type === "echem") concat(S.echem, m.rows);
      else if (m.type === "monitor") concat(S.monitor, m.rows);
      else if (m.type === "events") { for (const e of m.events) S.events.push(e); if (S.events.length > 2000) S.events.splice(0, S.events.length - 2000); }
      else if (m.type === "ended") S.ended = m.reason;
  }
  S.dirty = true;
}

function decodeB64(s) { const b = atob(s); const a = new Uint8Array(b.length); for (let i = 0; i < b.length; i++) a[i] = b.charCodeAt(i); return a; }
function decodeFrame(m) { return { n: m.frame, t: m.t, w: m.width, h: m.height, px: m.pixelSizeUm, raw: decodeB64(m.raw.b64), lo: m.raw.lo, hi: m.raw.hi,
  c: decodeB64(m.contrast.b64), scale: m.contrast.scale, mean: m.contrast.mean }; }

// Diverging map (blue – white – red), centred at zero; code 0 = no value.
const STOPS = [[33, 102, 172], [103, 169, 207], [209, 229, 240], [247, 247, 247], [253, 219, 199], [239, 138, 98], [178, 24, 43]];
function diverging(u) { // u in 0…1
  const x = Math.max(0, Math.min(1, u)) * (STOPS.length - 1); const i = Math.min(STOPS.length - 2, Math.floor(x)); const f = x - i;
  const a = STOPS[i], b = STOPS[i + 1];
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}
const LUT = (() => { const t = new Uint8ClampedArray(256 * 3); for (let k = 1; k < 256; k++) { const c = diverging((k - 1) / 254); t[3 * k] = c[0]; t[3 * k + 1] = c[1]; t[3 * k + 2] = c[2]; }
  t[0] = 200; t[1] = 203; t[2] = 208; return t; })();

function imageCanvas(w, h, fill) {
  const off = document.createElement("canvas"); off.width = w; off.height = h;
  const g = off.getContext("2d"); const img = g.createImageData(w, h); fill(img.data); g.putImageData(img, 0, 0); return off;
}
function niceLength(x) { const p = Math.pow(10, Math.floor(Math.log10(x))); for (const k of [5, 2, 1]) if (k * p <= x) return k * p; return p; }

function drawScaleBar(g, x0, y0, size, f) {
  if (!(f.px > 0)) return;
  const umPerScreenPx = f.px * f.w / size;
  const um = niceLength(size * 0.3 * umPerScreenPx); const len = um / umPerScreenPx;
  g.fillStyle = "rgba(0,0,0,.55)"; g.fillRect(x0 + size - len - 16, y0 + size - 28, len + 10, 22);
  g.fillStyle = "#fff"; g.fillRect(x0 + size - len - 11, y0 + size - 12, len, 4);
  g.font = "11px DejaVu Sans, sans-serif"; g.textAlign = "center";
  g.fillText((um >= 1 ? um : um.toPrecision(1)) + " µm", x0 + size - len / 2 - 11, y0 + size - 15);
}

function drawContrast() {
  const cv = $("contrast"), g = cv.getContext("2d"), f = S.frame;
  g.clearRect(0, 0, cv.width, cv.height);
  const size = 270, x0 = 0, y0 = 4;
  g.fillStyle = "#c8cbd0"; g.fillRect(x0, y0, size, size);
  if (!f) { g.fillStyle = "#5b6470"; g.font = "12px sans-serif"; g.textAlign = "center"; g.fillText("waiting for the first frame", x0 + size / 2, y0 + size / 2); return; }
  const off = imageCanvas(f.w, f.h, (d) => { for (let i = 0; i < f.c.length; i++) { const k = f.c[i]; d[4 * i] = LUT[3 * k]; d[4 * i + 1] = LUT[3 * k + 1]; d[4 * i + 2] = LUT[3 * k + 2]; d[4 * i + 3] = 255; } });
  g.imageSmoothingEnabled = false; g.drawImage(off, x0, y0, size, size);
  drawScaleBar(g, x0, y0, size, f);
  // Colour bar: −scale … 0 … +scale, in %.
  const bx = x0 + size + 10, bw = 14;
  for (let y = 0; y < size; y++) { const c = diverging(1 - y / (size - 1)); g.fillStyle = `rgb(${c[0] | 0},${c[1] | 0},${c[2] | 0})`; g.fillRect(bx, y0 + y, bw, 1); }
  g.strokeStyle = "#555"; g.strokeRect(bx + .5, y0 + .5, bw, size);
  g.fillStyle = "#1d232b"; g.font = "11px DejaVu Sans, sans-serif"; g.textAlign = "left";
  const pct = f.scale * 100, d = pct >= 10 ? 0 : pct >= 1 ? 1 : 2;
  g.fillText("+" + pct.toFixed(d) + "%", bx + bw + 3, y0 + 10); g.fillText("0", bx + bw + 3, y0 + size / 2 + 4); g.fillText("−" + pct.toFixed(d) + "%", bx + bw + 3, y0 + size - 2);
  $("contrast-caption").textContent = "frame " + f.n + " · t " + clock(f.t) + " · mean " + (isFinite(f.mean) ? (f.mean * 100).toFixed(2) + " %" : "—");
}

function drawRaw() {
  const cv = $("raw"), g = cv.getContext("2d"), f = S.frame;
  g.clearRect(0, 0, cv.width, cv.height);
  const size = 270, x0 = 0, y0 = 4;
  g.fillStyle = "#c8cbd0"; g.fillRect(x0, y0, size, size);
  if (!f) return;
  const off = imageCanvas(f.w, f.h, (d) => { for (let i = 0; i < f.raw.length; i++) { const v = f.raw[i]; d[4 * i] = v; d[4 * i + 1] = v; d[4 * i + 2] = v; d[4 * i + 3] = 255; } });
  g.imageSmoothingEnabled = false; g.drawImage(off, x0, y0, size, size);
  drawScaleBar(g, x0, y0, size, f);
  $("raw-caption").textContent = "counts " + fmt(f.lo, 0) + "–" + fmt(f.hi, 0);
}

function niceTicks(lo, hi, n) {
  if (!(hi > lo)) { hi = lo + 1; }
  const step = niceLength((hi - lo) / n) * ((hi - lo) / n / niceLength((hi - lo) / n) > 2.5 ? 2 : 1);
  const out = []; for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}
function extent(a) { let lo = Infinity, hi = -Infinity; for (const v of a) if (v !== null && isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; } return [lo, hi]; }
function timeUnit(tmax) { return tmax > 7200 ? [3600, "h"] : tmax > 120 ? [60, "min"] : [1, "s"]; }

// One plot: x = run time; series on a left axis and an optional right axis; `bands` shades x ranges.
function plot(cv, series, opts) {
  const dpr = window.devicePixelRatio || 1, W = cv.clientWidth || cv.width, H = cv.clientHeight || cv.height;
  if (cv.width !== Math.round(W * dpr)) { cv.width = Math.round(W * dpr); cv.height = Math.round(H * dpr); }
  const g = cv.getContext("2d"); g.setTransform(dpr, 0, 0, dpr, 0, 0); g.clearRect(0, 0, W, H);
  const L = 54, R = series.some(s => s.right) ? 58 : 12, T = 8, B = 30, pw = W - L - R, ph = H - T - B;
  let tmax = 0; for (const s of series) for (const t of s.x) if (t > tmax) tmax = t;
  const [tu, tl] = timeUnit(tmax); const xhi = Math.max(tmax / tu, 1e-9);
  const X = (t) => L + (t / tu) / xhi * pw;
  g.strokeStyle = "#9aa1a9"; g.lineWidth = 1; g.strokeRect(L + .5, T + .5, pw, ph);
  g.font = "11px DejaVu Sans, sans-serif"; g.fillStyle = "#3b434c";
  g.textAlign = "center"; for (const v of niceTicks(0, xhi, 6)) { const x = L + v / xhi * pw; g.fillText(+v.toPrecision(4) + "", x, T + ph + 13); g.fillRect(x, T + ph, 1, 3); }
  g.fillText("run time (" + tl + ")", L + pw / 2, H - 3);
  if (opts.bands) { g.fillStyle = "rgba(230, 126, 34, .18)"; for (const [a, b] of opts.bands) g.fillRect(X(a), T, Math.max(1, X(b) - X(a)), ph); }
  for (const side of [false, true]) {
    const ss = series.filter(s => !!s.right === side); if (!ss.length) continue;
    let lo = Infinity, hi = -Infinity; for (const s of ss) { const [a, b] = extent(s.y); lo = Math.min(lo, a); hi = Math.max(hi, b); }
    if (!isFinite(lo)) { lo = 0; hi = 1; } if (opts.zero && !side) { lo = Math.min(lo, 0); hi = Math.max(hi, 0); }
    if (hi - lo < 1e-12) { lo -= 0.5 * (Math.abs(lo) || 1) * 0.01; hi += 0.5 * (Math.abs(hi) || 1) * 0.01; }
    const pad = (hi - lo) * 0.06; lo -= pad; hi += pad;
    const Y = (v) => T + ph - (v - lo) / (hi - lo) * ph;
    g.fillStyle = ss[0].color; g.textAlign = side ? "left" : "right";
    const ticks = niceTicks(lo, hi, 5), k = ss[0].scale || 1, tstep = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) * k : 1;
    const digits = Math.max(0, Math.min(8, -Math.floor(Math.log10(tstep) + 1e-9)));
    for (const v of ticks) { const y = Y(v); const label = (v * k).toFixed(digits);
      g.fillText(label, side ? L + pw + 5 : L - 5, y + 4); g.fillRect(side ? L + pw : L - 3, y, 3, 1); }
    g.save(); g.translate(side ? W - 6 : 11, T + ph / 2); g.rotate(side ? Math.PI / 2 : -Math.PI / 2); g.textAlign = "center"; g.fillText(ss[0].label, 0, 0); g.restore();
    if (opts.zero && !side && lo < 0 && hi > 0) { g.fillStyle = "#c0c5cb"; g.fillRect(L, Y(0), pw, 1); }
    g.save(); g.beginPath(); g.rect(L, T, pw, ph); g.clip();
    for (const s of ss) {
      g.strokeStyle = s.color; g.lineWidth = 1.6; g.beginPath(); let pen = false;
      // At most ~2 points per screen pixel: long runs stay cheap to draw.
      const n = s.x.length, stride = Math.max(1, Math.floor(n / (2 * pw)));
      for (let i = 0; i < n; i += stride) { const y = s.y[i]; if (y === null || !isFinite(y)) { pen = false; continue; }
        const px = X(s.x[i]), py = Y(y); if (pen) g.lineTo(px, py); else { g.moveTo(px, py); pen = true; } }
      if (n > 0 && stride > 1) { const y = s.y[n - 1]; if (y !== null && isFinite(y)) g.lineTo(X(s.x[n - 1]), Y(y)); }
      g.stroke();
      if (s.dots) { g.fillStyle = s.color; for (let i = 0; i < n; i += stride) { const y = s.y[i]; if (y !== null && isFinite(y)) g.fillRect(X(s.x[i]) - 1.5, Y(y) - 1.5, 3, 3); } }
    }
    g.restore();
  }
  if (tmax === 0) { g.fillStyle = "#7a828c"; g.textAlign = "center"; g.fillText("no data yet", L + pw / 2, T + ph / 2); }
}

function hetBands() {
  const m = S.monitor, out = []; let start = null;
  for (let i = 0; i < m.t.length; i++) { if (m.het[i] && start === null) start = m.t[i]; if (!m.het[i] && start !== null) { out.push([start, m.t[i]]); start = null; } }
  if (start !== null) out.push([start, m.t[m.t.length - 1]]);
  return out;
}

function setCell(id, text, bad, value) { const e = $(id); e.textContent = text; e.classList.toggle("bad", !!bad); if (value !== undefined) e.dataset.value = value; }

function drawText() {
  const st = S.status, m = S.monitor, e = S.echem, info = S.info;
  $("run-name").textContent = info ? (info.protocol + " · " + info.backend) : "";
  $("connection").textContent = S.connected ? "connected" : "disconnected"; $("connection").className = "badge " + (S.connected ? "ok" : "warn");
  $("run-state").textContent = S.ended ? ("ended: " + S.ended) : (st && st.live ? "running" : "dataset");
  $("run-state").className = "badge " + (S.ended ? (S.ended === "protocol complete" ? "ok" : "bad") : "ok");
  $("stop").hidden = !(st && st.live && !S.ended);
  const n = m.t.length;
  if (n) {
    const k = n - 1;
    setCell("latest-frame", String(m.frame[k]), false, m.frame[k]);
    setCell("latest-dI", isFinite(m.dI[k]) && m.dI[k] !== null ? (m.dI[k] >= 0 ? "+" : "") + (m.dI[k] * 100).toFixed(3) + " %" : "—", false, m.dI[k]);
    setCell("latest-sdc", fmt(m.sdc[k], 5), false, m.sdc[k]);
    setCell("latest-het", m.het[k] ? "heterogeneous" : "uniform", false, m.het[k] ? 1 : 0);
    $("het-badge").textContent = m.het[k] ? "heterogeneous" : "uniform"; $("het-badge").className = "badge " + (m.het[k] ? "warn" : "ok");
  }
  const ne = e.t.length;
  const tnow = Math.max(ne ? e.t[ne - 1] : 0, n ? m.t[n - 1] : 0, st ? st.t : 0);
  setCell("latest-time", clock(tnow), false, tnow);
  if (ne) { setCell("latest-V", fmt(e.V[ne - 1], 4) + " V", false, e.V[ne - 1]); setCell("latest-I", fmt(e.I[ne - 1] * 1e3, 4) + " mA", false, e.I[ne - 1]); }
  const steps = info ? info.steps : [];
  const stepIndex = st ? st.step : (ne ? e.step[ne - 1] : -1);
  const stepText = st && st.stepText ? st.stepText : (steps[stepIndex] || "");
  const count = st && st.stepCount ? st.stepCount : steps.length;
  $("step-title").textContent = stepIndex >= 0 ? ("Step " + (stepIndex + 1) + " of " + count + ": " + stepText) : "—";
  const ends = $("step-ends"); ends.textContent = "";
  const m2 = /\b(?:until|for)\b(.*)$/i.exec(stepText);
  if (m2) for (const part of m2[0].split(/\s+or\s+/i)) { const li = document.createElement("li"); li.textContent = part.trim(); ends.appendChild(li); }
  let fraction = st ? st.fraction : null; const planned = st ? st.planned : null;
  if (S.ended && S.ended === "protocol complete") fraction = 1;
  $("progress-bar").style.width = ((fraction || 0) * 100).toFixed(1) + "%";
  let ptext = fraction !== null && fraction !== undefined ? (fraction * 100).toFixed(0) + " % of the planned " + clock(planned) : "progress unknown (a step ends on a condition)";
  if (planned && !S.ended) {
    ptext += " · ends in " + clock(planned - tnow);
    if (info && info.startUTC && st && st.live) { const end = new Date(Date.parse(info.startUTC) + planned * 1000); if (!isNaN(end)) ptext += " (≈ " + end.toISOString().slice(11, 16) + " UTC)"; }
  }
  $("progress-text").textContent = ptext;
  if (st) {
    setCell("health-p99", isFinite(st.p99) && st.p99 !== null ? st.p99.toFixed(0) + " µs" : "— (virtual clock)", st.p99 > 1000);
    setCell("health-missed", String(st.missed), st.missed > 0, st.missed);
    setCell("health-dropped", String(st.dropped), st.dropped > 0, st.dropped);
    setCell("health-violations", String(st.violations), st.violations > 0, st.violations);
    setCell("health-led", st.led === null ? "—" : st.led ? "on (pulsed)" : "off", false);
    setCell("health-frames", String(st.frames), false, st.frames);
  }
  const box = $("events"); box.textContent = "";
  const shown = S.events.slice(-200).reverse();
  for (const ev of shown) { const d = document.createElement("div"); d.className = ev.event; d.textContent = clock(ev.t) + "  " + ev.text; box.appendChild(d); }
  $("event-count").textContent = S.events.length ? "(" + S.events.length + ")" : "";
}

function render() {
  if (!S.dirty) return; S.dirty = false;
  drawContrast(); drawRaw();
  const m = S.monitor, e = S.echem;
  plot($("plot-dI"), [{ x: m.t, y: m.dI, color: "#6a1b9a", label: "ΔI/I₀ (%)", scale: 100, dots: m.t.length < 60 }], { zero: true });
  plot($("plot-echem"), [{ x: e.t, y: e.V, color: "#1e5aa8", label: "voltage (V)" }, { x: e.t, y: e.I, color: "#c2185b", label: "current (mA)", scale: 1e3, right: true }], {});
  plot($("plot-sdc"), [{ x: m.t, y: m.sdc, color: "#00796b", label: "SDC σ", dots: m.t.length < 60 }], { bands: hetBands() });
  drawText();
  const rects = {}; for (const id of ["contrast", "raw", "plot-dI", "plot-echem", "plot-sdc"]) { const r = $(id).getBoundingClientRect(); rects[id] = [Math.round(r.left), Math.round(r.top), Math.round(r.width), Math.round(r.height)]; }
  $("layout").textContent = JSON.stringify({ rects: rects, seq: S.seq, frameSeq: S.frameSeq, rows: m.t.length });
}
function loop() { render(); requestAnimationFrame(loop); }

function connect() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws" + (token ? "?token=" + encodeURIComponent(token) : ""));
  ws.onopen = () => { S.connected = true; S.dirty = true; };
  ws.onmessage = (ev) => { try { onMessage(JSON.parse(ev.data)); } catch (err) { console.error(err); } };
  ws.onclose = () => { S.connected = false; S.dirty = true; setTimeout(connect, 2000); };
}

$("stop").addEventListener("click", async () => {
  if (!confirm("Stop the run safely?\n\nThe LED goes off, the cell is put at open circuit, the safe state is recorded and the dataset is closed — the same as Ctrl-C in the terminal. The run cannot be resumed.")) return;
  const headers = { "X-Operando-Confirm": "stop" }; if (token) headers["X-Operando-Token"] = token;
  const r = await fetch("api/stop", { method: "POST", headers: headers, credentials: "same-origin" });
  alert(await r.text());
});

// The history first over plain HTTP (the page shows the run at once, and a headless browser's
// virtual time waits for a fetch where it does not wait for a WebSocket), then the live increments.
async function preload() {
  try {
    const headers = {}; if (token) headers["X-Operando-Token"] = token;
    const get = (path) => fetch(path, { headers: headers, cache: "no-store", credentials: "same-origin" }).then((r) => r.ok ? r.json() : null);
    const [h, f] = await Promise.all([get("api/history"), get("api/frame")]);
    if (h && h.type === "history" && h.seq > S.seq) onMessage(h);
    if (f && f.type === "frame") onMessage(f);
    S.dirty = true;
  } catch (err) { console.error(err); }
}
preload().finally(connect); loop(); setInterval(() => { S.dirty = true; }, 1000);
"""#
}
