package io.tidings.server.graphql;

import java.util.ArrayList;
import java.util.List;

/**
 * The room one WebSocket connection has for events its subscriptions hold until their subscribers
 * ask for them: {@code push.outbound.max_messages} events and {@code max_bytes} bytes, shared by all
 * the connection's subscriptions, so a connection's memory is bounded however many it runs.
 * Loop-confined.
 */
final class BufferBudget {
  private final int maxItems;
  private final long maxBytes;
  private int items;
  private long bytes;
  private List<Runnable> waiting;

  BufferBudget(int maxItems, long maxBytes) {
    this.maxItems = maxItems;
    this.maxBytes = maxBytes;
  }

  /** Takes room for one event of {@code weight} bytes; false when there is none (the subscriber is too slow). */
  boolean reserve(int weight) {
    if (items + 1 > maxItems || bytes + weight > maxBytes) {
      return false;
    }
    items++;
    bytes += weight;
    return true;
  }

  /** Gives back what {@code count} events of {@code weight} bytes in all took. */
  void release(int count, long weight) {
    items -= count;
    bytes -= weight;
    if (waiting != null && roomy()) {
      List<Runnable> tasks = waiting;
      waiting = null;
      for (Runnable task : tasks) {
        task.run();
      }
    }
  }

  /**
   * Whether less than a quarter is in use. Catch-up from history reads only then, which keeps the
   * rest for live events that cannot wait.
   */
  boolean roomy() {
    return items < Math.max(1, maxItems / 4) && bytes < maxBytes / 4;
  }

  /** Runs {@code task} once {@link #roomy()} (now, if it is). */
  void whenRoomy(Runnable task) {
    if (roomy()) {
      task.run();
      return;
    }
    if (waiting == null) {
      waiting = new ArrayList<>(2);
    }
    waiting.add(task);
  }
}
