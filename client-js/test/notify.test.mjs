// mode 'notify': notifications without data arrive by push, the data comes from /v1/changes, and
// notifications that arrive during a pull are batched into the next one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './server.mjs';
import { client, topicName, record, assertOffsets, waitFor, WebSocket } from './helpers.mjs';
import { Tidings } from '../src/tidings.js';

let server;
before(async () => { server = await startServer({ store: 'memory' }); });
after(async () => { await server?.close(); });

/** A fetch that counts GET /v1/changes of `topic`, each held back a little so that notifications pile up. */
function countingFetch(topic) {
  const counter = { pulls: 0 };
  counter.fetch = async (url, init) => {
    const u = new URL(url);
    if (u.pathname === '/v1/changes' && u.searchParams.get('topic') === topic) {
      counter.pulls++;
      await new Promise((r) => setTimeout(r, 30));
    }
    return fetch(url, init);
  };
  return counter;
}

for (const transport of ['ws', 'sse']) {
  test(`${transport} notify: every event delivered with its data, in fewer pulls than notifications`, async () => {
    const topic = topicName(`notify-${transport}`);
    const counter = countingFetch(topic);
    let notifications = 0;
    class CountingWebSocket extends WebSocket {
      constructor(...args) {
        super(...args);
        this.on('message', (m) => { if (JSON.parse(m.toString()).op === 'event') notifications++; });
      }
    }
    const c = client(server.url, { transports: [transport], fetch: counter.fetch, WebSocket: CountingWebSocket });
    const rec = record(c, topic, { mode: 'notify', since: 'now' });
    try {
      await rec.waitLive(transport);
      const publisher = new Tidings(server.url);
      const total = 150;
      for (let i = 1; i <= total; i += 5) {
        await publisher.publish(topic, [1, 2, 3, 4, 5].map((k) => ({ type: 'put', key: `k${(i + k) % 7}`, data: { n: i + k - 1 } })));
      }
      await rec.waitCount(topic, total);
      await new Promise((r) => setTimeout(r, 300));
      assertOffsets(rec.of(topic), 1, total, 'notify');
      assert.deepEqual(rec.of(topic).map((e) => e.data.n), Array.from({ length: total }, (_, i) => i + 1), 'full events with their data');
      if (transport === 'ws') assert.equal(notifications, total, 'one notification per event reached the client');
      // Let pulls still queued run, then count: notifications that arrive while a pull runs are
      // answered by one more pull, so a burst (one publish of 5) costs at most 2 pulls.
      let seen = -1;
      await waitFor(async () => {
        const stable = seen === counter.pulls;
        seen = counter.pulls;
        await new Promise((r) => setTimeout(r, 400));
        return stable;
      }, 60000, 'pulls to settle');
      const bursts = total / 5;
      assert.ok(counter.pulls <= 2 * bursts, `${counter.pulls} pulls for ${total} notifications in ${bursts} bursts`);
      assert.ok(counter.pulls >= 1);
      assert.equal(rec.sub.cursor(topic), rec.of(topic).at(-1).cursor);
      assert.deepEqual(rec.errors, []);
    } finally {
      rec.sub.close();
    }
  });
}

test('notify from earliest catches up the history in pulls, then follows', async () => {
  const topic = topicName('notify-replay');
  const publisher = new Tidings(server.url);
  await publisher.publish(topic, Array.from({ length: 40 }, (_, i) => ({ data: i + 1 })));
  const counter = countingFetch(topic);
  const c = client(server.url, { transports: ['ws'], fetch: counter.fetch });
  const rec = record(c, topic, { mode: 'notify', since: 'earliest' });
  try {
    await rec.waitCount(topic, 40);
    await publisher.publish(topic, { data: 41 });
    await rec.waitCount(topic, 41);
    assertOffsets(rec.of(topic), 1, 41, 'notify replay');
    assert.equal(rec.of(topic).at(-1).data, 41);
    assert.ok(counter.pulls < 41, `${counter.pulls} pulls`);
  } finally {
    rec.sub.close();
  }
});
