package io.tidings.server.delivery;

import java.util.List;

/**
 * One message to a target: items of one topic in offset order.
 *
 * @param messageId stable across every attempt of this message, restarts included
 * @param topic the topic of every item
 * @param items what to deliver, at least one
 * @param attempt 1 for the first attempt
 * @param notifyOnly send without event data (a push service refused the full payload as too large)
 */
public record Batch(String messageId, String topic, List<Item> items, int attempt, boolean notifyOnly) {
  public Batch {
    items = List.copyOf(items);
  }

  /** The last item, whose cursor is where the target stands once the batch is delivered. */
  public Item last() {
    return items.get(items.size() - 1);
  }
}
