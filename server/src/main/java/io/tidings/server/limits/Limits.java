package io.tidings.server.limits;

import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.ConsumptionProbe;
import io.tidings.server.auth.Principal;
import io.tidings.server.config.TidingsConfig;
import io.tidings.server.http.ApiException;
import io.tidings.server.ops.Metrics;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.ToDoubleFunction;

/**
 * Abuse and overload protection, shared by every event loop: token-bucket rate limits per
 * principal or client IP ({@code limits.rate}, with Bucket4j), the pace of repeated polls
 * ({@code limits.poll_advice_factor}), and caps on push connections and held long polls
 * ({@code limits.max_connections}, {@code limits.max_connections_per_principal}).
 *
 * <p>Every table is keyed by {@link #key}: {@code key:<name>} for an API key, {@code jwt:<sub>} for
 * a JWT with a subject, {@code ip:<address>} otherwise (IPv6 clients by their /64, which one
 * machine usually owns whole). Without {@code limits.rate} nothing is rate limited.
 */
public final class Limits {
  /** What a token bucket meters; the name is the {@code kind} label of {@code tidings_rate_limited_total}. */
  public enum Kind {
    PUBLISH("publish"), SUBSCRIBE("subscribe"), POLL("poll"), CONNECTION("connection");

    private final String label;

    Kind(String label) {
      this.label = label;
    }

    public String label() {
      return label;
    }
  }

  private static final long SECOND = 1_000_000_000L;

  private final Metrics metrics;
  private final EnumMap<Kind, KeyedTable<Bucket>> buckets = new EnumMap<>(Kind.class);
  private final boolean perIp;
  private final KeyedTable<Pace> polls;
  private final double pollFactor;
  private final ToDoubleFunction<String> advisedSeconds;
  private final int maxConnections;
  private final int maxPerKey;
  private final AtomicInteger open = new AtomicInteger();
  private final ConcurrentHashMap<String, Integer> openByKey = new ConcurrentHashMap<>();
  private final int wsMaxRefusals;
  private final long wsRefusalWindowMillis;

  /**
   * @param advisedSeconds the shortest poll interval a topic's advice may hold now (jitter included),
   *     in seconds
   * @param longestAdviceSeconds the longest advice there can be (for how long a poll is remembered)
   */
  public Limits(TidingsConfig.Limits config, Metrics metrics, ToDoubleFunction<String> advisedSeconds,
      double longestAdviceSeconds) {
    this.metrics = metrics;
    this.advisedSeconds = advisedSeconds;
    TidingsConfig.Rate rate = config.rate;
    this.perIp = rate != null && "ip".equals(rate.per);
    if (rate != null) {
      add(Kind.PUBLISH, rate.publishPerSecond, rate.burst, config.maxKeys);
      add(Kind.POLL, rate.pollsPerSecond, rate.burst, config.maxKeys);
      add(Kind.CONNECTION, rate.connectionsPerSecond, rate.burst, config.maxKeys);
      add(Kind.SUBSCRIBE, rate.subscribePerSecond, rate.burst, config.maxKeys);
    }
    this.wsMaxRefusals = rate == null ? Integer.MAX_VALUE : rate.wsMaxRefusals;
    this.wsRefusalWindowMillis = rate == null ? 1 : rate.wsRefusalWindow.toMillis();
    this.pollFactor = config.pollAdviceFactor;
    this.polls = pollFactor > 0
        ? new KeyedTable<>(config.maxKeys, (long) (longestAdviceSeconds / pollFactor * SECOND) + SECOND,
            k -> new Pace())
        : null;
    this.maxConnections = config.maxConnections;
    this.maxPerKey = config.maxConnectionsPerPrincipal;
  }

