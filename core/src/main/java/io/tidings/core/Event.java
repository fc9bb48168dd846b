package io.tidings.core;

/**
 * An event stored in a topic.
 *
 * @param topic the topic it belongs to
 * @param epoch the epoch of the history holding it
 * @param offset its position, starting at 1
 * @param type its type
 * @param key its state key, or {@code null}
 * @param data its payload as compact JSON text, or {@code null} when absent
 * @param id the publisher's idempotency id, or {@code null}
 * @param time when it was appended, in epoch milliseconds
 */
public record Event(
    String topic, String epoch, long offset, String type, String key, String data, String id, long time) {

  /** The cursor positioned just after this event. */
  public Cursor cursor() {
    return new Cursor(epoch, offset);
  }
}
