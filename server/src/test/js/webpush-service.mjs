// For the Web Push tests: a fake push service (RFC 8030) that checks what an application server
// sends it the way a browser's push service would, with code independent of Tidings: the body is
// decrypted by the `http_ece` package (RFC 8188 / RFC 8291), the VAPID header (RFC 8292) is checked
// with node:crypto.
//
//   node webpush-service.mjs
//
// Listens on 127.0.0.1 (a free port) and prints {"ready":true,"port":N}. Then:
//
//   POST /subscriptions/new      optional body {"applicationServerKey": <base64url>}
//     Makes a user agent key pair and auth secret, answers 201 with what a browser's
//     PushSubscription.toJSON() gives: {"endpoint":"http://127.0.0.1:N/push/<id>",
//     "expirationTime":null,"keys":{"p256dh","auth"}}. With an applicationServerKey, pushes must
//     be signed with that key (RFC 8292 section 4), as browsers' subscriptions are.
//
//   POST /push/<id>              what the application server calls
//     Checks Content-Encoding: aes128gcm, TTL (required), Urgency and Topic (when present), the
//     body (one aes128gcm record, decrypted with the subscription's private key and auth secret),
//     and Authorization: vapid t=<jwt>, k=<key> (ES256 signature by k, aud = the endpoint's origin,
//     exp in the future and at most 24 h ahead, sub a mailto: or https: URI). Answers 201 with a
//     Location when all is well, 413 for a body over 4096 bytes, 400 with the reasons otherwise,
//     and prints one line per push:
//       {"push":<id>,"ok":true|false,"error"?:<reasons>,"answered":<status>,"bytes":<body length>,
//        "plaintext":<decrypted UTF-8 or null>,"ttl","urgency","topic","contentType",
//        "vapid":{"aud","sub","exp"} or null}
//     "ok" says whether every check passed; "answered" is the status sent, which /control can change.
//
//   POST /control/<id>           {"status":410|404|413|429|500|..., "retryAfter"?: seconds,
//                                 "times"?: n, "overBytes"?: N}
//     The next n pushes to <id> (all of them without "times"; with "overBytes", only those whose
//     body is larger than N) are answered with that status (and Retry-After), after the same
//     checks. {"status":201} or {} lifts the control.
//
//   GET /messages/<id>           the lines recorded for <id>, as a JSON array
import http from 'node:http';
import { createECDH, createPublicKey, randomBytes, verify } from 'node:crypto';
import ece from 'http_ece';

const MAX_BODY = 4096; // what every push service must accept (RFC 8030 section 7.2)
const HEADER_BYTES = 86; // salt 16, rs 4, idlen 1, keyid 65 (RFC 8291 section 4)
const URGENCIES = new Set(['very-low', 'low', 'normal', 'high']);
const BASE64URL = /^[A-Za-z0-9_-]+$/;

const subscriptions = new Map(); // id -> { ecdh, auth, applicationServerKey, control, messages }
let port = 0;
let messageCount = 0;

function print(obj) {
  console.log(JSON.stringify(obj));
}

