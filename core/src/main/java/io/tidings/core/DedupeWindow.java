package io.tidings.core;

import java.time.Duration;

/**
 * How long idempotency ids are remembered per topic: an id is forgotten only once it is both
 * older than {@code minAge} and not among the topic's newest {@code minIds} ids.
 *
 * @param minIds ids always remembered per topic
 * @param minAge age under which an id is always remembered
 */
public record DedupeWindow(long minIds, Duration minAge) {
  /** The window the wire contract promises: 100,000 ids or 24 hours, whichever is longer. */
  public static final DedupeWindow DEFAULT = new DedupeWindow(100_000, Duration.ofHours(24));

  public DedupeWindow {
    if (minIds < 0 || minAge.isNegative()) {
      throw new IllegalArgumentException("dedupe window must not be negative");
    }
  }
}
