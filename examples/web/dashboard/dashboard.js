// Live dashboard: mirrors a topic of metrics (key = metric name, data = {value, unit?}) and redraws a
// chart and a table as `put` events arrive. The chart is drawn by hand in SVG.
import { Tidings } from '/client/tidings.js';
import { ago, clientOptions, connectionView } from '../common.js';

const WINDOW_MS = 60_000; // what the chart and the sparklines show
const COLORS = ['#2f6df6', '#e8590c', '#13935a', '#8d5cf6', '#d6336c', '#0c8599', '#c27c0e', '#5c7cfa'];
const SVG = 'http://www.w3.org/2000/svg';

const params = new URLSearchParams(location.search);
const topic = params.get('topic') || 'metrics/demo';
const $ = (sel) => document.querySelector(sel);
const number = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });

$('[data-testid=topic]').textContent = topic;
document.title = `${topic} · Live dashboard · Tidings`;
$('[data-origin]').textContent = location.origin + (topic === 'metrics/demo' ? '' : ` --topic ${topic}`);

const conn = connectionView($('[data-conn]'));
const client = new Tidings(location.origin, clientOptions(params));
const mirror = client.mirror(topic, { onStatus: (change) => conn.update(change) });

/** Per metric: its points of the last minute, its colour, its table row and when it last changed. */
const metrics = new Map();
let selected = params.get('metric');
let lastUpdate = null;
let colorIndex = 0;

const debug = { client, mirror, topic, updates: 0, metrics, statusLog: conn.log };
window.__tidings = debug;

/** `{value, unit?}`, or a bare value, into what the page shows. */
function read(data) {
  if (data !== null && typeof data === 'object' && !Array.isArray(data) && 'value' in data) {
    return { value: data.value, unit: typeof data.unit === 'string' ? data.unit : '' };
  }
  return { value: data, unit: '' };
}
const numeric = (v) => typeof v === 'number' && Number.isFinite(v);
const show = (v) => (numeric(v) ? number.format(v) : typeof v === 'string' ? v : JSON.stringify(v));

function metric(key) {
  let m = metrics.get(key);
  if (!m) {
    m = { key, points: [], color: COLORS[colorIndex++ % COLORS.length], row: null, at: 0, value: undefined, unit: '' };
    metrics.set(key, m);
  }
  return m;
}

function record(key, data, at, time) {
  const m = metric(key);
  const { value, unit } = read(data);
  m.value = value;
  m.unit = unit;
  m.at = at;
  m.time = time;
  if (numeric(value)) m.points.push({ t: at, v: value });
  trim(m, at);
  return m;
}

function trim(m, now) {
  const from = now - WINDOW_MS - 5_000;
  let drop = 0;
  while (drop < m.points.length - 1 && m.points[drop].t < from) drop++;
  if (drop) m.points.splice(0, drop);
}

// --- the table ---------------------------------------------------------------------------------------

const tbody = $('[data-testid=metrics] tbody');

function row(m) {
  if (m.row) return m.row;
  const tr = document.createElement('tr');
  tr.dataset.key = m.key;
  tr.innerHTML = `<td class="name"><span class="swatch"></span><span data-testid="name"></span></td>
    <td class="num"><span data-testid="value"></span><span class="unit" data-testid="unit"></span></td>
    <td class="trend"><svg viewBox="0 0 120 28" preserveAspectRatio="none" aria-hidden="true"><path fill="none" stroke-width="1.6"/></svg></td>
    <td class="when"><time data-testid="updated"></time></td>`;
  tr.querySelector('.swatch').style.background = m.color;
  tr.querySelector('path').setAttribute('stroke', m.color);
  tr.querySelector('[data-testid=name]').textContent = m.key;
  tr.addEventListener('click', () => select(m.key));
  // Keep rows sorted by metric name.
  const after = [...tbody.children].find((r) => r.dataset.key > m.key);
  tbody.insertBefore(tr, after || null);
  m.row = tr;
  return tr;
}

function renderRow(m, flash) {
  const tr = row(m);
  const value = tr.querySelector('[data-testid=value]');
  value.textContent = show(m.value);
  value.dataset.raw = JSON.stringify(m.value);
  tr.querySelector('[data-testid=unit]').textContent = m.unit;
  const when = tr.querySelector('[data-testid=updated]');
  when.textContent = clock.format(m.at);
  if (m.time) when.dateTime = m.time;
  tr.setAttribute('aria-selected', String(m.key === selected));
  if (flash) {
    tr.classList.remove('flash');
    void tr.offsetWidth; // restart the animation
    tr.classList.add('flash');
  }
}

