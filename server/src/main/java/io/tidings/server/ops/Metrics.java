package io.tidings.server.ops;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Supplier;

/** The server's Prometheus metrics. Counters are looked up once and cached: recording is allocation-free. */
public final class Metrics implements AutoCloseable {
  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  // route -> counters indexed by status code, filled lazily: counting a request allocates nothing.
  private final ConcurrentHashMap<String, AtomicReferenceArray<Counter>> requests = new ConcurrentHashMap<>();
  private final Counter eventsPublished;
  private final Timer publishLatency;
  private final JvmGcMetrics gc = new JvmGcMetrics();

  public Metrics() {
    new JvmMemoryMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ClassLoaderMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    gc.bindTo(registry);
    eventsPublished = Counter.builder("tidings.events.published")
        .description("Events appended (duplicates excluded)").register(registry);
    publishLatency = Timer.builder("tidings.publish.latency")
        .description("Time from a parsed publish to its durable acknowledgement")
        .publishPercentiles(0.5, 0.99)
        .register(registry);
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
}
