package io.tidings.core;

import java.time.Duration;

/**
 * How much history topics matching a pattern keep. A limit of {@code 0} (count) or {@code null}
 * (age) means unbounded. State entries are never trimmed.
 *
 * @param pattern the topics this rule covers
 * @param maxEvents the most events kept per topic, or 0 for no count limit
 * @param maxAge the oldest event kept, or {@code null} for no age limit
 */
public record RetentionRule(TopicPattern pattern, long maxEvents, Duration maxAge) {
  public RetentionRule {
    if (maxEvents < 0) {
      throw new IllegalArgumentException("max_events must not be negative");
    }
    if (maxAge != null && (maxAge.isNegative() || maxAge.isZero())) {
      throw new IllegalArgumentException("max_age must be positive");
    }
  }
}
