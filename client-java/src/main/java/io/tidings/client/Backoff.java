package io.tidings.client;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.DoubleSupplier;

/**
 * Full-jitter exponential backoff: the delay before retry number {@code attempt} (from 0) is drawn
 * uniformly from {@code [0, min(cap, base * 2^attempt))}. Spreading retries over the whole window
 * keeps clients that lost the same server from coming back at the same instant.
 *
 * <p>Instances are immutable and thread-safe when the random source is.
 */
public final class Backoff {
  private final long baseMillis;
  private final long capMillis;
  private final DoubleSupplier random;

  /** A backoff with the given base and cap, drawing from {@link ThreadLocalRandom}. */
  public Backoff(Duration base, Duration cap) {
    this(base, cap, () -> ThreadLocalRandom.current().nextDouble());
  }

  /**
   * A backoff with the given base, cap and random source.
   *
   * @param base the ceiling of the first delay; positive
   * @param cap the largest ceiling; at least {@code base}
   * @param random uniform values in {@code [0, 1)}, e.g. {@code new Random(42)::nextDouble}
   */
  public Backoff(Duration base, Duration cap, DoubleSupplier random) {
    this.baseMillis = Objects.requireNonNull(base, "base").toMillis();
    this.capMillis = Objects.requireNonNull(cap, "cap").toMillis();
    this.random = Objects.requireNonNull(random, "random");
    if (baseMillis <= 0) {
      throw new IllegalArgumentException("base must be at least 1 ms");
    }
    if (capMillis < baseMillis) {
      throw new IllegalArgumentException("cap must not be below base");
    }
  }

  /** The upper bound of the delay of retry {@code attempt}: {@code min(cap, base * 2^attempt)}. */
  public Duration ceiling(int attempt) {
    return Duration.ofMillis(ceilingMillis(attempt));
  }

  /** A delay for retry {@code attempt} (0 for the first): uniform in {@code [0, ceiling(attempt))}. */
  public Duration delay(int attempt) {
    double r = random.getAsDouble();
    if (!(r >= 0 && r < 1)) {
      r = 0;
    }
    return Duration.ofMillis((long) Math.floor(r * ceilingMillis(attempt)));
  }

  private long ceilingMillis(int attempt) {
    if (attempt < 0) {
      throw new IllegalArgumentException("attempt < 0");
    }
    // base * 2^attempt without overflow: stop doubling once past the cap.
    long c = baseMillis;
    for (int i = 0; i < attempt && c < capMillis; i++) {
      c <<= 1;
    }
    return Math.min(c, capMillis);
  }
}
