// What the browser tests of the examples (test/*.test.mjs) share: a real Tidings server in a child process (started,
// stopped, killed and restarted on the same port and data directory), headless Chromium through
// playwright-core, and a folder for screenshots.
//
// Environment:
//   TIDINGS_SERVER_CMD  JSON array that starts the server, e.g. ["java","-cp","...","io.tidings.server.Main"];
//                       `serve --port P --data DIR ...` is appended. Default: java -jar server/target/tidings.jar
//   TIDINGS_ARTIFACTS   where screenshots and server logs go (default examples/test-artifacts)
//   CHROMIUM            the browser binary (default /usr/bin/chromium)
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const artifactsDir = resolve(process.env.TIDINGS_ARTIFACTS || join(repoRoot, 'examples/test-artifacts'));
mkdirSync(artifactsDir, { recursive: true });

/** Generous: two cores, other builds running at the same time. */
export const WAIT = 30_000;
const START_TIMEOUT = 120_000;
const LISTENING = /listening on (https?):\/\/([^ ]+):(\d+)/;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function serverCommand() {
  const raw = process.env.TIDINGS_SERVER_CMD;
  if (raw) {
    const cmd = JSON.parse(raw);
    if (!Array.isArray(cmd) || cmd.length === 0 || !cmd.every((s) => typeof s === 'string')) {
      throw new Error(`TIDINGS_SERVER_CMD must be a JSON array of strings, not ${raw}`);
    }
    return cmd;
  }
  const jar = join(repoRoot, 'server/target/tidings.jar');
  if (!existsSync(jar)) {
    throw new Error(`${jar} is missing: build it with ./mvnw -o -q package -DskipTests (or set TIDINGS_SERVER_CMD)`);
  }
  return ['java', '-jar', jar];
}

const live = new Set();
process.on('exit', () => {
  for (const s of live) s.killNow();
});

let serial = 0;

/**
 * A Tidings server in a child process, in a process group of its own (so that a kill reaches whatever
 * the command started). `config` is YAML text; `store` is `sqlite` (default, in `data`) or `memory`.
 */
export class TidingsServer {
  static async start({ name = 'server', config, store = 'sqlite', data, port = 0 } = {}) {
    const s = new TidingsServer(name, config, store, data ?? mkdtempSync(join(tmpdir(), 'tidings-examples-')));
    await s.#launch(port);
    await s.#servesThePages();
    return s;
  }

  constructor(name, config, store, data) {
    this.name = `${name}-${++serial}`;
    this.store = store;
    this.data = data;
    this.configFile = null;
    if (config) {
      this.configFile = join(data, 'tidings-test.yaml');
      writeFileSync(this.configFile, config);
    }
    this.output = [];
    this.runs = 0;
  }

  get url() {
    return `http://${this.host}:${this.port}`;
  }

