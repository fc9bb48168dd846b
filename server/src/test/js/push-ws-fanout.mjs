// For SlowConsumerTest: many WebSocket subscribers (the `ws` package) on one topic, each checking
// that it receives every event after its start in offset order, until an event of type "end".
//
//   node push-ws-fanout.mjs <ws-url> <topic> <connections> [since]
//
// Prints {"ready":N} once every connection is subscribed; then, every 20 ms while it changes,
// {"progress":<lowest offset every unfinished connection has reached>} (so that a publisher can stay
// within what the subscribers absorb on a loaded machine); then {"done":true,"results":[...]} when
// every connection has seen the "end" event (or has failed), one result per connection:
// {"i","start","received","last","ok","error"?}. A connection is ok when it saw offsets
// start+1 .. last with no gap, duplicate or reordering, and was not closed before the end.
import WebSocket from 'ws';

const [url, topic, countText, since] = process.argv.slice(2);
const count = Number(countText);
const conns = [];
let ready = 0;
let finished = 0;

function offsetOf(cursor) {
  return Number(cursor.slice(cursor.lastIndexOf('.') + 1));
}

let reported = null;
const progress = setInterval(() => {
  if (ready < count) return;
  const open = conns.filter((c) => !c.finished);
  if (open.length === 0) return;
  const min = Math.min(...open.map((c) => c.last ?? c.start));
  if (min !== reported) {
    reported = min;
    console.log(JSON.stringify({ progress: min }));
  }
}, 20);

function finish(c, error) {
  if (c.finished) return;
  c.finished = true;
  if (error && !c.error) c.error = error;
  finished++;
  if (finished === count) {
    clearInterval(progress);
    const results = conns.map((x) => ({
      i: x.i, start: x.start, received: x.received, last: x.last, ok: !x.error, ...(x.error ? { error: x.error } : {}),
    }));
    console.log(JSON.stringify({ done: true, results }));
    for (const x of conns) x.socket.terminate();
    setTimeout(() => process.exit(0), 50);
  }
}

for (let i = 0; i < count; i++) {
  const c = { i, start: null, expected: null, received: 0, last: null, error: null, finished: false };
  conns.push(c);
  const socket = new WebSocket(url, 'tidings.v1');
  c.socket = socket;
  socket.on('open', () => {
    socket.send(JSON.stringify({ op: 'subscribe', id: i, topic, ...(since ? { since } : {}) }));
  });
  socket.on('message', (data, isBinary) => {
    if (c.finished) return;
    if (isBinary) { finish(c, 'binary frame'); return; }
    const m = JSON.parse(data.toString());
    if (m.op === 'subscribed') {
      c.start = offsetOf(m.cursor);
      c.expected = c.start + 1;
      ready++;
      if (ready === count) console.log(JSON.stringify({ ready }));
    } else if (m.op === 'event') {
      if (m.topic !== topic) { finish(c, `event of another topic: ${m.topic}`); return; }
      if (m.offset !== c.expected) { finish(c, `expected offset ${c.expected}, got ${m.offset}`); return; }
      c.expected++;
      c.received++;
      c.last = m.offset;
      if (m.type === 'end') finish(c, null);
    } else {
      finish(c, `unexpected message ${data.toString().slice(0, 200)}`);
    }
  });
  socket.on('close', (code, reason) => finish(c, `closed with ${code} ${reason}`));
  socket.on('error', (e) => finish(c, `error ${e.message}`));
}
