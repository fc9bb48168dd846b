// Types of the Tidings browser/Node client (tidings.js). Plain ES module, no runtime dependencies.

/** One event, the same object on every transport (see docs/http-api.md). */
export interface TidingsEvent {
  topic: string;
  offset: number;
  cursor: string;
  id?: string;
  type: string;
  key?: string;
  /** Absent for `delete` and in notify mode. */
  data?: unknown;
  time: string;
}

/** What to publish: `type` defaults to `message`; `put` and `delete` need a `key`. */
export interface NewEvent {
  type?: string;
  key?: string;
  data?: unknown;
  /** Idempotency key: a retry with the same id is not appended twice. */
  id?: string;
}

export interface PublishResult {
  topic: string;
  cursor: string;
  events: { id?: string; offset: number; cursor: string; duplicate: boolean }[];
}

export interface StateEntry {
  key: string;
  data: unknown;
  offset: number;
  time: string;
}

export interface State {
  topic: string;
  /**
   * Follow changes from here to stay current without a gap. With several pages it is the first
   * page's cursor: replaying from there over the later pages converges.
   */
  cursor: string;
  entries: StateEntry[];
}

export interface Changes {
  topic: string;
  events: TidingsEvent[];
  cursor: string;
  more: boolean;
}

export type Transport = 'ws' | 'sse' | 'longpoll' | 'poll';

export type Mode = 'full' | 'notify';

export interface Backoff {
  /** First delay ceiling in ms (default 500). */
  base?: number;
  /** Largest delay ceiling in ms (default 30000). */
  cap?: number;
  /** A connection up this long resets the backoff (ms, default 30000). */
  healthyAfter?: number;
}

export interface ClientOptions {
  /** Sent as `Authorization: Bearer` (HTTP and SSE, both over fetch), and as the `auth` op once a WebSocket opens. */
  token?: string | (() => string | Promise<string>);
  /** Order of transports to try (default `['ws', 'sse', 'longpoll', 'poll']`). */
  transports?: Transport[];
  backoff?: Backoff;
  /** While on a lesser transport, try the preferred one again this often (ms, default 60000; 0 = never). */
  upgradeAfter?: number;
  /** Bounds of the adaptive poll interval in ms (defaults 1000 and 30000). */
  poll?: { min?: number; max?: number };
  /** Seconds a long poll waits (default 25, max 60). */
  longPollWait?: number;
  /** Ms a transport may take to open (WebSocket subscribed, SSE stream begun, first pull answered); default 15000. */
  connectTimeout?: number;
  /** Ms an SSE stream may stay silent (the server sends a heartbeat every 15 s) before it is dropped; default 45000. */
  idleTimeout?: number;
  /** Implementations to use instead of the globals (for Node versions without them), e.g. the `ws` package. */
  WebSocket?: unknown;
  /**
   * Not used: SSE is read with fetch streaming, which sees refusals (403 transport_disabled) and
   * events of every type, and leaves reconnecting to the client. Kept so that existing callers compile.
   */
  EventSource?: unknown;
  /** Used for HTTP and for SSE (its response body must be a ReadableStream). */
  fetch?: typeof fetch;
}

export type Status = 'connecting' | 'live' | 'reconnecting' | 'closed';

export interface StatusChange {
  status: Status;
  /** The transport in use, or the one being tried. */
  transport: Transport | null;
  /** Why the previous connection ended, when it did. */
  reason?: string;
}

export interface ResetInfo {
  topic: string;
  /** Where delivery continues: the state follows as `put` events. */
  cursor: string;
  /** From a push reset, or `cursor_expired` when a pull was answered 410 (or `/v1/changes` in notify mode). */
  reason: 'epoch' | 'retention' | 'cursor_expired' | string;
}

export interface SubscribeOptions {
  /** A cursor, `earliest`, or `now` (default), or one per topic. */
  since?: string | Record<string, string>;
  mode?: Mode;
  onEvent?: (event: TidingsEvent) => void;
  /** The local copy of the topic must be cleared: the state follows as `put` events. */
  onReset?: (reset: ResetInfo) => void;
  onStatus?: (change: StatusChange) => void;
  /** Errors that end the subscription (auth, invalid topic or cursor). */
  onError?: (error: TidingsError) => void;
}

export interface Subscription extends AsyncIterable<TidingsEvent> {
  readonly topics: readonly string[];
  /** The transport delivering now; null unless the status is `live`. */
  readonly transport: Transport | null;
  readonly status: Status;
  /** The last delivered position of each topic (resume from these). */
  cursor(topic: string): string | undefined;
  readonly cursors: Readonly<Record<string, string>>;
  close(): void;
  /**
   * Events from the moment the iterator is created (none are buffered before). Ends on close();
   * throws the TidingsError that ended the subscription.
   */
  [Symbol.asyncIterator](): AsyncIterator<TidingsEvent>;
}

export interface Mirror {
  readonly topic: string;
  /** Key to data, current with every delivered change. */
  readonly state: ReadonlyMap<string, unknown>;
  /** Resolves once the first snapshot is loaded; rejects if the mirror ends first (onError). */
  readonly ready: Promise<void>;
  readonly subscription: Subscription;
  /**
   * Called after every change: a put or delete with its event, and with `null` after the first
   * snapshot and after a reset's reload is complete (the puts of a reload are not reported one by one).
   */
  onChange(listener: (state: ReadonlyMap<string, unknown>, event: TidingsEvent | null) => void): () => void;
  close(): void;
}

export class TidingsError extends Error {
  constructor(status: number, code: string, message?: string, retryAfter?: number);
  /**
   * The HTTP status, or 0 for what happened on this side: `network_error`, `connection_lost` (a
   * WebSocket publish not answered), `timeout`, `no_transport`, `no_fetch`.
   */
  readonly status: number;
  readonly code: string;
  /** Seconds, from `Retry-After`, when given. */
  readonly retryAfter?: number;
}

export class Tidings {
  constructor(url: string | URL, options?: ClientOptions);
  /**
   * Over an open WebSocket of this client when there is one, else HTTP. When the WebSocket closes
   * before the answer, it is retried over HTTP if every event has an `id`, else it rejects with
   * `connection_lost` (the events may or may not be stored).
   */
  publish(topic: string, events: NewEvent | NewEvent[]): Promise<PublishResult>;
  /** Every page of the state. */
  state(topic: string): Promise<State>;
  /** One page of `/v1/changes` (`since` defaults to `earliest`); 410 rejects with code `cursor_expired`. */
  changes(topic: string, since?: string, options?: { limit?: number; wait?: number; mode?: Mode }): Promise<Changes>;
  subscribe(topics: string | string[], options?: SubscribeOptions): Subscription;
  mirror(topic: string, options?: { onStatus?: (change: StatusChange) => void; onError?: (error: TidingsError) => void }): Mirror;
  /** Closes every subscription and mirror of this client. */
  close(): void;
}

/** `random(0, min(cap, base * 2^attempt))`: full-jitter backoff, in ms. */
export function backoffDelay(attempt: number, base: number, cap: number, random?: () => number): number;
