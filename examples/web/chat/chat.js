// Chat: each room is the topic `chat/<room>`. Joining subscribes from `earliest` (the history the server
// keeps, then live messages); sending publishes over the client's open WebSocket (over HTTP when it has
// none). Who is typing travels on `chat/<room>/typing`, followed from `now` only.
import { Tidings } from '/client/tidings.js';
import { clientOptions, connectionView, newId } from '../common.js';

const ROOM = /^[A-Za-z0-9_.:@-]{1,60}$/;
const DEFAULT_ROOMS = ['lobby', 'random', 'help'];
const KEEP = 500; // messages kept on the page; older ones scroll away
const TYPING_EVERY = 2500;
const TYPING_SHOWN = 4000;
const SEND_WAIT = 15_000;

const params = new URLSearchParams(location.search);
const $ = (sel) => document.querySelector(sel);
const store = {
  get: (k) => { try { return localStorage.getItem(k); } catch { return null; } },
  set: (k, v) => { try { localStorage.setItem(k, v); } catch { /* private mode */ } },
};
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short' });

const conn = connectionView($('[data-conn]'));
const client = new Tidings(location.origin, clientOptions(params));
// One id per browser marks our own messages (names may repeat).
let sender = store.get('tidings-chat-sender');
if (!sender) {
  sender = newId();
  store.set('tidings-chat-sender', sender);
}
let name = (params.get('name') || store.get('tidings-chat-name') || '').trim().slice(0, 40);

const list = $('[data-testid=messages]');
const outbox = $('[data-testid=outbox]');
const scroller = $('[data-testid=scroller]');
const historyState = $('[data-testid=history-state]');
const composer = $('[data-testid=composer]');
const input = composer.elements.text;
const sendButton = composer.querySelector('button');
const typingLine = $('[data-testid=typing]');

const debug = { client, sender, events: [], subscription: null, typing: null, room: null, topic: null, statusLog: conn.log };
window.__tidings = debug;

let room = null;
let topic = null;
let sub = null;
let typingSub = null;
let lastSeen = null; // the last rendered message, for grouping
const typers = new Map(); // sender -> {name, until}

// --- name --------------------------------------------------------------------------------------------

const dialog = $('[data-testid=name-dialog]');
const nameForm = $('[data-testid=name-form]');
function askName() {
  nameForm.elements.name.value = name;
  if (!dialog.open) dialog.showModal();
}
nameForm.addEventListener('submit', (e) => {
  const value = nameForm.elements.name.value.trim().slice(0, 40);
  if (!value) {
    e.preventDefault();
    return;
  }
  name = value;
  store.set('tidings-chat-name', name);
  showName();
});
dialog.addEventListener('cancel', (e) => {
  if (!name) e.preventDefault(); // a name is needed to chat
});
$('[data-testid=rename]').addEventListener('click', askName);
function showName() {
  $('[data-testid=me]').textContent = name || '…';
  input.disabled = !name;
  sendButton.disabled = !name;
  debug.name = name;
  if (name && !dialog.open) input.focus({ preventScroll: true });
}

// --- rooms -------------------------------------------------------------------------------------------

function knownRooms() {
  let recent = [];
  try { recent = JSON.parse(store.get('tidings-chat-rooms') || '[]'); } catch { /* ignore */ }
  return [...new Set([...DEFAULT_ROOMS, ...recent.filter((r) => ROOM.test(r))])];
}
function renderRooms() {
  const ul = $('[data-testid=rooms]');
  ul.replaceChildren(...knownRooms().map((r) => {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = `?room=${encodeURIComponent(r)}`;
    a.textContent = `# ${r}`;
    if (r === room) a.setAttribute('aria-current', 'page');
    a.addEventListener('click', (e) => {
      e.preventDefault();
      join(r);
    });
    li.append(a);
    return li;
  }));
  // On a phone the rooms are a sideways strip: bring the current one into view.
  const current = ul.querySelector('[aria-current]');
  const strip = ul.closest('.rooms');
  if (current && strip.scrollWidth > strip.clientWidth) strip.scrollLeft = Math.max(0, current.offsetLeft - strip.clientWidth / 2);
}
$('[data-testid=join-room]').addEventListener('submit', (e) => {
  e.preventDefault();
  const field = e.target.elements.room;
  const r = field.value.trim();
  if (!ROOM.test(r)) return;
  field.value = '';
  join(r);
});

