package io.tidings.core.hub;

import io.tidings.core.AppendListener;
import io.tidings.core.Engine;
import io.tidings.core.Event;
import io.tidings.core.TopicHead;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BiConsumer;
import java.util.function.LongConsumer;

/**
 * The push fan-out: every push transport subscribes through it. Subscriptions ({@link Feed}s) live
 * on the event loop that owns their connection ({@link HubLoop}). An append is handed once to each
 * loop with subscribers to its topic, as one {@link EventBatch} whose wire encodings are shared, so
 * the cost per subscriber is a write, not a task hop or an encoding.
 *
 * <p>Register it with {@link Engine#observe}.
 */
public final class Hub implements AppendListener {
  private final Engine engine;
  private final Options options;
  private final ConcurrentHashMap<String, HubLoop[]> loopsByTopic = new ConcurrentHashMap<>();
  private final LongAdder delivered = new LongAdder();
  private final LongAdder resets = new LongAdder();
  private final LongAdder feeds = new LongAdder();
  // Subscriptions per topic on this node, for operators (not on the delivery path).
  private final ConcurrentHashMap<String, Integer> subscribers = new ConcurrentHashMap<>();
  private volatile LongConsumer deliveryLatency = nanos -> {};

  /**
   * Tuning of catch-up.
   *
   * @param readPage events read from the engine per catch-up step
   * @param statePage state entries read per step of a reset
   * @param retryMillis first delay before retrying a failed read (doubling up to 16 times that)
   */
  public record Options(int readPage, int statePage, long retryMillis) {
    public static final Options DEFAULT = new Options(500, 500, 500);
  }

  public Hub(Engine engine, Options options) {
    this.engine = engine;
    this.options = options;
  }

  /**
   * The hub's side of one event loop. Create one per loop and use it only on that loop.
   *
   * @param executor runs tasks on the loop, in submission order
   * @param owner the loop's thread
   * @param timer runs a task on the loop after a delay in milliseconds
   */
  public HubLoop loop(Executor executor, Thread owner, BiConsumer<Long, Runnable> timer) {
    return new HubLoop(this, executor, owner, timer);
  }

  @Override
  public void onAppend(TopicHead head, List<Event> events) {
    if (events.isEmpty()) {
      return;
    }
    HubLoop[] loops = loopsByTopic.get(head.topic());
    if (loops == null) {
      return;
    }
    // Called right after the store made the events durable: the start of publish-to-deliver latency.
    EventBatch batch = new EventBatch(head, events, System.nanoTime());
    for (HubLoop loop : loops) {
      loop.dispatch(batch);
    }
  }

  void register(String topic, HubLoop loop) {
    loopsByTopic.compute(topic, (t, loops) -> {
      if (loops == null) {
        return new HubLoop[] {loop};
      }
      HubLoop[] more = Arrays.copyOf(loops, loops.length + 1);
      more[loops.length] = loop;
      return more;
    });
  }

  void unregister(String topic, HubLoop loop) {
    loopsByTopic.computeIfPresent(topic, (t, loops) -> {
      HubLoop[] fewer = Arrays.stream(loops).filter(l -> l != loop).toArray(HubLoop[]::new);
      return fewer.length == 0 ? null : fewer;
    });
  }

  Engine engine() {
    return engine;
  }

  Options options() {
    return options;
  }

  void countDelivered(int events) {
    delivered.add(events);
  }

  void countReset() {
    resets.increment();
  }

  void countFeeds(String topic, int delta) {
    feeds.add(delta);
    subscribers.compute(topic, (t, n) -> {
      int count = (n == null ? 0 : n) + delta;
      return count <= 0 ? null : count;
    });
  }

  void deliveredAfter(long nanos) {
    deliveryLatency.accept(nanos);
  }

  /**
   * Tells {@code probe} how long after the store announced an append its events were written to
   * subscribers: once per append and event loop (on that loop), not per subscriber. Live
   * deliveries only; catch-up from the store is not measured.
   */
  public void onDeliveryLatency(LongConsumer probe) {
    this.deliveryLatency = probe;
  }

  /** Subscriptions to {@code topic} open on this node now. */
  public int subscribers(String topic) {
    Integer n = subscribers.get(topic);
    return n == null ? 0 : n;
  }

  /** Up to {@code limit} topics with the most subscriptions on this node, most first. */
  public List<Map.Entry<String, Integer>> mostSubscribed(int limit) {
    if (limit <= 0) {
      return List.of();
    }
    PriorityQueue<Map.Entry<String, Integer>> top = new PriorityQueue<>(
        (a, b) -> a.getValue().equals(b.getValue()) ? b.getKey().compareTo(a.getKey()) : Integer.compare(a.getValue(), b.getValue()));
    for (Map.Entry<String, Integer> e : subscribers.entrySet()) {
      top.add(Map.entry(e.getKey(), e.getValue()));
      if (top.size() > limit) {
        top.poll();
      }
    }
    List<Map.Entry<String, Integer>> out = new ArrayList<>(top);
    out.sort((a, b) -> a.getValue().equals(b.getValue()) ? a.getKey().compareTo(b.getKey()) : Integer.compare(b.getValue(), a.getValue()));
    return out;
  }

  /** Events handed to subscribers so far (one per event per subscriber). */
  public long delivered() {
    return delivered.sum();
  }

  /** Resets sent so far. */
  public long resets() {
    return resets.sum();
  }

  /** Subscriptions open now. */
  public long feeds() {
    return feeds.sum();
  }

  /** Topics with at least one subscriber on this node. */
  public int topics() {
    return loopsByTopic.size();
  }
}
