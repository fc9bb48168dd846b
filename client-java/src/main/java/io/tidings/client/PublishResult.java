package io.tidings.client;

import java.util.List;

/**
 * The answer to a publish.
 *
 * @param topic the topic published to
 * @param cursor the position after the highest offset of the request
 * @param events one outcome per submitted event, in the order submitted
 */
public record PublishResult(String topic, String cursor, List<Outcome> events) {
  public PublishResult {
    events = List.copyOf(events);
  }

  /**
   * What became of one submitted event.
   *
   * @param id its idempotency key, or null when none was given
   * @param offset its offset (the original's, for a duplicate)
   * @param cursor the cursor right after it
   * @param duplicate true when the id had already been appended, so nothing new was stored
   */
  public record Outcome(String id, long offset, String cursor, boolean duplicate) {
  }
}
