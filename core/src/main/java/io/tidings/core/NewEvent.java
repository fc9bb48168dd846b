package io.tidings.core;

import java.util.Objects;

/**
 * An event as a publisher submits it, before the engine gives it an offset.
 *
 * @param type the event type, already validated
 * @param key the state key; required for {@code put} and {@code delete}
 * @param data the payload as compact JSON text, or {@code null} when absent
 * @param id the idempotency key, or {@code null}
 */
public record NewEvent(String type, String key, String data, String id) {
  public NewEvent {
    Objects.requireNonNull(type, "type");
    if (EventTypes.isStateChange(type) && key == null) {
      throw new IllegalArgumentException(type + " needs a key");
    }
  }

  /** A {@code message} event carrying {@code data}. */
  public static NewEvent message(String data) {
    return new NewEvent(EventTypes.MESSAGE, null, data, null);
  }

  /** A {@code put} of {@code data} at {@code key}. */
  public static NewEvent put(String key, String data) {
    return new NewEvent(EventTypes.PUT, key, data, null);
  }

  /** A {@code delete} of {@code key}. */
  public static NewEvent delete(String key) {
    return new NewEvent(EventTypes.DELETE, key, null, null);
  }

  /** The same event with an idempotency id. */
  public NewEvent withId(String newId) {
    return new NewEvent(type, key, data, newId);
  }
}
