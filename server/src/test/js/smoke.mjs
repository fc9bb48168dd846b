// Smoke test of the Node.js test harness (NodeScript): the pinned npm packages load and work.
// Prints one JSON line with the versions and arguments, then one with the results of a loopback
// round trip through both packages: an EventSource with a custom fetch (for a request header)
// against a tiny SSE endpoint, and a ws client against a ws echo server.
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { EventSource } from 'eventsource';
import WebSocket, { WebSocketServer } from 'ws';

async function versionOf(name) {
  const pkg = JSON.parse(await readFile(new URL(`../../../../node_modules/${name}/package.json`, import.meta.url), 'utf8'));
  return pkg.version;
}

console.log(JSON.stringify({
  node: process.versions.node,
  ws: await versionOf('ws'),
  eventsource: await versionOf('eventsource'),
  args: process.argv.slice(2),
}));

const server = createServer((req, res) => {
  if (req.url === '/sse') {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    res.end(`retry: 1000\n:comment\nid: c1\nevent: greeting\ndata: ${JSON.stringify({ header: req.headers['x-smoke'] ?? null })}\n\n`);
  } else {
    res.writeHead(404).end();
  }
});
const wss = new WebSocketServer({ server });
wss.on('connection', (socket) => socket.on('message', (data) => socket.send(`echo:${data}`)));
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `127.0.0.1:${server.address().port}`;

const sse = await new Promise((resolve, reject) => {
  const es = new EventSource(`http://${base}/sse`, {
    fetch: (url, init) => fetch(url, { ...init, headers: { ...init.headers, 'X-Smoke': 'yes' } }),
  });
  es.addEventListener('greeting', (e) => {
    es.close();
    resolve({ id: e.lastEventId, data: JSON.parse(e.data) });
  });
  es.onerror = (e) => reject(new Error(`EventSource error: ${e.message}`));
});

const ws = await new Promise((resolve, reject) => {
  const socket = new WebSocket(`ws://${base}/`);
  socket.on('open', () => socket.send('hi'));
  socket.on('message', (data) => {
    socket.close();
    resolve(data.toString());
  });
  socket.on('error', reject);
});

console.log(JSON.stringify({ sse, ws }));
wss.close();
server.close();