function send(res, status, body, headers = {}) {
  const json = typeof body !== 'string';
  res.writeHead(status, { 'Content-Type': json ? 'application/json' : 'text/plain; charset=utf-8', ...headers });
  res.end(json ? JSON.stringify(body) : body);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > 1 << 20) {
        reject(new Error('body over 1 MiB'));
        req.destroy();
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function newSubscription(body, res) {
  const options = body.length ? JSON.parse(body.toString('utf8')) : {};
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = randomBytes(16);
  const id = randomBytes(12).toString('base64url');
  subscriptions.set(id, { ecdh, auth, applicationServerKey: options.applicationServerKey ?? null, control: null, messages: [] });
  send(res, 201, {
    endpoint: `http://127.0.0.1:${port}/push/${id}`,
    expirationTime: null,
    keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') },
  });
}

function checkHeaders(headers, errors) {
  const encoding = (headers['content-encoding'] ?? '').trim().toLowerCase();
  if (encoding !== 'aes128gcm') {
    errors.push(`Content-Encoding must be exactly aes128gcm, got ${JSON.stringify(headers['content-encoding'] ?? null)}`);
  }
  if (!/^\d+$/.test(headers.ttl ?? '')) {
    errors.push(`TTL must be a number of seconds, got ${JSON.stringify(headers.ttl ?? null)}`);
  }
  if (headers.urgency !== undefined && !URGENCIES.has(headers.urgency)) {
    errors.push(`Urgency must be very-low, low, normal or high, got ${JSON.stringify(headers.urgency)}`);
  }
  if (headers.topic !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(headers.topic)) {
    errors.push(`Topic must be 1 to 32 characters of the base64url alphabet, got ${JSON.stringify(headers.topic)}`);
  }
}

// RFC 8291 section 4: one record, the sender's uncompressed public key as keyid, rs larger than the record.
function decrypt(sub, body) {
  if (body.length < HEADER_BYTES + 17) {
    throw new Error(`a body of ${body.length} bytes is too short for the aes128gcm header and one record`);
  }
  const rs = body.readUInt32BE(16);
  if (body[20] !== 65 || body[21] !== 0x04) {
    throw new Error(`keyid must be the sender's 65-byte uncompressed public key (idlen ${body[20]})`);
  }
  if (body.length - HEADER_BYTES >= rs) {
    throw new Error(`the record (${body.length - HEADER_BYTES} bytes) must be shorter than rs (${rs}): one record only`);
  }
  return ece.decrypt(body, { version: 'aes128gcm', privateKey: sub.ecdh, authSecret: sub.auth });
}

function b64json(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

// RFC 8292: Authorization: vapid t=<JWT>, k=<base64url uncompressed P-256 public key>.
function checkVapid(authorization, sub, origin, line) {
  const m = /^vapid\s+(.+)$/is.exec(authorization ?? '');
  if (!m) {
    throw new Error(`Authorization must be "vapid t=<jwt>, k=<key>", got ${JSON.stringify(authorization ?? null)}`);
  }
  const params = {};
  for (const p of m[1].split(',')) {
    const eq = p.indexOf('=');
    if (eq > 0) params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  const { t, k } = params;
  if (!t || !k) throw new Error('Authorization: vapid needs both t and k');
  const parts = t.split('.');
  if (parts.length !== 3 || !parts.every((x) => BASE64URL.test(x))) throw new Error('t is not a compact JWS');
  const header = b64json(parts[0]);
  if (header.alg !== 'ES256') throw new Error(`the JWT must be signed with ES256, not ${header.alg}`);
  if (header.typ !== undefined && header.typ !== 'JWT') throw new Error(`the JWT typ is ${header.typ}`);
  const key = BASE64URL.test(k) ? Buffer.from(k, 'base64url') : Buffer.alloc(0);
  if (key.length !== 65 || key[0] !== 0x04) throw new Error('k must be base64url of a 65-byte uncompressed P-256 point');
  const publicKey = createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: key.subarray(1, 33).toString('base64url'), y: key.subarray(33).toString('base64url') },
    format: 'jwk',
  });
  const claims = b64json(parts[1]);
  line.vapid = { aud: claims.aud ?? null, sub: claims.sub ?? null, exp: claims.exp ?? null };
  const signature = Buffer.from(parts[2], 'base64url');
  if (signature.length !== 64) throw new Error(`an ES256 JWS signature is 64 bytes (R || S), got ${signature.length}`);
  if (!verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature)) {
    throw new Error('the JWT signature does not verify with k');
  }
  if (sub.applicationServerKey && k !== sub.applicationServerKey) {
    throw new Error('k is not the applicationServerKey this subscription was made for');
  }
  if (claims.aud !== origin) throw new Error(`aud must be the endpoint's origin ${origin}, got ${JSON.stringify(claims.aud)}`);
  const now = Date.now() / 1000;
  if (!Number.isInteger(claims.exp)) throw new Error('exp must be a whole number of seconds');
  if (claims.exp <= now) throw new Error('the JWT has expired');
  if (claims.exp > now + 24 * 3600) throw new Error('exp is more than 24 hours ahead');
  if (typeof claims.sub !== 'string' || !/^(mailto:|https:)/.test(claims.sub)) {
    throw new Error(`sub must be a mailto: or https: URI, got ${JSON.stringify(claims.sub ?? null)}`);
  }
}

