// The Tidings admin page: live counts, charts and topics from the hub's own feed.
//
// The page first asks GET /admin/snapshot (with the token as a bearer header, so a refusal comes with
// its status and message), then follows GET /admin/stream, a Server-Sent Events stream with one JSON
// snapshot a second. EventSource cannot set headers, so the stream gets the token as access_token.
// The token lives in this tab's sessionStorage only. No libraries: the charts are drawn on canvases.

const TOKEN_KEY = 'tidings-admin-token';
const WINDOW_SECONDS = 120;
const $ = (id) => document.getElementById(id);

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || '',
  source: null,
  samples: [],
  heads: new Map(),
  retry: null,
};

const charts = {
  connections: {
    canvas: 'chart-connections', legend: 'legend-connections', unit: '', floor: 4,
    series: [
      { key: 'sse', label: 'SSE', color: '--c1' },
      { key: 'ws', label: 'WebSocket', color: '--c2' },
      { key: 'long_polls', label: 'Long polls', color: '--c3' },
    ],
  },
  throughput: {
    canvas: 'chart-throughput', legend: 'legend-throughput', unit: '/s', floor: 4,
    series: [
      { key: 'published_per_s', label: 'Published', color: '--c1' },
      { key: 'delivered_per_s', label: 'Delivered', color: '--c2' },
      { key: 'dropped_per_s', label: 'Dropped', color: '--c4' },
    ],
  },
  latency: {
    canvas: 'chart-latency', legend: 'legend-latency', unit: ' ms', floor: 1,
    series: [
      { key: 'deliver_p50_ms', label: 'Deliver p50', color: '--c2' },
      { key: 'deliver_p99_ms', label: 'Deliver p99', color: '--c1' },
      { key: 'append_p99_ms', label: 'Store append p99', color: '--c3' },
    ],
  },
};

function setStatus(text, kind) {
  const el = $('status');
  el.textContent = text;
  el.dataset.state = kind;
}

function showLogin(message) {
  $('dashboard').hidden = true;
  $('login').hidden = false;
  $('forget').hidden = !state.token;
  const error = $('error');
  error.textContent = message || '';
  error.hidden = !message;
  $('token').value = '';
  $('token').focus();
}

function showDashboard() {
  $('login').hidden = true;
  $('dashboard').hidden = false;
  $('forget').hidden = !state.token;
}

function closeStream() {
  if (state.source) {
    state.source.close();
    state.source = null;
  }
  clearTimeout(state.retry);
}

// What the server says when it refuses, as a sentence for the page.
async function refusal(response) {
  let detail = '';
  try {
    const body = await response.json();
    detail = body?.error?.message ? `: ${body.error.message}` : '';
  } catch {
    // not JSON: the status says enough
  }
  if (response.status === 401) {
    return state.token
      ? `This token was not accepted${detail}.`
      : 'This hub needs a token with the admin grant.';
  }
  if (response.status === 403) {
    return 'This token is valid but does not have the admin grant.';
  }
  return `The hub answered ${response.status}${detail}.`;
}

async function connect() {
  closeStream();
  setStatus('Connecting…', 'connecting');
  const headers = state.token ? { Authorization: `Bearer ${state.token}` } : {};
  let response;
  try {
    response = await fetch('/admin/snapshot', { headers, cache: 'no-store' });
  } catch {
    setStatus('Cannot reach the hub; retrying…', 'error');
    state.retry = setTimeout(connect, 3000);
    return;
  }
  if (response.status === 401 || response.status === 403) {
    const message = await refusal(response);
    setStatus(response.status === 401 && !state.token ? 'Sign in' : 'Refused', 'error');
    showLogin(state.token || response.status === 403 ? message : '');
    return;
  }
  if (!response.ok) {
    setStatus(await refusal(response) + ' Retrying…', 'error');
    state.retry = setTimeout(connect, 3000);
    return;
  }
  render(await response.json());
  showDashboard();
  follow();
}

function follow() {
  const url = state.token ? `/admin/stream?access_token=${encodeURIComponent(state.token)}` : '/admin/stream';
  const source = new EventSource(url);
  state.source = source;
  source.onopen = () => setStatus('Live', 'live');
  source.onmessage = (e) => {
    setStatus('Live', 'live');
    render(JSON.parse(e.data));
  };
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      // Refused (a token that expired or was revoked): ask again to learn why.
      state.source = null;
      setStatus('Disconnected', 'error');
      state.retry = setTimeout(connect, 2000);
    } else {
      setStatus('Reconnecting…', 'connecting');
    }
  };
}

// ---------------------------------------------------------------- rendering

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const tick = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

function rate(v) {
  if (v == null) return '–';
  return v >= 100 ? integer.format(v) : decimal.format(v);
}

function millis(v) {
  if (v == null) return '–';
  return v >= 100 ? `${integer.format(v)} ms` : `${Number(v.toPrecision(2))} ms`;
}

function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  return `${m}m ${s % 60}s`;
}

function ago(iso, now) {
  if (!iso) return '–';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return new Date(iso).toLocaleString();
}

function text(id, value) {
  const el = $(id);
  if (el.textContent !== value) el.textContent = value;
}

