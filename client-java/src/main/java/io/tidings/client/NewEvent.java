package io.tidings.client;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Objects;

/**
 * An event to publish. Create one with {@link #message(JsonNode)}, {@link #put(String, JsonNode)},
 * {@link #delete(String)} or {@link #of(String, String, JsonNode)}, and give it an idempotency key
 * with {@link #withId(String)}.
 *
 * @param type the event type: {@code message}, {@code put}, {@code delete} or another
 *     {@code [a-z0-9_.-]{1,64}} word; never null
 * @param key the state key, required for {@code put} and {@code delete}; may be null otherwise
 * @param data the payload, any JSON value; null to send none
 * @param id the idempotency key (at most 128 characters); null for none
 */
public record NewEvent(String type, String key, JsonNode data, String id) {
  public NewEvent {
    Objects.requireNonNull(type, "type");
  }

  /** A {@code message} event carrying {@code data}. */
  public static NewEvent message(JsonNode data) {
    return new NewEvent("message", null, data, null);
  }

  /** A {@code put} event: sets the topic's state at {@code key} to {@code data}. */
  public static NewEvent put(String key, JsonNode data) {
    return new NewEvent("put", Objects.requireNonNull(key, "key"), data, null);
  }

  /** A {@code delete} event: removes {@code key} from the topic's state. */
  public static NewEvent delete(String key) {
    return new NewEvent("delete", Objects.requireNonNull(key, "key"), null, null);
  }

  /** An event of any type; {@code key} and {@code data} may be null. */
  public static NewEvent of(String type, String key, JsonNode data) {
    return new NewEvent(type, key, data, null);
  }

  /**
   * This event with an idempotency key: the server appends an event with an id it has already
   * appended to the topic (within its dedupe window) only once, and reports the repeat as a
   * duplicate.
   */
  public NewEvent withId(String id) {
    return new NewEvent(type, key, data, id);
  }
}
