// Resets: a cursor older than retention, and a memory store restarted under a mirror (a new epoch).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './server.mjs';
import { client, topicName, record, waitFor, controllableWebSocket } from './helpers.mjs';
import { Tidings } from '../src/tidings.js';

let server;
before(async () => {
  // Small state pages, so that a reload takes several requests.
  server = await startServer({ store: 'memory', config: { retention: [{ topic: 'ret/**', max_events: 5 }], pull: { state_default_limit: 2 } } });
});
after(async () => { await server?.close(); });

const stateMap = async (url, topic) => new Map((await new Tidings(url).state(topic)).entries.map((e) => [e.key, e.data]));

for (const transport of ['ws', 'sse', 'longpoll', 'poll']) {
  test(`${transport}: resuming from a trimmed cursor resets, delivers the state as puts, then goes on live`, async () => {
    const topic = topicName(`ret/${transport}`);
    const c = client(server.url, { transports: [transport], poll: { min: 100, max: 300 } });
    const early = await c.publish(topic, [{ type: 'put', key: 'a', data: 1 }, { type: 'put', key: 'b', data: 2 }]);
    for (let i = 3; i <= 14; i++) await c.publish(topic, { type: 'put', key: `k${i % 4}`, data: i });
    await c.publish(topic, { type: 'delete', key: 'k1' });
    const expected = await stateMap(server.url, topic);
    assert.equal(expected.size, 5); // a, b, k0, k2, k3
    let resetAt = -1;
    const rec = record(c, topic, {
      since: early.cursor,
      onReset: () => { resetAt = rec.events.length; },
    });
    try {
      await waitFor(() => rec.resets.length === 1 && rec.events.length >= expected.size, 20000, 'the reset and the state',
        () => JSON.stringify({ resets: rec.resets, events: rec.events.length, statuses: rec.statuses }));
      assert.equal(resetAt, 0, 'onReset comes before the state');
      assert.equal(rec.resets[0].topic, topic);
      const puts = rec.events.slice(0, expected.size);
      assert.ok(puts.every((e) => e.type === 'put'), 'the state arrives as puts');
      assert.deepEqual(new Map(puts.map((e) => [e.key, e.data])), expected);
      await c.publish(topic, [{ type: 'put', key: 'z', data: 99 }, { data: 'live' }]);
      await rec.waitCount(topic, expected.size + 2);
      await new Promise((r) => setTimeout(r, 300));
      const live = rec.events.slice(expected.size);
      assert.deepEqual(live.map((e) => e.offset), [16, 17], 'live events after the state, each once');
      assert.equal(rec.sub.cursor(topic), live.at(-1).cursor);
      assert.equal(rec.resets.length, 1);
      assert.deepEqual(rec.errors, []);
    } finally {
      rec.sub.close();
    }
  });
}

test('mirrors on ws, sse and longpoll equal /v1/state, also after the memory store restarts (new epoch)', async () => {
  const transports = ['ws', 'sse', 'longpoll'];
  const topic = topicName('mirror');
  const c0 = client(server.url);
  await c0.publish(topic, [{ type: 'put', key: 'x', data: 1 }, { type: 'put', key: 'y', data: 2 }, { type: 'put', key: 'old', data: 0 }]);
  const mirrors = transports.map((transport) => {
    const c = client(server.url, { transports: [transport], backoff: { base: 50, cap: 500 } });
    const statuses = [];
    const m = c.mirror(topic, { onStatus: (s) => statuses.push(s) });
    const changes = [];
    m.onChange((state, ev) => changes.push(ev ? `${ev.type}:${ev.key}` : 'reload'));
    return { transport, m, changes, statuses };
  });
  const detail = () => JSON.stringify(mirrors.map(({ transport, m, changes, statuses }) => ({ transport, state: [...m.state], changes, statuses })));
  try {
    for (const { m, transport } of mirrors) {
      await m.ready;
      assert.deepEqual(m.state, await stateMap(server.url, topic), transport);
      await waitFor(() => m.subscription.status === 'live', 20000, `${transport} live`);
    }
    await c0.publish(topic, [{ type: 'put', key: 'x', data: 10 }, { type: 'delete', key: 'y' }, { data: 'not state' }]);
    await waitFor(() => mirrors.every(({ changes }) => changes.includes('delete:y')), 20000, 'the delete', detail);
    for (const { m, transport } of mirrors) {
      assert.deepEqual(m.state, await stateMap(server.url, topic), transport);
      assert.deepEqual(m.state, new Map([['x', 10], ['old', 0]]), transport);
    }

    const before = mirrors.map(({ changes }) => changes.length);
    await server.restart(); // the memory store starts empty, with a new epoch
    await new Tidings(server.url).publish(topic, [{ type: 'put', key: 'new', data: 'n' }, { type: 'put', key: 'x', data: 'x2' }]);
    const expected = await stateMap(server.url, topic);
    assert.deepEqual(expected, new Map([['new', 'n'], ['x', 'x2']]));
    await waitFor(() => mirrors.every(({ m }) => m.state.size === 2 && m.state.get('new') === 'n' && m.state.get('x') === 'x2'),
      30000, 'the mirrors to follow the new store', detail);
    mirrors.forEach(({ m, changes, transport }, i) => {
      assert.deepEqual(m.state, expected, transport);
      assert.ok(changes.slice(before[i]).includes('reload'), `${transport}: a reload was announced: ${JSON.stringify(changes.slice(before[i]))}`);
    });
  } finally {
    for (const { m } of mirrors) m.close();
  }
  for (const { m } of mirrors) assert.equal(m.subscription.status, 'closed');
});

