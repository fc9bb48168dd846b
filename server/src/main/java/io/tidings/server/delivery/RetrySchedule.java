package io.tidings.server.delivery;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * When to try a message again: the n-th attempt waits the n-th delay of the schedule (jittered),
 * and attempts past the schedule wait its last delay. A target asking for more time
 * ({@code Retry-After}) gets it, up to a day.
 */
public final class RetrySchedule {
  private static final long MAX_RETRY_AFTER = Duration.ofDays(1).toMillis();

  private final long[] delays;
  private final double jitter;
  private final long disableAfter;

  /**
   * @param delays the delay before attempt 1, 2, ... (the first is usually zero)
   * @param jitter relative, 0.2 = ±20%
   * @param disableAfter how long a target may keep failing, with its schedule used up, before it is given up
   */
  public RetrySchedule(List<Duration> delays, double jitter, Duration disableAfter) {
    if (delays.isEmpty()) {
      throw new IllegalArgumentException("an empty retry schedule");
    }
    this.delays = delays.stream().mapToLong(Duration::toMillis).toArray();
    this.jitter = jitter;
    this.disableAfter = disableAfter.toMillis();
  }

  /**
   * The delay before attempt {@code attempt} (2 for the first retry).
   *
   * @param retryAfterMillis what the target asked for, or -1
   */
  public long delayBefore(int attempt, long retryAfterMillis) {
    long base = delays[Math.min(attempt - 1, delays.length - 1)];
    long jittered = base == 0 ? 0 : Math.round(base * (1 + jitter * (2 * ThreadLocalRandom.current().nextDouble() - 1)));
    return Math.max(jittered, Math.min(retryAfterMillis, MAX_RETRY_AFTER));
  }

  /** Whether every delay of the schedule has been used once {@code attempts} attempts failed. */
  public boolean usedUp(int attempts) {
    return attempts >= delays.length;
  }

  /** Whether a target failing since {@code failingSince} after {@code attempts} attempts is given up at {@code now}. */
  public boolean givesUp(int attempts, long failingSince, long now) {
    return usedUp(attempts) && now - failingSince >= disableAfter;
  }
}
