// For GraphQLWsClientTest: GraphQL subscriptions with the independent `graphql-ws` client library
// (graphql-transport-ws over the `ws` package), and a raw `ws` socket for what that library never
// does itself (reusing a subscription id).
//
//   node graphql-ws-client.mjs stream <ws-url> <topics-json> <since|-> <full|notify> <count> <token|->
//       Subscribes to events(topics, since, mode); prints {"event":{...}} per event; after <count>
//       events prints {"done":true} and disposes the client. An error message prints {"errors":[...]};
//       the server closing the socket prints {"closed":{code,reason}} and then {"closedError":{code,reason}}.
//   node graphql-ws-client.mjs publish <ws-url> <topic> <events-json> <token|->
//       Runs the publish mutation over the WebSocket; prints {"result":{...}}.
//   node graphql-ws-client.mjs init <ws-url> <token|->
//       Connects (a query needs the connection) and prints {"closed":{code,reason}} or {"result":...}.
//   node graphql-ws-client.mjs raw <ws-url> <case> <token|->
//       Speaks the protocol by hand; cases: duplicate-id, invalid-json, second-init, subscribe-before-init,
//       ping, unknown-type, no-init. Prints each server message as {"message":...} and the close as
//       {"closed":{code,reason}}.
// Every run ends with exit code 0 once it has printed its outcome; anything unexpected is {"failure":...}.
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';

const [mode, url, ...args] = process.argv.slice(2);

function print(obj) {
  console.log(JSON.stringify(obj));
}

function client(token, extra = {}) {
  return createClient({
    url,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    connectionParams: token && token !== '-' ? { token } : undefined,
    ...extra,
  });
}

const EVENT_FIELDS = 'topic offset cursor id type key data time reason stream_cursor';

async function stream([topicsJson, since, subscriptionMode, countText, token]) {
  const count = Number(countText);
  let received = 0;
  const c = client(token, {
    on: { closed: (e) => print({ closed: { code: e.code, reason: e.reason } }) },
  });
  await new Promise((resolve) => {
    const dispose = c.subscribe(
      {
        query: `subscription ($topics: [String!]!, $since: String, $mode: Mode) {
          events(topics: $topics, since: $since, mode: $mode) { ${EVENT_FIELDS} } }`,
        variables: {
          topics: JSON.parse(topicsJson),
          since: since === '-' ? null : since,
          mode: subscriptionMode === 'notify' ? 'NOTIFY' : 'FULL',
        },
      },
      {
        next: (result) => {
          if (result.errors) {
            print({ errors: result.errors });
          }
          print({ event: result.data.events });
          received++;
          if (received >= count) {
            print({ done: true });
            dispose();
            resolve();
          }
        },
        error: (e) => {
          if (Array.isArray(e)) {
            print({ errors: e });
          } else if (e && typeof e.code === 'number') {
            print({ closedError: { code: e.code, reason: e.reason } });
          } else {
            print({ failure: String(e && e.message ? e.message : e) });
          }
          resolve();
        },
        complete: () => {
          print({ complete: true });
          resolve();
        },
      },
    );
  });
  await c.dispose();
}

async function publish([topic, eventsJson, token]) {
  const c = client(token);
  const result = await new Promise((resolve, reject) => {
    let value;
    c.subscribe(
      {
        query: `mutation ($topic: String!, $events: [EventInput!]!) {
          publish(topic: $topic, events: $events) { topic cursor events { id offset cursor duplicate } } }`,
        variables: { topic, events: JSON.parse(eventsJson) },
      },
      { next: (r) => { value = r; }, error: reject, complete: () => resolve(value) },
    );
  });
  print({ result });
  await c.dispose();
}

async function init([token]) {
  let closed = null;
  const c = client(token, { on: { closed: (e) => { closed = { code: e.code, reason: e.reason }; } } });
  try {
    const result = await new Promise((resolve, reject) => {
      let value;
      c.subscribe({ query: '{ topics { topic } }' }, { next: (r) => { value = r; }, error: reject, complete: () => resolve(value) });
    });
    print({ result });
  } catch (e) {
    print({ closed: closed ?? { code: e.code, reason: e.reason } });
  }
  await c.dispose();
}

async function raw([which, token]) {
  const init = token && token !== '-' ? { type: 'connection_init', payload: { token } } : { type: 'connection_init' };
  const socket = new WebSocket(url, 'graphql-transport-ws');
  const messages = [];
  const waiters = [];
  socket.on('message', (data) => {
    const m = JSON.parse(data.toString());
    print({ message: m });
    messages.push(m);
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise((resolve) => {
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  socket.on('error', (e) => print({ failure: e.message }));
  await new Promise((resolve) => socket.on('open', resolve));
  const send = (m) => socket.send(typeof m === 'string' ? m : JSON.stringify(m));
  const next = async (type) => {
    const deadline = Date.now() + 20000;
    while (!messages.some((m) => m.type === type)) {
      if (Date.now() > deadline) throw new Error(`no ${type} message`);
      await new Promise((r) => { waiters.push(r); setTimeout(r, 50); });
    }
    return messages.find((m) => m.type === type);
  };
  const subscription = { query: 'subscription { events(topics: ["gql/raw"]) { cursor } }' };
  switch (which) {
    case 'duplicate-id':
      send(init);
      await next('connection_ack');
      send({ id: 'same', type: 'subscribe', payload: subscription });
      send({ id: 'same', type: 'subscribe', payload: subscription });
      break;
    case 'invalid-json':
      send(init);
      await next('connection_ack');
      send('{not json');
      break;
    case 'second-init':
      send(init);
      await next('connection_ack');
      send(init);
      break;
    case 'subscribe-before-init':
      send({ id: '1', type: 'subscribe', payload: subscription });
      break;
    case 'ping':
      send(init);
      await next('connection_ack');
      send({ type: 'ping', payload: { n: 1 } });
      await next('pong');
      socket.close(1000, 'done');
      break;
    case 'unknown-type':
      send(init);
      await next('connection_ack');
      send({ type: 'hello' });
      break;
    case 'no-init':
      break;
    default:
      throw new Error(`unknown case ${which}`);
  }
  print({ closed: await closed });
}

try {
  switch (mode) {
    case 'stream': await stream(args); break;
    case 'publish': await publish(args); break;
    case 'init': await init(args); break;
    case 'raw': await raw(args); break;
    default: throw new Error(`unknown mode ${mode}`);
  }
} catch (e) {
  print({ failure: String(e && e.message ? e.message : JSON.stringify(e)) });
}
process.exit(0);
