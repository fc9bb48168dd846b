package io.tidings.core.hub;

import io.tidings.core.AppendListener;
import io.tidings.core.Event;
import io.tidings.core.TopicHead;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * The recent change rate of each topic, as an exponentially decaying average of events per
 * second with time constant {@code window}: a burst counts fully now and fades by e^-1 per window.
 */
public final class ChangeRates implements AppendListener {
  private final ConcurrentHashMap<String, Rate> rates = new ConcurrentHashMap<>();
  private final double windowMillis;
  private final LongSupplier clock;

  /**
   * @param windowMillis the averaging time constant in milliseconds
   * @param clock milliseconds, monotonic enough for rates
   */
  public ChangeRates(long windowMillis, LongSupplier clock) {
    if (windowMillis <= 0) {
      throw new IllegalArgumentException("window must be positive");
    }
    this.windowMillis = windowMillis;
    this.clock = clock;
  }

  @Override
  public void onAppend(TopicHead head, List<Event> events) {
    long now = clock.getAsLong();
    rates.computeIfAbsent(head.topic(), t -> new Rate(now)).add(events.size(), now, windowMillis);
  }

  /** Events per second recently seen on {@code topic}; 0 for a quiet or unknown topic. */
  public double perSecond(String topic) {
    Rate rate = rates.get(topic);
    return rate == null ? 0 : rate.at(clock.getAsLong(), windowMillis);
  }

  /** Forgets topics whose rate has decayed to nothing, so idle topics cost no memory. */
  public void forgetIdle() {
    long now = clock.getAsLong();
    rates.values().removeIf(r -> r.at(now, windowMillis) < 1e-6);
  }

  /** Up to {@code limit} topics with the highest rates now (above {@code min} events per second), highest first. */
  public List<Map.Entry<String, Double>> busiest(int limit, double min) {
    if (limit <= 0) {
      return List.of();
    }
    long now = clock.getAsLong();
    PriorityQueue<Map.Entry<String, Double>> top = new PriorityQueue<>(Map.Entry.comparingByValue());
    for (Map.Entry<String, Rate> e : rates.entrySet()) {
      double r = e.getValue().at(now, windowMillis);
      if (r > min) {
        top.add(Map.entry(e.getKey(), r));
        if (top.size() > limit) {
          top.poll();
        }
      }
    }
    List<Map.Entry<String, Double>> out = new ArrayList<>(top);
    out.sort(Map.Entry.<String, Double>comparingByValue().reversed());
    return out;
  }

  /** How many topics are tracked. */
  public int size() {
    return rates.size();
  }

  private static final class Rate {
    // sum of n_i * e^{-(t - t_i)/window}, valid at time `at`
    private double weight;
    private long at;

    Rate(long now) {
      this.at = now;
    }

    synchronized void add(int n, long now, double window) {
      weight = decayed(now, window) + n;
      at = Math.max(at, now);
    }

    synchronized double at(long now, double window) {
      return decayed(now, window) * 1000.0 / window;
    }

    private double decayed(long now, double window) {
      long dt = Math.max(0, now - at);
      return weight * Math.exp(-dt / window);
    }
  }
}
