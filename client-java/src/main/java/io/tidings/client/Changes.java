package io.tidings.client;

import java.util.List;

/**
 * One page of a topic's changes.
 *
 * @param topic the topic
 * @param events the events after the requested cursor, in offset order
 * @param cursor the position after the last returned event (or the requested one when none was
 *     returned): pass it as {@code since} to continue
 * @param more true when further events are already available
 */
public record Changes(String topic, List<Event> events, String cursor, boolean more) {
  public Changes {
    events = List.copyOf(events);
  }
}