function renderSparkline(m, now) {
  if (!m.row) return;
  const path = m.row.querySelector('path');
  const pts = m.points.filter((p) => p.t >= now - WINDOW_MS);
  if (pts.length === 0) {
    path.setAttribute('d', '');
    return;
  }
  const [lo, hi] = extent(pts);
  const x = (t) => 120 - ((now - t) / WINDOW_MS) * 120;
  const y = (v) => 25 - ((v - lo) / (hi - lo)) * 22;
  path.setAttribute('d', linePath(pts, x, y, x(now)));
}

function renderCount() {
  const n = metrics.size;
  $('[data-testid=count]').textContent = n ? `(${n})` : '';
  $('[data-testid=empty]').hidden = n > 0;
}

// --- the chart ---------------------------------------------------------------------------------------

const chips = $('[data-testid=chips]');
const svg = $('[data-testid=chart] svg');

function renderChips() {
  const keys = [...metrics.values()].filter((m) => numeric(m.value)).map((m) => m.key).sort();
  const have = [...chips.children].map((c) => c.dataset.key);
  if (keys.join('\n') !== have.join('\n')) {
    chips.replaceChildren(...keys.map((key) => {
      const b = document.createElement('button');
      b.className = 'chip';
      b.type = 'button';
      b.setAttribute('role', 'tab');
      b.dataset.key = key;
      b.innerHTML = '<span class="swatch"></span><span></span>';
      b.firstChild.style.background = metrics.get(key).color;
      b.lastChild.textContent = key;
      b.addEventListener('click', () => select(key));
      return b;
    }));
  }
  for (const c of chips.children) c.setAttribute('aria-selected', String(c.dataset.key === selected));
}

function select(key) {
  selected = key;
  const url = new URL(location.href);
  url.searchParams.set('metric', key);
  history.replaceState(null, '', url);
  for (const m of metrics.values()) if (m.row) m.row.setAttribute('aria-selected', String(m.key === selected));
  scheduleChart();
}

function el(name, attrs, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function extent(pts) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const p of pts) {
    lo = Math.min(lo, p.v);
    hi = Math.max(hi, p.v);
  }
  if (lo === hi) {
    const pad = Math.abs(lo) * 0.1 || 1;
    return [lo - pad, hi + pad];
  }
  return [lo, hi];
}

