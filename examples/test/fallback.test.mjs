// Transport fallback: a server whose WebSocket endpoint is switched off by configuration still feeds both
// pages, over Server-Sent Events; with SSE off too, over long polling. Each page says which one it uses.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  PHONE, TidingsServer, demoUrl, diagnosing, launchBrowser, messagesOn, openPage, publish, screenshot, waitForMessages,
  waitForMetric, waitForTransport,
} from '../test-harness.mjs';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** The status and error code of a WebSocket handshake (a GET with Upgrade: websocket). */
function handshake(base) {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}/v1/ws`, {
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: 101 });
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => {
        let code;
        try { code = JSON.parse(body).error.code; } catch { code = body; }
        resolve({ status: res.statusCode, code });
      });
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error('no answer to the WebSocket handshake')));
  });
}

async function sseAnswer(base) {
  const ctl = new AbortController();
  const res = await fetch(`${base}/v1/sse?topic=x`, { headers: { accept: 'text/event-stream' }, signal: ctl.signal });
  const out = { status: res.status };
  if (res.status !== 200) out.code = (await res.json()).error.code;
  ctl.abort();
  return out;
}

const cases = [
  { disabled: ['ws'], config: 'push: { ws: { enabled: false } }\n', expect: 'sse' },
  { disabled: ['ws', 'sse'], config: 'push: { ws: { enabled: false }, sse: { enabled: false } }\n', expect: 'longpoll' },
];

for (const { disabled, config, expect } of cases) {
  describe(`with ${disabled.join(' and ')} disabled by configuration`, () => {
    let server;
    const pages = [];
    before(async () => {
      server = await TidingsServer.start({ name: `no-${disabled.join('-')}`, store: 'memory', config });
    });
    after(async () => {
      for (const p of pages) await p.context().close();
      await server?.close();
    });

    test('the server refuses the disabled transports', async () => {
      assert.deepEqual(await handshake(server.url), { status: 403, code: 'transport_disabled' });
      const sse = await sseAnswer(server.url);
      if (disabled.includes('sse')) assert.deepEqual(sse, { status: 403, code: 'transport_disabled' });
      else assert.equal(sse.status, 200);
    });

    test(`the dashboard receives over ${expect} and shows "${expect}"`, { timeout: 180_000 }, async () => {
      await diagnosing(`fallback ${expect} dashboard`, () => pages, () => [server], async () => {
        const topic = `metrics/fallback-${expect}`;
        await publish(server.url, topic, { type: 'put', key: 'cpu', data: { value: 12, unit: '%' } });
        const page = await openPage(browser, demoUrl(server, 'dashboard', { topic }), { label: `dashboard-${expect}` });
        pages.push(page);
        await waitForTransport(page, expect);
        assert.equal(await page.textContent('[data-testid=transport] .text'), expect);
        await waitForMetric(page, 'cpu', 12);
        // Live changes, after the snapshot.
        for (const value of [13, 14.5, 99]) {
          await publish(server.url, topic, { type: 'put', key: 'cpu', data: { value, unit: '%' } });
          await waitForMetric(page, 'cpu', value);
        }
        await publish(server.url, topic, { type: 'put', key: 'disk', data: { value: 70, unit: '%' } });
        await waitForMetric(page, 'disk', 70);
        assert.equal(await page.textContent('[data-testid=transport] .text'), expect, 'still on the same transport');
        const log = await page.evaluate(() => window.__tidings.statusLog);
        assert.ok(!log.some((c) => c.status === 'live' && disabled.includes(c.transport)), `never live on a disabled transport: ${JSON.stringify(log)}`);
        await screenshot(page, `fallback-${expect}-dashboard`);
      });
    });

    test(`the chat receives over ${expect}, shows "${expect}", and its messages get through`, { timeout: 180_000 }, async () => {
      await diagnosing(`fallback ${expect} chat`, () => pages, () => [server], async () => {
        const room = `fallback-${expect}`;
        await publish(server.url, `chat/${room}`, { data: { name: 'Old', text: 'from before', sender: 'old' } });
        const page = await openPage(browser, demoUrl(server, 'chat', { room, name: 'Fay' }), { label: `chat-${expect}`, viewport: PHONE, mobile: true });
        pages.push(page);
        await waitForTransport(page, expect);
        await waitForMessages(page, 1);
        await publish(server.url, `chat/${room}`, { data: { name: 'Gus', text: 'from outside', sender: 'gus' } });
        await waitForMessages(page, 2);
        // Sent in a quick row: over HTTP too they are stored in the order sent.
        const mine = [`sent over ${expect}`, 'second', 'third', 'fourth'];
        for (const text of mine) {
          await page.fill('#text', text);
          await page.press('#text', 'Enter');
        }
        await waitForMessages(page, 2 + mine.length);
        const seen = await messagesOn(page);
        assert.deepEqual(seen.map((m) => [m.offset, m.author, m.text]),
          [[1, 'Old', 'from before'], [2, 'Gus', 'from outside'], ...mine.map((text, i) => [3 + i, 'Fay', text])]);
        // No WebSocket to publish on, so the page published over HTTP.
        assert.ok(page.requests.some((r) => r.method === 'POST' && r.url.includes('/v1/events')), 'published with POST /v1/events');
        assert.equal(await page.textContent('[data-testid=transport] .text'), expect);
        await screenshot(page, `fallback-${expect}-chat`);
      });
    });
  });
}
