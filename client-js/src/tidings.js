// Tidings client for browsers and Node.js 20+: publish, pull, and subscribe over WebSocket,
// Server-Sent Events, long polling or polling, resuming from per-topic cursors.
// Plain ES module, no dependencies, no build step. Types: tidings.d.ts. Guide: ../README.md.

const DEFAULTS = {
  transports: ['ws', 'sse', 'longpoll', 'poll'],
  backoff: { base: 500, cap: 30000, healthyAfter: 30000 },
  upgradeAfter: 60000,
  poll: { min: 1000, max: 30000 },
  longPollWait: 25,
  connectTimeout: 15000,
  idleTimeout: 45000,
};
const TRANSPORTS = ['ws', 'sse', 'longpoll', 'poll'];
// Without a reply within this time after a WebSocket `reset`, no state follows (see _reset).
const WS_EMPTY_STATE_GRACE = 250;
const WS_PING_EVERY = 30000;

/** An error answered by the server (`status` and `code` from its JSON body), or a local one (status 0). */
export class TidingsError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message || code);
    this.name = 'TidingsError';
    this.status = status;
    this.code = code;
    if (retryAfter !== undefined) this.retryAfter = retryAfter;
  }
}

/** Full-jitter backoff: a delay in ms drawn uniformly from [0, min(cap, base * 2^attempt)). */
export function backoffDelay(attempt, base, cap, random = Math.random) {
  const n = Math.max(0, Math.floor(Number(attempt) || 0));
  const ceiling = Math.max(0, Math.min(cap, base * 2 ** n));
  return Math.floor(random() * ceiling);
}

const isSymbolic = (c) => c === 'now' || c === 'earliest';
const sleepTimer = (ms) => new Promise((r) => setTimeout(r, ms));
const rethrowLater = (e) => setTimeout(() => { throw e; }, 0);

function retryAfterSeconds(value) {
  if (value == null || value === '') return undefined;
  const n = Number(value);
  if (Number.isFinite(n)) return Math.max(0, n);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, (date - Date.now()) / 1000) : undefined;
}

/** Errors after which trying again cannot help: the subscription ends and onError is called. */
function isFatal(err) {
  if (!(err instanceof TidingsError)) return false;
  if (err.status === 401 || err.code === 'forbidden' || err.code === 'unauthorized' || err.code === 'protocol_error') return true;
  return err.status === 400 && err.code !== 'too_many_topics';
}

/**
 * Splits an SSE stream cursor into one cursor per topic: parts joined by `~`, a part without an
 * epoch (`17`) sharing the previous part's (`k3v7q2mz6a.17~4` is `k3v7q2mz6a.17`, `k3v7q2mz6a.4`).
 */
function splitStreamCursor(text, count) {
  if (count === 1) return [text];
  const parts = String(text).split('~');
  if (parts.length !== count) return null;
  let epoch = null;
  const out = [];
  for (const p of parts) {
    const dot = p.lastIndexOf('.');
    if (dot >= 0) {
      epoch = p.slice(0, dot);
      out.push(p);
    } else if (epoch !== null) {
      out.push(epoch + '.' + p);
    } else {
      return null;
    }
  }
  return out;
}

export class Tidings {
  constructor(url, options = {}) {
    const base = typeof globalThis.location !== 'undefined' ? globalThis.location.href : undefined;
    const u = new URL(String(url), base);
    if (u.protocol === 'ws:') u.protocol = 'http:';
    if (u.protocol === 'wss:') u.protocol = 'https:';
    if (!u.pathname.endsWith('/')) u.pathname += '/';
    u.search = '';
    u.hash = '';
    this._base = u;
    const o = options;
    const transports = (o.transports ?? DEFAULTS.transports).filter((t, i, a) => a.indexOf(t) === i);
    for (const t of transports) {
      if (!TRANSPORTS.includes(t)) throw new TypeError(`unknown transport '${t}' (use ${TRANSPORTS.join(', ')})`);
    }
    if (transports.length === 0) throw new TypeError('transports must name at least one transport');
    this._opts = {
      token: o.token,
      transports,
      backoff: { ...DEFAULTS.backoff, ...(o.backoff || {}) },
      upgradeAfter: o.upgradeAfter ?? DEFAULTS.upgradeAfter,
      poll: { ...DEFAULTS.poll, ...(o.poll || {}) },
      longPollWait: Math.min(60, Math.max(0, o.longPollWait ?? DEFAULTS.longPollWait)),
      connectTimeout: o.connectTimeout ?? DEFAULTS.connectTimeout,
      idleTimeout: o.idleTimeout ?? DEFAULTS.idleTimeout,
    };
    this._fetch = o.fetch ?? (typeof globalThis.fetch === 'function' ? globalThis.fetch.bind(globalThis) : null);
    this._WebSocket = o.WebSocket ?? globalThis.WebSocket ?? null;
    this._subs = new Set();
    this._sockets = new Set(); // open WebSocket connections of this client's subscriptions, for publish
  }

  // ---- HTTP

  _url(path, params = []) {
    const u = new URL(path, this._base);
    for (const [k, v] of params) if (v !== undefined && v !== null) u.searchParams.append(k, String(v));
    return u;
  }

  async _token() {
    const t = this._opts.token;
    if (t == null) return undefined;
    const v = typeof t === 'function' ? await t() : t;
    return v || undefined;
  }

