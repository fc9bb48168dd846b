// A webhook receiver for the server's tests: verifies every request with the official
// `standardwebhooks` package and prints one JSON line per request it gets.
//
// Prints {"ready":true,"port":N} once listening on 127.0.0.1. Then:
//   POST /control/<hook>  {"secrets":["whsec_..."], "status":500, "failEvery":2, "retryAfter":3,
//                          "redirect":"http://...", "times":n}   how to answer that hook from now on
//   POST /hook/<hook>     what Tidings calls; answered 204 unless told otherwise
// Each request prints {"hook","id","timestamp","verified","error"?,"answered","events":[[topic,offset,type],...]}.
import http from 'node:http';
import { Webhook } from 'standardwebhooks';

const hooks = new Map(); // hook -> {secrets, status, failEvery, retryAfter, redirect, times, seen}

function settings(name) {
  if (!hooks.has(name)) hooks.set(name, { secrets: [], seen: 0 });
  return hooks.get(name);
}

function verify(secrets, body, headers) {
  let last = 'no secret';
  for (const secret of secrets) {
    try {
      new Webhook(secret).verify(body, headers);
      return null;
    } catch (e) {
      last = String(e.message || e);
    }
  }
  return last;
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const [, kind, name] = req.url.split('/');
    if (kind === 'control') {
      Object.assign(settings(name), JSON.parse(body));
      res.writeHead(204).end();
      return;
    }
    if (kind !== 'hook' || req.method !== 'POST') {
      res.writeHead(404).end();
      return;
    }
    const s = settings(name);
    s.seen++;
    const headers = {
      'webhook-id': req.headers['webhook-id'],
      'webhook-timestamp': req.headers['webhook-timestamp'],
      'webhook-signature': req.headers['webhook-signature'],
    };
    const error = verify(s.secrets, body, headers);
    let events = [];
    try {
      events = JSON.parse(body).events.map((e) => [e.topic, e.offset ?? null, e.type, e.cursor]);
    } catch (e) {
      events = null;
    }
    let status = 204;
    const extra = {};
    const active = s.times === undefined || s.times > 0;
    if (active && s.redirect) {
      status = 307;
      extra.location = s.redirect;
    } else if (active && s.status && (!s.failEvery || s.seen % s.failEvery === 0)) {
      status = s.status;
      if (s.retryAfter !== undefined) extra['retry-after'] = String(s.retryAfter);
    }
    if (status !== 204 && s.times !== undefined) s.times--;
    process.stdout.write(JSON.stringify({
      hook: name,
      id: headers['webhook-id'],
      timestamp: headers['webhook-timestamp'],
      userAgent: req.headers['user-agent'],
      contentType: req.headers['content-type'],
      verified: error === null,
      error: error ?? undefined,
      answered: status,
      events,
    }) + '\n');
    res.writeHead(status, extra).end(status === 204 ? undefined : 'answer ' + status);
  });
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ ready: true, port: server.address().port }) + '\n');
});
