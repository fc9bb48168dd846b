// Resume: an open chat page follows its room across a stop (SIGTERM) or a kill -9 of the server and a
// restart on the same port and data directory, while another client keeps publishing. Every message
// shows exactly once, in order.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  TidingsServer, demoUrl, diagnosing, launchBrowser, messagesOn, openPage, sleep, waitForMessages, waitForTransport,
} from '../test-harness.mjs';

const TOTAL = 60;

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/**
 * Publishes `m1`..`m<total>` to `topic` over HTTP, one at a time, each with an idempotency key: a publish
 * that fails (the server is down, or went down before answering) is retried with the same key until it
 * is acknowledged, so each message is stored once whatever happened to the answer.
 */
function publisher(base, topic, total, pause) {
  const state = { acked: 0, failures: 0, stop: false };
  state.done = (async () => {
    for (let i = 1; i <= total && !state.stop; i++) {
      const body = JSON.stringify({ id: `resume-m${i}`, data: { name: 'Publisher', text: `m${i}`, sender: 'publisher' } });
      for (;;) {
        if (state.stop) return;
        try {
          const res = await fetch(`${base}/v1/events?topic=${encodeURIComponent(topic)}`, {
            method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(15_000),
          });
          if (res.status === 201) break;
          if (res.status < 500 && res.status !== 429) throw Object.assign(new Error(`publish m${i}: ${res.status} ${await res.text()}`), { fatal: true });
        } catch (e) {
          if (e.fatal) throw e;
        }
        state.failures++;
        await sleep(200);
      }
      state.acked = i;
      await sleep(pause);
    }
  })();
  return state;
}

for (const how of ['stop', 'kill']) {
  test(`the chat follows a ${how === 'stop' ? 'stop (SIGTERM)' : 'kill -9'} and restart of the server with no message lost or doubled`, { timeout: 300_000 }, async (t) => {
    let server;
    let page;
    let pub;
    try {
      server = await TidingsServer.start({ name: `resume-${how}` });
      await diagnosing(`resume ${how}`, () => [page], () => [server], async () => {
        const room = `resume-${how}-${Date.now().toString(36)}`;
        page = await openPage(browser, demoUrl(server, 'chat', { room, name: 'Watcher' }), { label: `watcher-${how}` });
        await waitForTransport(page, 'ws');
        pub = publisher(server.url, `chat/${room}`, TOTAL, 100);
        await waitForMessages(page, 15);

        if (how === 'stop') await server.stop();
        else await server.kill();
        const ackedWhenDown = pub.acked;
        await page.waitForFunction(() => document.querySelector('[data-testid=status]').dataset.status !== 'live', null, { timeout: 60_000 });
        await sleep(1000); // down for a while, the publisher failing meanwhile
        await server.restart();
        await pub.done;
        t.diagnostic(`acknowledged before the ${how}: ${ackedWhenDown}; failed publish attempts: ${pub.failures}`);
        assert.ok(ackedWhenDown < TOTAL, 'messages were published after the restart too');

        await waitForMessages(page, TOTAL, 120_000);
        await page.waitForFunction(() => document.querySelector('[data-testid=status]').dataset.status === 'live');
        await sleep(1500); // a doubled message would have arrived by now
        const seen = await messagesOn(page);
        const texts = seen.map((m) => m.text);
        const want = Array.from({ length: TOTAL }, (_, i) => `m${i + 1}`);
        assert.deepEqual(texts, want, 'every message once, in order');
        assert.deepEqual(seen.map((m) => m.offset), want.map((_, i) => i + 1), 'offsets 1..N with no gap or repeat');

        const log = await page.evaluate(() => window.__tidings.statusLog);
        const first = log.findIndex((c) => c.status === 'live');
        const lost = log.findIndex((c, i) => i > first && c.status !== 'live');
        assert.ok(first >= 0 && lost > first && log.slice(lost).some((c) => c.status === 'live'),
          `the page was live, lost the connection and got it back: ${JSON.stringify(log)}`);
        t.diagnostic(`transport after the restart: ${await page.textContent('[data-testid=transport] .text')}`);
      });
    } finally {
      if (pub) pub.stop = true;
      await page?.context().close();
      await server?.close();
    }
  });
}
