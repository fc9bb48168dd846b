package io.tidings.server.grpc;

import io.micrometer.core.instrument.Counter;
import io.tidings.server.ops.Metrics;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * Counts of the gRPC service, shared by all event loops. Exported beside the other push transports'
 * ({@code tidings_push_connections_grpc}, ...) and as {@code tidings_grpc_calls_total{method,status}}.
 */
public final class GrpcStats {
  final AtomicInteger streams = new AtomicInteger();
  final AtomicInteger subscriptions = new AtomicInteger();
  final LongAdder slow = new LongAdder();
  final LongAdder stalled = new LongAdder();
  private final ConcurrentHashMap<String, Counter> calls = new ConcurrentHashMap<>();
  private Metrics metrics;

  /** Open {@code Subscribe} streams. */
  public int streams() {
    return streams.get();
  }

  /** Topic subscriptions of open {@code Subscribe} streams. */
  public int subscriptions() {
    return subscriptions.get();
  }

  /** Streams ended with {@code RESOURCE_EXHAUSTED} because the client did not keep up. */
  public long slowConsumers() {
    return slow.sum();
  }

  /** Registers the gRPC metrics; call once at start. */
  public void bind(Metrics metrics) {
    this.metrics = metrics;
    metrics.gauge("tidings.push.connections.grpc", "Open gRPC Subscribe streams", streams::get);
    metrics.gauge("tidings.push.subscriptions.grpc", "Topic subscriptions of open gRPC Subscribe streams",
        subscriptions::get);
    metrics.counter("tidings.push.slow_consumers.grpc",
        "gRPC Subscribe streams ended with RESOURCE_EXHAUSTED because the client could not keep up", slow,
        LongAdder::sum);
    metrics.counter("tidings.push.stalled.grpc",
        "gRPC Subscribe streams reset because the client took nothing for too long", stalled, LongAdder::sum);
  }

  /** Counts a finished call by method ({@code Publish}, ...) and status name ({@code OK}, ...). */
  void call(String method, String status) {
    if (metrics == null) {
      return;
    }
    calls.computeIfAbsent(method + ' ' + status, k -> Counter.builder("tidings.grpc.calls")
        .description("gRPC calls by method and status")
        .tag("method", method).tag("status", status)
        .register(metrics.registry())).increment();
  }
}