  private void add(Kind kind, Double perSecond, double burst, int maxKeys) {
    if (perSecond == null) {
      return;
    }
    long capacity = Math.max(1, (long) Math.ceil(perSecond * burst));
    // Greedy refill: tokens come back continuously, capacity of them in capacity / rate seconds.
    Duration period = Duration.ofNanos(Math.max(1, Math.round(capacity / perSecond * SECOND)));
    Bandwidth bandwidth = Bandwidth.builder().capacity(capacity).refillGreedy(capacity, period).build();
    // An entry untouched for a whole refill is a full bucket, the same as a new one: it can go.
    buckets.put(kind, new KeyedTable<>(maxKeys, period.toNanos() + SECOND,
        k -> Bucket.builder().addLimit(bandwidth).build()));
  }

  /** Whether {@code kind} is rate limited at all. */
  public boolean limits(Kind kind) {
    return buckets.containsKey(kind);
  }

  /** Whether any request needs a look before it is served (rates or poll pace). */
  public boolean checksRequests() {
    return !buckets.isEmpty() || polls != null;
  }

  /** Whether the first request of each connection must be told apart (it spends a connection token). */
  public boolean countsConnections() {
    return buckets.containsKey(Kind.CONNECTION);
  }

  /** The key of {@code principal} calling from {@code host} (the client's IP address). */
  public String key(Principal principal, String host) {
    if (!perIp) {
      if (principal.kind() == Principal.Kind.API_KEY) {
        return "key:" + principal.name();
      }
      if (principal.kind() == Principal.Kind.JWT && principal.subject() != null) {
        return "jwt:" + principal.subject();
      }
    }
    return "ip:" + ipKey(host);
  }

  static String ipKey(String host) {
    if (host == null) {
      return "?";
    }
    if (host.indexOf(':') < 0) {
      return host;
    }
    try {
      // A literal address: no lookup. IPv6 clients are keyed by their /64.
      byte[] a = InetAddress.getByName(host).getAddress();
      if (a.length != 16) {
        return host;
      }
      StringBuilder sb = new StringBuilder(24);
      for (int i = 0; i < 8; i += 2) {
        sb.append(Integer.toHexString(((a[i] & 0xff) << 8) | (a[i + 1] & 0xff))).append(':');
      }
      return sb.append(":/64").toString();
    } catch (UnknownHostException | SecurityException e) {
      return host;
    }
  }

  /**
   * Takes a token of {@code kind} for {@code key}: 0 when granted (or when {@code kind} is not
   * limited), else the seconds until one is available (at least 1). A refusal is counted.
   */
  public int take(Kind kind, String key) {
    KeyedTable<Bucket> table = buckets.get(kind);
    if (table == null) {
      return 0;
    }
    ConsumptionProbe probe = table.get(key, System.nanoTime()).tryConsumeAndReturnRemaining(1);
    if (probe.isConsumed()) {
      return 0;
    }
    metrics.rateLimited(kind.label());
    return seconds(probe.getNanosToWaitForRefill());
  }

  /** {@link #take}, throwing {@code 429 rate_limited} with {@code Retry-After} when refused. */
  public void check(Kind kind, String key, boolean closeConnection) {
    int wait = take(kind, key);
    if (wait > 0) {
      throw rateLimited(kind, wait, closeConnection);
    }
  }

  /**
   * Refuses ({@code 429}) a poll of {@code identity} (the route, topic and position asked for)
   * repeated sooner than the topic's advised interval divided by {@code limits.poll_advice_factor}.
   */
  public void checkPollPace(String key, String route, String topic, String position) {
    if (polls == null) {
      return;
    }
    long now = System.nanoTime();
    Pace pace = polls.get(key + '\n' + route + '\n' + topic + '\n' + position, now);
    long min = (long) (advisedSeconds.applyAsDouble(topic) / pollFactor * SECOND);
    // The advice may have grown since the last poll (the topic went quiet): the smaller one counts.
    long allowed = pace.last == Long.MIN_VALUE ? 0 : Math.min(min, pace.interval);
    long elapsed = now - pace.last;
    if (pace.last != Long.MIN_VALUE && elapsed < allowed) {
      metrics.rateLimited(Kind.POLL.label());
      throw new ApiException(429, "rate_limited", "this poll repeats the previous one sooner than Tidings-Poll-Interval "
          + "advises; wait for Retry-After", Map.of(), seconds(allowed - elapsed));
    }
    pace.last = now;
    pace.interval = min;
  }

