package io.tidings.server.graphql;

import io.tidings.core.Cursor;
import io.tidings.core.Position;
import io.tidings.core.StateEntry;
import io.tidings.core.hub.EventBatch;
import io.tidings.core.hub.Feed;
import io.tidings.core.hub.Sink;
import io.tidings.server.http.ApiException;
import io.tidings.server.push.PushLoop;
import io.tidings.server.push.StreamCursor;
import io.vertx.core.Context;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;

/**
 * The source of one {@code events} subscription: a Reactive Streams publisher fed by one hub
 * {@link Feed} per topic (replay from the cursor, then live, no gap and no duplicate; a reset, the
 * state as {@code put} events, then live).
 *
 * <p>Items wait here until the subscriber asks for them ({@link Subscription#request}), within the
 * connection's {@link BufferBudget}. Catch-up from history only reads while that is nearly empty
 * ({@link #writable}), so a slow reader slows the replay rather than filling memory. Live events
 * cannot wait: when they would overflow it the stream ends and its connection is told, which closes
 * with 4008 so the client resumes from its last cursor.
 *
 * <p>Loop-confined: every method hops to the loop's context when called from another thread.
 */
final class EventStream implements Publisher<EventView>, Sink, Subscription {
  private final PushLoop loop;
  private final List<String> topics;
  private final List<Position> since;
  private final boolean notifyOnly;
  private final BufferBudget budget;
  private final Runnable overflow;
  private final java.util.concurrent.atomic.LongAdder dropped;
  private final Feed[] feeds;
  private final Map<Feed, Integer> index = new HashMap<>();
  /** Per topic, where a client that has received everything queued so far resumes from. */
  private final Position[] positions;
  private final ArrayDeque<EventView> buffer = new ArrayDeque<>();
  private long bufferedBytes;
  private long demand;
  private boolean draining;
  private boolean done;
  private Subscriber<? super EventView> subscriber;

  /**
   * @param since one start position per topic
   * @param budget the room of the connection, shared with its other subscriptions
   * @param dropped counts the events still buffered when the stream ends
   * @param overflow run (once) when live events overflow the buffer: the subscriber is too slow
   */
  EventStream(PushLoop loop, List<String> topics, List<Position> since, boolean notifyOnly, BufferBudget budget,
      java.util.concurrent.atomic.LongAdder dropped, Runnable overflow) {
    this.dropped = dropped;
    this.loop = loop;
    this.topics = topics;
    this.since = since;
    this.notifyOnly = notifyOnly;
    this.budget = budget;
    this.overflow = overflow;
    this.feeds = new Feed[topics.size()];
    this.positions = since.toArray(new Position[0]);
  }

  // ---- Publisher and Subscription

  @Override
  public void subscribe(Subscriber<? super EventView> s) {
    onLoop(() -> {
      if (subscriber != null || done) {
        s.onSubscribe(this);
        s.onError(new IllegalStateException("an event stream has one subscriber"));
        return;
      }
      subscriber = s;
      s.onSubscribe(this);
      for (int i = 0; i < topics.size() && !done; i++) {
        Feed feed = loop.hub().feed(topics.get(i), notifyOnly, this);
        feeds[i] = feed;
        index.put(feed, i);
        feed.start(since.get(i));
      }
    });
  }

  @Override
  public void request(long n) {
    onLoop(() -> {
      if (done) {
        return;
      }
      if (n <= 0) {
        fail(new IllegalArgumentException("request(n) needs n > 0 (Reactive Streams rule 3.9)"));
        return;
      }
      demand = demand + n < 0 ? Long.MAX_VALUE : demand + n;
      drain();
    });
  }

  @Override
  public void cancel() {
    onLoop(this::stop);
  }

  // ---- Sink (called by the feeds, on the loop)

  @Override
  public void subscribed(Feed feed, Cursor start) {
    positions[index.get(feed)] = start;
  }

  @Override
  public void events(Feed feed, EventBatch batch, int from) {
    int i = index.get(feed);
    boolean withData = !notifyOnly;
    for (int k = from; k < batch.size() && !done; k++) {
      io.tidings.core.Event e = batch.events().get(k);
      positions[i] = e.cursor();
      offer(EventView.of(e, withData, streamCursor()));
    }
    drain();
  }

  @Override
  public void reset(Feed feed, Cursor continueAt, String reason, boolean stateFollows) {
    // Until the state has been delivered, resuming means resetting again: the feed holds the old cursor.
    positions[index.get(feed)] = feed.cursor() != null ? feed.cursor() : continueAt;
    offer(EventView.reset(feed.topic(), continueAt, reason, streamCursor()));
    drain();
  }

  @Override
  public void state(Feed feed, List<StateEntry> entries, Cursor previous, Cursor continueAt) {
    int i = index.get(feed);
    for (int k = 0; k < entries.size() && !done; k++) {
      Cursor at = continueAt != null && k == entries.size() - 1 ? continueAt : previous;
      positions[i] = at;
      offer(EventView.put(feed.topic(), entries.get(k), at, !notifyOnly, streamCursor()));
    }
    drain();
  }

  @Override
  public void failed(Feed feed, String code, String message) {
    int status = code.equals("unavailable") ? 503 : code.equals("internal") ? 500 : 400;
    fail(new ApiException(status, code, "topic " + feed.topic() + ": " + message));
  }

  @Override
  public boolean writable() {
    // Catch-up reads a slice at a time while the connection's buffers are nearly empty, which
    // leaves room for live events arriving meanwhile.
    return !done && budget.roomy();
  }

  @Override
  public void whenWritable(Runnable task) {
    if (!done) {
      budget.whenRoomy(() -> {
        if (!done) {
          task.run();
        }
      });
    }
  }

  // ---- internals

  /** The stream cursor after everything queued so far. */
  private String streamCursor() {
    return StreamCursor.encodePositions(java.util.Arrays.asList(positions));
  }

  private void offer(EventView item) {
    if (done) {
      return;
    }
    int weight = item.weight();
    if (!budget.reserve(weight)) {
      stop();
      overflow.run();
      return;
    }
    buffer.add(item);
    bufferedBytes += weight;
    // Straight on while the subscriber asks for more: only what it has not asked for waits here.
    drain();
  }

  private void drain() {
    if (draining || subscriber == null) {
      return;
    }
    draining = true;
    try {
      while (!done && demand > 0 && !buffer.isEmpty()) {
        EventView item = buffer.poll();
        int weight = item.weight();
        bufferedBytes -= weight;
        demand--;
        budget.release(1, weight);
        subscriber.onNext(item);
      }
    } finally {
      draining = false;
    }
  }

  private void fail(Throwable error) {
    if (done) {
      return;
    }
    Subscriber<? super EventView> s = subscriber;
    stop();
    if (s != null) {
      s.onError(error);
    }
  }

  /** Ends delivery: the feeds close and what is buffered is dropped. */
  private void stop() {
    if (done) {
      return;
    }
    done = true;
    for (Feed f : feeds) {
      if (f != null) {
        f.close();
      }
    }
    dropped.add(buffer.size());
    budget.release(buffer.size(), bufferedBytes);
    buffer.clear();
    bufferedBytes = 0;
  }

  private void onLoop(Runnable task) {
    Context context = loop.context();
    if (Context.isOnEventLoopThread() && io.vertx.core.Vertx.currentContext() == context) {
      task.run();
    } else {
      context.runOnContext(v -> task.run());
    }
  }
}
