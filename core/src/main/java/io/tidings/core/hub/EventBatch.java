package io.tidings.core.hub;

import io.tidings.core.Event;
import io.tidings.core.TopicHead;
import java.util.List;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Consecutive events of one topic on their way to subscribers, with their encodings cached so that
 * each wire format is produced once however many connections receive the batch.
 */
public final class EventBatch {
  private final TopicHead head;
  private final List<Event> events;
  private final long appendedNanos;
  private final AtomicReferenceArray<Object> encoded = new AtomicReferenceArray<>(EventEncoding.MAX_SLOTS);

  /**
   * A batch read from the store (catch-up), whose append time is not known.
   *
   * @param head the topic head when these events were read or appended
   * @param events consecutive events of {@code head.topic()}, in offset order, at least one
   */
  public EventBatch(TopicHead head, List<Event> events) {
    this(head, events, 0);
  }

  /**
   * @param appendedNanos {@link System#nanoTime()} when the store announced the append, 0 when unknown
   */
  public EventBatch(TopicHead head, List<Event> events, long appendedNanos) {
    if (events.isEmpty()) {
      throw new IllegalArgumentException("an event batch holds at least one event");
    }
    this.head = head;
    this.events = events;
    this.appendedNanos = appendedNanos;
  }

  public TopicHead head() {
    return head;
  }

  public String topic() {
    return head.topic();
  }

  public List<Event> events() {
    return events;
  }

  /** {@link System#nanoTime()} when the store announced these events as durable; 0 for a batch read from the store. */
  public long appendedNanos() {
    return appendedNanos;
  }

  public int size() {
    return events.size();
  }

  public long firstOffset() {
    return events.get(0).offset();
  }

  public long lastOffset() {
    return events.get(events.size() - 1).offset();
  }

  public String epoch() {
    return events.get(0).epoch();
  }

  /** This batch in the given wire format, encoded on first use and shared from then on. */
  @SuppressWarnings("unchecked")
  public <T> T encoded(EventEncoding<T> encoding) {
    Object value = encoded.get(encoding.slot);
    if (value == null) {
      synchronized (this) {
        value = encoded.get(encoding.slot);
        if (value == null) {
          value = encoding.encode(this);
          encoded.set(encoding.slot, value);
        }
      }
    }
    return (T) value;
  }
}
