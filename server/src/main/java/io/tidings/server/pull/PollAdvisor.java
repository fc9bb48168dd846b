package io.tidings.server.pull;

import io.tidings.core.hub.ChangeRates;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.IntSupplier;

/**
 * Computes {@code Tidings-Poll-Interval}: about the expected time to a topic's next change
 * (1 / its recent rate), bounded by {@code [min, max]}, stretched while the server holds many
 * long polls, and jittered so that pollers do not fall into step.
 */
public final class PollAdvisor {
  private final ChangeRates rates;
  private final IntSupplier held;
  private final double minSeconds;
  private final double maxSeconds;
  private final double jitter;
  private final double busyHeld;

  /**
   * @param rates per-topic change rates
   * @param held how many long polls the server holds now (its load)
   * @param minSeconds shortest advice
   * @param maxSeconds longest advice
   * @param jitter relative jitter, e.g. 0.2 for ±20%
   * @param busyHeld held long polls at which the advice doubles
   */
  public PollAdvisor(ChangeRates rates, IntSupplier held, double minSeconds, double maxSeconds, double jitter, int busyHeld) {
    this.rates = rates;
    this.held = held;
    this.minSeconds = minSeconds;
    this.maxSeconds = maxSeconds;
    this.jitter = jitter;
    this.busyHeld = busyHeld;
  }

  /** The advice for {@code topic} before jitter, in seconds. */
  public double baseSeconds(String topic) {
    double rate = rates.perSecond(topic);
    double seconds = rate <= 0 ? maxSeconds : 1.0 / rate;
    seconds *= 1.0 + held.getAsInt() / busyHeld;
    return Math.max(minSeconds, Math.min(maxSeconds, seconds));
  }

  /**
   * The header value for {@code topic}: the bounded advice spread uniformly over ±jitter, in
   * seconds with three decimals. Values therefore lie within {@code [min·(1-jitter), max·(1+jitter)]},
   * so pollers spread out even when every topic sits at a bound.
   */
  public String header(String topic) {
    double seconds = baseSeconds(topic);
    if (jitter > 0) {
      seconds *= 1.0 + (ThreadLocalRandom.current().nextDouble() * 2 - 1) * jitter;
    }
    long millis = Math.round(seconds * 1000);
    return (millis / 1000) + "." + (char) ('0' + millis / 100 % 10) + (char) ('0' + millis / 10 % 10) + (char) ('0' + millis % 10);
  }
}
