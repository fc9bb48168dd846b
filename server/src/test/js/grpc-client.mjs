// For GrpcNodeClientTest: the gRPC service through @grpc/grpc-js, with the messages loaded from the
// repository's own tidings.proto by @grpc/proto-loader (nothing generated ahead of time).
//
//   node grpc-client.mjs <proto-file> <host:port> <ops-api-key>
//
// The server lets anonymous callers subscribe to open/**, retains 10 events of open/trim/**, and
// knows <ops-api-key> (publish, subscribe and admin on everything). Runs each step in turn and
// prints one JSON line per step ({"step": ..., ...}); a step that fails prints {"step": ..., "error": ...}
// and the script exits 1.
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const [protoFile, target, opsKey] = process.argv.slice(2);
const WAIT = 30_000;
const definition = protoLoader.loadSync(protoFile, { longs: Number, enums: String, defaults: true, oneofs: true });
const proto = grpc.loadPackageDefinition(definition).tidings.v1;
const client = new proto.Tidings(target, grpc.credentials.createInsecure());
const subscribeMethod = definition['tidings.v1.Tidings'].Subscribe;

const print = (obj) => console.log(JSON.stringify(obj));
const ops = new grpc.Metadata();
ops.set('authorization', `Bearer ${opsKey}`);
const json = (value) => Buffer.from(JSON.stringify(value));

function unary(method, request, metadata = new grpc.Metadata()) {
  return new Promise((resolve, reject) => {
    client[method](request, metadata, { deadline: Date.now() + WAIT }, (err, reply) => (err ? reject(err) : resolve(reply)));
  });
}

function publish(topic, from, count, pad = '') {
  const events = [];
  for (let n = from; n < from + count; n++) {
    events.push({ data: json(pad ? { n, pad } : { n }) });
  }
  return unary('Publish', { topic, events }, ops);
}

/** A Subscribe call whose messages are queued; next() waits for the next one, end for the status. */
function subscribe(request, metadata = new grpc.Metadata()) {
  const call = client.Subscribe(request, metadata);
  const queue = [];
  const waiters = [];
  let status = null;
  let statusResolve;
  const ended = new Promise((resolve) => { statusResolve = resolve; });
  const deliver = () => {
    while (waiters.length && (queue.length || status)) {
      const w = waiters.shift();
      if (queue.length) {
        w.resolve(queue.shift());
      } else {
        w.reject(new Error(`the call ended: ${status.code} ${status.details}`));
      }
    }
  };
  call.on('data', (m) => { queue.push(m); deliver(); });
  call.on('error', (e) => { status = { code: e.code, details: e.details, metadata: e.metadata }; statusResolve(status); deliver(); });
  call.on('status', (s) => { if (!status && s.code === grpc.status.OK) { status = s; statusResolve(s); deliver(); } });
  const next = () => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no message within 30 s')), WAIT);
    waiters.push({ resolve: (m) => { clearTimeout(timer); resolve(m); }, reject: (e) => { clearTimeout(timer); reject(e); } });
    deliver();
  });
  const events = async (n) => {
    const out = [];
    while (out.length < n) {
      const m = await next();
      if (m.kind === 'event') {
        out.push(m.event);
      } else if (m.kind !== 'heartbeat') {
        throw new Error(`expected an event, got ${JSON.stringify(m)}`);
      }
    }
    return out;
  };
  return { call, next, events, ended, queue };
}

async function step(name, body) {
  const started = Date.now();
  try {
    print({ step: name, ...(await body()), millis: Date.now() - started });
  } catch (e) {
    print({ step: name, error: String(e && e.stack ? e.stack : e) });
    client.close();
    process.exit(1);
  }
}

const topic = `open/node-${process.pid}`;
let lastCursor;

await step('subscribe', async () => {
  await publish(topic, 1, 20);
  const s = subscribe({ topics: [{ topic, since: 'earliest' }] });
  const subscribed = await s.next();
  const replayed = await s.events(20);
  await publish(topic, 21, 5);
  const live = await s.events(5);
  s.call.cancel();
  const all = [...replayed, ...live];
  lastCursor = all[all.length - 1].cursor;
  return {
    kind: subscribed.kind,
    cursor: subscribed.subscribed.cursor,
    offsets: all.map((e) => e.offset),
    data: all.map((e) => JSON.parse(e.data.toString()).n),
    lastCursor,
  };
});

