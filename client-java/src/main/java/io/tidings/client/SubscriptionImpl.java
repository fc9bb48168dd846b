package io.tidings.client;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.net.http.WebSocketHandshakeException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A subscription's engine: one daemon thread that owns all of its state and runs the tasks that
 * the transports post to its bounded inbox (a WebSocket message, a chunk of an SSE stream, the
 * answer to a poll) and its timers. Transports are flow-controlled: each asks for the next message
 * or chunk only once the previous one was handled here, so the inbox holds at most a few entries
 * per connection and per topic.
 *
 * <p>Connections: {@link #active} delivers; {@link #candidate} is the one being opened, either in a
 * connection round (no active connection: the transports are tried in order, a refused one is
 * skipped in later rounds, and a round that fails throughout waits a backoff delay) or as an
 * upgrade probe (a better transport opened beside the active one, which replaces it once open).
 * Every topic resumes from the cursor of the last delivered event, and events at or below the last
 * delivered offset are dropped, so replacing a connection never skips or repeats an event.
 */
final class SubscriptionImpl implements Subscription {
  private static final System.Logger LOG = System.getLogger(SubscriptionImpl.class.getName());
  private static final AtomicInteger IDS = new AtomicInteger();
  static final String THREAD_PREFIX = "tidings-subscription-";
  /** Events per {@code /v1/changes} request. */
  static final int PAGE = 1000;
  /** The server sends an SSE heartbeat every 15 s and a WebSocket ping every 25 s by default. */
  static final long SSE_IDLE_MILLIS = 45_000;
  static final long WS_IDLE_MILLIS = 75_000;
  static final int MAX_MESSAGE = 16 << 20;
  private static final Runnable WAKE = () -> { };

  final TidingsClient client;
  final List<String> topicNames;
  final SubscribeOptions options;
  final boolean notifyMode;
  private final SubscriptionListener listener;
  private final Backoff backoff;
  private final Map<String, Topic> topics = new LinkedHashMap<>();
  private final Map<String, String> cursorView = new ConcurrentHashMap<>();
  private final ArrayBlockingQueue<Runnable> inbox;
  private final PriorityQueue<Timer> timers = new PriorityQueue<>();
  private final Thread thread;
  private volatile boolean closing;
  private volatile boolean overflow;
  private volatile Status status = Status.CONNECTING;
  private volatile Transport transport;
  private volatile TidingsException failure;
  private final AtomicLong pulls = new AtomicLong();
  private final AtomicLong connections = new AtomicLong();

  // ---- confined to the thread
  private Conn active;
  private Conn candidate;
  private boolean probing;
  private List<Transport> round = List.of();
  private int roundIndex;
  private List<Transport> probeList = List.of();
  private int probeIndex;
  private final EnumSet<Transport> demoted = EnumSet.noneOf(Transport.class);
  /** Network failures of a transport soon after it opened, in a row: three demote it. */
  private final Map<Transport, Integer> flaps = new java.util.EnumMap<>(Transport.class);
  static final int MAX_FLAPS = 3;
  private int attempt;
  private long liveSince;
  private boolean everLive;
  private Timer probeTimer;
  private Timer reconnectTimer;
  private long timerSeq;

  /** Per topic: where it stands and what is in flight for it. */
  static final class Topic {
    final String name;
    final int index;
    String cursor;
    long last = -1;
    // a pushed reset whose state is still arriving
    String resetCursor;
    long resetOffset = -1;
    // a state load over HTTP (after 410)
    StateLoad load;
    // notify mode
    boolean fetching;
    CompletableFuture<?> fetch;
    long notified = -1;
    boolean forceFetch;
    int fetchFailures;
    Timer fetchRetry;

    Topic(String name, int index, String cursor) {
      this.name = name;
      this.index = index;
      this.cursor = cursor;
      this.last = Cursors.offset(cursor);
    }
  }

  SubscriptionImpl(TidingsClient client, Map<String, String> since, SubscribeOptions options,
      SubscriptionListener listener) {
    this.client = client;
    this.options = Objects.requireNonNull(options, "options");
    this.listener = Objects.requireNonNull(listener, "listener");
    this.notifyMode = options.mode() == SubscribeOptions.Mode.NOTIFY;
    this.backoff = options.backoff();
    if (since.isEmpty()) {
      throw new IllegalArgumentException("at least one topic is needed");
    }
    int i = 0;
    for (Map.Entry<String, String> e : since.entrySet()) {
      String topic = Objects.requireNonNull(e.getKey(), "topic");
      String cursor = e.getValue() == null || e.getValue().isEmpty() ? Cursors.NOW : e.getValue();
      topics.put(topic, new Topic(topic, i++, cursor));
      cursorView.put(topic, cursor);
    }
    this.topicNames = List.copyOf(topics.keySet());
    this.inbox = new ArrayBlockingQueue<>(4 * topics.size() + 64);
    this.thread = new Thread(this::run, THREAD_PREFIX + IDS.incrementAndGet());
    thread.setDaemon(true);
  }

  void start() {
    thread.start();
  }

  // ------------------------------------------------------------------------------ public view

  @Override
  public List<String> topics() {
    return topicNames;
  }

  @Override
  public Map<String, String> cursors() {
    Map<String, String> out = new LinkedHashMap<>();
    for (String t : topicNames) {
      out.put(t, cursorView.get(t));
    }
    return Collections.unmodifiableMap(out);
  }

  @Override
  public String cursor(String topic) {
    return cursorView.get(topic);
  }

  @Override
  public Transport transport() {
    return transport;
  }

  @Override
  public Status status() {
    return status;
  }

  @Override
  public TidingsException failure() {
    return failure;
  }

  /** {@code /v1/changes} requests made to fetch notified events (notify mode). */
  long pulls() {
    return pulls.get();
  }

  /** Connections opened so far (candidates that became active). */
  long connectionsOpened() {
    return connections.get();
  }

  @Override
  public void close() {
    closing = true;
    inbox.offer(WAKE);
    if (Thread.currentThread() != thread && thread.isAlive()) {
      try {
        thread.join(10_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  boolean isClosing() {
    return closing;
  }

  // ------------------------------------------------------------------------------------ loop

  /** Runs {@code task} on the subscription's thread (from any thread). */
  void post(Runnable task) {
    if (closing) {
      return;
    }
    if (!inbox.offer(task)) {
      // Cannot happen with flow control; recover by reconnecting, which resumes from the cursors.
      overflow = true;
      inbox.offer(WAKE);
    }
  }

  private void run() {
    try {
      startRound();
      while (!closing) {
        long wait = nextTimerNanos();
        Runnable task = wait <= 0 ? inbox.poll() : inbox.poll(Math.min(wait, TimeUnit.SECONDS.toNanos(30)), TimeUnit.NANOSECONDS);
        if (closing) {
          break;
        }
        if (task != null) {
          safely(task);
        }
        runDueTimers();
        if (overflow) {
          overflow = false;
          inbox.clear();
          if (active != null) {
            activeFailed(active, Failure.dropped("inbox overflow", 0));
          }
        }
      }
    } catch (InterruptedException e) {
      closing = true;
    } catch (Throwable t) {
      LOG.log(System.Logger.Level.ERROR, "subscription thread failed", t);
      if (failure == null) {
        failure = new TidingsException(0, "internal_error", "the subscription failed: " + t, null, t);
      }
    } finally {
      shutdown();
    }
  }

  private void safely(Runnable task) {
    try {
      task.run();
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.WARNING, "subscription task failed", e);
    }
  }

  private void shutdown() {
    closing = true;
    stopConn(active);
    stopConn(candidate);
    active = null;
    candidate = null;
    for (Topic t : topics.values()) {
      cancelLoad(t);
      if (t.fetch != null) {
        t.fetch.cancel(true);
        t.fetch = null;
      }
    }
    timers.clear();
    inbox.clear();
    transport = null;
    status = Status.CLOSED;
    client.unregister(this);
    TidingsException f = failure;
    callListener(() -> listener.onStatus(Status.CLOSED, null, f == null ? "closed" : f.getMessage()));
    if (f != null) {
      callListener(() -> listener.onError(f));
    }
  }

  private void callListener(Runnable call) {
    try {
      call.run();
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.WARNING, "a subscription listener threw", e);
    }
  }

  /** Ends the subscription with {@code error}. */
  void fail(TidingsException error) {
    if (failure == null) {
      failure = error;
    }
    closing = true;
  }

  // ---------------------------------------------------------------------------------- timers

  static final class Timer implements Comparable<Timer> {
    final long at;
    final long seq;
    final Runnable task;
    boolean cancelled;

    Timer(long at, long seq, Runnable task) {
      this.at = at;
      this.seq = seq;
      this.task = task;
    }

    void cancel() {
      cancelled = true;
    }

    @Override
    public int compareTo(Timer o) {
      int c = Long.compare(at, o.at);
      return c != 0 ? c : Long.compare(seq, o.seq);
    }
  }

  Timer schedule(long delayMillis, Runnable task) {
    Timer t = new Timer(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(Math.max(0, delayMillis)), timerSeq++, task);
    timers.add(t);
    return t;
  }

  private long nextTimerNanos() {
    while (!timers.isEmpty() && timers.peek().cancelled) {
      timers.poll();
    }
    return timers.isEmpty() ? Long.MAX_VALUE : Math.max(0, timers.peek().at - System.nanoTime());
  }

  private void runDueTimers() {
    long now = System.nanoTime();
    while (!closing && !timers.isEmpty() && timers.peek().at - now <= 0) {
      Timer t = timers.poll();
      if (!t.cancelled) {
        t.cancelled = true;
        safely(t.task);
      }
    }
  }

  private static void cancel(Timer t) {
    if (t != null) {
      t.cancel();
    }
  }

  // ------------------------------------------------------------------------------ connections

  /** One attempt to deliver over one transport. All methods run on the subscription's thread. */
  abstract static class Conn {
    final Transport transport;
    volatile boolean stopped;

    Conn(Transport transport) {
      this.transport = transport;
    }

    /** Starts connecting; reports with {@link #opened} or {@link #failed}. */
    abstract void start();

    /** Now the active connection: start delivering. */
    abstract void promoted();

    /** Closes everything it holds; idempotent. */
    abstract void stop();
  }

  private Conn newConn(Transport t) {
    return switch (t) {
      case WS -> new WsConn(this);
      case SSE -> new SseConn(this);
      case LONG_POLL -> new PullConn(this, true);
      case POLL -> new PullConn(this, false);
    };
  }

  private static void stopConn(Conn c) {
    if (c != null) {
      try {
        c.stop();
      } catch (RuntimeException e) {
        LOG.log(System.Logger.Level.DEBUG, "stopping a connection failed", e);
      }
    }
  }

  boolean current(Conn c) {
    return !closing && (c == active || c == candidate);
  }

  boolean isActive(Conn c) {
    return !closing && c == active;
  }

  private void startRound() {
    reconnectTimer = null;
    if (closing) {
      return;
    }
    List<Transport> order = options.transports();
    List<Transport> r = new ArrayList<>();
    for (Transport t : order) {
      if (!demoted.contains(t)) {
        r.add(t);
      }
    }
    if (r.isEmpty()) {
      demoted.clear();
      r.addAll(order);
    }
    round = r;
    roundIndex = 0;
    probing = false;
    startCandidate(round.get(0));
  }

  private void startCandidate(Transport t) {
    candidate = newConn(t);
    candidate.start();
  }

  /** {@code c} is connected (WebSocket handshake, SSE headers, first poll answer). */
  void opened(Conn c) {
    if (closing || c != candidate) {
      return;
    }
    candidate = null;
    Conn old = active;
    String reason = null;
    if (old != null) {
      reason = "switched from " + old.transport + " to " + c.transport;
      stopConn(old);
      abandonResets();
    }
    cancel(probeTimer);
    probeTimer = null;
    cancel(reconnectTimer);
    reconnectTimer = null;
    probing = false;
    active = c;
    demoted.remove(c.transport);
    connections.incrementAndGet();
    liveSince = System.nanoTime();
    everLive = true;
    transport = c.transport;
    if (!notifyMode && (c.transport == Transport.WS || c.transport == Transport.SSE)) {
      // A pushed stream resets expired cursors itself (with the state as put events).
      for (Topic t : topics.values()) {
        cancelLoad(t);
      }
    }
    status = Status.LIVE;
    Transport tr = c.transport;
    String why = reason;
    callListener(() -> listener.onStatus(Status.LIVE, tr, why));
    c.promoted();
    scheduleProbe();
  }

  /** {@code c} failed or ended. */
  void failed(Conn c, Failure f) {
    if (closing) {
      return;
    }
    if (c == candidate) {
      candidateFailed(c, f);
    } else if (c == active) {
      activeFailed(c, f);
    }
  }

  private void candidateFailed(Conn c, Failure f) {
    stopConn(c);
    candidate = null;
    LOG.log(System.Logger.Level.DEBUG, () -> c.transport + " failed to connect: " + f);
    if (probing) {
      if (f.kind() == Failure.Kind.REFUSED) {
        demoted.add(c.transport);
      }
      probeIndex++;
      if (probeIndex < probeList.size()) {
        startCandidate(probeList.get(probeIndex));
      } else {
        probing = false;
        scheduleProbe();
      }
      return;
    }
    switch (f.kind()) {
      case FATAL -> fail(f.error());
      case REFUSED -> {
        demoted.add(c.transport);
        nextInRound(c.transport, f);
      }
      case NETWORK -> nextInRound(c.transport, f);
      case THROTTLED, DROPPED -> scheduleReconnect(c.transport, f);
      default -> throw new IllegalStateException();
    }
  }

  private void nextInRound(Transport from, Failure f) {
    roundIndex++;
    if (roundIndex < round.size()) {
      startCandidate(round.get(roundIndex));
    } else {
      scheduleReconnect(from, f);
    }
  }

  private void activeFailed(Conn c, Failure f) {
    stopConn(c);
    active = null;
    transport = null;
    abandonResets();
    stopConn(candidate);
    candidate = null;
    probing = false;
    cancel(probeTimer);
    probeTimer = null;
    LOG.log(System.Logger.Level.DEBUG, () -> c.transport + " connection ended: " + f);
    if (f.kind() == Failure.Kind.FATAL) {
      fail(f.error());
      return;
    }
    if (f.kind() == Failure.Kind.REFUSED) {
      demoted.add(c.transport);
    }
    boolean wasHealthy = System.nanoTime() - liveSince >= options.healthyAfter().toNanos();
    if (wasHealthy) {
      flaps.remove(c.transport);
    } else if (f.kind() == Failure.Kind.NETWORK && flaps.merge(c.transport, 1, Integer::sum) >= MAX_FLAPS) {
      // Opens, then fails at once, again and again (say, a proxy cutting held requests): try the
      // next transport; an upgrade probe tries this one again later.
      flaps.remove(c.transport);
      demoted.add(c.transport);
    }
    if (f.kind() != Failure.Kind.THROTTLED && wasHealthy) {
      attempt = 0;
    }
    scheduleReconnect(c.transport, f);
  }

  private void scheduleReconnect(Transport from, Failure f) {
    long delay = backoff.delay(attempt).toMillis();
    attempt = Math.min(attempt + 1, 40);
    delay = Math.max(delay, f.retryAfterMillis());
    Status s = everLive ? Status.RECONNECTING : Status.CONNECTING;
    status = s;
    String reason = f.reason();
    callListener(() -> listener.onStatus(s, from, reason));
    cancel(reconnectTimer);
    reconnectTimer = schedule(delay, this::startRound);
  }

  private void scheduleProbe() {
    cancel(probeTimer);
    probeTimer = null;
    if (active == null || options.upgradeAfter().isZero()) {
      return;
    }
    int index = options.transports().indexOf(active.transport);
    if (index <= 0) {
      return;
    }
    probeTimer = schedule(options.upgradeAfter().toMillis(), this::startProbe);
  }

  private void startProbe() {
    probeTimer = null;
    if (closing || active == null || candidate != null) {
      return;
    }
    probeList = options.transports().subList(0, options.transports().indexOf(active.transport));
    probeIndex = 0;
    probing = true;
    startCandidate(probeList.get(0));
  }

  /** Pushed resets whose state was cut off: the next connection resumes from before them. */
  private void abandonResets() {
    for (Topic t : topics.values()) {
      t.resetCursor = null;
    }
  }

  // ---------------------------------------------------------------------------------- topics

  Topic topic(String name) {
    return name == null ? null : topics.get(name);
  }

  Topic topicAt(int index) {
    return index >= 0 && index < topicNames.size() ? topics.get(topicNames.get(index)) : null;
  }

  Iterable<Topic> allTopics() {
    return topics.values();
  }

  void setCursor(Topic t, String cursor) {
    if (cursor == null) {
      return;
    }
    t.cursor = cursor;
    cursorView.put(t.name, cursor);
  }

  /** A topic's symbolic start was resolved to {@code cursor} by the server. */
  void resolved(Topic t, String cursor) {
    if (Cursors.symbolic(t.cursor) && !Cursors.symbolic(cursor)) {
      setCursor(t, cursor);
      t.last = Cursors.offset(cursor);
    }
  }

  /** Delivers an event unless its offset was already delivered. */
  void deliver(Topic t, Event e) {
    if (t.last >= 0 && e.offset() <= t.last) {
      return;
    }
    if (t.last >= 0 && e.offset() > t.last + 1) {
      LOG.log(System.Logger.Level.WARNING, "gap in " + t.name + ": offset " + e.offset() + " after " + t.last);
    }
    t.last = e.offset();
    setCursor(t, e.cursor());
    callListener(() -> listener.onEvent(e));
  }

  /**
   * An event from a WebSocket or SSE stream in full mode. After a reset, the state's entries come
   * as {@code put} events carrying the cursor the topic resumed from, except the last, which carries
   * the reset's cursor; they are told from live events by that, not by their offsets (the state of
   * a later page may be newer than the reset's cursor, and its keys come in key order).
   */
  void pushed(Topic t, Event e) {
    if (t.resetCursor != null) {
      if (t.resetCursor.equals(e.cursor())) {
        callListener(() -> listener.onEvent(e)); // the last entry of the state
        endReset(t);
        return;
      }
      if (e.cursor() != null && e.cursor().equals(t.cursor)) {
        callListener(() -> listener.onEvent(e)); // an entry of the state
        return;
      }
      endReset(t); // the state was empty: this is the first live event
    }
    deliver(t, e);
  }

  private void endReset(Topic t) {
    t.last = t.resetOffset;
    setCursor(t, t.resetCursor);
    t.resetCursor = null;
  }

  /** A reset from a WebSocket or SSE stream. */
  void pushedReset(Topic t, String cursor, String reason) {
    if (notifyMode) {
      // The data comes from /v1/changes, which answers 410 for the same cursor: that resets.
      t.forceFetch = true;
      maybeFetch(t);
      return;
    }
    t.resetCursor = cursor;
    t.resetOffset = Cursors.offset(cursor);
    Reset r = new Reset(t.name, cursor, reason);
    callListener(() -> listener.onReset(r));
  }

  /** A notification (an event without data) from a WebSocket or SSE stream in notify mode. */
  void notified(Topic t, Event e) {
    String epoch = Cursors.epoch(e.cursor());
    if (!Cursors.symbolic(t.cursor) && epoch != null && !epoch.equals(Cursors.epoch(t.cursor))) {
      t.forceFetch = true;
    } else {
      t.notified = Math.max(t.notified, e.offset());
    }
    maybeFetch(t);
  }

  /** Fetches the notified events, once for however many notifications arrived meanwhile. */
  void maybeFetch(Topic t) {
    if (closing || t.fetching || t.load != null || t.fetchRetry != null || Cursors.symbolic(t.cursor)) {
      return;
    }
    if (!t.forceFetch && t.notified <= t.last) {
      return;
    }
    t.forceFetch = false;
    t.fetching = true;
    pulls.incrementAndGet();
    HttpRequest request = client.request(changesQuery(t, 0)).GET().build();
    CompletableFuture<HttpResponse<byte[]>> f = client.http().sendAsync(request, HttpResponse.BodyHandlers.ofByteArray());
    t.fetch = f;
    f.whenComplete((r, ex) -> post(() -> fetched(t, f, r, ex)));
  }

  private void fetched(Topic t, CompletableFuture<?> f, HttpResponse<byte[]> r, Throwable ex) {
    if (t.fetch != f) {
      return;
    }
    t.fetch = null;
    t.fetching = false;
    Reply reply = Reply.of(r, ex);
    if (reply.status() == 200) {
      t.fetchFailures = 0;
      Changes c = reply.changes();
      for (Event e : c.events()) {
        deliver(t, e);
      }
      if (c.events().isEmpty()) {
        resolved(t, c.cursor());
      }
      if (c.more()) {
        t.forceFetch = true;
      }
      maybeFetch(t);
    } else if (reply.expired()) {
      loadState(t);
    } else {
      Failure fail = reply.failure(Transport.LONG_POLL, false);
      if (fail.kind() == Failure.Kind.FATAL) {
        fail(fail.error());
        return;
      }
      long delay = Math.max(backoff.delay(Math.min(t.fetchFailures++, 40)).toMillis(), fail.retryAfterMillis());
      t.fetchRetry = schedule(delay, () -> {
        t.fetchRetry = null;
        t.forceFetch = true;
        maybeFetch(t);
      });
    }
  }

  /** The changes query from the topic's cursor. */
  String changesQuery(Topic t, double waitSeconds) {
    StringBuilder q = new StringBuilder("/v1/changes?topic=").append(TidingsClient.enc(t.name))
        .append("&since=").append(TidingsClient.enc(t.cursor))
        .append("&limit=").append(PAGE);
    if (waitSeconds > 0) {
      q.append("&wait=").append(waitSeconds);
    }
    return q.toString();
  }

  // ----------------------------------------------------------------------------- state loads

  /** A state read over HTTP after {@code 410 cursor_expired}, page by page. */
  static final class StateLoad {
    final Topic topic;
    String after;
    String cursor;
    final List<State.Entry> entries = new ArrayList<>();
    CompletableFuture<?> future;
    Timer retry;
    int failures;

    StateLoad(Topic topic) {
      this.topic = topic;
    }
  }

  /** Loads the topic's state, delivers it after a reset, and continues from its cursor. */
  void loadState(Topic t) {
    if (t.load != null) {
      return;
    }
    t.load = new StateLoad(t);
    loadPage(t.load);
  }

  private void loadPage(StateLoad l) {
    l.retry = null;
    String q = "/v1/state?topic=" + TidingsClient.enc(l.topic.name) + (l.after == null ? "" : "&after_key=" + TidingsClient.enc(l.after));
    CompletableFuture<HttpResponse<byte[]>> f = client.http().sendAsync(client.request(q).GET().build(),
        HttpResponse.BodyHandlers.ofByteArray());
    l.future = f;
    f.whenComplete((r, ex) -> post(() -> statePage(l, r, ex)));
  }

  private void statePage(StateLoad l, HttpResponse<byte[]> r, Throwable ex) {
    Topic t = l.topic;
    if (t.load != l) {
      return;
    }
    l.future = null;
    Reply reply = Reply.of(r, ex);
    if (reply.status() != 200 || reply.json() == null) {
      Failure f = reply.failure(Transport.POLL, false);
      if (f.kind() == Failure.Kind.FATAL) {
        fail(f.error());
        return;
      }
      // Start over: a state is only consistent from its first page's cursor on.
      l.after = null;
      l.cursor = null;
      l.entries.clear();
      long delay = Math.max(backoff.delay(Math.min(l.failures++, 40)).toMillis(), f.retryAfterMillis());
      l.retry = schedule(delay, () -> loadPage(l));
      return;
    }
    JsonNode json = reply.json();
    if (l.cursor == null) {
      l.cursor = TidingsClient.text(json, "cursor");
    }
    for (JsonNode e : json.path("entries")) {
      l.entries.add(new State.Entry(TidingsClient.text(e, "key"), e.get("data"), e.path("offset").asLong(),
          TidingsClient.instant(e, "time")));
    }
    String next = TidingsClient.text(json, "next_key");
    if (next != null && !next.equals(l.after)) {
      l.after = next;
      loadPage(l);
      return;
    }
    t.load = null;
    String previous = t.cursor;
    Reset reset = new Reset(t.name, l.cursor, "expired");
    callListener(() -> listener.onReset(reset));
    for (int i = 0; i < l.entries.size(); i++) {
      State.Entry e = l.entries.get(i);
      boolean lastEntry = i == l.entries.size() - 1;
      Event put = new Event(t.name, e.offset(), lastEntry ? l.cursor : previous, null, "put", e.key(), e.data(), e.time());
      callListener(() -> listener.onEvent(put));
    }
    t.resetCursor = null;
    t.last = Cursors.offset(l.cursor);
    setCursor(t, l.cursor);
    topicReady(t);
  }

  private void topicReady(Topic t) {
    if (active instanceof PullConn p) {
      p.resume(t);
    } else if (notifyMode) {
      t.forceFetch = true;
      maybeFetch(t);
    }
  }

  private static void cancelLoad(Topic t) {
    StateLoad l = t.load;
    if (l != null) {
      t.load = null;
      if (l.future != null) {
        l.future.cancel(true);
      }
      cancel(l.retry);
    }
  }

  // ----------------------------------------------------------------------------------- errors

  /** Why a connection failed, and what to do about it. */
  record Failure(Kind kind, String reason, long retryAfterMillis, TidingsException error) {
    enum Kind {
      /** Ends the subscription (credentials, invalid topic or cursor). */
      FATAL,
      /** The transport is refused here (HTTP refusal, a proxy, a timeout): try the next one. */
      REFUSED,
      /** No connection (server down, reset): try the next transport, then back off. */
      NETWORK,
      /** 429, 503, 4029: wait (at least {@code Retry-After}), then try again. */
      THROTTLED,
      /** A working connection ended (server restart, slow consumer, stream end). */
      DROPPED
    }

    static Failure fatal(TidingsException e) {
      return new Failure(Kind.FATAL, e.getMessage(), 0, e);
    }

    static Failure refused(String reason) {
      return new Failure(Kind.REFUSED, reason, 0, null);
    }

    static Failure network(String reason) {
      return new Failure(Kind.NETWORK, reason, 0, null);
    }

    static Failure throttled(String reason, long retryAfterMillis) {
      return new Failure(Kind.THROTTLED, reason, retryAfterMillis, null);
    }

    static Failure dropped(String reason, long retryAfterMillis) {
      return new Failure(Kind.DROPPED, reason, retryAfterMillis, null);
    }

    /** A failed exchange, or {@code ex}'s cause, classified. */
    static Failure of(Throwable ex, boolean handshake) {
      Throwable c = unwrap(ex);
      if (c instanceof WebSocketHandshakeException h) {
        HttpResponse<?> r = h.getResponse();
        Object body = r.body();
        JsonNode json = body instanceof String s ? TidingsClient.parse(s.getBytes(java.nio.charset.StandardCharsets.UTF_8))
            : body instanceof byte[] b ? TidingsClient.parse(b) : null;
        return ofStatus(r.statusCode(), json, r, "WebSocket handshake answered " + r.statusCode());
      }
      if (c instanceof HttpConnectTimeoutException) {
        return network("connect timeout: " + c.getMessage());
      }
      if (c instanceof HttpTimeoutException) {
        // A stream or upgrade that gets no answer in time is probably held by a proxy.
        return handshake ? refused("no answer in time: " + c.getMessage()) : network("timeout: " + c.getMessage());
      }
      return network(String.valueOf(c));
    }

    static Failure ofStatus(int status, JsonNode json, HttpResponse<?> response, String reason) {
      JsonNode err = json == null ? null : json.get("error");
      String code = err == null ? null : TidingsClient.text(err, "code");
      long retryAfter = retryAfterMillis(response == null ? null : response.headers());
      if (status == 401) {
        return fatal(error(status, json, response, "unauthorized"));
      }
      if (status == 403) {
        return "forbidden".equals(code) ? fatal(error(status, json, response, "forbidden")) : refused(reason + describe(code));
      }
      if (status == 400 && ("invalid_topic".equals(code) || "invalid_cursor".equals(code))) {
        return fatal(error(status, json, response, code));
      }
      if (status == 429 || status == 503) {
        return throttled(reason + describe(code), retryAfter);
      }
      if (status == 501 || status == 505) {
        return refused(reason + describe(code));
      }
      if (status >= 500) {
        return network(reason + describe(code));
      }
      return refused(reason + describe(code));
    }

    private static String describe(String code) {
      return code == null ? "" : " (" + code + ")";
    }

    private static TidingsException error(int status, JsonNode json, HttpResponse<?> response, String fallbackCode) {
      if (response != null) {
        try {
          return TidingsClient.error(status, json, response);
        } catch (RuntimeException ignored) {
          // fall through
        }
      }
      return new TidingsException(status, fallbackCode, "HTTP " + status, null, null);
    }

    static long retryAfterMillis(HttpHeaders headers) {
      if (headers == null) {
        return 0;
      }
      Duration d = headers.firstValue("Retry-After").map(TidingsClient::retryAfter).orElse(null);
      return d == null ? 0 : Math.min(d.toMillis(), TimeUnit.HOURS.toMillis(1));
    }

    static Throwable unwrap(Throwable ex) {
      Throwable c = ex;
      while ((c instanceof CompletionException || c instanceof ExecutionException) && c.getCause() != null) {
        c = c.getCause();
      }
      return c;
    }
  }

  /** The outcome of one HTTP exchange. */
  record Reply(int status, JsonNode json, HttpResponse<byte[]> response, Throwable error) {
    static Reply of(HttpResponse<byte[]> r, Throwable ex) {
      if (ex != null || r == null) {
        return new Reply(0, null, null, ex == null ? new IOException("no response") : ex);
      }
      return new Reply(r.statusCode(), TidingsClient.parse(r.body()), r, null);
    }

    boolean cancelled() {
      return Failure.unwrap(error) instanceof CancellationException;
    }

    boolean expired() {
      return status == 410;
    }

    Changes changes() {
      List<Event> events = new ArrayList<>();
      for (JsonNode e : json.path("events")) {
        events.add(TidingsClient.event(e));
      }
      return new Changes(TidingsClient.text(json, "topic"), events, TidingsClient.text(json, "cursor"), json.path("more").asBoolean());
    }

    Failure failure(Transport t, boolean handshake) {
      if (error != null) {
        return Failure.of(error, handshake);
      }
      if (status >= 200 && status < 300 && json == null) {
        return Failure.refused("not a JSON answer");
      }
      return Failure.ofStatus(status, json, response, t + " answered " + status);
    }
  }
}
