package io.tidings.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;

/**
 * An event as stored in a topic.
 *
 * @param topic the topic it belongs to
 * @param offset its position in the topic, from 1 with no gaps
 * @param cursor the cursor right after this event, to resume from
 * @param id the publisher's idempotency key, or null
 * @param type {@code message}, {@code put}, {@code delete} or another type word
 * @param key the state key, or null
 * @param data the payload, or null when it has none (a {@code delete}, or notify mode)
 * @param time when it was appended
 */
public record Event(String topic, long offset, String cursor, String id, String type, String key,
    JsonNode data, Instant time) {

  /** The {@link #type()} of the marker an {@link EventStream} yields for a {@link Reset}. */
  public static final String RESET = "reset";

  /**
   * True for the marker an {@link EventStream} yields where a topic was reset: offset 0 (no stored
   * event has it), type {@code reset}, the reset's cursor, and data {@code {"reason": ...}}. The
   * topic's state follows as {@code put} events: clear what you keep of the topic.
   */
  public boolean isReset() {
    return offset == 0 && RESET.equals(type);
  }

  /** The marker for {@code reset} (see {@link #isReset()}). */
  static Event resetMarker(Reset reset) {
    ObjectNode data = TidingsClient.mapper().createObjectNode();
    data.put("reason", reset.reason());
    return new Event(reset.topic(), 0, reset.cursor(), null, RESET, null, data, null);
  }
}
