#!/usr/bin/env node
// Feeds the live dashboard: publishes random-walk metrics to a topic over HTTP (POST /v1/events), as
// `put` events keyed by metric name with data {value, unit}.
//
//   node examples/feed-dashboard.mjs --url http://127.0.0.1:7070 [--topic metrics/demo] [--rate 4]
//        [--count N] [--token TOKEN]
//
// --rate is publishes per second (each one a batch of 1-3 metrics), --count stops after N publishes.
// Needs Node.js 20 or newer (global fetch); no npm packages.
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    url: { type: 'string', default: process.env.TIDINGS_URL || 'http://127.0.0.1:7070' },
    topic: { type: 'string', default: 'metrics/demo' },
    rate: { type: 'string', default: '4' },
    count: { type: 'string' },
    token: { type: 'string', default: process.env.TIDINGS_TOKEN },
    help: { type: 'boolean', short: 'h' },
  },
});
if (opts.help) {
  console.log('usage: node examples/feed-dashboard.mjs --url http://127.0.0.1:7070 [--topic metrics/demo] [--rate 4] [--count N] [--token T]');
  process.exit(0);
}
const rate = Number(opts.rate);
const count = opts.count === undefined ? Infinity : Number(opts.count);
if (!(rate > 0) || !(count > 0)) {
  console.error('--rate and --count must be positive numbers');
  process.exit(2);
}
const endpoint = new URL(`/v1/events?topic=${encodeURIComponent(opts.topic)}`, opts.url);

// name: [start, min, max, step, unit, decimals]
const METRICS = {
  cpu: [35, 0, 100, 6, '%', 1],
  memory: [2150, 1024, 4096, 60, 'MiB', 0],
  requests: [420, 0, 2000, 45, 'req/s', 0],
  latency_p99: [120, 20, 900, 25, 'ms', 0],
  errors: [2, 0, 50, 1.5, '/min', 0],
  queue_depth: [12, 0, 500, 6, '', 0],
  temperature: [54, 30, 95, 0.8, '°C', 1],
};
const current = Object.fromEntries(Object.entries(METRICS).map(([k, [start]]) => [k, start]));
const names = Object.keys(METRICS);

function next(name) {
  const [, min, max, step, , decimals] = METRICS[name];
  // A random walk that leans back towards the middle of its range.
  const mid = (min + max) / 2;
  let v = current[name] + (Math.random() - 0.5) * 2 * step + (mid - current[name]) * 0.01;
  v = Math.min(max, Math.max(min, v));
  current[name] = v;
  return Number(v.toFixed(decimals));
}

function batch() {
  const n = 1 + Math.floor(Math.random() * 3);
  const picked = new Set();
  while (picked.size < n) picked.add(names[Math.floor(Math.random() * names.length)]);
  return [...picked].map((name) => ({ type: 'put', key: name, data: { value: next(name), unit: METRICS[name][4] } }));
}

const headers = { 'content-type': 'application/json' };
if (opts.token) headers.authorization = `Bearer ${opts.token}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let sent = 0;
let failures = 0;
let stopping = false;
process.on('SIGINT', () => { stopping = true; });
process.on('SIGTERM', () => { stopping = true; });

console.log(`feeding ${opts.topic} at ${endpoint.origin}, ${rate} publishes/s` + (count < Infinity ? `, ${count} in all` : '') + ' (Ctrl-C stops)');
// The first publish sets every metric, so that a fresh dashboard has them all at once.
let events = names.map((name) => ({ type: 'put', key: name, data: { value: next(name), unit: METRICS[name][4] } }));
const interval = 1000 / rate;
let due = Date.now();
let lastReport = Date.now();
while (!stopping && sent < count) {
  try {
    const res = await fetch(endpoint, { method: 'POST', headers, body: JSON.stringify(events) });
    if (!res.ok) {
      const body = await res.text();
      const retry = Number(res.headers.get('retry-after'));
      throw Object.assign(new Error(`HTTP ${res.status} ${body.slice(0, 200)}`), { retry: retry > 0 ? retry * 1000 : 0, fatal: res.status < 500 && res.status !== 429 });
    }
    sent++;
    failures = 0;
    events = batch();
  } catch (e) {
    if (e.fatal) {
      console.error(`refused: ${e.message}`);
      process.exit(1);
    }
    failures++;
    const wait = e.retry || Math.min(10_000, 250 * 2 ** Math.min(failures, 6));
    console.error(`publish failed (${e.cause?.code || e.message}); retrying in ${(wait / 1000).toFixed(1)} s`);
    await sleep(wait);
    due = Date.now();
    continue;
  }
  if (Date.now() - lastReport >= 5000) {
    lastReport = Date.now();
    console.log(`${sent} publishes; ` + names.map((n) => `${n}=${current[n].toFixed(METRICS[n][5])}`).join(' '));
  }
  due += interval;
  const wait = due - Date.now();
  if (wait > 0) await sleep(wait);
  else due = Date.now();
}
console.log(`done: ${sent} publishes`);