function render(snapshot) {
  const c = snapshot.connections;
  const subs = snapshot.subscriptions;
  text('sse', integer.format(c.sse));
  text('ws', integer.format(c.ws));
  text('long-polls', integer.format(c.long_polls));
  text('subscriptions', integer.format(subs.sse + subs.ws));
  text('subscriptions-split', `${subs.sse} SSE · ${subs.ws} WS · ${subs.topics} topics`);

  if (snapshot.history) {
    state.samples = snapshot.history.slice();
  } else if (snapshot.sample) {
    const last = state.samples[state.samples.length - 1];
    if (!last || last.time !== snapshot.sample.time) state.samples.push(snapshot.sample);
  }
  const cutoff = snapshot.time - WINDOW_SECONDS * 1000;
  while (state.samples.length && state.samples[0].time < cutoff) state.samples.shift();

  const s = snapshot.sample;
  text('published-rate', rate(s?.published_per_s));
  text('delivered-rate', rate(s?.delivered_per_s));
  text('deliver-p99', millis(s?.deliver_p99_ms));
  text('lag', millis(s?.loop_lag_ms));

  const t = snapshot.totals;
  text('total-published', integer.format(t.published));
  text('total-delivered', integer.format(t.delivered));
  text('total-dropped', integer.format(t.dropped));
  text('total-resets', integer.format(t.resets));
  text('total-slow', integer.format(t.slow_consumers));
  text('store', snapshot.store);
  text('loops', String(snapshot.event_loops));
  text('uptime', duration(snapshot.time - snapshot.started));

  renderTopics(snapshot.topics, snapshot.time);
  for (const chart of Object.values(charts)) draw(chart, snapshot.time);
}

function renderTopics(topics, now) {
  const body = $('topics').tBodies[0];
  const rows = [];
  for (const topic of topics) {
    const tr = document.createElement('tr');
    tr.dataset.topic = topic.topic;
    const before = state.heads.get(topic.topic);
    if (before !== undefined && before !== topic.last_offset) tr.className = 'changed';
    state.heads.set(topic.topic, topic.last_offset);
    const cells = [
      ['topic', topic.topic],
      ['head num', integer.format(topic.last_offset)],
      ['subscribers num', integer.format(topic.subscribers)],
      ['rate num', rate(topic.rate)],
      ['when wide', ago(topic.last_event_time, now)],
    ];
    for (const [cls, value] of cells) {
      const td = document.createElement('td');
      td.className = cls;
      td.textContent = value;
      if (cls === 'topic') td.title = topic.topic;
      tr.append(td);
    }
    rows.push(tr);
  }
  if (rows.length === 0) {
    const tr = document.createElement('tr');
    tr.className = 'empty';
    const td = document.createElement('td');
    td.colSpan = 5;
    td.textContent = 'No topics yet';
    tr.append(td);
    rows.push(tr);
  }
  body.replaceChildren(...rows);
}

// ---------------------------------------------------------------- charts

function color(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 4, 5, 10]) {
    if (v <= m * p) return m * p;
  }
  return 10 * p;
}

function draw(chart, now) {
  const canvas = $(chart.canvas);
  const legend = $(chart.legend);
  const samples = state.samples;
  if (legend.childElementCount === 0) {
    for (const s of chart.series) {
      const li = document.createElement('li');
      li.style.setProperty('--swatch', color(s.color));
      li.dataset.key = s.key;
      legend.append(li);
    }
  }
  const last = samples[samples.length - 1];
  chart.series.forEach((s, i) => {
    const value = last ? last[s.key] : null;
    legend.children[i].textContent = `${s.label} ${value == null ? '–' : decimal.format(value) + chart.unit}`;
  });

  const dpr = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (width === 0 || height === 0) return;
  if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
  }
  const g = canvas.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, width, height);

  let max = 0;
  for (const sample of samples) {
    for (const s of chart.series) {
      const v = sample[s.key];
      if (v != null && v > max) max = v;
    }
  }
  max = niceMax(Math.max(max, chart.floor));
  const left = 40;
  const right = 6;
  const top = 6;
  const bottom = 18;
  const w = width - left - right;
  const h = height - top - bottom;
  const x = (time) => left + w * (1 - (now - time) / (WINDOW_SECONDS * 1000));
  const y = (v) => top + h * (1 - v / max);

  g.font = '11px system-ui, sans-serif';
  g.fillStyle = color('--muted');
  g.strokeStyle = color('--line');
  g.lineWidth = 1;
  g.textAlign = 'right';
  g.textBaseline = 'middle';
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    const yy = Math.round(y(v)) + 0.5;
    g.beginPath();
    g.moveTo(left, yy);
    g.lineTo(width - right, yy);
    g.stroke();
    g.fillText(tick.format(v), left - 6, yy);
  }
  g.textAlign = 'left';
  g.textBaseline = 'alphabetic';
  g.fillText('−2 min', left, height - 4);
  g.textAlign = 'right';
  g.fillText('now', width - right, height - 4);

  g.lineWidth = 1.75;
  g.lineJoin = 'round';
  for (const s of chart.series) {
    g.strokeStyle = color(s.color);
    g.beginPath();
    let drawing = false;
    for (const sample of samples) {
      const v = sample[s.key];
      if (v == null) {
        drawing = false;
        continue;
      }
      const px = x(sample.time);
      const py = y(Math.min(v, max));
      if (drawing) g.lineTo(px, py);
      else g.moveTo(px, py);
      drawing = true;
    }
    g.stroke();
  }
}

// ---------------------------------------------------------------- start

$('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  state.token = $('token').value.trim();
  if (state.token) sessionStorage.setItem(TOKEN_KEY, state.token);
  else sessionStorage.removeItem(TOKEN_KEY);
  connect();
});

$('forget').addEventListener('click', () => {
  closeStream();
  state.token = '';
  sessionStorage.removeItem(TOKEN_KEY);
  setStatus('Sign in', 'error');
  showLogin('');
});

window.addEventListener('resize', () => {
  for (const chart of Object.values(charts)) draw(chart, state.samples.at(-1)?.time ?? Date.now());
});

connect();
