package io.tidings.server.cli;

import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.LongUnaryOperator;

/**
 * Reconnection delays with full jitter: the n-th consecutive retry waits {@code random(0, min(cap,
 * base * 2^n))}, so that many clients dropped at once do not come back at once.
 */
final class Backoff {
  private final long baseMillis;
  private final long capMillis;
  private final LongUnaryOperator random;
  private int attempts;

  /** {@code random} maps a bound to a value in {@code [0, bound]}. */
  Backoff(long baseMillis, long capMillis, LongUnaryOperator random) {
    this.baseMillis = baseMillis;
    this.capMillis = capMillis;
    this.random = random;
  }

  Backoff(long baseMillis, long capMillis) {
    this(baseMillis, capMillis, bound -> ThreadLocalRandom.current().nextLong(bound + 1));
  }

  /** The delay before the next retry; each call counts one more consecutive failure. */
  long next() {
    long ceiling = Math.min(capMillis, baseMillis << Math.min(attempts, 30));
    attempts++;
    return random.applyAsLong(ceiling);
  }

  /** After a healthy connection: the next retry starts from the base again. */
  void reset() {
    attempts = 0;
  }

  int attempts() {
    return attempts;
  }

  /** A {@code Retry-After} value (delay-seconds or an HTTP date) in milliseconds; 0 when absent or unreadable. */
  static long retryAfterMillis(Optional<String> header, Instant now) {
    if (header.isEmpty()) {
      return 0;
    }
    String v = header.get().trim();
    if (!v.isEmpty() && v.length() <= 9 && v.chars().allMatch(c -> c >= '0' && c <= '9')) {
      return Long.parseLong(v) * 1000;
    }
    try {
      Instant at = ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
      return Math.max(0, at.toEpochMilli() - now.toEpochMilli());
    } catch (DateTimeParseException e) {
      return 0;
    }
  }
}
