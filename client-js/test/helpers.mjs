// Shared helpers of the client tests.
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { Tidings } from '../src/tidings.js';

export { WebSocket };

/** A client for `url` with Node's missing WebSocket filled in and quick backoff for tests. */
export function client(url, options = {}) {
  return new Tidings(url, {
    WebSocket,
    backoff: { base: 100, cap: 1000, healthyAfter: 5000 },
    ...options,
  });
}

let unique = 0;
/** A topic name no other test uses. */
export function topicName(prefix = 't') {
  return `${prefix}/${process.pid}-${Date.now().toString(36)}-${++unique}`;
}

/** Polls `check` until it returns a truthy value; fails with `what` (and `detail()`) after `ms`. */
export async function waitFor(check, ms, what, detail = () => '') {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}${detail() ? `: ${detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Publishes `count` message events numbered from `from` over HTTP (a client of its own). */
export async function publishRange(url, topic, from, count, batch = 1) {
  const c = new Tidings(url);
  for (let i = from; i < from + count; i += batch) {
    const events = [];
    for (let j = i; j < Math.min(from + count, i + batch); j++) events.push({ data: { n: j } });
    await c.publish(topic, events);
  }
}

/** Subscribes and records everything: events, statuses, resets, errors. */
export function record(tidings, topics, options = {}) {
  const rec = { events: [], statuses: [], resets: [], errors: [] };
  rec.sub = tidings.subscribe(topics, {
    ...options,
    onEvent: (e) => { rec.events.push(e); options.onEvent?.(e); },
    onStatus: (s) => { rec.statuses.push(s); options.onStatus?.(s); },
    onReset: (r) => { rec.resets.push(r); options.onReset?.(r); },
    onError: (e) => { rec.errors.push(e); options.onError?.(e); },
  });
  rec.of = (topic) => rec.events.filter((e) => e.topic === topic);
  rec.transports = () => rec.statuses.filter((s) => s.status === 'live').map((s) => s.transport);
  rec.waitLive = (transport, ms = 30000) => waitFor(
    () => rec.sub.status === 'live' && (!transport || rec.sub.transport === transport),
    ms, `live on ${transport || 'any transport'}`, () => JSON.stringify(rec.statuses.slice(-6)));
  rec.waitCount = (topic, n, ms = 30000) => waitFor(
    () => rec.of(topic).length >= n, ms, `${n} events of ${topic}`,
    () => `got ${rec.of(topic).length}; statuses ${JSON.stringify(rec.statuses.slice(-6))}`);
  return rec;
}

/** Events of one topic are exactly offsets first..last, in order, each once. */
export function assertOffsets(events, first, last, what = 'events') {
  const offsets = events.map((e) => e.offset);
  const expected = [];
  for (let i = first; i <= last; i++) expected.push(i);
  if (offsets.length !== expected.length || offsets.some((o, i) => o !== expected[i])) {
    const dups = offsets.filter((o, i) => offsets.indexOf(o) !== i);
    const missing = expected.filter((o) => !offsets.includes(o));
    assert.fail(`${what}: expected offsets ${first}..${last} once each in order, got ${offsets.length}`
      + ` (duplicates ${JSON.stringify(dups.slice(0, 10))}, missing ${JSON.stringify(missing.slice(0, 10))},`
      + ` first ${JSON.stringify(offsets.slice(0, 10))})`);
  }
}

/**
 * A WebSocket class for the client whose connections can be refused (while blocked, it asks for a
 * path the server answers 404) and dropped, to cut a client off without touching the server.
 */
export function controllableWebSocket() {
  const ctl = { blocked: false, sockets: new Set(), attempts: 0 };
  class ControlledWebSocket extends WebSocket {
    constructor(url, protocols) {
      super(ctl.blocked ? String(url).replace('/v1/ws', '/v1/ws-blocked') : url, protocols);
      ctl.attempts++;
      ctl.sockets.add(this);
      this.on('close', () => ctl.sockets.delete(this));
    }
  }
  ctl.WebSocket = ControlledWebSocket;
  ctl.block = () => { ctl.blocked = true; };
  ctl.unblock = () => { ctl.blocked = false; };
  ctl.dropAll = () => { for (const s of ctl.sockets) s.terminate(); };
  return ctl;
}
