package io.tidings.core;

import java.util.List;

/**
 * Told about events after they are durable. Called on an engine thread, so implementations must
 * return quickly and never block: hand work to the event loops that own the interested connections.
 */
@FunctionalInterface
public interface AppendListener {
  /**
   * New events were appended to {@code head.topic()}.
   *
   * @param head the topic head right after these events
   * @param events the new events, consecutive and in offset order
   */
  void onAppend(TopicHead head, List<Event> events);
}