function push(id, req, body, res) {
  const sub = subscriptions.get(id);
  const h = req.headers;
  const line = {
    push: id, ok: false, answered: 0, bytes: body.length, plaintext: null,
    ttl: h.ttl ?? null, urgency: h.urgency ?? null, topic: h.topic ?? null, contentType: h['content-type'] ?? null, vapid: null,
  };
  if (!sub) {
    line.error = 'no such subscription';
    line.answered = 404;
    print(line);
    return send(res, 404, line.error);
  }
  const errors = [];
  checkHeaders(h, errors);
  try {
    line.plaintext = decrypt(sub, body).toString('utf8');
  } catch (e) {
    errors.push(`cannot decrypt: ${e.message}`);
  }
  try {
    checkVapid(h.authorization, sub, `http://127.0.0.1:${port}`, line);
  } catch (e) {
    errors.push(`VAPID: ${e.message}`);
  }
  line.ok = errors.length === 0;
  if (errors.length) line.error = errors.join('; ');

  let status = line.ok ? 201 : 400;
  let reason = line.error ?? 'Created';
  const headers = {};
  const c = sub.control;
  if (c && (c.overBytes === undefined || body.length > c.overBytes)) {
    status = c.status;
    reason = `answered ${c.status} as told`;
    if (c.retryAfter !== undefined) headers['Retry-After'] = String(c.retryAfter);
    if (--c.times <= 0) sub.control = null;
  } else if (body.length > MAX_BODY) {
    status = 413;
    reason = `a body of ${body.length} bytes is over ${MAX_BODY}`;
  }
  if (status === 201) headers.Location = `http://127.0.0.1:${port}/message/${++messageCount}`;
  line.answered = status;
  sub.messages.push(line);
  print(line);
  send(res, status, reason, headers);
}

function control(id, body, res) {
  const sub = subscriptions.get(id);
  if (!sub) return send(res, 404, 'no such subscription');
  const c = body.length ? JSON.parse(body.toString('utf8')) : {};
  sub.control = c.status === undefined || c.status === 201 ? null
    : { status: c.status, retryAfter: c.retryAfter, times: c.times ?? Infinity, overBytes: c.overBytes };
  send(res, 200, { id, control: sub.control && { ...sub.control, times: c.times ?? null } });
}

const server = http.createServer(async (req, res) => {
  try {
    const body = await readBody(req);
    const [, first, id, rest] = new URL(req.url, 'http://127.0.0.1').pathname.split('/');
    if (req.method === 'POST' && first === 'subscriptions' && id === 'new' && rest === undefined) return newSubscription(body, res);
    if (req.method === 'POST' && first === 'push' && id && rest === undefined) return push(id, req, body, res);
    if (req.method === 'POST' && first === 'control' && id && rest === undefined) return control(id, body, res);
    if (req.method === 'GET' && first === 'messages' && id && rest === undefined) {
      const sub = subscriptions.get(id);
      return sub ? send(res, 200, sub.messages) : send(res, 404, 'no such subscription');
    }
    send(res, 404, `no ${req.method} ${req.url} here`);
  } catch (e) {
    send(res, 500, String(e?.stack ?? e));
  }
});

server.listen(0, '127.0.0.1', () => {
  port = server.address().port;
  print({ ready: true, port });
});
