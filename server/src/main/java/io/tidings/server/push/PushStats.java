package io.tidings.server.push;

import io.tidings.core.hub.Hub;
import io.tidings.server.ops.Metrics;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/** Counts of the push transports, shared by all event loops and exported as metrics. */
public final class PushStats {
  /** Open SSE streams. */
  public int sseConnections() {
    return sseConnections.get();
  }

  /** Open WebSocket connections. */
  public int wsConnections() {
    return wsConnections.get();
  }

  public int sseSubscriptions() {
    return sseSubscriptions.get();
  }

  public int wsSubscriptions() {
    return wsSubscriptions.get();
  }

  /** Messages discarded from closing connections' queues so far. */
  public long dropped() {
    return dropped.sum();
  }

  /** Connections closed as slow consumers so far (both transports). */
  public long slowConsumers() {
    return sseSlow.sum() + wsSlow.sum();
  }

  /**
   * The counter of messages discarded from closing connections' queues, for transports outside this
   * package to hand to their {@link Outbound}.
   */
  public LongAdder droppedCounter() {
    return dropped;
  }

  /** The counter of connections closed because their socket took nothing for too long, for transports outside this package. */
  public LongAdder stalledCounter() {
    return stalled;
  }

  final AtomicInteger sseConnections = new AtomicInteger();
  final AtomicInteger wsConnections = new AtomicInteger();
  final AtomicInteger sseSubscriptions = new AtomicInteger();
  final AtomicInteger wsSubscriptions = new AtomicInteger();
  /** Messages queued for a client and discarded when its connection closed (see {@link Outbound#close}). */
  final LongAdder dropped = new LongAdder();
  final LongAdder sseSlow = new LongAdder();
  final LongAdder wsSlow = new LongAdder();
  final LongAdder stalled = new LongAdder();

  /** Registers the push metrics, including the hub's. */
  public void bind(Metrics metrics, Hub hub) {
    metrics.gauge("tidings.push.connections.sse", "Open Server-Sent Events streams", sseConnections::get);
    metrics.gauge("tidings.push.connections.ws", "Open WebSocket connections", wsConnections::get);
    metrics.gauge("tidings.push.subscriptions", "Open topic subscriptions over push transports", hub::feeds);
    metrics.gauge("tidings.push.subscriptions.sse", "Topic subscriptions of open SSE streams", sseSubscriptions::get);
    metrics.gauge("tidings.push.subscriptions.ws", "Topic subscriptions of open WebSocket connections",
        wsSubscriptions::get);
    metrics.gauge("tidings.push.topics", "Topics with push subscribers on this node", hub::topics);
    metrics.counter("tidings.push.delivered", "Events handed to push subscribers (one per subscriber)", hub,
        Hub::delivered);
    metrics.counter("tidings.push.resets", "Resets sent to subscribers whose cursor could not be resumed", hub,
        Hub::resets);
    metrics.counter("tidings.push.slow_consumers.sse", "SSE streams closed because the client could not keep up",
        sseSlow, LongAdder::sum);
    metrics.counter("tidings.push.slow_consumers.ws", "WebSocket connections closed with 4008 (slow consumer)",
        wsSlow, LongAdder::sum);
    metrics.counter("tidings.push.dropped", "Messages (mostly events) queued for a push client and discarded"
        + " because its connection closed first: a slow consumer cut, a stalled or vanished client", dropped,
        LongAdder::sum);
    metrics.counter("tidings.push.stalled", "Push connections closed because their socket took nothing for too long",
        stalled, LongAdder::sum);
  }
}
