package io.tidings.core.hub;

import io.tidings.core.Position;
import java.util.Arrays;
import java.util.HashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.function.BiConsumer;

/**
 * The subscriptions of one event loop, by topic. Everything here runs on that loop, so no locks:
 * the only cross-thread step is {@link #dispatch}, one task per append for the whole loop.
 */
public final class HubLoop {
  private final Hub hub;
  private final Executor executor;
  private final Thread owner;
  private final BiConsumer<Long, Runnable> timer;
  private final HashMap<String, Feed[]> feedsByTopic = new HashMap<>();

  HubLoop(Hub hub, Executor executor, Thread owner, BiConsumer<Long, Runnable> timer) {
    this.hub = hub;
    this.executor = executor;
    this.owner = owner;
    this.timer = timer;
  }

  /**
   * Opens a subscription to {@code topic} that delivers to {@code sink} from {@code since}.
   * Call on this loop.
   *
   * @param notifyOnly whether the sink wants events without their data (a hint it applies itself)
   */
  public Feed subscribe(String topic, Position since, boolean notifyOnly, Sink sink) {
    Feed feed = feed(topic, notifyOnly, sink);
    feed.start(since);
    return feed;
  }

  /**
   * Creates a subscription without starting it, for a sink that must know all its feeds before
   * the first one delivers; {@link Feed#start} it afterwards. Call on this loop.
   */
  public Feed feed(String topic, boolean notifyOnly, Sink sink) {
    return new Feed(this, topic, notifyOnly, sink);
  }

  void attach(Feed feed) {
    Feed[] feeds = feedsByTopic.get(feed.topic());
    if (feeds == null) {
      feedsByTopic.put(feed.topic(), new Feed[] {feed});
      hub.register(feed.topic(), this);
    } else {
      Feed[] more = Arrays.copyOf(feeds, feeds.length + 1);
      more[feeds.length] = feed;
      feedsByTopic.put(feed.topic(), more);
    }
    hub.countFeeds(feed.topic(), 1);
  }

  void detach(Feed feed) {
    Feed[] feeds = feedsByTopic.get(feed.topic());
    if (feeds == null) {
      return;
    }
    int at = -1;
    for (int i = 0; i < feeds.length; i++) {
      if (feeds[i] == feed) {
        at = i;
        break;
      }
    }
    if (at < 0) {
      return;
    }
    hub.countFeeds(feed.topic(), -1);
    if (feeds.length == 1) {
      feedsByTopic.remove(feed.topic());
      hub.unregister(feed.topic(), this);
      return;
    }
    Feed[] fewer = new Feed[feeds.length - 1];
    System.arraycopy(feeds, 0, fewer, 0, at);
    System.arraycopy(feeds, at + 1, fewer, at, feeds.length - at - 1);
    feedsByTopic.put(feed.topic(), fewer);
  }

  /** Called on the engine's thread: one task to this loop per append. */
  void dispatch(EventBatch batch) {
    executor.execute(() -> deliver(batch));
  }

  private void deliver(EventBatch batch) {
    // The array is replaced, never changed, so feeds closing during delivery do not disturb it.
    Feed[] feeds = feedsByTopic.get(batch.topic());
    if (feeds == null) {
      return;
    }
    boolean wrote = false;
    for (Feed feed : feeds) {
      wrote |= feed.live(batch);
    }
    // Once per batch and loop, not per subscriber: the writes of all of them are done by now.
    if (wrote && batch.appendedNanos() != 0) {
      hub.deliveredAfter(System.nanoTime() - batch.appendedNanos());
    }
  }

  /** Subscriptions on this loop. */
  public int size() {
    int n = 0;
    for (Feed[] feeds : feedsByTopic.values()) {
      n += feeds.length;
    }
    return n;
  }

  Hub hub() {
    return hub;
  }

  void execute(Runnable task) {
    executor.execute(task);
  }

  void schedule(long delayMillis, Runnable task) {
    timer.accept(delayMillis, task);
  }

  /**
   * Runs {@code then} on this loop with the outcome of {@code stage}: right away when it is already
   * complete and we are on the loop (heads are often served from memory), else as a loop task.
   */
  <T> void onLoop(CompletionStage<T> stage, BiConsumer<T, Throwable> then) {
    if (stage instanceof CompletableFuture<T> f && f.isDone() && Thread.currentThread() == owner) {
      T value;
      try {
        value = f.join();
      } catch (CompletionException | java.util.concurrent.CancellationException e) {
        then.accept(null, e.getCause() != null ? e.getCause() : e);
        return;
      }
      then.accept(value, null);
      return;
    }
    stage.whenComplete((value, error) -> executor.execute(() -> then.accept(value,
        error instanceof CompletionException && error.getCause() != null ? error.getCause() : error)));
  }
}