  /** One HTTP exchange; resolves with the Response (any status), rejects with a TidingsError (network) or the abort. */
  async _send(method, path, params, { body, headers = {}, signal } = {}) {
    if (!this._fetch) throw new TidingsError(0, 'no_fetch', 'no fetch implementation: pass options.fetch');
    const h = { ...headers };
    const token = await this._token();
    if (token) h.Authorization = `Bearer ${token}`;
    if (body !== undefined) h['Content-Type'] = 'application/json';
    try {
      return await this._fetch(this._url(path, params), { method, headers: h, body, signal, cache: 'no-store' });
    } catch (e) {
      if (signal && signal.aborted) throw e;
      throw new TidingsError(0, 'network_error', `${method} ${path}: ${e && e.message}${e && e.cause ? ` (${e.cause.code || e.cause.message})` : ''}`);
    }
  }

  async _json(method, path, params, init) {
    const res = await this._send(method, path, params, init);
    if (!res.ok) throw await errorOf(res);
    return res.json();
  }

  async publish(topic, events) {
    const ws = [...this._sockets].reverse().find((c) => c.canPublish());
    if (ws) {
      try {
        return await ws.publish(topic, events);
      } catch (e) {
        // The socket went away before the answer: retry over HTTP only when idempotency ids make it safe.
        const list = Array.isArray(events) ? events : [events];
        if (!(e instanceof TidingsError && e.code === 'connection_lost' && list.every((x) => x && x.id))) throw e;
      }
    }
    return this._json('POST', 'v1/events', [['topic', topic]], { body: JSON.stringify(events) });
  }

  /** The whole state: every page, followed from the first page's cursor (replaying from there converges). */
  async state(topic) {
    let cursor;
    const entries = [];
    let after;
    do {
      const page = await this._json('GET', 'v1/state', [['topic', topic], ['after_key', after]]);
      if (cursor === undefined) cursor = page.cursor;
      entries.push(...page.entries);
      after = page.next_key;
    } while (after !== undefined && after !== null);
    return { topic, cursor, entries };
  }

  changes(topic, since, options = {}) {
    return this._json('GET', 'v1/changes', [
      ['topic', topic], ['since', since], ['limit', options.limit], ['wait', options.wait],
      ['mode', options.mode === 'notify' ? 'notify' : undefined],
    ]);
  }

  subscribe(topics, options = {}) {
    return new SubscriptionImpl(this, topics, options, {});
  }

  mirror(topic, options = {}) {
    return new MirrorImpl(this, topic, options);
  }

  close() {
    for (const s of [...this._subs]) s.close();
  }
}

