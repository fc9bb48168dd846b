// The poll transport against a stub server: the interval follows Tidings-Poll-Interval within
// options.poll, and a 429 holds the next request back for at least its Retry-After.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { client, waitFor } from './helpers.mjs';

function stub(handler) {
  const requests = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://stub');
    requests.push({ at: Date.now(), path: url.pathname, since: url.searchParams.get('since'), inm: req.headers['if-none-match'] });
    handler(req, res, url, requests.length);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, requests, url: `http://127.0.0.1:${server.address().port}` })));
}

function changes(res, { events = [], cursor, interval, status = 200 }) {
  res.writeHead(status, { 'Content-Type': 'application/json', ETag: `"${cursor}"`, 'Tidings-Poll-Interval': String(interval) });
  res.end(status === 304 ? undefined : JSON.stringify({ topic: 'x', events, cursor, more: false }));
}

const ev = (offset) => ({ topic: 'x', offset, cursor: `e.${offset}`, type: 'message', data: offset, time: new Date().toISOString() });
const stubs = [];
after(() => { for (const s of stubs) s.server.close(); });

test('poll: 429 waits at least Retry-After and backs off; then polling resumes from the cursor', async () => {
  // 1: an event; 2-3: 429 with Retry-After: 1; then events and 304s.
  const s = await stub((req, res, url, n) => {
    if (n === 1) return changes(res, { events: [ev(1)], cursor: 'e.1', interval: 0.05 });
    if (n === 2 || n === 3) {
      res.writeHead(429, { 'Content-Type': 'application/json', 'Retry-After': '1' });
      return res.end(JSON.stringify({ error: { code: 'rate_limited', message: 'slow down' } }));
    }
    if (n === 4) return changes(res, { events: [ev(2)], cursor: 'e.2', interval: 0.05 });
    return changes(res, { cursor: url.searchParams.get('since'), interval: 0.05, status: 304 });
  });
  stubs.push(s);
  const c = client(s.url, { transports: ['poll'], poll: { min: 200, max: 5000 } });
  const events = [];
  const sub = c.subscribe('x', { since: 'earliest', onEvent: (e) => events.push(e) });
  try {
    await waitFor(() => s.requests.length >= 6, 20000, '6 requests');
    const r = s.requests;
    assert.ok(r[2].at - r[1].at >= 990, `the request after the first 429 came ${r[2].at - r[1].at} ms later`);
    assert.ok(r[3].at - r[2].at >= 990, `the request after the second 429 came ${r[3].at - r[2].at} ms later`);
    // The advised 0.05 s is below options.poll.min (200 ms).
    assert.ok(r[1].at - r[0].at >= 190, `the second poll came ${r[1].at - r[0].at} ms after the first`);
    assert.ok(r[5].at - r[4].at >= 190, `a poll came ${r[5].at - r[4].at} ms after the previous one`);
    assert.deepEqual(r.slice(0, 6).map((x) => x.since), ['earliest', 'e.1', 'e.1', 'e.1', 'e.2', 'e.2']);
    assert.equal(r[0].inm, undefined);
    assert.equal(r[1].inm, '"e.1"');
    assert.deepEqual(events.map((e) => e.offset), [1, 2]);
    assert.equal(sub.status, 'live');
  } finally {
    sub.close();
  }
});

test('poll: the advised interval is used within [min, max]', async () => {
  const s = await stub((req, res, url) => changes(res, { cursor: 'e.0', interval: 0.6, status: url.searchParams.get('since') === 'now' ? 200 : 304 }));
  stubs.push(s);
  const c = client(s.url, { transports: ['poll'], poll: { min: 100, max: 5000 } });
  const sub = c.subscribe('x');
  try {
    await waitFor(() => s.requests.length >= 3, 20000, '3 requests');
    const r = s.requests;
    assert.ok(r[1].at - r[0].at >= 590, `advised 600 ms, waited ${r[1].at - r[0].at} ms`);
    assert.ok(r[2].at - r[1].at >= 590, `advised 600 ms, waited ${r[2].at - r[1].at} ms`);
  } finally {
    sub.close();
  }
  // And capped by options.poll.max.
  const s2 = await stub((req, res) => changes(res, { cursor: 'e.0', interval: 3600, status: 200 }));
  stubs.push(s2);
  const sub2 = client(s2.url, { transports: ['poll'], poll: { min: 100, max: 400 } }).subscribe('x');
  try {
    await waitFor(() => s2.requests.length >= 3, 20000, '3 requests within the cap');
    const r = s2.requests;
    assert.ok(r[2].at - r[1].at >= 390, `capped at 400 ms, waited ${r[2].at - r[1].at} ms`);
  } finally {
    sub2.close();
  }
});