await step('resume', async () => {
  await publish(topic, 26, 5);
  const s = subscribe({ topics: [{ topic, since: lastCursor }] });
  const subscribed = await s.next();
  const events = await s.events(5);
  s.call.cancel();
  return { cursor: subscribed.subscribed.cursor, offsets: events.map((e) => e.offset) };
});

await step('reset', async () => {
  const t = `open/trim/node-${process.pid}`;
  const first = await unary('Publish', { topic: t, events: [
    { type: 'put', key: 'a', data: json(1) }, { type: 'put', key: 'b', data: json(2) }, { data: json('m') }] }, ops);
  const old = first.cursor;
  await publish(t, 1, 20);
  const deadline = Date.now() + WAIT;
  let expired = null;
  while (!expired) {
    try {
      await unary('Changes', { topic: t, since: old });
    } catch (e) {
      expired = e;
    }
    if (!expired && Date.now() > deadline) {
      throw new Error('retention did not trim');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const s = subscribe({ topics: [{ topic: t, since: old }] });
  const kinds = [];
  const messages = [];
  while (messages.length < 4) {
    const m = await s.next();
    if (m.kind !== 'heartbeat') {
      kinds.push(m.kind);
      messages.push(m);
    }
  }
  const later = await publish(t, 100, 1);
  const live = await s.events(1);
  s.call.cancel();
  return {
    expiredCode: expired.code,
    expiredErrorCode: expired.metadata.get('tidings-error-code')[0],
    old,
    kinds,
    reset: messages[1].reset,
    puts: messages.slice(2).map((m) => ({ key: m.event.key, type: m.event.type, cursor: m.event.cursor, data: m.event.data.toString() })),
    liveCursor: live[0].cursor,
    publishedCursor: later.cursor,
  };
});

await step('auth', async () => {
  const anonymous = subscribe({ topics: [{ topic: 'secret/a' }] });
  const refused = await anonymous.ended;
  const bad = new grpc.Metadata();
  bad.set('authorization', 'Bearer tk_not_a_key');
  const withBadKey = subscribe({ topics: [{ topic: topic }] }, bad);
  const rejected = await withBadKey.ended;
  return {
    anonymous: { code: refused.code, errorCode: refused.metadata.get('tidings-error-code')[0], messages: anonymous.queue.length },
    badKey: { code: rejected.code, errorCode: rejected.metadata.get('tidings-error-code')[0], messages: withBadKey.queue.length },
  };
});

await step('slow', async () => {
  const t = `open/slow-${process.pid}`;
  const total = 3000;
  const s = subscribe({ topics: [{ topic: t, since: 'now' }] });
  await s.next();
  // Stop reading: grpc-js stops taking data from the HTTP/2 stream, whose window then closes.
  s.call.pause();
  const pad = 'p'.repeat(1000);
  for (let from = 1; from <= total; from += 100) {
    await publish(t, from, 100, pad);
  }
  // Give the server time to fill the window and its queue, and to end the call.
  await new Promise((r) => setTimeout(r, 1500));
  s.call.resume();
  let timer;
  const status = await Promise.race([s.ended, new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('no end')), WAIT);
  })]);
  clearTimeout(timer);
  const first = s.queue.filter((m) => m.kind === 'event').map((m) => m.event);
  const resumeBin = status.metadata.get('tidings-resume-bin')[0];
  const resume = subscribeMethod.requestDeserialize(resumeBin);
  const again = subscribe(resume);
  const subscribed = await again.next();
  const rest = await again.events(total - first.length);
  again.call.cancel();
  const offsets = [...first, ...rest].map((e) => e.offset);
  return {
    code: status.code,
    errorCode: status.metadata.get('tidings-error-code')[0],
    resumeCursor: status.metadata.get('tidings-resume-cursor')[0],
    resumeSince: resume.topics[0].since,
    firstCount: first.length,
    lastDelivered: first.length ? first[first.length - 1].cursor : null,
    resumedAt: subscribed.subscribed.cursor,
    contiguous: offsets.every((o, i) => o === i + 1),
    count: offsets.length,
  };
});

client.close();
