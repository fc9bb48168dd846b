// For NodeClientsTest: the `eventsource` package (v4) following a Tidings SSE stream, reconnecting
// by itself (with Last-Event-ID) whenever the stream ends or the server goes away.
//
//   node push-eventsource.mjs <url>
//
// Prints one JSON line per happening: {"open":true}, {"subscribed":<data>,"id":<lastEventId>},
// {"offset","cursor","id":<lastEventId>,"data"} per message event, {"error":<message>} when the
// connection fails or ends (EventSource then retries after the server's retry: delay). Runs until killed.
import { EventSource } from 'eventsource';

const [url] = process.argv.slice(2);
const es = new EventSource(url);

function print(obj) {
  console.log(JSON.stringify(obj));
}

es.addEventListener('open', () => print({ open: true }));
es.addEventListener('subscribed', (e) => print({ subscribed: JSON.parse(e.data), id: e.lastEventId }));
es.addEventListener('reset', (e) => print({ reset: JSON.parse(e.data), id: e.lastEventId }));
es.onmessage = (e) => {
  const event = JSON.parse(e.data);
  print({ offset: event.offset, cursor: event.cursor, id: e.lastEventId, data: event.data });
};
es.onerror = (e) => print({ error: e.message ?? 'error', code: e.code ?? null, readyState: es.readyState });