test('a mirror cut off while retention trims past its cursor reloads through the reset (ws, state follows)', async () => {
  const topic = topicName('ret/mirror');
  const sockets = controllableWebSocket();
  const c = client(server.url, { transports: ['ws'], WebSocket: sockets.WebSocket });
  await c.publish(topic, [{ type: 'put', key: 'a', data: 1 }, { type: 'put', key: 'gone', data: 1 }]);
  const m = c.mirror(topic);
  const changes = [];
  m.onChange((state, ev) => changes.push(ev ? ev.key : 'reload'));
  try {
    await m.ready;
    await waitFor(() => m.subscription.status === 'live', 20000, 'live');
    sockets.block();
    sockets.dropAll();
    await waitFor(() => m.subscription.status === 'reconnecting', 20000, 'the drop');
    for (let i = 0; i < 12; i++) await c.publish(topic, { type: 'put', key: `k${i % 3}`, data: i });
    await c.publish(topic, { type: 'delete', key: 'gone' });
    const before = changes.length;
    sockets.unblock();
    await waitFor(() => m.state.get('k2') === 11 && !m.state.has('gone'), 30000, 'the reload',
      () => JSON.stringify({ state: [...m.state], changes }));
    assert.deepEqual(m.state, await stateMap(server.url, topic));
    assert.deepEqual(changes.slice(before), ['reload'], 'one reload, no per-put noise');
  } finally {
    m.close();
  }
});

test('longpoll: events published while the state pages load are all delivered after the reload', async () => {
  // The reload continues from the first page's cursor; a later page can hold a newer entry (d below),
  // which must not make the client skip what was published between the two (the message m).
  const topic = topicName('ret/paged');
  const publisher = new Tidings(server.url);
  const early = await publisher.publish(topic, { data: 'early' });
  await publisher.publish(topic, ['a', 'b', 'c', 'd'].map((key) => ({ type: 'put', key, data: 1 })));
  await publisher.publish(topic, [{ data: 6 }, { data: 7 }, { data: 8 }]);
  let injected = false;
  const fetchDuringReload = async (url, init) => {
    const u = new URL(url);
    if (u.pathname === '/v1/state' && u.searchParams.has('after_key') && !injected) {
      injected = true;
      await publisher.publish(topic, [{ data: 'm' }, { type: 'put', key: 'd', data: 2 }]);
    }
    return fetch(url, init);
  };
  const rec = record(client(server.url, { transports: ['longpoll'], fetch: fetchDuringReload }), topic, { since: early.cursor });
  try {
    await waitFor(() => rec.events.some((e) => e.data === 'm'), 20000, 'the message published during the reload',
      () => JSON.stringify(rec.events.map((e) => [e.offset, e.type, e.key, e.data])));
    assert.ok(injected, 'the state came in more than one page');
    assert.equal(rec.resets.length, 1);
    const puts = rec.events.slice(0, 4);
    assert.deepEqual(puts.map((e) => [e.key, e.data]), [['a', 1], ['b', 1], ['c', 1], ['d', 2]]);
    assert.deepEqual(rec.events.slice(4).map((e) => e.offset), [9, 10], 'everything after the first page\'s cursor, in order');
  } finally {
    rec.sub.close();
  }
});
