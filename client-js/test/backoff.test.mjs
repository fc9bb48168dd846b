// backoffDelay: full jitter, random(0, min(cap, base * 2^attempt)).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay } from '../src/tidings.js';

test('backoffDelay stays within [0, min(cap, base * 2^attempt)] and reaches both ends', () => {
  const base = 500;
  const cap = 30000;
  for (let attempt = 0; attempt < 40; attempt++) {
    const ceiling = Math.min(cap, base * 2 ** attempt);
    assert.equal(backoffDelay(attempt, base, cap, () => 0), 0, `attempt ${attempt}: lowest`);
    const top = backoffDelay(attempt, base, cap, () => 0.999999);
    assert.ok(top <= ceiling && top >= ceiling - 1, `attempt ${attempt}: highest ${top}, ceiling ${ceiling}`);
    assert.equal(backoffDelay(attempt, base, cap, () => 0.5), Math.floor(ceiling / 2), `attempt ${attempt}: middle`);
    for (let i = 0; i < 50; i++) {
      const d = backoffDelay(attempt, base, cap);
      assert.ok(d >= 0 && d <= ceiling && Number.isInteger(d), `attempt ${attempt}: ${d} outside [0, ${ceiling}]`);
    }
  }
});

test('backoffDelay grows by doubling until the cap', () => {
  const half = (n) => backoffDelay(n, 100, 1000, () => 0.5);
  assert.deepEqual([0, 1, 2, 3, 4, 5, 100].map(half), [50, 100, 200, 400, 500, 500, 500]);
});

test('backoffDelay is spread: random draws are not all alike', () => {
  const draws = new Set();
  for (let i = 0; i < 100; i++) draws.add(backoffDelay(5, 500, 30000));
  assert.ok(draws.size > 50, `only ${draws.size} distinct delays in 100 draws`);
});

test('backoffDelay takes odd attempts in its stride', () => {
  assert.equal(backoffDelay(-3, 500, 30000, () => 0.5), 250);
  assert.equal(backoffDelay(10000, 500, 30000, () => 0.5), 15000);
});
