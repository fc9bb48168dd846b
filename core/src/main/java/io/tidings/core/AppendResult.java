package io.tidings.core;

import java.util.List;

/**
 * The outcome of one durable append.
 *
 * @param head the topic head after the append
 * @param outcomes one entry per submitted event, in submission order
 * @param appended the events that were new (not duplicates), in offset order
 */
public record AppendResult(TopicHead head, List<Outcome> outcomes, List<Event> appended) {
  public AppendResult {
    outcomes = List.copyOf(outcomes);
    appended = List.copyOf(appended);
  }

  /** The highest offset among the submitted events (new or duplicate). */
  public long lastOffset() {
    long max = 0;
    for (Outcome o : outcomes) {
      max = Math.max(max, o.offset());
    }
    return max;
  }

  /**
   * What happened to one submitted event.
   *
   * @param id its idempotency id, or {@code null}
   * @param offset its offset, or for a duplicate the offset of the event first appended with that id
   * @param duplicate whether the id was already in the dedupe window, so nothing was appended
   */
  public record Outcome(String id, long offset, boolean duplicate) {}
}
