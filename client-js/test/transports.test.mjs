// Each transport, forced alone, replays from a cursor and then turns live, in order, each event once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './server.mjs';
import { client, topicName, publishRange, record, assertOffsets, waitFor } from './helpers.mjs';
import { Tidings, TidingsError } from '../src/tidings.js';

let server;
before(async () => { server = await startServer({ store: 'memory' }); });
after(async () => { await server?.close(); });

for (const transport of ['ws', 'sse', 'longpoll', 'poll']) {
  test(`${transport}: replay from earliest, then live, in order`, async () => {
    const topic = topicName(transport);
    await publishRange(server.url, topic, 1, 30, 10);
    const c = client(server.url, { transports: [transport], poll: { min: 100, max: 300 } });
    const rec = record(c, topic, { since: 'earliest' });
    try {
      await rec.waitCount(topic, 30);
      await rec.waitLive(transport);
      await publishRange(server.url, topic, 31, 20, 3);
      await rec.waitCount(topic, 50);
      await new Promise((r) => setTimeout(r, 300)); // nothing more may come
      assertOffsets(rec.of(topic), 1, 50, transport);
      assert.deepEqual(rec.of(topic).map((e) => e.data.n), Array.from({ length: 50 }, (_, i) => i + 1));
      assert.equal(rec.sub.cursor(topic), rec.of(topic).at(-1).cursor);
      assert.deepEqual(rec.transports(), [transport]);
      assert.deepEqual(rec.errors, []);
    } finally {
      rec.sub.close();
    }
    assert.equal(rec.sub.status, 'closed');
    assert.equal(rec.statuses.at(-1).status, 'closed');
  });

  test(`${transport}: two topics from a cursor and from now; the async iterator`, async () => {
    const a = topicName('a');
    const b = topicName('b');
    await publishRange(server.url, a, 1, 10);
    await publishRange(server.url, b, 1, 5);
    const c = client(server.url, { transports: [transport], poll: { min: 100, max: 300 } });
    const mid = (await c.changes(a, 'earliest', { limit: 4 })).cursor; // after a's 4th event
    const rec = record(c, [a, b], { since: { [a]: mid, [b]: 'now' } });
    const iterated = [];
    const iterating = (async () => {
      for await (const ev of rec.sub) {
        iterated.push(ev);
        if (iterated.length === 6 + 3) break;
      }
    })();
    try {
      await rec.waitCount(a, 6);
      await rec.waitLive(transport);
      await publishRange(server.url, b, 6, 3);
      await rec.waitCount(b, 3);
      await iterating;
      assertOffsets(rec.of(a), 5, 10, `${transport} a`);
      assertOffsets(rec.of(b), 6, 8, `${transport} b`);
      assert.equal(iterated.length, 9);
      assert.deepEqual(Object.keys(rec.sub.cursors), [a, b]);
      assert.equal(rec.sub.cursors[b], rec.of(b).at(-1).cursor);
    } finally {
      rec.sub.close();
    }
  });
}

test('sse: a topic from `now` that drops before its first event resumes from where it began', async () => {
  // The stream's opening event names the start; the cursor must be that, not `now` again.
  const topic = topicName('now');
  await publishRange(server.url, topic, 1, 3);
  const c = client(server.url, { transports: ['sse'] });
  const rec = record(c, topic);
  try {
    await rec.waitLive('sse');
    const start = rec.sub.cursor(topic);
    assert.notEqual(start, 'now');
    assert.equal(start, (await c.changes(topic, 'now')).cursor);
  } finally {
    rec.sub.close();
  }
});

test('publish goes over an open WebSocket of the client, else HTTP', async () => {
  const topic = topicName('pub');
  const sent = [];
  const countingFetch = (url, init) => { sent.push(`${init?.method ?? 'GET'} ${new URL(url).pathname}`); return fetch(url, init); };
  const c = client(server.url, { fetch: countingFetch });
  const first = await c.publish(topic, { type: 'put', key: 'k', data: 1, id: 'one' });
  assert.equal(first.events[0].offset, 1);
  assert.deepEqual(sent, ['POST /v1/events']);
  const rec = record(c, topic, { since: 'earliest' });
  try {
    await rec.waitLive('ws');
    const second = await c.publish(topic, [{ data: 'x' }, { id: 'one', type: 'put', key: 'k', data: 1 }]);
    assert.equal(second.topic, topic);
    assert.equal(second.events[0].offset, 2);
    assert.equal(second.events[1].duplicate, true);
    assert.deepEqual(sent, ['POST /v1/events'], 'the second publish used the WebSocket');
    await rec.waitCount(topic, 2);
    await assert.rejects(c.publish(topic, { type: 'put' }), (e) => e instanceof TidingsError && e.code === 'invalid_event');
  } finally {
    rec.sub.close();
  }
  await c.publish(topic, { data: 'after' });
  assert.equal(sent.at(-1), 'POST /v1/events');
});

test('state pages through everything; changes and errors', async () => {
  const topic = topicName('state');
  const c = client(server.url);
  const events = [];
  for (let i = 0; i < 30; i++) events.push({ type: 'put', key: `k${String(i).padStart(3, '0')}`, data: i });
  await c.publish(topic, events);
  const st = await c.state(topic);
  assert.equal(st.entries.length, 30);
  assert.equal(st.cursor, (await c.changes(topic, 'now')).cursor);
  const page = await c.changes(topic, 'earliest', { limit: 10 });
  assert.equal(page.events.length, 10);
  assert.equal(page.more, true);
  await assert.rejects(c.changes('bad//topic'), (e) => e instanceof TidingsError && e.status === 400 && e.code === 'invalid_topic');
});

test('an invalid topic ends the subscription through onError, on every transport', async () => {
  for (const transport of ['ws', 'sse', 'longpoll', 'poll']) {
    const c = client(server.url, { transports: [transport] });
    const rec = record(c, 'bad//topic');
    await waitFor(() => rec.errors.length > 0, 20000, `onError on ${transport}`);
    assert.equal(rec.errors[0].code, 'invalid_topic', transport);
    assert.equal(rec.sub.status, 'closed');
  }
});

test('new Tidings refuses unknown transports', () => {
  assert.throws(() => new Tidings('http://127.0.0.1:1', { transports: ['carrier-pigeon'] }), TypeError);
});
