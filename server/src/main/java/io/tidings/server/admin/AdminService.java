package io.tidings.server.admin;

import com.fasterxml.jackson.core.JsonGenerator;
import io.tidings.core.Engine;
import io.tidings.core.TopicHead;
import io.tidings.core.hub.ChangeRates;
import io.tidings.core.hub.Hub;
import io.tidings.server.http.HttpDates;
import io.tidings.server.http.Json;
import io.tidings.server.ops.LoopMonitor;
import io.tidings.server.ops.Metrics;
import io.tidings.server.push.PushStats;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.IntSupplier;

/**
 * What the admin page shows, shared by all event loops. Once a second a timer samples the hub's
 * counters and histograms into a two-minute history (rates and latencies per second), and, while
 * admin streams are open, builds one JSON snapshot (with the busiest topics and their heads) that
 * every stream sends. Cheap when nobody watches: a handful of counter reads a second.
 */
public final class AdminService {
  static final int HISTORY_SECONDS = 120;
  static final int TOPICS = 50;

  /** One second of the hub's life. Rates are per second over the second before {@code time}. */
  record Sample(long time, int sse, int ws, int longPolls, int sseSubscriptions, int wsSubscriptions,
      double publishedPerSecond, double deliveredPerSecond, double droppedPerSecond, LatencyWindow.Quantiles deliver,
      LatencyWindow.Quantiles append, double loopLagMs) {}

  private final Metrics metrics;
  private final PushStats push;
  private final Hub hub;
  private final IntSupplier longPolls;
  private final ChangeRates rates;
  private final Engine engine;
  private final String store;
  private final int eventLoops;
  private final long startedAt = System.currentTimeMillis();
  private final List<LoopMonitor> loops = new CopyOnWriteArrayList<>();
  private final CopyOnWriteArrayList<AdminStream> streams = new CopyOnWriteArrayList<>();
  private final ArrayDeque<Sample> history = new ArrayDeque<>();
  // Sampler state: only the timer's thread touches it.
  private final LatencyWindow deliverWindow;
  private final LatencyWindow appendWindow;
  private double lastPublished;
  private long lastDelivered;
  private long lastDropped;
  private long lastTime;
  private Vertx vertx;
  private long timer = -1;

  public AdminService(Metrics metrics, PushStats push, Hub hub, IntSupplier longPolls, ChangeRates rates, Engine engine,
      String store, int eventLoops) {
    this.metrics = metrics;
    this.push = push;
    this.hub = hub;
    this.longPolls = longPolls;
    this.rates = rates;
    this.engine = engine;
    this.store = store;
    this.eventLoops = eventLoops;
    this.deliverWindow = new LatencyWindow(metrics.deliveryLatency());
    this.appendWindow = new LatencyWindow(metrics.storeAppendLatency());
    this.lastPublished = metrics.publishedTotal();
    this.lastDelivered = hub.delivered();
    this.lastDropped = push.dropped();
    this.lastTime = System.currentTimeMillis();
  }

  /** Starts sampling once a second. */
  public void start(Vertx vertx) {
    this.vertx = vertx;
    timer = vertx.setPeriodic(1000, id -> tick());
  }

  /** Stops sampling. */
  public void stop() {
    if (vertx != null && timer >= 0) {
      vertx.cancelTimer(timer);
      timer = -1;
    }
  }

  /** An event loop's monitor, whose lag the page shows. */
  public void addLoop(LoopMonitor monitor) {
    loops.add(monitor);
  }

  void register(AdminStream stream) {
    streams.add(stream);
  }

  void unregister(AdminStream stream) {
    streams.remove(stream);
  }

  /** Streams open on any loop (for their shutdown). */
  List<AdminStream> streams() {
    return streams;
  }

  private void tick() {
    Sample s = sample();
    synchronized (history) {
      history.addLast(s);
      while (history.size() > HISTORY_SECONDS) {
        history.removeFirst();
      }
    }
    if (!streams.isEmpty()) {
      snapshot(false).thenAccept(json -> {
        for (AdminStream stream : streams) {
          stream.send(json);
        }
      });
    }
  }

  private Sample sample() {
    long now = System.currentTimeMillis();
    double seconds = Math.max(0.001, (now - lastTime) / 1000.0);
    double published = metrics.publishedTotal();
    long delivered = hub.delivered();
    long dropped = push.dropped();
    long lag = 0;
    for (LoopMonitor m : loops) {
      lag = Math.max(lag, m.lastLagNanos());
    }
    Sample s = new Sample(now, push.sseConnections(), push.wsConnections(), longPolls.getAsInt(),
        push.sseSubscriptions(), push.wsSubscriptions(), (published - lastPublished) / seconds,
        (delivered - lastDelivered) / seconds, (dropped - lastDropped) / seconds, deliverWindow.sample(),
        appendWindow.sample(), lag / 1e6);
    lastPublished = published;
    lastDelivered = delivered;
    lastDropped = dropped;
    lastTime = now;
    return s;
  }

  private Sample latest() {
    synchronized (history) {
      return history.peekLast();
    }
  }

