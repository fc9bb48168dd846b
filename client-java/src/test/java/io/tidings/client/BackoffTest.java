package io.tidings.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class BackoffTest {
  private static final Duration BASE = Duration.ofMillis(500);
  private static final Duration CAP = Duration.ofSeconds(30);

  @Test
  void ceilingDoublesUpToTheCap() {
    Backoff b = new Backoff(BASE, CAP, () -> 0.5);
    assertThat(b.ceiling(0)).isEqualTo(Duration.ofMillis(500));
    assertThat(b.ceiling(1)).isEqualTo(Duration.ofMillis(1000));
    assertThat(b.ceiling(5)).isEqualTo(Duration.ofMillis(16_000));
    assertThat(b.ceiling(6)).isEqualTo(CAP);
    assertThat(b.ceiling(1000)).isEqualTo(CAP); // no overflow
  }

  @Test
  void delayIsRandomTimesCeiling() {
    assertThat(new Backoff(BASE, CAP, () -> 0.0).delay(3)).isZero();
    assertThat(new Backoff(BASE, CAP, () -> 0.5).delay(0)).isEqualTo(Duration.ofMillis(250));
    assertThat(new Backoff(BASE, CAP, () -> 0.5).delay(2)).isEqualTo(Duration.ofMillis(1000));
    assertThat(new Backoff(BASE, CAP, () -> 0.999_999).delay(10)).isEqualTo(Duration.ofMillis(29_999));
  }

  @Test
  void everyDelayStaysWithinTheFullJitterWindow() {
    Random random = new Random(7);
    Backoff b = new Backoff(BASE, CAP, random::nextDouble);
    for (int attempt = 0; attempt < 12; attempt++) {
      long ceiling = Math.min(CAP.toMillis(), BASE.toMillis() << attempt);
      long min = Long.MAX_VALUE;
      long max = 0;
      for (int i = 0; i < 2000; i++) {
        long d = b.delay(attempt).toMillis();
        assertThat(d).isBetween(0L, ceiling - 1);
        min = Math.min(min, d);
        max = Math.max(max, d);
      }
      // full jitter spreads over the whole window, not just its top
      assertThat(min).isLessThan(ceiling / 10);
      assertThat(max).isGreaterThan(ceiling * 9 / 10);
    }
  }

  @Test
  void aSeededSourceGivesTheSameDelays() {
    List<Duration> first = delays(new Random(42));
    List<Duration> second = delays(new Random(42));
    assertThat(first).isEqualTo(second);
    assertThat(delays(new Random(43))).isNotEqualTo(first);
  }

  private static List<Duration> delays(Random random) {
    Backoff b = new Backoff(BASE, CAP, random::nextDouble);
    List<Duration> out = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      out.add(b.delay(i));
    }
    return out;
  }

  @Test
  void refusesNonsense() {
    assertThatThrownBy(() -> new Backoff(Duration.ZERO, CAP)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new Backoff(CAP, BASE)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new Backoff(BASE, CAP).delay(-1)).isInstanceOf(IllegalArgumentException.class);
  }
}
