// The transport chain: a refused transport falls to the next, and a client on a lesser transport
// moves back up when the better one is available again, with no loss and no duplicate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './server.mjs';
import { client, topicName, record, assertOffsets, waitFor, controllableWebSocket } from './helpers.mjs';
import { Tidings } from '../src/tidings.js';

const WS_OFF = { push: { ws: { enabled: false } } };
const WS_SSE_OFF = { push: { ws: { enabled: false }, sse: { enabled: false } } };

/** Publishes numbered events one by one until stopped, retrying (same ids) while the server is away. */
function publisher(url, topic) {
  const c = new Tidings(url);
  const p = { n: 0, stopped: false, failures: 0 };
  p.done = (async () => {
    while (!p.stopped) {
      const n = p.n + 1;
      try {
        await c.publish(topic, { id: `e${n}`, data: { n } });
        p.n = n;
      } catch {
        p.failures++;
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  p.stop = async () => { p.stopped = true; await p.done; return p.n; };
  p.reach = (n, ms = 60000) => waitFor(() => p.n >= n, ms, `${n} published`);
  return p;
}

test('ws refused (403 transport_disabled) falls to sse; ws and sse refused fall to longpoll', async () => {
  const server = await startServer({ store: 'memory', config: WS_OFF });
  try {
    const topic = topicName('fallback');
    await new Tidings(server.url).publish(topic, [{ data: 1 }, { data: 2 }]);
    const rec = record(client(server.url, { upgradeAfter: 0 }), topic, { since: 'earliest' });
    try {
      await rec.waitLive('sse');
      await rec.waitCount(topic, 2);
      assert.equal(rec.statuses[0].transport, 'ws', 'ws was tried first');
      assert.deepEqual(rec.transports(), ['sse']);
      await new Tidings(server.url).publish(topic, { data: 3 });
      await rec.waitCount(topic, 3);
      assertOffsets(rec.of(topic), 1, 3, 'on sse');
    } finally {
      rec.sub.close();
    }

    await server.restart({ config: WS_SSE_OFF });
    const topic2 = topicName('fallback2');
    await new Tidings(server.url).publish(topic2, [{ data: 1 }, { data: 2 }]);
    const rec2 = record(client(server.url, { upgradeAfter: 0 }), topic2, { since: 'earliest' });
    try {
      await rec2.waitLive('longpoll');
      await rec2.waitCount(topic2, 2);
      assert.deepEqual(rec2.statuses.filter((s) => s.status === 'connecting').map((s) => s.transport), ['ws', 'sse', 'longpoll']);
      assert.deepEqual(rec2.transports(), ['longpoll']);
      await new Tidings(server.url).publish(topic2, { data: 3 });
      await rec2.waitCount(topic2, 3);
      assertOffsets(rec2.of(topic2), 1, 3, 'on longpoll');
    } finally {
      rec2.sub.close();
    }
  } finally {
    await server.close();
  }
});

test('back to ws once the server allows it again (restart on the same port and data), while publishing', async () => {
  const server = await startServer({ store: 'sqlite', config: WS_OFF });
  const topic = topicName('upgrade');
  const pub = publisher(server.url, topic);
  const rec = record(client(server.url, { upgradeAfter: 1000 }), topic, { since: 'earliest' });
  try {
    await rec.waitLive('sse');
    await pub.reach(30);
    await server.restart({ config: null }); // every transport enabled
    await rec.waitLive('ws', 60000);
    await pub.reach(pub.n + 30);
    const last = await pub.stop();
    await rec.waitCount(topic, last, 60000);
    await new Promise((r) => setTimeout(r, 300));
    assertOffsets(rec.of(topic), 1, last, 'across the restart and the upgrade');
    assert.deepEqual(rec.of(topic).map((e) => e.data.n), Array.from({ length: last }, (_, i) => i + 1));
    // Back on the transport that worked last and up to ws by the probe, or, when the restart took
    // longer than one round of the chain, straight to ws by the next round.
    const live = rec.transports();
    assert.equal(live[0], 'sse');
    assert.equal(live.at(-1), 'ws', JSON.stringify(rec.statuses));
    assert.ok(live.length === 2 || (live.length === 3 && live[1] === 'sse'), JSON.stringify(live));
  } finally {
    await pub.stop();
    rec.sub.close();
    await server.close();
  }
});

test('the upgrade probe: a client on sse switches to ws while events flow, none lost or repeated', async () => {
  const server = await startServer({ store: 'memory' });
  const topic = topicName('probe');
  const other = topicName('probe-other');
  const sockets = controllableWebSocket();
  sockets.block();
  const c = client(server.url, { WebSocket: sockets.WebSocket, upgradeAfter: 500 });
  const pub = publisher(server.url, topic);
  const rec = record(c, [topic, other], { since: 'earliest' });
  try {
    await rec.waitLive('sse');
    await pub.reach(20);
    const attemptsWhileBlocked = sockets.attempts;
    await waitFor(() => sockets.attempts > attemptsWhileBlocked, 10000, 'a probe while ws is refused');
    assert.equal(rec.sub.transport, 'sse', 'a refused probe leaves the stream alone');
    sockets.unblock();
    await rec.waitLive('ws', 20000);
    await pub.reach(pub.n + 30);
    const last = await pub.stop();
    await c.publish(other, { data: 'over ws' });
    await rec.waitCount(topic, last);
    await rec.waitCount(other, 1);
    await new Promise((r) => setTimeout(r, 300));
    assertOffsets(rec.of(topic), 1, last, 'across the switch');
    assert.deepEqual(rec.transports(), ['sse', 'ws']);
    assert.equal(rec.statuses.filter((s) => s.status === 'live').at(-1).reason, 'upgraded from sse');
  } finally {
    await pub.stop();
    rec.sub.close();
    await server.close();
  }
});

test('resume across restarts while publishing: SIGTERM and kill -9, on ws, sse and longpoll, no loss, no duplicate', async () => {
  const server = await startServer({ store: 'sqlite' });
  const topic = topicName('resume');
  const pub = publisher(server.url, topic);
  const recs = ['ws', 'sse', 'longpoll'].map((t) => record(client(server.url, { transports: [t] }), topic, { since: 'earliest' }));
  try {
    for (const [i, t] of ['ws', 'sse', 'longpoll'].entries()) await recs[i].waitLive(t);
    await pub.reach(40);
    await server.restart();
    await pub.reach(pub.n + 40);
    await server.restart({ kill: true });
    await pub.reach(pub.n + 40);
    const last = await pub.stop();
    for (const [i, t] of ['ws', 'sse', 'longpoll'].entries()) {
      const rec = recs[i];
      await rec.waitCount(topic, last, 60000);
      await new Promise((r) => setTimeout(r, 200));
      assertOffsets(rec.of(topic), 1, last, t);
      assert.deepEqual(rec.of(topic).map((e) => e.data.n), Array.from({ length: last }, (_, k) => k + 1), t);
      // One reconnection at least (a stream waiting out the server's retry: may span both restarts).
      assert.ok(rec.statuses.filter((s) => s.status === 'reconnecting').length >= 1, `${t} reconnected`);
      assert.equal(rec.sub.status, 'live', t);
      assert.deepEqual(rec.errors, []);
    }
  } finally {
    await pub.stop();
    for (const r of recs) r.sub.close();
    await server.close();
  }
});
