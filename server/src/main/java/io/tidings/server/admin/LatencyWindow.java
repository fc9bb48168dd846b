package io.tidings.server.admin;

import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.distribution.CountAtBucket;
import io.micrometer.core.instrument.distribution.HistogramSnapshot;
import java.util.concurrent.TimeUnit;

/**
 * Quantiles of a histogram timer over the time since the previous {@link #sample}: the difference
 * of its cumulative bucket counts, interpolated within the bucket (so a value is as exact as the
 * buckets are fine). Used by the admin page's latency chart, once a second; not thread-safe.
 */
final class LatencyWindow {
  /** Quantiles of one window in milliseconds; {@code NaN} when nothing was recorded. */
  record Quantiles(long count, double p50, double p99) {
    static final Quantiles NONE = new Quantiles(0, Double.NaN, Double.NaN);
  }

  private final Timer timer;
  private double[] lastCounts;
  private long lastCount;

  LatencyWindow(Timer timer) {
    this.timer = timer;
    HistogramSnapshot s = timer.takeSnapshot();
    this.lastCounts = counts(s.histogramCounts());
    this.lastCount = s.count();
  }

  Quantiles sample() {
    HistogramSnapshot s = timer.takeSnapshot();
    CountAtBucket[] buckets = s.histogramCounts();
    double[] counts = counts(buckets);
    long count = s.count();
    long n = count - lastCount;
    double[] delta = new double[counts.length];
    for (int i = 0; i < counts.length; i++) {
      delta[i] = counts[i] - (i < lastCounts.length ? lastCounts[i] : 0);
    }
    lastCounts = counts;
    lastCount = count;
    if (n <= 0) {
      return Quantiles.NONE;
    }
    double[] bounds = new double[buckets.length];
    for (int i = 0; i < buckets.length; i++) {
      bounds[i] = buckets[i].bucket(TimeUnit.MILLISECONDS);
    }
    return new Quantiles(n, quantile(bounds, delta, n, 0.5), quantile(bounds, delta, n, 0.99));
  }

  private static double[] counts(CountAtBucket[] buckets) {
    double[] out = new double[buckets.length];
    for (int i = 0; i < buckets.length; i++) {
      out[i] = buckets[i].count();
    }
    return out;
  }

  /**
   * The {@code q} quantile of {@code n} values whose cumulative counts at or below {@code bounds}
   * are {@code cumulative}; a value past the last bound is reported as that bound.
   */
  static double quantile(double[] bounds, double[] cumulative, long n, double q) {
    double rank = q * n;
    double below = 0;
    double lower = 0;
    for (int i = 0; i < bounds.length; i++) {
      double at = cumulative[i];
      if (at >= rank && at > below) {
        double fraction = (rank - below) / (at - below);
        return lower + Math.max(0, Math.min(1, fraction)) * (bounds[i] - lower);
      }
      below = at;
      lower = bounds[i];
    }
    return bounds.length == 0 ? Double.NaN : bounds[bounds.length - 1];
  }
}
