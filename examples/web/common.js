// What both demos share: client options taken from the page's query, and the connection pills.

const TRANSPORTS = ['ws', 'sse', 'longpoll', 'poll'];
const LABELS = { ws: 'WebSocket', sse: 'Server-Sent Events', longpoll: 'long polling', poll: 'polling' };

/**
 * Client options from the query string: `?transports=sse,longpoll` restricts (and orders) the transports
 * the client may use, to try each one by hand. Without it the client's own order applies.
 */
export function clientOptions(params) {
  const options = {};
  const wanted = (params.get('transports') || '').split(',').map((t) => t.trim()).filter((t) => TRANSPORTS.includes(t));
  if (wanted.length) options.transports = wanted;
  return options;
}

/**
 * Binds the `[data-testid=status]` and `[data-testid=transport]` pills inside `root` to a subscription's
 * status changes. The transport pill names the transport in use while live, and the one being tried
 * (dimmed) while connecting.
 */
export function connectionView(root) {
  const status = root.querySelector('[data-testid=status]');
  const transport = root.querySelector('[data-testid=transport]');
  const statusText = status.querySelector('.text');
  const transportText = transport.querySelector('.text');
  let last = { status: 'connecting', transport: null };
  const log = [];
  function show(change) {
    last = { ...last, ...change };
    log.push({ ...change, at: Date.now() });
    if (log.length > 200) log.shift();
    status.dataset.status = last.status;
    statusText.textContent = last.status;
    status.title = last.reason ? `${last.status} (previous connection: ${last.reason})` : last.status;
    const t = last.transport;
    transport.dataset.status = last.status;
    transport.dataset.transport = t || '';
    transportText.textContent = t || '—';
    transport.title = t ? `${last.status === 'live' ? 'using' : 'trying'} ${LABELS[t] || t}` : 'no transport yet';
  }
  show(last);
  log.length = 0;
  return {
    update: show,
    /** Every status change so far (for the tests and the curious: window.__tidings.statusLog). */
    log,
    get current() { return { ...last }; },
  };
}

/** A short "how long ago" for a timestamp in ms. */
export function ago(ms, now = Date.now()) {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 2) return 'just now';
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  return `${Math.floor(m / 60)} h ago`;
}

/** An id for idempotent publishing, also where crypto.randomUUID is missing (pages over plain http on a LAN). */
export function newId() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
