// For AdminPageTest: the admin page (/admin) in headless Chromium (playwright-core), against a server with
// auth configured, while this script makes traffic of its own (an SSE stream and a WebSocket subscribed to a
// topic, publishes to it).
//
//   node admin-page.mjs <base-url> <admin-key> <non-admin-key> <artifacts-dir>
//
// Prints one JSON line per step with what the page showed ({"step": ..., ...}); a step that fails prints
// {"step": ..., "error": ...} and the script exits 1. Screenshots: admin-page.png (desktop, with traffic),
// admin-page-refused.png (a token without the admin grant), admin-page-phone.png (a phone's viewport).
// Needs /usr/bin/chromium (CHROMIUM overrides).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { EventSource } from 'eventsource';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';

const [base, adminKey, userKey, artifacts] = process.argv.slice(2);
const WAIT = 30_000;
const TOPIC = 'admin/demo';
mkdirSync(artifacts, { recursive: true });

const print = (obj) => console.log(JSON.stringify(obj));
let step = 'launch';

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const closers = [];
const pageErrors = [];

async function newPage(options) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  return page;
}

// What the dashboard shows now.
function shown(page) {
  return page.evaluate((topic) => {
    const row = document.querySelector(`#topics tr[data-topic="${topic}"]`);
    const number = (id) => Number(document.getElementById(id).textContent.replace(/[^0-9.]/g, '') || NaN);
    return {
      status: document.getElementById('status').textContent,
      sse: number('sse'),
      ws: number('ws'),
      head: row ? Number(row.querySelector('.head').textContent.replace(/[^0-9]/g, '')) : null,
      subscribers: row ? Number(row.querySelector('.subscribers').textContent.replace(/[^0-9]/g, '')) : null,
      published: number('total-published'),
    };
  }, TOPIC);
}

async function until(page, predicate, what) {
  const deadline = Date.now() + WAIT;
  let last;
  while (Date.now() < deadline) {
    last = await shown(page);
    if (predicate(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: the page still showed ${JSON.stringify(last)}`);
}

async function signIn(page, token) {
  const response = await page.goto(new URL('/admin', base).toString());
  await page.waitForSelector('#login:not([hidden])', { timeout: WAIT });
  await page.fill('#token', token);
  await page.click('#login-form button[type=submit]');
  return response.status();
}

async function publish(n) {
  const events = Array.from({ length: n }, (_, i) => ({ data: { i } }));
  const r = await fetch(new URL(`/v1/events?topic=${encodeURIComponent(TOPIC)}`, base), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${adminKey}` },
    body: JSON.stringify(events),
  });
  if (r.status !== 201) throw new Error(`publish answered ${r.status}: ${await r.text()}`);
}

function subscribeSse() {
  return new Promise((resolve, reject) => {
    const es = new EventSource(new URL(`/v1/sse?topic=${encodeURIComponent(TOPIC)}`, base).toString(), {
      fetch: (input, init) => fetch(input, { ...init, headers: { ...init.headers, Authorization: `Bearer ${adminKey}` } }),
    });
    es.addEventListener('subscribed', () => resolve(es));
    es.onerror = (e) => reject(new Error(`SSE: ${e.message ?? 'error'}`));
    closers.push(() => es.close());
  });
}

function subscribeWs() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(new URL('/v1/ws', base).toString().replace(/^http/, 'ws'), 'tidings.v1', {
      headers: { Authorization: `Bearer ${adminKey}` },
    });
    ws.on('open', () => ws.send(JSON.stringify({ op: 'subscribe', id: 1, topic: TOPIC })));
    ws.on('message', (data) => {
      if (JSON.parse(data.toString()).op === 'subscribed') resolve(ws);
    });
    ws.on('error', reject);
    closers.push(() => ws.close());
  });
}

try {
  // A browser without a token: the page asks for one.
  step = 'login';
  const desktop = await newPage({ viewport: { width: 1280, height: 900 } });
  const firstStatus = (await desktop.goto(new URL('/admin', base).toString())).status();
  await desktop.waitForSelector('#login:not([hidden])', { timeout: WAIT });
  print({ step, status: firstStatus, login: await desktop.isVisible('#login'), dashboard: await desktop.isVisible('#dashboard') });

  step = 'connected';
  await desktop.fill('#token', adminKey);
  await desktop.click('#login-form button[type=submit]');
  await desktop.waitForSelector('#dashboard:not([hidden])', { timeout: WAIT });
  const before = await until(desktop, (s) => s.status === 'Live' && !Number.isNaN(s.sse), 'the dashboard goes live');
  const stored = await desktop.evaluate(() => sessionStorage.getItem('tidings-admin-token'));
  print({ step, ...before, tokenKept: stored === adminKey, login: await desktop.isVisible('#login') });

  // Traffic: an SSE stream and a WebSocket on one topic, then publishes.
  step = 'traffic';
  const [es, ws] = await Promise.all([subscribeSse(), subscribeWs()]);
  await publish(5);
  const busy = await until(desktop, (s) => s.sse >= before.sse + 1 && s.ws >= before.ws + 1 && s.head === 5
    && s.subscribers === 2, 'connections and the topic head');
  print({ step, ...busy });

  step = 'updated';
  for (let i = 0; i < 7; i++) {
    await publish(1);
    await new Promise((r) => setTimeout(r, 150));
  }
  const updated = await until(desktop, (s) => s.head === 12, 'the head after more publishes');
  // Let the charts collect a few seconds of traffic for the picture.
  await new Promise((r) => setTimeout(r, 2500));
  await desktop.screenshot({ path: join(artifacts, 'admin-page.png'), fullPage: true });
  print({ step, ...updated });

  step = 'reloaded';
  await desktop.reload();
  await desktop.waitForSelector('#dashboard:not([hidden])', { timeout: WAIT });
  const reloaded = await until(desktop, (s) => s.status === 'Live' && s.head === 12, 'the page after a reload');
  print({ step, ...reloaded, login: await desktop.isVisible('#login') });

  step = 'disconnected';
  es.close();
  ws.close();
  const quiet = await until(desktop, (s) => s.sse === before.sse && s.ws === before.ws && s.subscribers === 0,
    'the counts after the subscribers left');
  print({ step, ...quiet });

  // A token without the admin grant: refused, and the page says why.
  step = 'refused';
  const refused = await newPage({ viewport: { width: 1280, height: 900 } });
  await signIn(refused, userKey);
  await refused.waitForSelector('#error:not([hidden])', { timeout: WAIT });
  const message = await refused.textContent('#error');
  await refused.screenshot({ path: join(artifacts, 'admin-page-refused.png'), fullPage: true });
  print({ step, message, dashboard: await refused.isVisible('#dashboard'), status: await refused.textContent('#status') });

  // A phone: everything fits the width.
  step = 'phone';
  const phone = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  await signIn(phone, adminKey);
  await phone.waitForSelector('#dashboard:not([hidden])', { timeout: WAIT });
  await until(phone, (s) => s.status === 'Live' && s.head === 12, 'the phone dashboard');
  const fit = await phone.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, width: window.innerWidth }));
  await phone.screenshot({ path: join(artifacts, 'admin-page-phone.png'), fullPage: true });
  print({ step, ...fit });

  step = 'done';
  print({ step, pageErrors });
  for (const close of closers) close();
  await browser.close();
  process.exit(0);
} catch (e) {
  print({ step, error: String(e?.stack ?? e), pageErrors });
  for (const close of closers) {
    try {
      close();
    } catch {
      // already closed
    }
  }
  await browser.close().catch(() => {});
  process.exit(1);
}
