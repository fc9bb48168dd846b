package io.tidings.server.ops;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmInfoMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.tidings.core.StoreProbe;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Supplier;

/**
 * The server's Prometheus metrics ({@code docs/operations.md} lists every series). Counters are
 * looked up once and cached: recording is allocation-free.
 */
public final class Metrics implements AutoCloseable {
  /** The poll endpoints of {@code tidings_polls_total}, and the statuses whose series exist from the start. */
  private static final List<String> POLL_ENDPOINTS = List.of("state", "changes");
  private static final int[] POLL_STATUSES = {200, 304, 410, 429};

  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  // route -> counters indexed by status code, filled lazily: counting a request allocates nothing.
  private final ConcurrentHashMap<String, AtomicReferenceArray<Counter>> requests = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, AtomicReferenceArray<Counter>> polls = new ConcurrentHashMap<>();
  private final Counter eventsPublished;
  private final Timer publishLatency;
  private final Timer deliveryLatency;
  private final Timer storeAppendLatency;
  private final DistributionSummary storeBatchEvents;
  private final DistributionSummary storeBatchRequests;
  private final JvmGcMetrics gc = new JvmGcMetrics();

  public Metrics() {
    new JvmMemoryMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ClassLoaderMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    new FileDescriptorMetrics().bindTo(registry);
    new JvmInfoMetrics().bindTo(registry);
    gc.bindTo(registry);
    eventsPublished = Counter.builder("tidings.events.published")
        .description("Events appended (duplicates excluded)").register(registry);
    publishLatency = Timer.builder("tidings.publish.latency")
        .description("Time from a parsed publish to its durable acknowledgement")
        .publishPercentiles(0.5, 0.99)
        .register(registry);
    deliveryLatency = Timer.builder("tidings.push.delivery.latency")
        .description("Time from an append's commit to the write of its events to push subscribers' sockets"
            + " (once per append and event loop)")
        .serviceLevelObjectives(millis(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000))
        .register(registry);
    storeAppendLatency = Timer.builder("tidings.store.append.latency")
        .description("Time from handing an append to the store to its commit (queueing, writing and fsync)")
        .serviceLevelObjectives(millis(0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000))
        .register(registry);
    storeBatchEvents = DistributionSummary.builder("tidings.store.batch.events")
        .description("New events per committed write transaction (group commit size)")
        .serviceLevelObjectives(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
        .register(registry);
    storeBatchRequests = DistributionSummary.builder("tidings.store.batch.requests")
        .description("Append requests per committed write transaction")
        .serviceLevelObjectives(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
        .register(registry);
    for (String endpoint : POLL_ENDPOINTS) {
      for (int status : POLL_STATUSES) {
        pollCounter(endpoint, status);
      }
    }
  }

  private static Duration[] millis(double... values) {
    Duration[] out = new Duration[values.length];
    for (int i = 0; i < values.length; i++) {
      out[i] = Duration.ofNanos(Math.round(values[i] * 1_000_000));
    }
    return out;
  }

  /** The registry, for meters of other classes (event loops, the access log). */
  public PrometheusMeterRegistry registry() {
    return registry;
  }

  /** Registers a gauge read at scrape time. */
  public void gauge(String name, String description, Supplier<Number> value) {
    Gauge.builder(name, value).description(description).register(registry);
  }

  /**
   * Registers a monotonically growing count read from {@code source} at scrape time. Micrometer
   * holds {@code source} weakly, so it must be an object that lives as long as the server.
   */
  public <T> void counter(String name, String description, T source, java.util.function.ToDoubleFunction<T> value) {
    io.micrometer.core.instrument.FunctionCounter.builder(name, source, value).description(description).register(registry);
  }

  /** Counts a finished HTTP request by route and status. */
  public void request(String route, int status) {
    AtomicReferenceArray<Counter> byStatus = requests.computeIfAbsent(route, r -> new AtomicReferenceArray<>(600));
    int index = status >= 100 && status < 600 ? status : 0;
    Counter c = byStatus.get(index);
    if (c == null) {
      c = Counter.builder("tidings.http.requests")
          .description("HTTP requests by route and status")
          .tag("route", route).tag("status", Integer.toString(status)).register(registry);
      byStatus.set(index, c);
    }
    c.increment();
  }

  /**
   * Counts an answered poll: {@code endpoint} is {@code state} or {@code changes} (a long poll
   * counts once, when it is answered).
   */
  public void poll(String endpoint, int status) {
    pollCounter(endpoint, status).increment();
  }

  private Counter pollCounter(String endpoint, int status) {
    AtomicReferenceArray<Counter> byStatus = polls.computeIfAbsent(endpoint, r -> new AtomicReferenceArray<>(600));
    int index = status >= 100 && status < 600 ? status : 0;
    Counter c = byStatus.get(index);
    if (c == null) {
      c = Counter.builder("tidings.polls")
          .description("Answered polls of /v1/state and /v1/changes (long polls included) by status")
          .tag("endpoint", endpoint).tag("status", Integer.toString(status)).register(registry);
      byStatus.set(index, c);
    }
    return c;
  }

  /** Records one live delivery on one event loop, {@code nanos} after the append's commit. */
  public void delivered(long nanos) {
    deliveryLatency.record(nanos, TimeUnit.NANOSECONDS);
  }

  /** The publish-to-deliver histogram (for the admin page's latency chart). */
  public Timer deliveryLatency() {
    return deliveryLatency;
  }

  /** The store append histogram (for the admin page's latency chart). */
  public Timer storeAppendLatency() {
    return storeAppendLatency;
  }

  /** What the engine reports about its write path. */
  public StoreProbe storeProbe() {
    return new StoreProbe() {
      @Override
      public void appended(long nanos) {
        storeAppendLatency.record(nanos, TimeUnit.NANOSECONDS);
      }

      @Override
      public void committed(int requests, int events) {
        storeBatchRequests.record(requests);
        storeBatchEvents.record(events);
      }
    };
  }

  /** Events published so far (for the admin page). */
  public double publishedTotal() {
    return eventsPublished.count();
  }

  /** Records a durable publish. */
  public void published(int newEvents, long nanos) {
    eventsPublished.increment(newEvents);
    publishLatency.record(nanos, TimeUnit.NANOSECONDS);
  }

  /** The Prometheus text exposition. */
  public String scrape() {
    return registry.scrape();
  }

  @Override
  public void close() {
    gc.close();
    registry.close();
  }

  // ---- limits (issue #5): what abuse and overload protection refused
  private final ConcurrentHashMap<String, Counter> refusals = new ConcurrentHashMap<>();

  {
    for (String kind : new String[] {"publish", "subscribe", "poll", "connection"}) {
      rateLimited(kind, 0);
    }
    connectionRefused("cap", 0);
  }

  /** Counts a request, op or connection refused by {@code limits.rate} (kind: publish, subscribe, poll, connection). */
  public void rateLimited(String kind) {
    rateLimited(kind, 1);
  }

  /** Counts a push connection or long poll refused by a connection cap (reason: cap, principal_cap). */
  public void connectionRefused(String reason) {
    connectionRefused(reason, 1);
  }

  private void rateLimited(String kind, int n) {
    refusals.computeIfAbsent("rate:" + kind, k -> Counter.builder("tidings.rate_limited")
        .description("Requests, WebSocket ops and connections refused by limits.rate")
        .tag("kind", kind).register(registry)).increment(n);
  }

  private void connectionRefused(String reason, int n) {
    refusals.computeIfAbsent("cap:" + reason, k -> Counter.builder("tidings.connections.refused")
        .description("Push connections and long polls refused by limits.max_connections(_per_principal)")
        .tag("reason", reason).register(registry)).increment(n);
  }

  // ---- server-initiated delivery (issue #6): webhooks and Web Push
  private final ConcurrentHashMap<String, Counter> deliveries = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Timer> deliveryLatencies = new ConcurrentHashMap<>();

  {
    for (String channel : new String[] {"webhook", "webpush"}) {
      for (String result : new String[] {"delivered", "failed", "gone", "too_large"}) {
        deliveryCounter(channel, result);
      }
      deliveredEvents(channel);
      deliveryTimer(channel);
    }
  }

  /**
   * Counts one delivery attempt to a webhook endpoint or push subscription.
   *
   * @param channel {@code webhook} or {@code webpush}
   * @param result {@code delivered}, {@code failed}, {@code gone} or {@code too_large}
   * @param events the events (and state entries) it carried, counted when delivered
   */
  public void deliveryAttempt(String channel, String result, long nanos, int events) {
    deliveryCounter(channel, result).increment();
    deliveryTimer(channel).record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
    if (result.equals("delivered")) {
      deliveredEvents(channel).increment(events);
    }
  }

  private Counter deliveryCounter(String channel, String result) {
    return deliveries.computeIfAbsent(channel + ":" + result, k -> Counter.builder("tidings.delivery.attempts")
        .description("Webhook and Web Push attempts by channel and result")
        .tag("channel", channel).tag("result", result).register(registry));
  }

  private Counter deliveredEvents(String channel) {
    return deliveries.computeIfAbsent(channel + ":events", k -> Counter.builder("tidings.delivery.events")
        .description("Events and state entries delivered by webhooks and Web Push")
        .tag("channel", channel).register(registry));
  }

  private Timer deliveryTimer(String channel) {
    return deliveryLatencies.computeIfAbsent(channel, k -> Timer.builder("tidings.delivery.latency")
        .description("Time from sending a webhook or push request to its answer (or failure)")
        .tag("channel", channel)
        .serviceLevelObjectives(millis(1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 15000))
        .register(registry));
  }
}
