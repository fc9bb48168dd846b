package io.tidings.server.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.tidings.server.ops.Metrics;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The admin page's per-second quantiles, from the differences of a Prometheus histogram's cumulative buckets. */
class LatencyWindowTest {
  @Test
  void quantilesCoverOnlyWhatWasRecordedSinceTheLastSample() {
    try (Metrics metrics = new Metrics()) {
      LatencyWindow window = new LatencyWindow(metrics.deliveryLatency());
      assertThat(window.sample().count()).isZero();
      assertThat(window.sample().p50()).isNaN();

      for (int i = 0; i < 98; i++) {
        metrics.delivered(TimeUnit.MICROSECONDS.toNanos(700)); // in the 0.5-1 ms bucket
      }
      metrics.delivered(TimeUnit.MILLISECONDS.toNanos(40)); // 25-50 ms
      metrics.delivered(TimeUnit.MILLISECONDS.toNanos(45));
      LatencyWindow.Quantiles q = window.sample();
      assertThat(q.count()).isEqualTo(100);
      assertThat(q.p50()).isBetween(0.5, 1.0);
      assertThat(q.p99()).isBetween(25.0, 50.0);

      // The next second saw only slow ones: the earlier fast ones no longer count.
      for (int i = 0; i < 10; i++) {
        metrics.delivered(TimeUnit.MILLISECONDS.toNanos(200)); // 100-250 ms
      }
      q = window.sample();
      assertThat(q.count()).isEqualTo(10);
      assertThat(q.p50()).isBetween(100.0, 250.0);
      assertThat(window.sample().count()).isZero();
    }
  }

  @Test
  void interpolatesWithinABucket_andReportsTheLastBoundBeyondIt() {
    double[] bounds = {1, 2, 4};
    assertThat(LatencyWindow.quantile(bounds, new double[] {0, 10, 10}, 10, 0.5)).isCloseTo(1.5, within(1e-9));
    assertThat(LatencyWindow.quantile(bounds, new double[] {10, 10, 10}, 10, 0.99)).isCloseTo(0.99, within(1e-9));
    assertThat(LatencyWindow.quantile(bounds, new double[] {0, 0, 0}, 5, 0.5)).as("all above the last bound").isEqualTo(4);
  }
}
