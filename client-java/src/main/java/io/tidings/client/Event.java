package io.tidings.client;

import com.fasterxml.jackson.databind.JsonNode;
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
}