  /** Starts (again) on `port`; a port still held by the previous process is retried for a while. */
  async #launch(port) {
    const deadline = Date.now() + START_TIMEOUT;
    for (;;) {
      try {
        await this.#spawn(port);
        return;
      } catch (e) {
        if (!/address already in use|BindException/i.test(e.message) || Date.now() > deadline) throw e;
        await sleep(500);
      }
    }
  }

  #spawn(port) {
    const args = ['serve', '--port', String(port), '--data', this.data];
    if (this.store === 'memory') args.push('--store', 'memory');
    if (this.configFile) args.push('--config', this.configFile);
    const [cmd, ...pre] = serverCommand();
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TIDINGS_')));
    const child = spawn(cmd, [...pre, ...args], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.runs++;
    live.add(this);
    const run = this.runs;
    this.output.push(`--- run ${run}: ${[cmd, ...pre.map((a) => (a.length > 200 ? `${a.slice(0, 200)}…` : a)), ...args].join(' ')}`);
    return new Promise((resolveStart, rejectStart) => {
      let started = false;
      const onLine = (line) => {
        this.output.push(line);
        const m = LISTENING.exec(line);
        if (m && !started) {
          started = true;
          this.host = m[2];
          this.port = Number(m[3]);
          clearTimeout(timer);
          resolveStart();
        }
      };
      for (const stream of [child.stdout, child.stderr]) {
        let buf = '';
        stream.setEncoding('utf8');
        stream.on('data', (chunk) => {
          buf += chunk;
          let i;
          while ((i = buf.indexOf('\n')) >= 0) {
            onLine(buf.slice(0, i));
            buf = buf.slice(i + 1);
          }
        });
      }
      this.exited = new Promise((r) => child.on('exit', (code, signal) => {
        live.delete(this);
        this.output.push(`--- run ${run} ended: ${signal || `exit ${code}`}`);
        this.saveLog();
        r({ code, signal });
        if (!started) {
          clearTimeout(timer);
          rejectStart(new Error(`tidings ended before listening (${signal || `exit ${code}`}):\n${this.output.slice(-40).join('\n')}`));
        }
      }));
      child.on('error', (e) => rejectStart(new Error(`cannot start ${cmd}: ${e.message}`)));
      const timer = setTimeout(() => {
        this.killNow();
        rejectStart(new Error(`tidings did not print its listening line within ${START_TIMEOUT} ms:\n${this.output.slice(-40).join('\n')}`));
      }, START_TIMEOUT);
    });
  }

  /** Fails at once, saying why, when this build does not serve the client or the pages. */
  async #servesThePages() {
    for (const path of ['/client/tidings.js', '/examples/chat/chat.js', '/examples/dashboard/dashboard.js']) {
      const res = await fetch(this.url + path);
      await res.arrayBuffer();
      if (res.status !== 200) {
        await this.close();
        throw new Error(`${this.url}${path} answered ${res.status}: this server does not serve the example pages and the client`
          + ' (client-js/src/tidings.js and examples/web/ on its classpath); rebuild it (./mvnw -q package -DskipTests)');
      }
    }
  }

  /** SIGTERM (a graceful shutdown), then SIGKILL if it has not ended within a minute. */
  async stop() {
    if (!live.has(this)) return;
    this.child.kill('SIGTERM');
    const done = await Promise.race([this.exited, sleep(60_000).then(() => null)]);
    if (!done) await this.kill();
  }

  /** SIGKILL to the whole process group, as `kill -9` does; waits for the end. */
  async kill() {
    if (!live.has(this)) return;
    this.killNow();
    await this.exited;
  }

  killNow() {
    try {
      process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  /** Starts again on the same port with the same data directory and configuration. */
  async restart() {
    await this.#launch(this.port);
  }

  saveLog() {
    try {
      writeFileSync(join(artifactsDir, `tidings-${this.name}.log`), this.output.join('\n') + '\n');
    } catch {
      // best effort
    }
  }

  async close() {
    await this.kill();
    this.saveLog();
  }
}

/** POST /v1/events; throws with the answer unless 201. */
export async function publish(base, topic, events) {
  const res = await fetch(`${base}/v1/events?topic=${encodeURIComponent(topic)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(events),
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`publish to ${topic}: ${res.status} ${text}`);
  return JSON.parse(text);
}

/** Headless Chromium with the flags this machine needs (no sandbox as root, no background traffic). */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    timeout: 120_000,
  });
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/**
 * A page in a fresh browser context (its own storage, as another person's browser would be), whose
 * console messages, page errors and requests are kept for assertions and failure messages.
 */
export async function openPage(browser, url, { label = 'page', viewport = DESKTOP, mobile = false } = {}) {
  const context = await browser.newContext({ viewport, isMobile: mobile, hasTouch: mobile, deviceScaleFactor: mobile ? 2 : 1 });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.log = [];
  page.requests = [];
  page.label = label;
  page.on('console', (m) => page.log.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => page.log.push(`[pageerror] ${e.stack || e.message}`));
  page.on('request', (r) => page.requests.push({ method: r.method(), url: r.url() }));
  page.on('requestfailed', (r) => page.log.push(`[requestfailed] ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
  await page.goto(url, { waitUntil: 'load' });
  return page;
}

/** The URL of one of the demos on the server, with query parameters. */
export function demoUrl(server, demo, query = {}) {
  const q = new URLSearchParams(query).toString();
  return `${server.url}/examples/${demo}/${q ? `?${q}` : ''}`;
}

/** A file name safe for any test title. */
export const slug = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80);

export async function screenshot(page, name) {
  const file = join(artifactsDir, `${slug(name)}.png`);
  await page.screenshot({ path: file, fullPage: false });
  return file;
}

/**
 * Runs `fn`; when it fails, takes a screenshot of each page and adds their console output and the
 * servers' last lines to the error.
 */
export async function diagnosing(title, pages, servers, fn) {
  try {
    return await fn();
  } catch (error) {
    const notes = [];
    for (const page of pages()) {
      if (!page || page.isClosed()) continue;
      try {
        notes.push(`screenshot: ${await screenshot(page, `${title}-${page.label}-failure`)}`);
      } catch (e) {
        notes.push(`no screenshot of ${page.label}: ${e.message}`);
      }
      try {
        const state = await page.evaluate(() => ({
          status: document.querySelector('[data-testid=status]')?.textContent,
          transport: document.querySelector('[data-testid=transport] .text')?.textContent,
          statusLog: window.__tidings?.statusLog,
        }));
        notes.push(`${page.label} shows: ${JSON.stringify(state)}`);
      } catch {
        // the page may be gone
      }
      notes.push(`${page.label} console:\n  ${page.log.slice(-40).join('\n  ') || '(nothing)'}`);
    }
    for (const s of servers()) {
      if (s) notes.push(`server ${s.name} (log in ${artifactsDir}):\n  ${s.output.slice(-15).join('\n  ')}`);
    }
    error.message += `\n\n${notes.join('\n')}`;
    throw error;
  }
}

/** Waits until the page shows `transport` in use and status live. */
export async function waitForTransport(page, transport, timeout = 60_000) {
  await page.waitForFunction((t) => {
    const pill = document.querySelector('[data-testid=transport]');
    const status = document.querySelector('[data-testid=status]');
    return pill?.dataset.transport === t && status?.dataset.status === 'live';
  }, transport, { timeout, polling: 100 });
}

// --- reading the pages ---------------------------------------------------------------------------------

/** The chat messages a page shows, in page order. */
export async function messagesOn(page) {
  return page.$$eval('[data-testid=messages] [data-testid=message]', (items) => items.map((li) => ({
    offset: Number(li.dataset.offset),
    author: li.querySelector('[data-testid=author]').textContent,
    text: li.querySelector('[data-testid=text]').textContent,
    time: li.querySelector('[data-testid=time]').textContent,
    datetime: li.querySelector('[data-testid=time]').getAttribute('datetime'),
    mine: li.classList.contains('mine'),
  })));
}

/** Waits until the chat page shows at least `count` messages. */
export async function waitForMessages(page, count, timeout = 60_000) {
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=messages] [data-testid=message]').length >= n,
    count, { timeout, polling: 100 });
}

/** Waits until the dashboard's table shows `value` (compared as JSON) for metric `key`. */
export async function waitForMetric(page, key, value, timeout = WAIT) {
  await page.waitForFunction(([k, v]) => {
    const cell = document.querySelector(`tr[data-key="${CSS.escape(k)}"] [data-testid=value]`);
    return cell?.dataset.raw === v;
  }, [key, JSON.stringify(value)], { timeout, polling: 50 });
}
