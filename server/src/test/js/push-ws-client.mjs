// For NodeClientsTest: drives the WebSocket protocol end to end with the `ws` package.
//
//   node push-ws-client.mjs <ws-url> <topic>
//
// Runs a fixed conversation and prints one JSON line per step, {"step":<name>,"reply":<message>},
// then {"step":"events","events":[...]} with every event received, and finally the close:
// {"step":"close","code":<code>,"reason":<reason>}. Exits 0 once the server has closed.
import WebSocket from 'ws';

const [url, topic] = process.argv.slice(2);
const socket = new WebSocket(url, 'tidings.v1');
const events = [];
const waiting = [];
let closed = null;

function print(obj) {
  console.log(JSON.stringify(obj));
}

socket.on('message', (data, isBinary) => {
  const m = JSON.parse(isBinary ? Buffer.from(data).toString() : data.toString());
  if (m.op === 'event') {
    events.push(m);
  }
  for (let i = 0; i < waiting.length; i++) {
    if (waiting[i].match(m)) {
      const [w] = waiting.splice(i, 1);
      w.resolve(m);
      return;
    }
  }
});

const closedPromise = new Promise((resolve) => {
  socket.on('close', (code, reason) => {
    closed = { code, reason: reason.toString() };
    resolve(closed);
  });
});
socket.on('error', (e) => print({ step: 'socket-error', message: e.message }));

function waitFor(match, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 30000);
    waiting.push({ match, resolve: (m) => { clearTimeout(timer); resolve(m); } });
  });
}

async function call(step, request) {
  const reply = waitFor((m) => m.op !== 'event' && JSON.stringify(m.id) === JSON.stringify(request.id), `reply to ${step}`);
  socket.send(JSON.stringify(request));
  print({ step, reply: await reply });
}

async function until(predicate, what) {
  const deadline = Date.now() + 30000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

try {
  await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject); });
  print({ step: 'open', protocol: socket.protocol });
  await call('ping', { op: 'ping', id: 'p1' });
  await call('subscribe', { op: 'subscribe', id: 1, topic, since: 'earliest' });
  await call('publish', { op: 'publish', id: 2, topic, events: [{ id: 'e1', data: { a: 1 } }, { type: 'put', key: 'k', data: 2 }] });
  await until(() => events.length >= 2, 'two events');
  await call('publish-again', { op: 'publish', id: 3, topic, events: [{ id: 'e1', data: { a: 1 } }] });
  await call('subscribe-twice', { op: 'subscribe', id: 4, topic });
  await call('unsubscribe', { op: 'unsubscribe', id: 5, topic });
  await call('unsubscribe-twice', { op: 'unsubscribe', id: 6, topic });
  await call('unknown-op', { op: 'nope', id: 7 });
  await call('bad-topic', { op: 'subscribe', id: 8, topic: '/bad' });
  await call('bad-cursor', { op: 'subscribe', id: 9, topic: `${topic}-2`, since: 'garbage' });
  await call('bad-event', { op: 'publish', id: 10, topic, events: [{ type: 'put' }] });
  await call('auth', { op: 'auth', id: 11, token: 'token-1' });
  await call('publish-unsubscribed', { op: 'publish', id: 12, topic, events: [{ data: 'not delivered' }] });
  // A round trip after the publish: an event of the unsubscribed topic would have come before the pong.
  await call('ping-after', { op: 'ping', id: 13 });
  print({ step: 'events', events });
  socket.send('this is not JSON');
  const close = await Promise.race([closedPromise, new Promise((r) => setTimeout(() => r(null), 30000))]);
  print({ step: 'close', ...(close ?? { code: null }) });
  process.exit(0);
} catch (e) {
  print({ step: 'failed', message: e.message });
  process.exit(1);
}
