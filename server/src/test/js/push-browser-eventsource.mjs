// For NodeClientsTest: the browser's own EventSource, in headless Chromium driven by playwright-core,
// following a Tidings SSE stream and reconnecting by itself (with Last-Event-ID).
//
//   node push-browser-eventsource.mjs <url>
//
// Opens a page on the server's origin (its /healthz) and prints the same JSON lines as
// push-eventsource.mjs, one per happening, until killed. Needs /usr/bin/chromium (CHROMIUM overrides).
import { chromium } from 'playwright-core';

const [url] = process.argv.slice(2);
const target = new URL(url);
const print = (obj) => console.log(JSON.stringify(obj));

// The flags this machine needs (see the environment notes): no sandbox as root, no background traffic.
// Playwright gives the browser a fresh, empty profile of its own.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage();
await page.exposeFunction('report', (line) => console.log(line));
await page.goto(new URL('/healthz', target).toString());
await page.evaluate((path) => {
  const es = new EventSource(path);
  const send = (obj) => window.report(JSON.stringify(obj));
  es.addEventListener('open', () => send({ open: true }));
  es.addEventListener('subscribed', (e) => send({ subscribed: JSON.parse(e.data), id: e.lastEventId }));
  es.addEventListener('reset', (e) => send({ reset: JSON.parse(e.data), id: e.lastEventId }));
  es.onmessage = (e) => {
    const event = JSON.parse(e.data);
    send({ offset: event.offset, cursor: event.cursor, id: e.lastEventId, data: event.data });
  };
  es.onerror = () => send({ error: 'error', readyState: es.readyState });
}, target.pathname + target.search);
print({ browser: browser.version() });
process.on('SIGTERM', async () => { await browser.close(); process.exit(0); });
