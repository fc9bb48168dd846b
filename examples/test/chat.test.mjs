// The chat page in two browser contexts (two people, one on a phone-sized screen) talking in one room.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  DESKTOP, PHONE, TidingsServer, WAIT, demoUrl, diagnosing, launchBrowser, messagesOn, openPage, publish, screenshot,
  waitForMessages, waitForTransport,
} from '../test-harness.mjs';

let server;
let browser;
const pages = [];

before(async () => {
  server = await TidingsServer.start({ name: 'chat', store: 'memory' });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.close();
});

test('two people chat in one room: each sees the history and the other\'s messages, in order, with name and time', { timeout: 240_000 }, async () => {
  const title = 'chat two contexts';
  await diagnosing(title, () => pages, () => [server], async () => {
    const room = `room-${Date.now().toString(36)}`;
    const topic = `chat/${room}`;
    // History from before either joined.
    await publish(server.url, topic, [
      { data: { name: 'Carol', text: 'first, before anyone came', sender: 'carol' } },
      { data: { name: 'Carol', text: 'second, still alone', sender: 'carol' } },
    ]);

    // Ann answers the name prompt; Bob (on a phone) comes with ?name=.
    const ann = await openPage(browser, demoUrl(server, 'chat', { room }), { label: 'ann', viewport: DESKTOP });
    pages.push(ann);
    await ann.locator('[data-testid=name-dialog]').waitFor({ state: 'visible' });
    await ann.fill('#name', 'Ann');
    await ann.click('[data-testid=name-form] button');
    await ann.locator('[data-testid=name-dialog]').waitFor({ state: 'hidden' });
    const bob = await openPage(browser, demoUrl(server, 'chat', { room, name: 'Bob' }), { label: 'bob', viewport: PHONE, mobile: true });
    pages.push(bob);
    assert.equal(await bob.locator('[data-testid=name-dialog]').isVisible(), false, 'no prompt when ?name= is given');

    for (const page of [ann, bob]) {
      await waitForTransport(page, 'ws');
      assert.equal(await page.textContent('[data-testid=room]'), room);
      await waitForMessages(page, 2);
    }
    const history = await messagesOn(ann);
    assert.deepEqual(history.map((m) => [m.author, m.text]),
      [['Carol', 'first, before anyone came'], ['Carol', 'second, still alone']], 'history on join');

    // A conversation: turns, then both typing at once, then a burst from one side.
    const sent = { Ann: [], Bob: [] };
    const say = async (page, who, text) => {
      sent[who].push(text);
      await page.fill('#text', text);
      await page.press('#text', 'Enter');
    };
    await say(ann, 'Ann', 'hi Bob');
    await waitForMessages(bob, 3);
    await say(bob, 'Bob', 'hi Ann, from my phone');
    await waitForMessages(ann, 4);
    await say(ann, 'Ann', 'how are you?');
    await say(bob, 'Bob', 'fine — and you? ✓ ünïcödé');
    for (let i = 1; i <= 5; i++) await say(ann, 'Ann', `burst ${i}`);
    for (let i = 1; i <= 3; i++) await say(bob, 'Bob', `bob burst ${i}`);
    const total = 2 + sent.Ann.length + sent.Bob.length;
    await waitForMessages(ann, total);
    await waitForMessages(bob, total);

    const seenByAnn = await messagesOn(ann);
    const seenByBob = await messagesOn(bob);
    assert.equal(seenByAnn.length, total, `Ann sees each message once: ${JSON.stringify(seenByAnn)}`);
    const shared = (list) => list.map(({ mine, ...m }) => m);
    assert.deepEqual(shared(seenByBob), shared(seenByAnn), 'both see the same messages in the same order');
    assert.deepEqual(seenByAnn.map((m) => m.offset), Array.from({ length: total }, (_, i) => i + 1), 'in offset order, none missing');
    for (const who of ['Ann', 'Bob']) {
      assert.deepEqual(seenByAnn.filter((m) => m.author === who).map((m) => m.text), sent[who], `${who}'s messages in the order sent`);
    }
    for (const m of seenByAnn) {
      assert.ok(!Number.isNaN(Date.parse(m.datetime)), `a time on every message: ${JSON.stringify(m)}`);
      assert.match(m.time, /\d/, 'a time shown');
    }
    // Own messages are marked as such on each side.
    assert.deepEqual(seenByAnn.filter((m) => m.mine).map((m) => m.author), sent.Ann.map(() => 'Ann'));
    assert.deepEqual(seenByBob.filter((m) => m.mine).map((m) => m.author), sent.Bob.map(() => 'Bob'));
    // Nothing left pending in the outboxes.
    for (const page of [ann, bob]) {
      await page.waitForFunction(() => document.querySelectorAll('[data-testid=pending]').length === 0, null, { timeout: WAIT });
    }

    // The messages went over the open WebSocket, not over HTTP.
    for (const page of [ann, bob]) {
      const posts = page.requests.filter((r) => r.method === 'POST' && r.url.includes('/v1/events'));
      assert.deepEqual(posts, [], `${page.label} published over the WebSocket`);
      assert.equal(await page.textContent('[data-testid=transport] .text'), 'ws');
    }

    // A phone-sized screen needs no sideways scrolling of the page.
    // A phone-sized screen: no sideways scrolling, and the room, the newest message and the composer in view.
    const fit = await bob.evaluate(() => {
      const inView = (el) => {
        const r = el.getBoundingClientRect();
        return r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth;
      };
      const all = document.querySelectorAll('[data-testid=message]');
      return {
        overflow: document.documentElement.scrollWidth - innerWidth,
        room: inView(document.querySelector('[data-testid=room]')),
        last: inView(all[all.length - 1]),
        composer: inView(document.querySelector('[data-testid=composer]')),
      };
    });
    assert.deepEqual(fit, { overflow: 0, room: true, last: true, composer: true }, 'the chat fits a phone screen');
    await screenshot(ann, 'chat-desktop');
    await screenshot(bob, 'chat-phone');
  });
});

test('who is typing shows on the other side', { timeout: 120_000 }, async () => {
  await diagnosing('chat typing', () => pages, () => [server], async () => {
    const room = `typing-${Date.now().toString(36)}`;
    const a = await openPage(browser, demoUrl(server, 'chat', { room, name: 'Dora' }), { label: 'dora' });
    const b = await openPage(browser, demoUrl(server, 'chat', { room, name: 'Eve' }), { label: 'eve', viewport: PHONE, mobile: true });
    pages.push(a, b);
    await waitForTransport(a, 'ws');
    await waitForTransport(b, 'ws');
    await a.locator('#text').pressSequentially('hello th', { delay: 30 });
    await b.waitForFunction(() => document.querySelector('[data-testid=typing]').textContent.includes('Dora is typing'), null, { timeout: WAIT });
    assert.equal(await a.textContent('[data-testid=typing]'), '', 'not shown to the one typing');
  });
});
