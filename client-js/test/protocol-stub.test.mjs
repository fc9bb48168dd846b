// Protocol corners a real server does not produce on demand, played by a scripted stub: state puts
// newer than the reset's cursor, `state: false`, WebSocket close codes, and what a reconnection asks for.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { client, waitFor } from './helpers.mjs';

const E = (n) => `ep.${n}`;
const ev = (offset, extra = {}) => ({ op: 'event', topic: 'x', offset, cursor: E(offset), type: 'message', data: offset, time: '2026-11-28T10:00:00.000Z', ...extra });

/** An HTTP server (GET /v1/state answers `state`) with a WebSocket endpoint that runs `script(socket, n)` per connection. */
function stub(script, state = { topic: 'x', cursor: E(3), entries: [] }) {
  const s = { frames: [], connections: 0 };
  s.http = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(state));
  });
  s.wss = new WebSocketServer({ server: s.http, path: '/v1/ws' });
  s.wss.on('connection', (socket) => {
    const n = ++s.connections;
    socket.on('message', (m) => {
      const frame = JSON.parse(m.toString());
      s.frames.push({ n, ...frame });
      if (frame.op === 'subscribe') script(socket, n, frame);
    });
  });
  return new Promise((resolve) => s.http.listen(0, '127.0.0.1', () => {
    s.url = `http://127.0.0.1:${s.http.address().port}`;
    resolve(s);
  }));
}
const stubs = [];
after(() => { for (const s of stubs) { s.wss.close(); s.http.close(); s.http.closeAllConnections(); } });
const send = (socket, ...frames) => { for (const f of frames) socket.send(JSON.stringify(f)); };

test('a state put newer than the reset\'s cursor does not hide the live events after that cursor', async () => {
  const s = await stub((socket, n, f) => send(socket,
    { op: 'subscribed', id: f.id, topic: 'x', cursor: f.since },
    { op: 'reset', topic: 'x', cursor: E(10), reason: 'retention', state: true },
    ev(12, { type: 'put', key: 'a', cursor: f.since }), // changed while the state was read
    ev(7, { type: 'put', key: 'b', cursor: E(10) }), // the last put carries the reset's cursor
    ev(11), // live, after the reset's cursor
    ev(12, { type: 'put', key: 'a' }), // the change the state already showed
    ev(13)));
  stubs.push(s);
  const events = [];
  const resets = [];
  const sub = client(s.url, { transports: ['ws'] }).subscribe('x', {
    since: E(2), onEvent: (e) => events.push(e.offset), onReset: (r) => resets.push(r),
  });
  try {
    await waitFor(() => events.length >= 5, 10000, 'the events', () => JSON.stringify(events));
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(events, [12, 7, 11, 12, 13]);
    assert.equal(resets.length, 1);
    assert.equal(sub.cursor('x'), E(13));
  } finally {
    sub.close();
  }
});

test('a reset with state: false completes at once: the mirror announces its reload without waiting', async () => {
  const s = await stub((socket, n, f) => send(socket,
    { op: 'subscribed', id: f.id, topic: 'x', cursor: f.since },
    { op: 'reset', topic: 'x', cursor: E(0), reason: 'epoch', state: false }),
  { topic: 'x', cursor: E(3), entries: [{ key: 'k', data: 1, offset: 3, time: '2026-11-28T10:00:00.000Z' }] });
  stubs.push(s);
  const m = client(s.url, { transports: ['ws'] }).mirror('x');
  const changes = [];
  m.onChange((state, e) => changes.push([e ? e.key : null, Date.now()]));
  try {
    await m.ready;
    assert.deepEqual([...m.state], [['k', 1]]);
    await waitFor(() => changes.length === 2, 10000, 'the reload');
    assert.deepEqual(m.state.size, 0, 'the state of the new history is empty');
    assert.equal(m.subscription.cursor('x'), E(0));
    assert.equal(s.frames.find((f) => f.op === 'subscribe').since, E(3), 'subscribed from the snapshot');
  } finally {
    m.close();
  }
});

test('1012 and 4008: reconnect and resume from the last delivered cursor', async () => {
  const s = await stub((socket, n, f) => {
    send(socket, { op: 'subscribed', id: f.id, topic: 'x', cursor: f.since === 'now' ? E(5) : f.since });
    if (n === 1) { send(socket, ev(6), ev(7)); setTimeout(() => socket.close(1012, 'restart'), 50); }
    if (n === 2) { send(socket, ev(8)); setTimeout(() => socket.close(4008, 'slow'), 50); }
    if (n === 3) send(socket, ev(9));
  });
  stubs.push(s);
  const events = [];
  const statuses = [];
  const sub = client(s.url, { transports: ['ws'] }).subscribe('x', { onEvent: (e) => events.push(e.offset), onStatus: (c) => statuses.push(c) });
  try {
    await waitFor(() => events.length >= 4, 15000, 'four events', () => JSON.stringify(statuses));
    assert.deepEqual(events, [6, 7, 8, 9]);
    assert.deepEqual(s.frames.filter((f) => f.op === 'subscribe').map((f) => f.since), ['now', E(7), E(8)]);
    assert.ok(statuses.some((c) => c.status === 'reconnecting' && /1012/.test(c.reason)), JSON.stringify(statuses));
    assert.ok(statuses.some((c) => c.status === 'reconnecting' && /4008/.test(c.reason)), JSON.stringify(statuses));
  } finally {
    sub.close();
  }
});

test('1008 ends the subscription with onError (401 unauthorized) and no reconnection', async () => {
  const s = await stub((socket, n, f) => {
    send(socket, { op: 'subscribed', id: f.id, topic: 'x', cursor: E(1) });
    setTimeout(() => socket.close(1008, 'token expired'), 50);
  });
  stubs.push(s);
  const errors = [];
  const sub = client(s.url, { transports: ['ws', 'sse'] }).subscribe('x', { onError: (e) => errors.push(e) });
  await waitFor(() => errors.length === 1, 10000, 'onError');
  assert.equal(errors[0].status, 401);
  assert.equal(errors[0].code, 'unauthorized');
  assert.equal(sub.status, 'closed');
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(s.connections, 1, 'no reconnection');
});
