// The live dashboard: a publish shows within a second, the feeder script fills it, it fits a phone.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  DESKTOP, PHONE, TidingsServer, WAIT, demoUrl, diagnosing, launchBrowser, openPage, publish, repoRoot, screenshot,
  waitForMetric, waitForTransport,
} from '../test-harness.mjs';

let server;
let browser;
const pages = [];

before(async () => {
  server = await TidingsServer.start({ name: 'dashboard', store: 'memory' });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.close();
});

/** Runs examples/feed-dashboard.mjs to its end; resolves with its output. */
function feed(...args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'examples/feed-dashboard.mjs'), '--url', server.url, ...args],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`feed-dashboard.mjs ended with ${signal || code}:\n${out}`));
    });
  });
}

test('the dashboard shows a publish within 1 s, in the table, the chart and the last-update indicator', { timeout: 180_000 }, async (t) => {
  await diagnosing('dashboard latency', () => pages, () => [server], async () => {
    const topic = `metrics/latency-${Date.now().toString(36)}`;
    await publish(server.url, topic, [
      { type: 'put', key: 'cpu', data: { value: 41.5, unit: '%' } },
      { type: 'put', key: 'memory', data: { value: 2048, unit: 'MiB' } },
    ]);
    const page = await openPage(browser, demoUrl(server, 'dashboard', { topic }), { label: 'dashboard' });
    pages.push(page);
    await waitForTransport(page, 'ws');
    await waitForMetric(page, 'cpu', 41.5);
    await waitForMetric(page, 'memory', 2048);
    assert.equal(await page.textContent('[data-testid=topic]'), topic);

    // Measured in the page: from just before the publish request to the frame that shows the new value.
    const samples = await page.evaluate(async (topic) => {
      const tbody = document.querySelector('[data-testid=metrics] tbody');
      const shown = (value) => new Promise((resolve) => {
        const done = () => document.querySelector('tr[data-key="probe"] [data-testid=value]')?.dataset.raw === JSON.stringify(value);
        const finish = () => requestAnimationFrame(() => resolve(performance.now()));
        const observer = new MutationObserver(() => {
          if (done()) {
            observer.disconnect();
            finish();
          }
        });
        observer.observe(tbody, { subtree: true, childList: true, attributes: true, characterData: true });
        setTimeout(() => {
          observer.disconnect();
          resolve(Infinity);
        }, 10_000);
      });
      const out = [];
      for (let i = 0; i <= 5; i++) {
        const value = Math.round(Math.random() * 1e6) / 100 + i; // a value not shown before
        const rendered = shown(value);
        const start = performance.now();
        const res = await fetch(`/v1/events?topic=${encodeURIComponent(topic)}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ type: 'put', key: 'probe', data: { value, unit: 'ms' } }),
        });
        if (res.status !== 201) throw new Error(`publish: ${res.status} ${await res.text()}`);
        out.push((await rendered) - start);
        await new Promise((r) => setTimeout(r, 150));
      }
      return out;
    }, topic);
    t.diagnostic(`publish to render, ms (first one adds the row): ${samples.map((s) => s.toFixed(1)).join(', ')}`);
    for (const ms of samples) assert.ok(ms < 1000, `every publish shows within 1 s: ${samples.join(', ')}`);

    // The chart follows the selected metric: pick "probe" and it shows its last value and a line.
    await page.click('tr[data-key="probe"]');
    await page.waitForFunction(() => document.querySelector('[data-testid=chart-metric]').textContent === 'probe');
    const last = await page.$eval('tr[data-key="probe"] [data-testid=value]', (el) => el.textContent);
    await page.waitForFunction((v) => document.querySelector('[data-testid=chart-value]').textContent === v, last);
    assert.equal(await page.locator('[data-testid=chart] svg path.line').count(), 1, 'a line in the chart');
    assert.match(new URL(page.url()).search, /metric=probe/, 'the chosen metric is in the address');
    assert.match(await page.textContent('[data-testid=last-update]'), /^updated (just now|\d+ s ago)$/);
    assert.equal(await page.textContent('[data-testid=count]'), '(3)');
    await screenshot(page, 'dashboard-latency');
  });
});

test('the feeder fills the dashboard, on a desktop and on a phone', { timeout: 240_000 }, async () => {
  await diagnosing('dashboard feeder', () => pages, () => [server], async () => {
    const topic = `metrics/feed-${Date.now().toString(36)}`;
    const desktop = await openPage(browser, demoUrl(server, 'dashboard', { topic }), { label: 'desktop', viewport: DESKTOP });
    const phone = await openPage(browser, demoUrl(server, 'dashboard', { topic }), { label: 'phone', viewport: PHONE, mobile: true });
    pages.push(desktop, phone);
    await waitForTransport(desktop, 'ws');
    await waitForTransport(phone, 'ws');
    assert.equal(await desktop.locator('[data-testid=empty]').isVisible(), true, 'an empty topic says how to feed it');

    const out = await feed('--topic', topic, '--rate', '10', '--count', '40');
    assert.match(out, /done: 40 publishes/);
    const state = await (await fetch(`${server.url}/v1/state?topic=${encodeURIComponent(topic)}`)).json();
    assert.equal(state.entries.length, 7, 'the feeder sets seven metrics');
    for (const page of [desktop, phone]) {
      for (const e of state.entries) await waitForMetric(page, e.key, e.data.value, WAIT);
      assert.equal(await page.locator('[data-testid=metrics] tbody tr').count(), 7);
      assert.equal(await page.locator('[data-testid=empty]').isVisible(), false);
      assert.equal(await page.locator('[data-testid=chart] svg path.line').count(), 1, 'the chart draws the first metric');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
      assert.ok(overflow <= 0, `${page.label}: no horizontal overflow (${overflow}px)`);
    }
    await screenshot(desktop, 'dashboard-desktop');
    await screenshot(phone, 'dashboard-phone');
  });
});