  /**
   * The page's JSON: live counts, totals, the last second's sample, the busiest topics with their
   * heads and subscribers, and with {@code withHistory} the last two minutes of samples.
   */
  public CompletableFuture<byte[]> snapshot(boolean withHistory) {
    Map<String, Integer> chosen = new LinkedHashMap<>();
    for (Map.Entry<String, Integer> e : hub.mostSubscribed(TOPICS)) {
      chosen.put(e.getKey(), e.getValue());
    }
    for (Map.Entry<String, Double> e : rates.busiest(TOPICS, 1e-3)) {
      if (chosen.size() >= TOPICS) {
        break;
      }
      chosen.putIfAbsent(e.getKey(), hub.subscribers(e.getKey()));
    }
    List<CompletableFuture<TopicHead>> heads = new ArrayList<>(chosen.size());
    for (String topic : chosen.keySet()) {
      heads.add(engine.head(topic).toCompletableFuture());
    }
    List<Sample> past;
    if (withHistory) {
      synchronized (history) {
        past = new ArrayList<>(history);
      }
    } else {
      past = null;
    }
    return CompletableFuture.allOf(heads.toArray(CompletableFuture[]::new)).handle((v, error) -> {
      List<TopicHead> known = new ArrayList<>(heads.size());
      for (CompletableFuture<TopicHead> h : heads) {
        if (!h.isCompletedExceptionally()) {
          known.add(h.join());
        }
      }
      return Json.bytes(gen -> write(gen, known, chosen, past));
    });
  }

  private void write(JsonGenerator gen, List<TopicHead> heads, Map<String, Integer> subscribers, List<Sample> past)
      throws IOException {
    gen.writeStartObject();
    gen.writeNumberField("time", System.currentTimeMillis());
    gen.writeNumberField("started", startedAt);
    gen.writeStringField("store", store);
    gen.writeNumberField("event_loops", eventLoops);
    gen.writeObjectFieldStart("connections");
    gen.writeNumberField("sse", push.sseConnections());
    gen.writeNumberField("ws", push.wsConnections());
    gen.writeNumberField("long_polls", longPolls.getAsInt());
    gen.writeEndObject();
    gen.writeObjectFieldStart("subscriptions");
    gen.writeNumberField("sse", push.sseSubscriptions());
    gen.writeNumberField("ws", push.wsSubscriptions());
    gen.writeNumberField("topics", hub.topics());
    gen.writeEndObject();
    gen.writeObjectFieldStart("totals");
    gen.writeNumberField("published", (long) metrics.publishedTotal());
    gen.writeNumberField("delivered", hub.delivered());
    gen.writeNumberField("dropped", push.dropped());
    gen.writeNumberField("resets", hub.resets());
    gen.writeNumberField("slow_consumers", push.slowConsumers());
    gen.writeEndObject();
    Sample last = latest();
    if (last != null) {
      gen.writeFieldName("sample");
      writeSample(gen, last);
    }
    gen.writeArrayFieldStart("topics");
    for (TopicHead h : heads) {
      gen.writeStartObject();
      gen.writeStringField("topic", h.topic());
      gen.writeNumberField("last_offset", h.lastOffset());
      gen.writeNumberField("first_offset", h.firstOffset());
      gen.writeStringField("cursor", h.cursor().encode());
      gen.writeNumberField("keys", h.keys());
      if (h.lastOffset() > 0) {
        gen.writeStringField("last_event_time", HttpDates.iso(h.lastTime()));
      } else {
        gen.writeNullField("last_event_time");
      }
      gen.writeNumberField("subscribers", subscribers.getOrDefault(h.topic(), 0));
      gen.writeNumberField("rate", round(rates.perSecond(h.topic())));
      gen.writeEndObject();
    }
    gen.writeEndArray();
    if (past != null) {
      gen.writeArrayFieldStart("history");
      for (Sample s : past) {
        writeSample(gen, s);
      }
      gen.writeEndArray();
    }
    gen.writeEndObject();
  }

  private static void writeSample(JsonGenerator gen, Sample s) throws IOException {
    gen.writeStartObject();
    gen.writeNumberField("time", s.time());
    gen.writeNumberField("sse", s.sse());
    gen.writeNumberField("ws", s.ws());
    gen.writeNumberField("long_polls", s.longPolls());
    gen.writeNumberField("sse_subscriptions", s.sseSubscriptions());
    gen.writeNumberField("ws_subscriptions", s.wsSubscriptions());
    gen.writeNumberField("published_per_s", round(s.publishedPerSecond()));
    gen.writeNumberField("delivered_per_s", round(s.deliveredPerSecond()));
    gen.writeNumberField("dropped_per_s", round(s.droppedPerSecond()));
    number(gen, "deliver_p50_ms", s.deliver().p50());
    number(gen, "deliver_p99_ms", s.deliver().p99());
    number(gen, "append_p50_ms", s.append().p50());
    number(gen, "append_p99_ms", s.append().p99());
    gen.writeNumberField("loop_lag_ms", round(s.loopLagMs()));
    gen.writeEndObject();
  }

  private static void number(JsonGenerator gen, String name, double value) throws IOException {
    if (Double.isNaN(value)) {
      gen.writeNullField(name);
    } else {
      gen.writeNumberField(name, round(value));
    }
  }

  private static double round(double v) {
    return Math.round(v * 1000) / 1000.0;
  }

  /** Subscriptions to {@code topic} on this node. */
  public int subscribers(String topic) {
    return hub.subscribers(topic);
  }

  /** The recent change rate of {@code topic}, in events per second. */
  public double rate(String topic) {
    return round(rates.perSecond(topic));
  }
}
