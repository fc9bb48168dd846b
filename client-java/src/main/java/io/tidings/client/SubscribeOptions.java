package io.tidings.client;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.DoubleSupplier;

/**
 * How a {@link Subscription} connects and reconnects. Immutable; build one with
 * {@link #builder()}, or use {@link #defaults()}.
 *
 * <pre>{@code
 * SubscribeOptions options = SubscribeOptions.builder()
 *     .transports(Transport.SSE, Transport.LONG_POLL)   // skip WebSocket
 *     .mode(SubscribeOptions.Mode.NOTIFY)
 *     .backoff(Duration.ofMillis(250), Duration.ofSeconds(10))
 *     .build();
 * }</pre>
 */
public final class SubscribeOptions {
  private static final SubscribeOptions DEFAULTS = builder().build();

  /** What push transports carry. */
  public enum Mode {
    /** Events with their data (the default). */
    FULL,
    /**
     * Push transports carry notifications without data; the subscription fetches the events from
     * {@code /v1/changes}, one request for however many notifications arrived meanwhile, and the
     * listener receives full events. Long polling and polling always fetch full events.
     */
    NOTIFY
  }

  private final List<Transport> transports;
  private final Mode mode;
  private final Duration backoffBase;
  private final Duration backoffCap;
  private final Duration healthyAfter;
  private final Duration upgradeAfter;
  private final Duration pollMin;
  private final Duration pollMax;
  private final Duration longPollWait;
  private final DoubleSupplier random;

  private SubscribeOptions(Builder b) {
    this.transports = List.copyOf(b.transports);
    this.mode = b.mode;
    this.backoffBase = b.backoffBase;
    this.backoffCap = b.backoffCap;
    this.healthyAfter = b.healthyAfter;
    this.upgradeAfter = b.upgradeAfter;
    this.pollMin = b.pollMin;
    this.pollMax = b.pollMax;
    this.longPollWait = b.longPollWait;
    this.random = b.random;
  }

  /** The defaults: every transport in the order WS, SSE, LONG_POLL, POLL; full mode; see {@link Builder}. */
  public static SubscribeOptions defaults() {
    return DEFAULTS;
  }

  /** A builder starting from the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder starting from these options. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.transports = new ArrayList<>(transports);
    b.mode = mode;
    b.backoffBase = backoffBase;
    b.backoffCap = backoffCap;
    b.healthyAfter = healthyAfter;
    b.upgradeAfter = upgradeAfter;
    b.pollMin = pollMin;
    b.pollMax = pollMax;
    b.longPollWait = longPollWait;
    b.random = random;
    return b;
  }

  /** The transports to use, best first. */
  public List<Transport> transports() {
    return transports;
  }

  /** Full events, or notifications and pulls. */
  public Mode mode() {
    return mode;
  }

  /** The ceiling of the first reconnection delay (default 500 ms). */
  public Duration backoffBase() {
    return backoffBase;
  }

  /** The largest reconnection delay ceiling (default 30 s). */
  public Duration backoffCap() {
    return backoffCap;
  }

  /** A connection that stayed up this long resets the backoff (default 30 s). */
  public Duration healthyAfter() {
    return healthyAfter;
  }

  /** While on a lesser transport, how often to try a better one (default 60 s; zero: never). */
  public Duration upgradeAfter() {
    return upgradeAfter;
  }

  /** The shortest pause between two polls of a topic (default 1 s). */
  public Duration pollMin() {
    return pollMin;
  }

  /** The longest pause between two polls of a topic (default 30 s). */
  public Duration pollMax() {
    return pollMax;
  }

  /** How long the server holds a long poll with nothing new (default 25 s). */
  public Duration longPollWait() {
    return longPollWait;
  }

  DoubleSupplier random() {
    return random;
  }

  Backoff backoff() {
    return new Backoff(backoffBase, backoffCap, random);
  }

  /** Builds {@link SubscribeOptions}. */
  public static final class Builder {
    private List<Transport> transports = new ArrayList<>(List.of(Transport.values()));
    private Mode mode = Mode.FULL;
    private Duration backoffBase = Duration.ofMillis(500);
    private Duration backoffCap = Duration.ofSeconds(30);
    private Duration healthyAfter = Duration.ofSeconds(30);
    private Duration upgradeAfter = Duration.ofSeconds(60);
    private Duration pollMin = Duration.ofSeconds(1);
    private Duration pollMax = Duration.ofSeconds(30);
    private Duration longPollWait = Duration.ofSeconds(25);
    private DoubleSupplier random = () -> ThreadLocalRandom.current().nextDouble();

    private Builder() {
    }

    /** The transports to use, best first (default: WS, SSE, LONG_POLL, POLL). Duplicates are dropped. */
    public Builder transports(Transport... order) {
      return transports(List.of(order));
    }

    /** The transports to use, best first. Duplicates are dropped. */
    public Builder transports(List<Transport> order) {
      if (order.isEmpty()) {
        throw new IllegalArgumentException("at least one transport is needed");
      }
      this.transports = new ArrayList<>(new LinkedHashSet<>(order));
      return this;
    }

    /** {@link Mode#FULL} (default) or {@link Mode#NOTIFY}. */
    public Builder mode(Mode value) {
      this.mode = Objects.requireNonNull(value, "mode");
      return this;
    }

    /** Reconnection delays: full jitter, {@code random(0, min(cap, base * 2^attempt))}. */
    public Builder backoff(Duration base, Duration cap) {
      positive(base, "base");
      positive(cap, "cap");
      if (cap.compareTo(base) < 0) {
        throw new IllegalArgumentException("cap must not be below base");
      }
      this.backoffBase = base;
      this.backoffCap = cap;
      return this;
    }

    /** A connection up this long resets the backoff to its first step (default 30 s). */
    public Builder healthyAfter(Duration value) {
      this.healthyAfter = notNegative(value, "healthyAfter");
      return this;
    }

    /** While on a lesser transport, try the better ones this often (default 60 s; zero: never). */
    public Builder upgradeAfter(Duration value) {
      this.upgradeAfter = notNegative(value, "upgradeAfter");
      return this;
    }

    /**
     * Bounds of the pause between polls (defaults 1 s and 30 s): the server's
     * {@code Tidings-Poll-Interval} advice is clamped to them.
     */
    public Builder pollInterval(Duration min, Duration max) {
      positive(min, "min");
      positive(max, "max");
      if (max.compareTo(min) < 0) {
        throw new IllegalArgumentException("max must not be below min");
      }
      this.pollMin = min;
      this.pollMax = max;
      return this;
    }

    /** How long a long poll waits on the server (1-60 s, default 25 s). */
    public Builder longPollWait(Duration value) {
      positive(value, "longPollWait");
      if (value.compareTo(Duration.ofSeconds(60)) > 0) {
        throw new IllegalArgumentException("the server holds a long poll for at most 60 s");
      }
      this.longPollWait = value;
      return this;
    }

    /** The random source of the backoff jitter (for tests). */
    Builder random(DoubleSupplier value) {
      this.random = Objects.requireNonNull(value, "random");
      return this;
    }

    /** The options. */
    public SubscribeOptions build() {
      return new SubscribeOptions(this);
    }

    private static void positive(Duration d, String name) {
      Objects.requireNonNull(d, name);
      if (d.isZero() || d.isNegative()) {
        throw new IllegalArgumentException(name + " must be positive");
      }
    }

    private static Duration notNegative(Duration d, String name) {
      Objects.requireNonNull(d, name);
      if (d.isNegative()) {
        throw new IllegalArgumentException(name + " must not be negative");
      }
      return d;
    }
  }
}
