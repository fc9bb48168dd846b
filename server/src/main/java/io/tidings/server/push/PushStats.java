package io.tidings.server.push;

import io.tidings.core.hub.Hub;
import io.tidings.server.ops.Metrics;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/** Counts of the push transports, shared by all event loops and exported as metrics. */
public final class PushStats {
  final AtomicInteger sseConnections = new AtomicInteger();
  final AtomicInteger wsConnections = new AtomicInteger();
  final LongAdder sseSlow = new LongAdder();
  final LongAdder wsSlow = new LongAdder();
  final LongAdder stalled = new LongAdder();

  /** Registers the push metrics, including the hub's. */
  public void bind(Metrics metrics, Hub hub) {
    metrics.gauge("tidings.push.connections.sse", "Open Server-Sent Events streams", sseConnections::get);
    metrics.gauge("tidings.push.connections.ws", "Open WebSocket connections", wsConnections::get);
    metrics.gauge("tidings.push.subscriptions", "Open topic subscriptions over push transports", hub::feeds);
    metrics.gauge("tidings.push.topics", "Topics with push subscribers on this node", hub::topics);
    metrics.counter("tidings.push.delivered", "Events handed to push subscribers (one per subscriber)", hub,
        Hub::delivered);
    metrics.counter("tidings.push.resets", "Resets sent to subscribers whose cursor could not be resumed", hub,
        Hub::resets);
    metrics.counter("tidings.push.slow_consumers.sse", "SSE streams closed because the client could not keep up",
        sseSlow, LongAdder::sum);
    metrics.counter("tidings.push.slow_consumers.ws", "WebSocket connections closed with 4008 (slow consumer)",
        wsSlow, LongAdder::sum);
    metrics.counter("tidings.push.stalled", "Push connections closed because their socket took nothing for too long",
        stalled, LongAdder::sum);
  }
}
