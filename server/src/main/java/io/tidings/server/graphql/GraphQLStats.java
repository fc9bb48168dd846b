package io.tidings.server.graphql;

import io.tidings.server.ops.Metrics;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/** Counts of GraphQL over WebSocket, shared by all event loops and exported beside the other push metrics. */
public final class GraphQLStats {
  final AtomicInteger connections = new AtomicInteger();
  final AtomicInteger subscriptions = new AtomicInteger();
  final LongAdder slow = new LongAdder();
  final LongAdder operations = new LongAdder();
  /** Shared with the other push transports ({@code tidings_push_stalled_total}). */
  LongAdder stalled = new LongAdder();

  /**
   * Registers {@code tidings_push_connections_graphql} and the others.
   *
   * @param stalled the push transports' counter of connections closed as stalled, which GraphQL's add to
   */
  public void bind(Metrics metrics, LongAdder stalled) {
    this.stalled = stalled;
    metrics.gauge("tidings.push.connections.graphql", "Open GraphQL WebSocket connections (graphql-transport-ws)",
        connections::get);
    metrics.gauge("tidings.push.subscriptions.graphql", "GraphQL subscriptions of open WebSocket connections",
        subscriptions::get);
    metrics.counter("tidings.push.slow_consumers.graphql",
        "GraphQL WebSocket connections closed with 4008 (slow consumer)", slow, LongAdder::sum);
    metrics.counter("tidings.graphql.operations", "GraphQL operations executed (HTTP and WebSocket)", operations,
        LongAdder::sum);
  }

  public int connections() {
    return connections.get();
  }

  public int subscriptions() {
    return subscriptions.get();
  }

  public long slowConsumers() {
    return slow.sum();
  }
}