function join(next) {
  if (next === room) return;
  sub?.close();
  typingSub?.close();
  room = next;
  topic = `chat/${room}`;
  debug.room = room;
  debug.topic = topic;
  debug.events = [];
  const url = new URL(location.href);
  url.searchParams.set('room', room);
  url.searchParams.delete('name');
  history.replaceState(null, '', url);
  document.title = `#${room} · Chat · Tidings`;
  $('[data-testid=room]').textContent = room;
  $('[data-testid=topic]').textContent = topic;
  const recent = knownRooms().filter((r) => !DEFAULT_ROOMS.includes(r) && r !== room);
  if (!DEFAULT_ROOMS.includes(room)) recent.unshift(room);
  store.set('tidings-chat-rooms', JSON.stringify(recent.slice(0, 8)));
  renderRooms();
  list.replaceChildren();
  outbox.replaceChildren();
  lastSeen = null;
  typers.clear();
  renderTyping();
  notice('Loading history…');

  sub = client.subscribe(topic, {
    since: 'earliest',
    onEvent: onMessage,
    onReset: (reset) => {
      // The server lost this room's history (a wiped store, or retention passed us by): start over.
      list.replaceChildren();
      lastSeen = null;
      notice(`The history of this room was reset (${reset.reason}); showing messages from here on.`);
    },
    onStatus: (change) => {
      conn.update(change);
      if (change.status === 'live' && list.childElementCount === 0 && historyState.dataset.kind === 'loading') {
        notice('No messages yet. Say hello!', 'empty');
      }
    },
    onError: (error) => notice(`Cannot follow ${topic}: ${error.message}`, 'error'),
  });
  debug.subscription = sub;
  typingSub = client.subscribe(`${topic}/typing`, { since: 'now', onEvent: onTyping });
  debug.typing = typingSub;
}

function notice(text, kind = 'loading') {
  historyState.textContent = text;
  historyState.dataset.kind = kind;
  historyState.hidden = false;
}

// --- messages ----------------------------------------------------------------------------------------

function nearBottom() {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
}
function toBottom() {
  scroller.scrollTop = scroller.scrollHeight;
}

function onMessage(event) {
  if (event.type !== 'message') return;
  debug.events.push(event);
  const data = event.data && typeof event.data === 'object' ? event.data : { text: String(event.data ?? '') };
  const stick = nearBottom();
  const at = new Date(event.time);
  const author = typeof data.name === 'string' && data.name ? data.name : 'anonymous';

  const li = document.createElement('li');
  li.className = 'msg';
  li.dataset.testid = 'message';
  li.dataset.offset = String(event.offset);
  if (event.id) li.dataset.id = event.id;
  if (data.sender === sender) li.classList.add('mine');
  // Consecutive messages of one author within five minutes share a header.
  if (lastSeen && lastSeen.sender === data.sender && lastSeen.author === author && at - lastSeen.at < 5 * 60_000) {
    li.classList.add('cont');
  }
  if (!lastSeen || lastSeen.at.toDateString() !== at.toDateString()) {
    const day = document.createElement('li');
    day.className = 'day';
    day.textContent = at.toDateString() === new Date().toDateString() ? 'Today' : dayFormat.format(at);
    list.append(day);
    li.classList.remove('cont');
  }
  li.innerHTML = '<div class="meta"><span class="author" data-testid="author"></span> <time data-testid="time"></time></div><p class="bubble" data-testid="text"></p>';
  li.querySelector('.author').textContent = author;
  const time = li.querySelector('time');
  time.dateTime = event.time;
  time.textContent = timeFormat.format(at);
  time.title = at.toLocaleString();
  li.querySelector('.bubble').textContent = typeof data.text === 'string' ? data.text : JSON.stringify(data.text);
  list.append(li);
  lastSeen = { sender: data.sender, author, at };

  while (list.querySelectorAll('.msg').length > KEEP) {
    list.firstElementChild.remove();
  }
  // Our own message arrived: it leaves the outbox.
  if (event.id) outbox.querySelector(`[data-id="${CSS.escape(event.id)}"]`)?.remove();
  if (typers.delete(data.sender)) renderTyping();
  historyState.hidden = true;
  if (stick || data.sender === sender) toBottom();
}