  /** When a poll was last made, and the shortest interval its advice allowed then. Races are benign. */
  private static final class Pace {
    volatile long last = Long.MIN_VALUE;
    volatile long interval;
  }

  /** {@code 429 rate_limited} with {@code Retry-After}; {@code closeConnection} adds {@code Connection: close}. */
  public static ApiException rateLimited(Kind kind, int seconds, boolean closeConnection) {
    String what = switch (kind) {
      case PUBLISH -> "publish requests";
      case SUBSCRIBE -> "subscriptions";
      case POLL -> "poll requests";
      case CONNECTION -> "new connections";
    };
    return new ApiException(429, "rate_limited", "too many " + what + "; retry after " + seconds + " s", Map.of(),
        seconds, closeConnection ? Map.of("Connection", "close") : Map.of());
  }

  private static int seconds(long nanos) {
    return (int) Math.max(1, Math.min(86_400, (nanos + SECOND - 1) / SECOND));
  }

  // ---- WebSocket refusals

  /** How many refused ops within {@link #wsRefusalWindowMillis()} close a WebSocket with 4029. */
  public int wsMaxRefusals() {
    return wsMaxRefusals;
  }

  public long wsRefusalWindowMillis() {
    return wsRefusalWindowMillis;
  }

  // ---- connection caps

  /**
   * Whether a new push connection or long poll of {@code key} is refused now, checked before work
   * that {@link #admit} would otherwise waste; a refusal is counted.
   */
  public boolean refusesNow(String key) {
    if (maxConnections > 0 && open.get() >= maxConnections) {
      metrics.connectionRefused("cap");
      return true;
    }
    if (maxPerKey > 0 && openByKey.getOrDefault(key, 0) >= maxPerKey) {
      metrics.connectionRefused("principal_cap");
      return true;
    }
    return false;
  }

  /**
   * A place for one more push connection or held long poll of {@code key}, or {@code null} when a
   * cap is reached (counted in {@code tidings_connections_refused_total}).
   */
  public Ticket admit(String key) {
    if (maxConnections > 0) {
      if (open.incrementAndGet() > maxConnections) {
        open.decrementAndGet();
        metrics.connectionRefused("cap");
        return null;
      }
    } else {
      open.incrementAndGet();
    }
    if (maxPerKey > 0) {
      boolean[] refused = new boolean[1];
      openByKey.compute(key, (k, n) -> {
        int count = n == null ? 0 : n;
        if (count >= maxPerKey) {
          refused[0] = true;
          return n;
        }
        return count + 1;
      });
      if (refused[0]) {
        open.decrementAndGet();
        metrics.connectionRefused("principal_cap");
        return null;
      }
      return new Ticket(this, key);
    }
    return new Ticket(this, null);
  }

  void release(String key) {
    open.decrementAndGet();
    if (key != null) {
      openByKey.computeIfPresent(key, (k, n) -> n <= 1 ? null : n - 1);
    }
  }

  /** Push connections and held long polls now. */
  public int open() {
    return open.get();
  }

  /** Drops what the tables no longer need; run every few seconds, off the event loops. */
  public void expire() {
    long now = System.nanoTime();
    buckets.values().forEach(t -> t.expire(now));
    if (polls != null) {
      polls.expire(now);
    }
  }

  /** Entries in the tables (for tests and diagnostics). */
  public int keys() {
    int n = polls == null ? 0 : polls.size();
    for (KeyedTable<Bucket> t : buckets.values()) {
      n += t.size();
    }
    return n;
  }
}
