package io.tidings.core;

import java.util.List;

/**
 * Events read from a topic, with the head seen in the same snapshot.
 *
 * @param head the topic head when the events were read
 * @param events consecutive events in offset order
 */
public record ReadResult(TopicHead head, List<Event> events) {
  public ReadResult {
    events = List.copyOf(events);
  }
}