/** Round ticks covering [lo, hi]: 1, 2 or 5 times a power of ten apart. */
function ticks(lo, hi, count) {
  const raw = (hi - lo) / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((f) => f * pow).find((s) => s >= raw);
  const out = [];
  for (let v = Math.floor(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  if (out[0] > lo) out.unshift(+(out[0] - step).toPrecision(12));
  if (out[out.length - 1] < hi) out.push(+(out[out.length - 1] + step).toPrecision(12));
  return out;
}

/** A step-free line through the points, carried on flat to `xEnd` (the value holds until it changes). */
function linePath(pts, x, y, xEnd) {
  let d = '';
  pts.forEach((p, i) => {
    d += `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`;
  });
  const last = pts[pts.length - 1];
  return d + `L${xEnd.toFixed(1)},${y(last.v).toFixed(1)}`;
}

function renderChart(now) {
  const m = metrics.get(selected);
  const w = svg.clientWidth || 600;
  const h = svg.clientHeight || 260;
  const left = 48;
  const right = 12;
  const top = 10;
  const bottom = 24;
  const nodes = [];
  $('[data-testid=chart-metric]').textContent = m ? m.key : metrics.size ? 'Pick a metric' : 'Waiting for metrics…';
  $('[data-testid=chart-value]').textContent = m ? show(m.value) : '—';
  $('[data-testid=chart-unit]').textContent = m ? m.unit : '';
  const x = (t) => left + (1 - (now - t) / WINDOW_MS) * (w - left - right);
  // Time axis: every 15 s.
  for (let s = 60; s >= 0; s -= 15) {
    const xs = x(now - s * 1000);
    nodes.push(el('line', { class: 'grid', x1: xs, x2: xs, y1: top, y2: h - bottom, 'stroke-dasharray': '2 4' }));
    nodes.push(el('text', { class: 'axis', x: xs, y: h - 6, 'text-anchor': s === 60 ? 'start' : s === 0 ? 'end' : 'middle' },
      s === 0 ? 'now' : `-${s}s`));
  }
  const pts = m ? m.points.filter((p) => p.t >= now - WINDOW_MS - 5_000) : [];
  if (pts.length === 0) {
    nodes.push(el('text', { class: 'hint', x: left + 8, y: top + 24 }, m ? 'no numeric values yet' : 'waiting for the first value…'));
    svg.replaceChildren(...nodes);
    return;
  }
  const [lo0, hi0] = extent(pts);
  const ys = ticks(lo0, hi0, h < 230 ? 3 : 4);
  const lo = ys[0];
  const hi = ys[ys.length - 1];
  const y = (v) => top + (1 - (v - lo) / (hi - lo)) * (h - top - bottom);
  for (const v of ys) {
    nodes.push(el('line', { class: 'grid', x1: left, x2: w - right, y1: y(v), y2: y(v) }));
    nodes.push(el('text', { class: 'axis', x: left - 6, y: y(v) + 4, 'text-anchor': 'end' }, compact(v)));
  }
  const clip = el('clipPath', { id: 'plot' });
  clip.append(el('rect', { x: left, y: 0, width: w - left - right, height: h }));
  const defs = el('defs', {});
  defs.append(clip);
  nodes.unshift(defs);
  const d = linePath(pts, x, y, x(now));
  const g = el('g', { 'clip-path': 'url(#plot)' });
  g.append(el('path', { class: 'area', d: `${d}L${x(now).toFixed(1)},${h - bottom}L${x(pts[0].t).toFixed(1)},${h - bottom}Z`, fill: m.color }));
  g.append(el('path', { class: 'line', d, stroke: m.color }));
  const last = pts[pts.length - 1];
  g.append(el('circle', { cx: x(last.t), cy: y(last.v), r: 4, fill: m.color }));
  nodes.push(g);
  svg.replaceChildren(...nodes);
}

const compact = (v) => new Intl.NumberFormat(undefined, { notation: Math.abs(v) >= 10_000 ? 'compact' : 'standard', maximumFractionDigits: 2 }).format(v);

let chartQueued = false;
function scheduleChart() {
  if (chartQueued) return;
  chartQueued = true;
  requestAnimationFrame(() => {
    chartQueued = false;
    const now = Date.now();
    if (!metrics.has(selected)) selected = [...metrics.keys()].filter((k) => numeric(metrics.get(k).value)).sort()[0] ?? null;
    renderChips();
    renderChart(now);
    for (const m of metrics.values()) renderSparkline(m, now);
  });
}

// --- "last update" -------------------------------------------------------------------------------------

const updatedPill = $('[data-testid=last-update-pill]');
const updatedText = $('[data-testid=last-update]');
function renderLastUpdate() {
  if (lastUpdate === null) return;
  updatedText.textContent = `updated ${ago(lastUpdate.at)}`;
  updatedPill.title = `last change ${new Date(lastUpdate.at).toLocaleTimeString()}` + (lastUpdate.time ? ` (event time ${lastUpdate.time})` : '');
  updatedText.dataset.at = String(lastUpdate.at);
}
function beat() {
  updatedPill.classList.remove('fresh');
  void updatedPill.offsetWidth;
  updatedPill.classList.add('fresh');
}

// --- wiring ------------------------------------------------------------------------------------------

mirror.onChange((state, event) => {
  const now = Date.now();
  if (event === null) {
    // The first snapshot, or a reset: the state is the whole truth.
    for (const [key, m] of metrics) {
      if (!state.has(key)) {
        m.row?.remove();
        metrics.delete(key);
      }
    }
    for (const [key, data] of state) {
      const m = record(key, data, now);
      renderRow(m, false);
    }
  } else if (event.type === 'delete') {
    const m = metrics.get(event.key);
    m?.row?.remove();
    metrics.delete(event.key);
  } else if (event.type === 'put') {
    const m = record(event.key, event.data, now, event.time);
    renderRow(m, true);
  }
  if (event || state.size) lastUpdate = { at: now, time: event?.time };
  debug.updates++;
  renderCount();
  renderLastUpdate();
  if (event) beat();
  scheduleChart();
});

mirror.ready.then(() => {
  debug.ready = true;
  document.body.dataset.ready = 'true';
}, (error) => {
  conn.update({ status: 'closed', reason: error?.message });
});

// The chart slides with time even when nothing changes.
setInterval(() => {
  scheduleChart();
  renderLastUpdate();
}, 1000);
new ResizeObserver(() => scheduleChart()).observe(svg);
addEventListener('pagehide', () => client.close());
renderCount();
scheduleChart();