// Messages leave one at a time, so that they are stored in the order they were sent whatever the
// transport (concurrent HTTP requests could overtake each other).
let sending = Promise.resolve();

function send(text, id = newId(), li = null, at = topic, who = name) {
  if (!li) {
    li = document.createElement('li');
    li.className = 'msg mine';
    li.dataset.testid = 'pending';
    li.dataset.id = id;
    li.innerHTML = '<div class="meta"><span class="author"></span> <span class="state"></span></div><p class="bubble"></p>';
    li.querySelector('.author').textContent = who;
    li.querySelector('.bubble').textContent = text;
    outbox.append(li);
    toBottom();
  }
  li.classList.remove('failed');
  li.querySelector('.state').textContent = 'sending…';
  const deliver = async () => {
    if (at !== topic) return; // left the room meanwhile
    try {
      // The id makes a retry safe: the server appends it once.
      await client.publish(at, { type: 'message', id, data: { name: who, text, sender } });
      if (li.isConnected) li.querySelector('.state').textContent = 'sent';
    } catch (error) {
      if (!li.isConnected || at !== topic) return;
      li.classList.add('failed');
      const state = li.querySelector('.state');
      state.textContent = `not sent (${error.code || error.message}) `;
      const retry = document.createElement('button');
      retry.type = 'button';
      retry.className = 'linkish';
      retry.textContent = 'retry';
      retry.addEventListener('click', () => send(text, id, li, at, who));
      state.append(retry);
    }
  };
  // A publish that hangs (a dead connection not noticed yet) holds the next ones back for a while only.
  sending = sending.then(() => Promise.race([deliver(), new Promise((r) => setTimeout(r, SEND_WAIT))]));
}

composer.addEventListener('submit', (e) => {
  e.preventDefault();
  const text = input.value.trim();
  if (!text || !name || !topic) return;
  input.value = '';
  lastTyping = 0;
  send(text);
});

// --- who is typing -----------------------------------------------------------------------------------

let lastTyping = 0;
input.addEventListener('input', () => {
  const now = Date.now();
  if (!input.value || !name || now - lastTyping < TYPING_EVERY) return;
  lastTyping = now;
  client.publish(`${topic}/typing`, { type: 'typing', data: { name, sender } }).catch(() => { /* best effort */ });
});
function onTyping(event) {
  const d = event.data;
  if (!d || typeof d !== 'object' || d.sender === sender) return;
  typers.set(d.sender, { name: String(d.name || 'someone').slice(0, 40), until: Date.now() + TYPING_SHOWN });
  renderTyping();
}
function renderTyping() {
  const now = Date.now();
  for (const [k, t] of typers) if (t.until <= now) typers.delete(k);
  const names = [...typers.values()].map((t) => t.name);
  typingLine.textContent = names.length === 0 ? ''
    : names.length === 1 ? `${names[0]} is typing…`
      : names.length === 2 ? `${names[0]} and ${names[1]} are typing…`
        : `${names.length} people are typing…`;
}
setInterval(renderTyping, 1000);

// --- start -------------------------------------------------------------------------------------------

const wanted = params.get('room');
join(wanted && ROOM.test(wanted) ? wanted : 'lobby');
showName();
if (!name) askName();
if (params.get('name')) store.set('tidings-chat-name', name);
addEventListener('pagehide', () => client.close());
