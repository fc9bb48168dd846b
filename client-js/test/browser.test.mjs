// The client in a real browser (headless Chromium through playwright-core, /usr/bin/chromium or
// $CHROMIUM): the page's own WebSocket and fetch streaming, every transport, publish and a mirror.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startServer, repoRoot } from './server.mjs';
import { topicName, publishRange } from './helpers.mjs';
import { Tidings } from '../src/tidings.js';

let server;
let browser;
before(async () => {
  server = await startServer({ store: 'memory' });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
});
after(async () => {
  await browser?.close();
  await server?.close();
});

test('in Chromium: every transport replays then goes live; publish over the page\'s WebSocket; a mirror', async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // The module under test, straight from the source tree, on the server's origin.
  const source = readFileSync(join(repoRoot, 'client-js', 'src', 'tidings.js'), 'utf8');
  await page.route('**/__test__/tidings.js', (route) => route.fulfill({ status: 200, contentType: 'text/javascript', body: source }));
  await page.goto(`${server.url}/healthz`);
  const topic = topicName('browser');
  const keyed = topicName('browser-state');
  await publishRange(server.url, topic, 1, 10, 5);
  await new Tidings(server.url).publish(keyed, [{ type: 'put', key: 'a', data: 1 }, { type: 'put', key: 'b', data: 2 }]);

  await page.evaluate(async ({ topic, keyed }) => {
    const { Tidings } = await import('/__test__/tidings.js');
    window.results = {};
    window.subs = ['ws', 'sse', 'longpoll', 'poll'].map((t) => {
      const r = { events: [], statuses: [] };
      window.results[t] = r;
      const c = new Tidings(location.origin, { transports: [t], poll: { min: 100, max: 300 } });
      return c.subscribe(topic, {
        since: 'earliest',
        onEvent: (e) => r.events.push(e.offset),
        onStatus: (s) => r.statuses.push(`${s.status}:${s.transport}`),
        onError: (e) => { r.error = e.code; },
      });
    });
    window.client = new Tidings(location.origin);
    window.publisherSub = window.client.subscribe(topic); // gives the client an open WebSocket
    window.mirror = window.client.mirror(keyed);
    await window.mirror.ready;
  }, { topic, keyed });

  const live = () => page.evaluate(() => window.subs.every((s) => s.status === 'live') && window.publisherSub.transport === 'ws');
  for (let i = 0; !(await live()); i++) {
    assert.ok(i < 300, `not all live: ${JSON.stringify(await page.evaluate(() => window.results))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const published = await page.evaluate(async ({ topic, keyed }) => {
    const r = await window.client.publish(topic, [{ data: 11 }, { data: 12 }]);
    await window.client.publish(keyed, [{ type: 'put', key: 'a', data: 10 }, { type: 'delete', key: 'b' }]);
    return r.events.map((e) => e.offset);
  }, { topic, keyed });
  assert.deepEqual(published, [11, 12]);
  await publishRange(server.url, topic, 13, 3);

  let results;
  for (let i = 0; ; i++) {
    results = await page.evaluate(() => ({ ...window.results, mirror: [...window.mirror.state] }));
    if (Object.values(results).every((r) => !r.events || r.events.length >= 15) && results.mirror.length === 1) break;
    assert.ok(i < 300, `not everything arrived: ${JSON.stringify(results)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 300));
  results = await page.evaluate(() => ({ ...window.results, mirror: [...window.mirror.state] }));
  for (const t of ['ws', 'sse', 'longpoll', 'poll']) {
    assert.deepEqual(results[t].events, Array.from({ length: 15 }, (_, i) => i + 1), `${t} in the browser`);
    assert.equal(results[t].error, undefined);
    assert.ok(results[t].statuses.includes(`live:${t}`), `${t}: ${results[t].statuses}`);
  }
  assert.deepEqual(results.mirror, [['a', 10]]);
  assert.deepEqual(errors, []);
  await page.evaluate(() => { window.subs.forEach((s) => s.close()); window.client.close(); });
  await page.close();
});