async function errorOf(res) {
  let code = `http_${res.status}`;
  let message = `HTTP ${res.status}`;
  try {
    const body = await res.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch {
    // not JSON
  }
  return new TidingsError(res.status, code, message, retryAfterSeconds(res.headers.get('retry-after')));
}

// ---- connections: one per transport attempt; they report to their subscription

class Conn {
  constructor(sub, kind, index, probe) {
    this.sub = sub;
    this.client = sub._client;
    this.kind = kind;
    this.index = index;
    this.buffer = probe ? [] : null; // a probe's deliveries wait until it takes over
    this.closed = false;
    this.opened = false;
    this.openedAt = 0;
    this.cursors = sub._cursorSnapshot();
    this.timers = new Set();
  }

  /** Runs a delivery now, or later when this probe takes over; never after close. */
  deliver(fn) {
    if (this.closed) return;
    if (this.buffer) this.buffer.push(fn);
    else if (this.sub._conn === this) fn();
  }

  event(ev) {
    if (ev.cursor && !this.sub._notifyMode) this.cursors[ev.topic] = ev.cursor;
    this.deliver(() => this.sub._ingest(ev));
  }

  notified(ev) {
    this.deliver(() => this.sub._notified(ev));
  }

  position(topic, cursor) {
    if (isSymbolic(this.cursors[topic])) this.cursors[topic] = cursor;
    this.deliver(() => this.sub._position(topic, cursor));
  }

  markOpen() {
    if (this.closed || this.opened) return;
    this.opened = true;
    this.openedAt = Date.now();
    this.sub._opened(this);
  }

  /** Ends this connection by itself: the subscription decides what comes next. */
  drop(info) {
    if (this.closed) return;
    this.close();
    this.sub._dropped(this, info);
  }

  timer(ms, fn) {
    const id = setTimeout(() => { this.timers.delete(id); fn(); }, ms);
    this.timers.add(id);
    return id;
  }

  /** A sleep that ends early when the connection closes. */
  sleep(ms) {
    return new Promise((resolve) => {
      const wakers = (this.wakers ||= new Set());
      const id = setTimeout(() => { this.timers.delete(id); wakers.delete(resolve); resolve(); }, ms);
      this.timers.add(id);
      wakers.add(resolve);
    });
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    for (const id of this.timers) clearTimeout(id);
    this.timers.clear();
    if (this.wakers) for (const w of this.wakers) w();
    this.teardown();
  }

  teardown() {}
}

class WsConn extends Conn {
  async start() {
    const WS = this.client._WebSocket;
    const url = this.client._url('v1/ws');
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    let token;
    try {
      token = await this.client._token();
    } catch (e) {
      return this.drop({ reason: `token: ${e && e.message}` });
    }
    if (this.closed) return;
    let ws;
    try {
      ws = new WS(url.toString(), 'tidings.v1');
    } catch (e) {
      return this.drop({ reason: `WebSocket: ${e && e.message}` });
    }
    this.ws = ws;
    this.pending = new Map(); // subscribe id -> topic
    this.publishes = new Map(); // publish id -> {resolve, reject, topic}
    this.seq = 0;
    this.lastHeard = Date.now();
    this.lastError = '';
    this.timer(this.client._opts.connectTimeout, () => {
      if (!this.opened) this.drop({ reason: 'WebSocket: no answer in time' });
    });
    ws.onopen = () => {
      if (this.closed) return;
      if (token) this.send({ op: 'auth', id: 'auth', token });
      this.sub.topics.forEach((topic, i) => {
        const msg = { op: 'subscribe', id: i + 1, topic, since: this.cursors[topic] };
        if (this.sub._notifyMode) msg.mode = 'notify';
        this.pending.set(i + 1, topic);
        this.send(msg);
      });
      this.keepAlive();
    };
    ws.onmessage = (m) => this.onFrame(m.data);
    ws.onerror = (e) => { this.lastError = (e && (e.message || (e.error && e.error.message))) || 'error'; };
    ws.onclose = (e) => this.onClose(e.code, e.reason);
  }

  keepAlive() {
    this.timer(WS_PING_EVERY, () => {
      if (Date.now() - this.lastHeard > 2.5 * WS_PING_EVERY) {
        this.drop({ reason: 'WebSocket: nothing heard from the server' });
        return;
      }
      this.send({ op: 'ping', id: `k${++this.seq}` });
      this.keepAlive();
    });
  }

  send(obj) {
    try {
      this.ws.send(JSON.stringify(obj));
    } catch {
      // closing: onclose reports it
    }
  }

  onFrame(data) {
    let msg;
    try {
      msg = JSON.parse(typeof data === 'string' ? data : String(data));
    } catch {
      return;
    }
    if (this.closed) {
      // Closed for delivery (replaced by another transport), still waiting for publish answers.
      if (msg.op === 'published' || msg.op === 'error') this.answer(msg);
      return;
    }
    this.lastHeard = Date.now();
    switch (msg.op) {
      case 'event': {
        const { op, ...ev } = msg;
        if (this.sub._notifyMode) this.notified(ev);
        else this.event(ev);
        break;
      }
      case 'reset': {
        const info = { topic: msg.topic, cursor: msg.cursor, reason: msg.reason };
        // `state`: whether puts follow (servers before that field leave it out: see _reset).
        this.deliver(() => this.sub._reset(info, typeof msg.state === 'boolean' ? msg.state : undefined));
        break;
      }
      case 'subscribed':
        if (this.pending.delete(msg.id)) {
          this.position(msg.topic, msg.cursor);
          if (this.pending.size === 0) this.markOpen();
        }
        break;
      case 'published':
        this.answer(msg);
        break;
      case 'error': {
        const err = new TidingsError(msg.code === 'unavailable' ? 503 : 400, msg.code, msg.message);
        if (this.answer(msg)) {
          // a publish failed
        } else if (this.pending.has(msg.id)) {
          this.drop(msg.code === 'unavailable' ? { reason: msg.message } : { fatal: err });
        } else if (msg.id === 'auth') {
          this.drop({ fatal: new TidingsError(401, msg.code, msg.message) });
        }
        break;
      }
      default:
        break;
    }
  }

  /** Settles the publish that `msg` answers; false when it answers none. */
  answer(msg) {
    const p = this.publishes.get(msg.id);
    if (!p) return false;
    this.publishes.delete(msg.id);
    if (msg.op === 'published') {
      const { op, id, ...result } = msg;
      p.resolve(result);
    } else {
      p.reject(new TidingsError(msg.code === 'unavailable' ? 503 : 400, msg.code, msg.message));
    }
    if (this.closed && this.publishes.size === 0) this.closeSocket();
    return true;
  }

  onClose(code, reason) {
    if (this.closed) {
      this.failPublishes();
      return;
    }
    const why = `WebSocket closed ${code}${reason ? ` (${reason})` : ''}${this.lastError && !this.opened ? `: ${this.lastError}` : ''}`;
    if (code === 1008) return this.drop({ fatal: new TidingsError(401, 'unauthorized', why) });
    if (code === 1003 || code === 1009) return this.drop({ fatal: new TidingsError(400, 'protocol_error', why) });
    const info = { reason: why };
    if (code === 4029) info.minAttempt = 3; // rate limited: back off further than for a drop
    this.drop(info);
  }

  canPublish() {
    return this.opened && !this.closed && this.ws && this.ws.readyState === 1;
  }

  publish(topic, events) {
    return new Promise((resolve, reject) => {
      const id = `p${++this.seq}`;
      this.publishes.set(id, { resolve, reject });
      this.send({ op: 'publish', id, topic, events });
    });
  }

  failPublishes() {
    if (!this.publishes) return;
    for (const p of this.publishes.values()) p.reject(new TidingsError(0, 'connection_lost', 'the WebSocket closed before the publish was answered'));
    this.publishes.clear();
  }

  teardown() {
    this.client._sockets.delete(this);
    if (!this.ws) return;
    if (this.publishes.size > 0 && this.ws.readyState === 1) {
      // Delivery stops now; the socket stays until its publishes are answered (or 10 s pass).
      this.ws.onclose = () => this.failPublishes();
      const id = setTimeout(() => this.closeSocket(), 10000);
      this.closeSocket = ((close) => () => { clearTimeout(id); close(); })(this.closeSocket.bind(this));
      return;
    }
    this.closeSocket();
  }

  closeSocket() {
    this.failPublishes();
    const ws = this.ws;
    ws.onopen = ws.onmessage = ws.onclose = null;
    ws.onerror = () => {};
    try {
      ws.close(1000);
    } catch {
      // not open yet
    }
  }
}

/**
 * SSE read with fetch streaming rather than EventSource: the status and JSON error of a refused
 * stream are visible (transport_disabled versus invalid_topic), events of any type arrive (an
 * EventSource only dispatches the types it has listeners for), id-only blocks are seen, headers
 * (Authorization) can be sent, and reconnecting is ours alone, from our own per-topic cursors.
 */
class SseConn extends Conn {
  async start() {
    const topics = this.sub.topics;
    this.ac = new AbortController();
    const { signal } = this.ac;
    this.retryMs = 0;
    try {
      let since = topics.map((t) => this.cursors[t]);
      if (since.some(isSymbolic) && !since.every((c) => c === since[0])) {
        // A stream cursor lists concrete positions: turn earliest/now into cursors with one pull each.
        for (const topic of topics) {
          if (!isSymbolic(this.cursors[topic])) continue;
          const page = await this.client._json('GET', 'v1/changes', [['topic', topic], ['since', this.cursors[topic]], ['limit', 1000]], { signal });
          if (this.closed) return;
          for (const ev of page.events) this.event({ ...ev });
          this.cursors[topic] = page.cursor;
          if (page.events.length === 0) this.position(topic, page.cursor);
        }
        since = topics.map((t) => this.cursors[t]);
      }
      const params = topics.map((t) => ['topic', t]);
      params.push(['since', since.every((c) => c === since[0]) && isSymbolic(since[0]) ? since[0] : since.join('~')]);
      if (this.sub._notifyMode) params.push(['mode', 'notify']);
      this.timer(this.client._opts.connectTimeout, () => {
        if (!this.opened) this.drop({ reason: 'SSE: no answer in time' });
      });
      const res = await this.client._send('GET', 'v1/sse', params, { headers: { Accept: 'text/event-stream' }, signal });
      if (this.closed) return;
      if (res.status !== 200) {
        const err = await errorOf(res);
        return this.drop(isFatal(err) ? { fatal: err } : { reason: `SSE refused: ${err.status} ${err.code}`, retryAfter: err.retryAfter });
      }
      const type = res.headers.get('content-type') || '';
      if (!type.toLowerCase().startsWith('text/event-stream') || !res.body || !res.body.getReader) {
        try { res.body && res.body.cancel(); } catch { /* ignore */ }
        return this.drop({ reason: `SSE refused: content type '${type}'` });
      }
      await this.read(res.body.getReader());
    } catch (e) {
      if (this.closed) return;
      if (e instanceof TidingsError && isFatal(e)) return this.drop({ fatal: e });
      this.drop({ reason: `SSE: ${e && e.message}`, retryAfter: e && e.retryAfter });
    }
  }

  idle() {
    clearTimeout(this.idleId);
    this.timers.delete(this.idleId);
    this.idleId = this.timer(this.client._opts.idleTimeout, () => this.drop({ reason: 'SSE: stream silent for too long' }));
  }

  async read(reader) {
    this.reader = reader;
    const decoder = new TextDecoder();
    let buf = '';
    let data = null;
    let type = '';
    let id = null;
    this.idle();
    for (;;) {
      const { value, done } = await reader.read();
      if (this.closed) return;
      if (done) break;
      this.idle();
      buf += decoder.decode(value, { stream: true });
      let start = 0;
      for (;;) {
        const nl = buf.slice(start).search(/\r\n|\r|\n/);
        if (nl < 0) break;
        const at = start + nl;
        // A lone \r at the end of the chunk may be the first half of \r\n: wait for more.
        if (buf[at] === '\r' && at === buf.length - 1) break;
        const line = buf.slice(start, at);
        start = at + (buf[at] === '\r' && buf[at + 1] === '\n' ? 2 : 1);
        if (line === '') {
          if (data !== null) this.dispatch(type || 'message', data.endsWith('\n') ? data.slice(0, -1) : data, id);
          else if (id !== null) this.idOnly(id);
          data = null;
          type = '';
          id = null;
          if (this.closed) return;
          continue;
        }
        if (line[0] === ':') continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let v = colon < 0 ? '' : line.slice(colon + 1);
        if (v[0] === ' ') v = v.slice(1);
        if (field === 'data') data = (data ?? '') + v + '\n';
        else if (field === 'event') type = v;
        else if (field === 'id') { if (!v.includes('\0')) id = v; }
        else if (field === 'retry') { if (/^\d+$/.test(v)) this.retryMs = Number(v); }
      }
      buf = buf.slice(start);
    }
    this.drop({ reason: 'SSE stream ended', minDelay: this.retryMs });
  }

  dispatch(type, data, id) {
    let obj;
    try {
      obj = JSON.parse(data);
    } catch {
      return;
    }
    const topics = this.sub.topics;
    if (type === 'subscribed') {
      const parts = splitStreamCursor(obj.cursor ?? id, topics.length);
      if (parts) topics.forEach((t, i) => this.position(t, parts[i]));
      this.markOpen();
    } else if (type === 'reset') {
      // `state` says whether puts follow; before that field, an id on the reset itself said none do.
      const info = { topic: obj.topic, cursor: obj.cursor, reason: obj.reason };
      this.deliver(() => this.sub._reset(info, typeof obj.state === 'boolean' ? obj.state : id === null));
    } else if (type === 'error') {
      const e = obj.error || {};
      const err = new TidingsError(e.code === 'unavailable' ? 503 : 400, e.code || 'stream_error', e.message);
      this.drop(isFatal(err) ? { fatal: err } : { reason: `SSE error: ${err.code}` });
    } else if (obj && typeof obj.topic === 'string') {
      if (this.sub._notifyMode) this.notified(obj);
      else this.event(obj);
    }
  }

  idOnly(id) {
    const parts = splitStreamCursor(id, this.sub.topics.length);
    if (parts) this.deliver(() => this.sub._resetPositions(parts));
  }

  teardown() {
    if (this.ac) this.ac.abort();
    if (this.reader) this.reader.cancel().catch(() => {});
  }
}

/** Long polling (`wait`) or polling (`If-None-Match`, the server's interval advice): one loop per topic. */
class PullConn extends Conn {
  start() {
    this.ac = new AbortController();
    this.waitingFirst = new Set(this.sub.topics);
    for (const topic of this.sub.topics) this.loop(topic);
  }

  async request(params, headers, timeoutMs) {
    const ac = new AbortController();
    const onAbort = () => ac.abort();
    this.ac.signal.addEventListener('abort', onAbort);
    const id = this.timer(timeoutMs, () => ac.abort());
    try {
      const res = await this.client._send('GET', 'v1/changes', params, { headers, signal: ac.signal });
      const body = res.status === 200 ? await res.json() : res.ok || res.status === 304 ? null : await errorOf(res);
      return { res, body };
    } catch (e) {
      if (ac.signal.aborted && !this.closed) throw new TidingsError(0, 'timeout', 'no answer in time');
      throw e;
    } finally {
      clearTimeout(id);
      this.timers.delete(id);
      this.ac.signal.removeEventListener('abort', onAbort);
    }
  }

  async loop(topic) {
    const o = this.client._opts;
    const long = this.kind === 'longpoll';
    let first = true;
    let attempt = 0;
    while (!this.closed) {
      const since = this.cursors[topic];
      const params = [['topic', topic], ['since', since], ['limit', 1000]];
      const headers = {};
      const waiting = long && !first;
      if (waiting) params.push(['wait', o.longPollWait]);
      if (!long && !isSymbolic(since)) headers['If-None-Match'] = `"${since}"`;
      const began = Date.now();
      let res;
      let body;
      try {
        ({ res, body } = await this.request(params, headers, (waiting ? o.longPollWait * 1000 : 0) + o.connectTimeout));
      } catch (e) {
        if (this.closed) return;
        return this.drop({ reason: `${this.kind}: ${e && e.message}` });
      }
      if (this.closed) return;
      if (res.status === 200 || res.status === 304) {
        attempt = 0;
        let more = false;
        if (body) {
          for (const ev of body.events) this.event(ev);
          if (body.events.length === 0) this.position(topic, body.cursor);
          this.cursors[topic] = body.cursor;
          more = body.more;
        }
        if (first) {
          first = false;
          this.waitingFirst.delete(topic);
          if (this.waitingFirst.size === 0) this.markOpen();
        }
        if (more) continue;
        if (!long) {
          const advice = Number(res.headers.get('tidings-poll-interval'));
          const ms = Number.isFinite(advice) && advice > 0 ? advice * 1000 : 5000;
          await this.sleep(Math.min(o.poll.max, Math.max(o.poll.min, ms)));
        } else if (waiting && !(body && body.events.length) && Date.now() - began < 200) {
          await this.sleep(250); // answered early with nothing (a server shutting down): do not spin
        }
        continue;
      }
      const err = body;
      if (res.status === 410) {
        if (this.buffer) return this.drop({ reason: 'cursor expired while probing' });
        try {
          this.cursors[topic] = await this.sub._expired(topic);
        } catch (e) {
          if (this.closed) return;
          return this.drop(isFatal(e) ? { fatal: e } : { reason: `${this.kind}: ${e && e.message}` });
        }
        continue;
      }
      if (res.status === 429 || res.status === 503) {
        const delay = Math.max((err.retryAfter ?? 0) * 1000, backoffDelay(attempt++, o.backoff.base, o.backoff.cap));
        await this.sleep(delay);
        continue;
      }
      return this.drop(isFatal(err) ? { fatal: err } : { reason: `${this.kind}: ${err.status} ${err.code}`, retryAfter: err.retryAfter });
    }
  }

  teardown() {
    if (this.ac) this.ac.abort();
  }
}

const CONNS = { ws: WsConn, sse: SseConn, longpoll: PullConn, poll: PullConn };

// ---- subscriptions

class SubscriptionImpl {
  constructor(client, topics, options, internal) {
    const list = Array.isArray(topics) ? [...topics] : [topics];
    if (list.length === 0) throw new TypeError('subscribe needs at least one topic');
    if (new Set(list).size !== list.length) throw new TypeError('a topic is given more than once');
    this._client = client;
    this.topics = Object.freeze(list);
    this._notifyMode = options.mode === 'notify';
    this._on = options;
    this._hooks = internal.hooks || {};
    this._prepare = internal.prepare || null;
    this._t = new Map();
    for (const topic of list) {
      const since = typeof options.since === 'object' && options.since !== null ? options.since[topic] : options.since;
      this._t.set(topic, {
        cursor: since || 'now', last: 0, reset: null, skip: null,
        dirty: false, reload: null, pumping: false, pumpAttempt: 0, lock: Promise.resolve(),
      });
    }
    this._status = 'connecting';
    this._statusTransport = null;
    this._conn = null;
    this._probe = null;
    this._attempt = 0;
    this._everLive = false;
    this._lastIndex = 0;
    this._timers = new Set();
    this._iters = new Set();
    this._closed = false;
    client._subs.add(this);
    this._later(0, () => this._begin());
  }

  // ---- public

  get status() { return this._status; }

  get transport() { return this._status === 'live' && this._conn ? this._conn.kind : null; }

  cursor(topic) {
    const t = this._t.get(topic);
    return t ? t.cursor : undefined;
  }

  get cursors() {
    const out = {};
    for (const [topic, t] of this._t) out[topic] = t.cursor;
    return Object.freeze(out);
  }

  close() {
    if (this._closed) return;
    this._closed = true;
    this._stopAll();
    this._setStatus('closed', null, 'closed by the client');
    for (const it of this._iters) it.end();
    this._iters.clear();
  }

  [Symbol.asyncIterator]() {
    const queue = [];
    let wake = null;
    let finished = false;
    let failure = null;
    const settle = () => {
      if (!wake) return;
      const w = wake;
      wake = null;
      if (queue.length) w.resolve({ value: queue.shift(), done: false });
      else if (failure) w.reject(failure);
      else if (finished) w.resolve({ value: undefined, done: true });
      else wake = w;
    };
    const it = {
      push(ev) { queue.push(ev); settle(); },
      end() { finished = true; settle(); },
      fail(e) { failure = e; finished = true; settle(); },
    };
    if (this._closed) it.end();
    else this._iters.add(it);
    const self = this;
    return {
      next() {
        if (queue.length) return Promise.resolve({ value: queue.shift(), done: false });
        if (failure) { const f = failure; failure = null; return Promise.reject(f); }
        if (finished) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => { wake = { resolve, reject }; });
      },
      return() {
        self._iters.delete(it);
        finished = true;
        queue.length = 0;
        settle();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() { return this; },
    };
  }

  // ---- connecting

  _later(ms, fn) {
    const id = setTimeout(() => { this._timers.delete(id); if (!this._closed) fn(); }, ms);
    this._timers.add(id);
    return id;
  }

  async _begin() {
    if (this._prepare) {
      try {
        const cursors = await this._prepare();
        if (this._closed) return;
        for (const [topic, c] of Object.entries(cursors || {})) this._t.get(topic).cursor = c;
        this._prepare = null;
      } catch (e) {
        if (this._closed) return;
        if (isFatal(e)) return this._fail(e);
        const o = this._client._opts.backoff;
        this._setStatus('reconnecting', null, e && e.message);
        this._later(Math.max((e.retryAfter || 0) * 1000, backoffDelay(this._attempt++, o.base, o.cap)), () => this._begin());
        return;
      }
    }
    this._tryChain(0);
  }

  _available(kind) {
    if (kind === 'ws') return typeof this._client._WebSocket === 'function';
    return typeof this._client._fetch === 'function';
  }

  _tryChain(index, lastInfo) {
    if (this._closed) return;
    const chain = this._client._opts.transports;
    let i = index;
    while (i < chain.length && !this._available(chain[i])) i++;
    if (i >= chain.length) {
      if (!chain.some((k) => this._available(k))) {
        return this._fail(new TidingsError(0, 'no_transport', 'no transport can run here: pass options.WebSocket or options.fetch'));
      }
      return this._scheduleReconnect(lastInfo || { reason: 'no transport connected' });
    }
    const kind = chain[i];
    this._setStatus(this._everLive ? 'reconnecting' : 'connecting', kind, lastInfo && lastInfo.reason);
    const conn = new CONNS[kind](this, kind, i, false);
    this._conn = conn;
    conn.start();
  }

  _scheduleReconnect(info) {
    const o = this._client._opts.backoff;
    if (info.minAttempt) this._attempt = Math.max(this._attempt, info.minAttempt);
    const delay = Math.max(info.minDelay || 0, (info.retryAfter || 0) * 1000, backoffDelay(this._attempt++, o.base, o.cap));
    this._setStatus('reconnecting', this._conn ? this._conn.kind : this._statusTransport, info.reason);
    this._conn = null;
    // Resume where the last working transport was, then down the chain; after that, the whole chain.
    const from = this._lastIndex;
    this._lastIndex = 0;
    this._later(delay, () => this._tryChain(from));
  }

  _opened(conn) {
    if (this._closed) return;
    if (conn === this._probe) {
      // Not in the middle of a reset (one that has delivered nothing yet may be redone): later.
      if ([...this._t.values()].some((t) => (t.reset && (t.reset.got || !t.reset.announced)) || t.skip || t.reload)) {
        conn.close();
        this._probe = null;
        this._scheduleProbe(Math.min(5000, this._client._opts.upgradeAfter));
        return;
      }
      const old = this._conn;
      this._conn = conn;
      this._probe = null;
      if (old) old.close();
      const buffered = conn.buffer;
      conn.buffer = null;
      for (const fn of buffered) fn();
      this._live(conn, old ? `upgraded from ${old.kind}` : undefined);
      return;
    }
    if (conn !== this._conn) return;
    this._live(conn);
  }

  _live(conn, reason) {
    this._everLive = true;
    this._lastIndex = conn.index;
    if (conn.kind === 'ws') this._client._sockets.add(conn);
    this._setStatus('live', conn.kind, reason);
    if (conn.index > 0 && this._client._opts.upgradeAfter > 0) this._scheduleProbe(this._client._opts.upgradeAfter);
  }

  _scheduleProbe(ms) {
    clearTimeout(this._probeTimer);
    this._probeTimer = this._later(ms, () => this._probeFrom(0));
  }

  /** While on a lesser transport, try the better ones in order; the first that opens takes over. */
  _probeFrom(index) {
    const current = this._conn;
    if (this._closed || !current || !current.opened || this._probe) return;
    const chain = this._client._opts.transports;
    let i = index;
    while (i < current.index && !this._available(chain[i])) i++;
    if (i >= current.index) {
      this._scheduleProbe(this._client._opts.upgradeAfter);
      return;
    }
    const probe = new CONNS[chain[i]](this, chain[i], i, true);
    this._probe = probe;
    probe.start();
  }

  _dropped(conn, info) {
    if (this._closed) return;
    if (conn === this._probe) {
      this._probe = null;
      if (info.fatal) return this._fail(info.fatal);
      this._probeFrom(conn.index + 1);
      return;
    }
    if (conn !== this._conn) return;
    if (this._probe) {
      this._probe.close();
      this._probe = null;
    }
    clearTimeout(this._probeTimer);
    if (info.fatal) return this._fail(info.fatal);
    if (!conn.opened) {
      // Refused or unreachable: the next transport of the chain.
      this._tryChain(conn.index + 1, info);
      return;
    }
    if (Date.now() - conn.openedAt >= this._client._opts.backoff.healthyAfter) this._attempt = 0;
    this._scheduleReconnect(info);
  }

  _stopAll() {
    for (const id of this._timers) clearTimeout(id);
    this._timers.clear();
    if (this._conn) this._conn.close();
    if (this._probe) this._probe.close();
    this._conn = this._probe = null;
    this._client._subs.delete(this);
  }

  _fail(err) {
    if (this._closed) return;
    this._closed = true;
    this._stopAll();
    this._setStatus('closed', null, err.message);
    for (const it of this._iters) it.fail(err);
    this._iters.clear();
    if (this._on.onError) {
      try { this._on.onError(err); } catch (e) { rethrowLater(e); }
    } else if (!this._hooks.error) {
      rethrowLater(err);
    }
    if (this._hooks.error) this._hooks.error(err);
  }

  _setStatus(status, transport, reason) {
    if (status === this._status && transport === this._statusTransport) return;
    this._status = status;
    this._statusTransport = transport;
    const change = { status, transport };
    if (reason) change.reason = reason;
    if (this._on.onStatus) {
      try { this._on.onStatus(change); } catch (e) { rethrowLater(e); }
    }
  }

  _cursorSnapshot() {
    const out = {};
    for (const [topic, t] of this._t) out[topic] = t.cursor;
    return out;
  }

  // ---- delivery

  _emit(ev, inReset) {
    if (this._hooks.event) this._hooks.event(ev, inReset);
    if (this._on.onEvent) {
      try { this._on.onEvent(ev); } catch (e) { rethrowLater(e); }
    }
    for (const it of this._iters) it.push(ev);
  }

  /** Where a topic starts, once `now` or `earliest` has been resolved by the server. */
  _position(topic, cursor) {
    const t = this._t.get(topic);
    if (t && isSymbolic(t.cursor) && cursor) t.cursor = cursor;
  }

  /** A full event from any transport: in order, each (topic, offset) once. */
  _ingest(ev) {
    const t = this._t.get(ev.topic);
    if (!t || this._closed) return;
    const r = t.reset;
    if (r) {
      // After a push reset the state comes as puts: all carry the cursor resumed from but the last,
      // which carries the reset's. Anything else is live again.
      if (ev.type === 'put' && (ev.cursor === r.previous || ev.cursor === r.cursor)) {
        r.got = true;
        if (r.announced) r.late = true; // puts after the empty-state guess: announce again at the end
        t.cursor = ev.cursor;
        this._emit(ev, true);
        if (ev.cursor === r.cursor) this._endReset(ev.topic);
        return;
      }
      this._endReset(ev.topic);
    }
    if (ev.offset <= t.last) return;
    t.last = ev.offset;
    t.cursor = ev.cursor;
    this._emit(ev, false);
  }

  _endReset(topic) {
    const t = this._t.get(topic);
    const r = t.reset;
    if (!r) return;
    t.reset = null;
    // Live events follow the reset's cursor, which is not ordered against the offsets of the state's
    // puts (a key read late may be newer): no offset filter until the first live event.
    t.last = 0;
    if (!r.announced || r.late) {
      r.announced = true;
      if (this._hooks.resetDone) this._hooks.resetDone(topic);
    }
  }

  _callReset(info) {
    if (this._hooks.reset) this._hooks.reset(info);
    if (this._on.onReset) {
      try { this._on.onReset(info); } catch (e) { rethrowLater(e); }
    }
  }

  /**
   * A push reset: the state follows as puts (full mode), or is fetched (notify mode).
   * `stateFollows` is undefined when the server does not say (a WebSocket before the `state` field).
   */
  _reset(info, stateFollows) {
    const complete = stateFollows === false;
    const t = this._t.get(info.topic);
    if (!t || this._closed) return;
    if (this._notifyMode) {
      t.skip = { previous: t.cursor, cursor: info.cursor };
      if (complete) t.skip = null;
      this._callReset(info);
      t.reload = { info };
      this._pump(info.topic);
      return;
    }
    const r = { previous: t.cursor, cursor: info.cursor, got: false, announced: false };
    t.reset = r;
    t.last = 0;
    this._callReset(info);
    if (complete) {
      t.cursor = info.cursor;
      this._endReset(info.topic);
    } else if (stateFollows === undefined) {
      // The reset does not say whether state follows; when it does, the first put comes right
      // behind it. Without one soon, tell mirrors the (empty) reload is done; late puts still count.
      this._later(WS_EMPTY_STATE_GRACE, () => {
        if (t.reset === r && !r.got && !r.announced) {
          r.announced = true;
          if (this._hooks.resetDone) this._hooks.resetDone(info.topic);
        }
      });
    }
  }

  /** An SSE block with only an id: the end of a reset whose state was empty. */
  _resetPositions(parts) {
    this.topics.forEach((topic, i) => {
      const t = this._t.get(topic);
      if (t.reset) {
        t.cursor = parts[i];
        this._endReset(topic);
      } else if (t.skip) {
        t.skip = null;
      }
    });
  }

  /** A notify-mode event (no data): fetch the data, batching what arrives during a fetch into one pull. */
  _notified(ev) {
    const t = this._t.get(ev.topic);
    if (!t || this._closed) return;
    if (t.skip) {
      if (ev.type === 'put' && (ev.cursor === t.skip.previous || ev.cursor === t.skip.cursor)) {
        if (ev.cursor === t.skip.cursor) t.skip = null;
        return;
      }
      t.skip = null;
    }
    if (ev.offset <= t.last) return;
    t.dirty = true;
    this._pump(ev.topic);
  }

  _serial(topic, fn) {
    const t = this._t.get(topic);
    const run = t.lock.then(fn);
    t.lock = run.catch(() => {});
    return run;
  }

  async _pump(topic) {
    const t = this._t.get(topic);
    if (t.pumping || this._closed) return;
    t.pumping = true;
    try {
      await this._serial(topic, async () => {
        while (!this._closed && (t.reload || t.dirty)) {
          if (t.reload) {
            const r = t.reload;
            await this._loadState(topic, r.info);
            if (t.reload === r) t.reload = null;
            continue;
          }
          t.dirty = false;
          let more = true;
          while (more && !this._closed) {
            let page;
            try {
              page = await this._client.changes(topic, t.cursor, { limit: 1000 });
            } catch (e) {
              if (e instanceof TidingsError && e.code === 'cursor_expired') {
                t.reload = { info: null };
                t.dirty = true;
                break;
              }
              throw e;
            }
            if (this._closed) return;
            for (const ev of page.events) this._ingest(ev);
            if (page.events.length === 0) this._position(topic, page.cursor);
            more = page.more;
          }
        }
      });
      t.pumpAttempt = 0;
    } catch (e) {
      if (this._closed) return;
      if (isFatal(e)) return this._fail(e);
      t.dirty = true;
      const o = this._client._opts.backoff;
      const delay = Math.max((e.retryAfter || 0) * 1000, backoffDelay(t.pumpAttempt++, o.base, o.cap));
      this._later(delay, () => this._pump(topic));
    } finally {
      t.pumping = false;
    }
  }

  /** A pull transport met 410: reload the state; resolves with the cursor to continue from. */
  async _expired(topic) {
    await this._serial(topic, () => this._loadState(topic, null));
    return this._t.get(topic).cursor;
  }

  /**
   * Loads the topic's state and delivers it as put events, then continues from the state's cursor.
   * `announced` is the reset already told to onReset (a push reset in notify mode), or null.
   */
  async _loadState(topic, announced) {
    const t = this._t.get(topic);
    const st = await this._client.state(topic);
    if (this._closed) return;
    if (!announced) this._callReset({ topic, cursor: st.cursor, reason: 'cursor_expired' });
    t.reset = null;
    t.skip = null; // notify puts of the reset still on their way are at or below the state: filtered by offset
    const previous = t.cursor;
    st.entries.forEach((e, i) => {
      const ev = { topic, offset: e.offset, cursor: i === st.entries.length - 1 ? st.cursor : previous, type: 'put', key: e.key, data: e.data, time: e.time };
      this._emit(ev, true);
    });
    t.cursor = st.cursor;
    // Later pages may hold entries newer than the cursor: the changes after it all come, no filter.
    t.last = 0;
    if (this._hooks.resetDone) this._hooks.resetDone(topic);
  }
}

class MirrorImpl {
  constructor(client, topic, options) {
    this.topic = topic;
    this.state = new Map();
    this._listeners = new Set();
    let resolve;
    let reject;
    this.ready = new Promise((a, b) => { resolve = a; reject = b; });
    this.ready.catch(() => {});
    const notify = (ev) => {
      for (const l of this._listeners) {
        try { l(this.state, ev); } catch (e) { rethrowLater(e); }
      }
    };
    let resetting = false;
    this.subscription = new SubscriptionImpl(client, [topic], { onStatus: options.onStatus, onError: options.onError }, {
      prepare: async () => {
        const st = await client.state(topic);
        this.state.clear();
        for (const e of st.entries) this.state.set(e.key, e.data);
        resolve();
        notify(null);
        return { [topic]: st.cursor };
      },
      hooks: {
        event: (ev, inReset) => {
          if (ev.type === 'put') this.state.set(ev.key, ev.data);
          else if (ev.type === 'delete') this.state.delete(ev.key);
          else return;
          if (!inReset && !resetting) notify(ev);
        },
        reset: () => {
          resetting = true;
          this.state.clear();
        },
        resetDone: () => {
          resetting = false;
          notify(null);
        },
        error: (e) => reject(e),
      },
    });
  }

  onChange(listener) {
    this._listeners.add(listener);
    return () => this._listeners.delete(listener);
  }

  close() {
    this.subscription.close();
    this._listeners.clear();
  }
}
