package io.tidings.core;

/**
 * What a topic looks like at one moment. A topic nobody has published to has
 * {@code lastOffset == 0} and {@code firstOffset == 1}.
 *
 * @param topic the topic name
 * @param epoch the epoch of its history
 * @param firstOffset the oldest retained offset; {@code lastOffset + 1} when nothing is retained
 * @param lastOffset the newest offset, 0 before the first event
 * @param lastTime the time of the newest event in epoch milliseconds, 0 before the first event
 * @param keys how many keys its state holds
 */
public record TopicHead(String topic, String epoch, long firstOffset, long lastOffset, long lastTime, long keys) {

  /** The head of a topic that has no events yet. */
  public static TopicHead empty(String topic, String epoch) {
    return new TopicHead(topic, epoch, 1, 0, 0, 0);
  }

  /** The cursor at the head: after the newest event. */
  public Cursor cursor() {
    return new Cursor(epoch, lastOffset);
  }

  /** The cursor just before the oldest retained event. */
  public Cursor earliest() {
    return new Cursor(epoch, firstOffset - 1);
  }

  /** Whether a reader positioned after {@code offset} can continue without a gap. */
  public boolean retains(long offset) {
    return offset >= firstOffset - 1 && offset <= lastOffset;
  }
}
