package io.tidings.core.hub;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.tidings.core.Cursor;
import io.tidings.core.DedupeWindow;
import io.tidings.core.Event;
import io.tidings.core.NewEvent;
import io.tidings.core.Position;
import io.tidings.core.RetentionPolicy;
import io.tidings.core.RetentionRule;
import io.tidings.core.StateEntry;
import io.tidings.core.TopicHead;
import io.tidings.core.TopicPattern;
import io.tidings.core.memory.MemoryEngine;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The hub's handover from history to live delivery, resets and backpressure, on a single-thread "event loop". */
class FeedTest {
  private final ExecutorService loopThread = Executors.newSingleThreadExecutor(r -> new Thread(r, "test-loop"));
  private final ExecutorService timers = Executors.newSingleThreadScheduledExecutor();
  private MemoryEngine engine;
  private Hub hub;
  private HubLoop loop;
  private AutoCloseable observation;

  private void open(MemoryEngine e, int readPage, boolean observe) throws Exception {
    open(e, e, readPage, observe);
  }

  /** @param reads what the hub reads through (the memory engine itself, or a slower view of it) */
  private void open(MemoryEngine e, io.tidings.core.Engine reads, int readPage, boolean observe) throws Exception {
    engine = e;
    engine.start().toCompletableFuture().join();
    hub = new Hub(reads, new Hub.Options(readPage, 3, 10));
    Thread owner = loopThread.submit(Thread::currentThread).get();
    loop = hub.loop(loopThread, owner, (delay, task) ->
        ((java.util.concurrent.ScheduledExecutorService) timers).schedule(() -> loopThread.execute(task), delay,
            TimeUnit.MILLISECONDS));
    if (observe) {
      observation = engine.observe(hub);
    }
  }

  @AfterEach
  void close() throws Exception {
    if (observation != null) {
      observation.close();
    }
    loopThread.shutdownNow();
    timers.shutdownNow();
    if (engine != null) {
      engine.close();
    }
  }

  private <T> T onLoop(Callable<T> task) throws Exception {
    return loopThread.submit(task).get(10, TimeUnit.SECONDS);
  }

  private void publish(String topic, int count) {
    for (int i = 0; i < count; i++) {
      engine.append(topic, List.of(NewEvent.message("{\"i\":" + i + "}"))).toCompletableFuture().join();
    }
  }

  @Test
  void resumingFromTheMiddleWhilePublishersWriteDeliversEveryEventOnceInOrder() throws Exception {
    // Reads answer later on another thread, as a real store does: live batches then reach the loop
    // between a read's snapshot and its result, which is the race the handover must survive.
    MemoryEngine memory = new MemoryEngine();
    open(memory, new SlowReads(memory), 50, true);
    publish("t", 1000);
    for (int round = 0; round < 5; round++) {
      long from = 1000L * (round + 1) - 500;
      ExecutorService publishers = Executors.newFixedThreadPool(4);
      List<Future<?>> done = new ArrayList<>();
      for (int p = 0; p < 4; p++) {
        int batch = p + 1;
        done.add(publishers.submit(() -> {
          for (int i = 0; i < 250 / batch; i++) {
            List<NewEvent> events = new ArrayList<>();
            for (int b = 0; b < batch; b++) {
              events.add(NewEvent.message("{}"));
            }
            engine.append("t", events).toCompletableFuture().join();
          }
        }));
      }
      RecordingSink sink = new RecordingSink();
      Cursor start = new Cursor(engine.epoch(), from);
      onLoop(() -> loop.subscribe("t", start, false, sink));
      for (Future<?> f : done) {
        f.get(30, TimeUnit.SECONDS);
      }
      publishers.shutdown();
      long head = engine.head("t").toCompletableFuture().join().lastOffset();
      await().atMost(Duration.ofSeconds(20)).until(() -> sink.lastOffset() >= head);
      assertThat(sink.offsets()).as("round %d", round)
          .containsExactlyElementsOf(range(from + 1, head));
      assertThat(sink.subscribedAt).isEqualTo(start);
    }
  }

  @Test
  void anAppendThatArrivesWhileTheLastCatchUpReadIsInFlightIsNotLost() throws Exception {
    MemoryEngine memory = new MemoryEngine();
    SlowReads reads = new SlowReads(memory);
    open(memory, reads, 50, true);
    publish("t", 10);
    java.util.concurrent.CompletableFuture<Void> gate = new java.util.concurrent.CompletableFuture<>();
    // The catch-up read is snapshotted at offset 10 but answered only once the gate opens.
    reads.gate = gate;
    RecordingSink sink = new RecordingSink();
    onLoop(() -> loop.subscribe("t", new Cursor(memory.epoch(), 5), false, sink));
    await().until(() -> sink.subscribedAt != null);
    publish("t", 1);
    onLoop(() -> null); // the live batch for offset 11 has reached the loop while the read is held
    reads.gate = null;
    gate.complete(null);
    await().atMost(Duration.ofSeconds(5)).until(() -> sink.lastOffset() == 11);
    assertThat(sink.offsets()).containsExactly(6L, 7L, 8L, 9L, 10L, 11L);
  }

  @Test
  void earliestReplaysEverythingAndNowOnlyWhatComesNext() throws Exception {
    open(new MemoryEngine(), 7, true);
    publish("t", 20);
    RecordingSink all = new RecordingSink();
    RecordingSink next = new RecordingSink();
    onLoop(() -> loop.subscribe("t", Position.EARLIEST, false, all));
    onLoop(() -> loop.subscribe("t", Position.NOW, true, next));
    await().until(() -> all.lastOffset() == 20);
    publish("t", 3);
    await().until(() -> next.lastOffset() == 23 && all.lastOffset() == 23);
    assertThat(all.offsets()).containsExactlyElementsOf(range(1, 23));
    assertThat(next.offsets()).containsExactly(21L, 22L, 23L);
    assertThat(next.subscribedAt).isEqualTo(new Cursor(engine.epoch(), 20));
    assertThat(onLoop(() -> loop.size())).isEqualTo(2);
  }

  @Test
  void catchUpWaitsWhileTheConnectionIsNotWritable() throws Exception {
    open(new MemoryEngine(), 10, true);
    publish("t", 100);
    RecordingSink sink = new RecordingSink();
    sink.writable = false;
    onLoop(() -> loop.subscribe("t", Position.EARLIEST, false, sink));
    Thread.sleep(100);
    assertThat(sink.offsets()).isEmpty();
    assertThat(sink.waiting).hasSize(1);
    onLoop(() -> {
      sink.writable = true;
      sink.runWaiting();
      return null;
    });
    await().until(() -> sink.lastOffset() == 100);
    assertThat(sink.offsets()).containsExactlyElementsOf(range(1, 100));
  }

  @Test
  void aCursorOlderThanRetentionGetsResetStateThenLiveEvents() throws Exception {
    RetentionPolicy keep10 = new RetentionPolicy(
        List.of(new RetentionRule(TopicPattern.compile("**"), 10, null)), Duration.ofHours(1));
    open(new MemoryEngine(keep10, DedupeWindow.DEFAULT, Clock.systemUTC()), 100, true);
    for (int i = 0; i < 50; i++) {
      engine.append("t", List.of(NewEvent.put("k" + (i % 7), "{\"v\":" + i + "}"))).toCompletableFuture().join();
    }
    engine.trimAll();
    RecordingSink sink = new RecordingSink();
    Cursor stale = new Cursor(engine.epoch(), 5);
    Feed feed = onLoop(() -> loop.subscribe("t", stale, false, sink));
    await().until(() -> sink.resetAt != null && sink.stateDone);
    assertThat(sink.resetReason).isEqualTo("retention");
    assertThat(sink.resetAt).isEqualTo(new Cursor(engine.epoch(), 50));
    // Seven keys in pages of three: every page but the last carries only the old cursor.
    assertThat(sink.state).extracting(StateEntry::key).containsExactly("k0", "k1", "k2", "k3", "k4", "k5", "k6");
    assertThat(sink.statePrevious).containsOnly(stale);
    assertThat(sink.stateContinueAt).containsExactly(null, null, new Cursor(engine.epoch(), 50));
    assertThat(onLoop(feed::cursor)).isEqualTo(new Cursor(engine.epoch(), 50));
    publish("t", 2);
    await().until(() -> sink.lastOffset() == 52);
    assertThat(sink.offsets()).containsExactly(51L, 52L);
    assertThat(hub.resets()).isEqualTo(1);
  }

  @Test
  void aCursorOfAnotherHistoryResetsAndAnEmptyStateMovesTheCursorAtOnce() throws Exception {
    open(new MemoryEngine(), 100, true);
    publish("t", 4);
    RecordingSink sink = new RecordingSink();
    Cursor foreign = new Cursor("aaaaaaaaaa", 2);
    Feed feed = onLoop(() -> loop.subscribe("t", foreign, false, sink));
    await().until(() -> sink.resetAt != null);
    assertThat(sink.resetReason).isEqualTo("epoch");
    assertThat(sink.stateFollows).isFalse();
    assertThat(sink.subscribedAt).isEqualTo(foreign);
    assertThat(onLoop(feed::cursor)).isEqualTo(new Cursor(engine.epoch(), 4));
    publish("t", 1);
    await().until(() -> sink.lastOffset() == 5);
    assertThat(sink.offsets()).containsExactly(5L);
  }

  @Test
  void aCursorPastTheHeadFailsAndLeavesNothingBehind() throws Exception {
    open(new MemoryEngine(), 100, true);
    publish("t", 3);
    RecordingSink sink = new RecordingSink();
    Feed feed = onLoop(() -> loop.subscribe("t", new Cursor(engine.epoch(), 9), false, sink));
    await().until(() -> sink.failure != null);
    assertThat(sink.failure).isEqualTo("invalid_cursor");
    assertThat(feed.closed()).isTrue();
    assertThat(hub.topics()).isZero();
    assertThat(hub.feeds()).isZero();
  }

  @Test
  void aLiveBatchThatSkipsOffsetsIsRepairedFromTheStore() throws Exception {
    open(new MemoryEngine(), 100, false);
    publish("t", 10);
    RecordingSink sink = new RecordingSink();
    Feed feed = onLoop(() -> loop.subscribe("t", Position.NOW, false, sink));
    await().until(() -> onLoop(feed::live));
    publish("t", 3);
    // Only the last of the three reaches the hub, as if a notification had been lost on the way.
    Event last = engine.read("t", 12, 1).toCompletableFuture().join().events().get(0);
    TopicHead head = engine.head("t").toCompletableFuture().join();
    hub.onAppend(head, List.of(last));
    await().until(() -> sink.lastOffset() == 13);
    assertThat(sink.offsets()).containsExactly(11L, 12L, 13L);
    // A repeat of what was delivered is ignored.
    hub.onAppend(head, List.of(last));
    Thread.sleep(50);
    assertThat(sink.offsets()).containsExactly(11L, 12L, 13L);
  }

  @Test
  void closingAFeedStopsDeliveryAndUnregistersItsTopic() throws Exception {
    open(new MemoryEngine(), 100, true);
    RecordingSink sink = new RecordingSink();
    Feed feed = onLoop(() -> loop.subscribe("t", Position.NOW, false, sink));
    await().until(() -> onLoop(feed::live));
    assertThat(hub.topics()).isEqualTo(1);
    publish("t", 1);
    await().until(() -> sink.lastOffset() == 1);
    onLoop(() -> {
      feed.close();
      return null;
    });
    assertThat(hub.topics()).isZero();
    publish("t", 1);
    Thread.sleep(50);
    assertThat(sink.offsets()).containsExactly(1L);
  }

  /** The memory engine with reads completed a little later on another thread. */
  private static final class SlowReads implements io.tidings.core.Engine {
    private final MemoryEngine inner;
    private final java.util.concurrent.Executor later =
        java.util.concurrent.CompletableFuture.delayedExecutor(2, TimeUnit.MILLISECONDS);

    SlowReads(MemoryEngine inner) {
      this.inner = inner;
    }

    /** When set, reads (taken now) are answered only once it completes. */
    volatile java.util.concurrent.CompletableFuture<Void> gate;

    private <T> java.util.concurrent.CompletionStage<T> late(java.util.concurrent.CompletionStage<T> stage) {
      java.util.concurrent.CompletableFuture<Void> g = gate;
      if (g != null) {
        return stage.thenCompose(x -> g.thenApplyAsync(v -> x, later));
      }
      return stage.thenApplyAsync(x -> x, later);
    }

    @Override
    public java.util.concurrent.CompletionStage<Void> start() {
      return inner.start();
    }

    @Override
    public java.util.concurrent.CompletionStage<io.tidings.core.AppendResult> append(String topic, List<NewEvent> events) {
      return inner.append(topic, events);
    }

    @Override
    public java.util.concurrent.CompletionStage<io.tidings.core.ReadResult> read(String topic, long afterOffset, int limit) {
      return late(inner.read(topic, afterOffset, limit));
    }

    @Override
    public java.util.concurrent.CompletionStage<io.tidings.core.StatePage> state(String topic, String afterKey, int limit) {
      return late(inner.state(topic, afterKey, limit));
    }

    @Override
    public java.util.concurrent.CompletionStage<TopicHead> head(String topic) {
      return inner.head(topic).thenApplyAsync(x -> x, later);
    }

    @Override
    public java.util.concurrent.CompletionStage<List<TopicHead>> topics(String prefix, String after, int limit) {
      return inner.topics(prefix, after, limit);
    }

    @Override
    public io.tidings.core.Records records() {
      return inner.records();
    }

    @Override
    public java.util.concurrent.CompletionStage<Void> ping() {
      return inner.ping();
    }

    @Override
    public AutoCloseable observe(io.tidings.core.AppendListener listener) {
      return inner.observe(listener);
    }

    @Override
    public void close() {
      inner.close();
    }
  }

  private static List<Long> range(long from, long to) {
    List<Long> out = new ArrayList<>();
    for (long i = from; i <= to; i++) {
      out.add(i);
    }
    return out;
  }

  /** Records what a feed hands over; lives on the loop thread, read from the test thread. */
  private static final class RecordingSink implements Sink {
    final List<Event> events = new CopyOnWriteArrayList<>();
    final List<StateEntry> state = new CopyOnWriteArrayList<>();
    final List<Cursor> statePrevious = new CopyOnWriteArrayList<>();
    final List<Cursor> stateContinueAt = new ArrayList<>();
    final List<Runnable> waiting = new CopyOnWriteArrayList<>();
    volatile Cursor subscribedAt;
    volatile Cursor resetAt;
    volatile String resetReason;
    volatile boolean stateFollows;
    volatile boolean stateDone;
    volatile String failure;
    volatile boolean writable = true;

    @Override
    public void subscribed(Feed feed, Cursor start) {
      subscribedAt = start;
    }

    @Override
    public void events(Feed feed, EventBatch batch, int from) {
      events.addAll(batch.events().subList(from, batch.size()));
    }

    @Override
    public void reset(Feed feed, Cursor continueAt, String reason, boolean stateFollows) {
      this.stateFollows = stateFollows;
      this.resetReason = reason;
      this.resetAt = continueAt;
    }

    @Override
    public void state(Feed feed, List<StateEntry> entries, Cursor previous, Cursor continueAt) {
      state.addAll(entries);
      statePrevious.add(previous);
      synchronized (stateContinueAt) {
        stateContinueAt.add(continueAt);
      }
      if (continueAt != null) {
        stateDone = true;
      }
    }

    @Override
    public void failed(Feed feed, String code, String message) {
      failure = code;
    }

    @Override
    public boolean writable() {
      return writable;
    }

    @Override
    public void whenWritable(Runnable task) {
      if (writable) {
        task.run();
      } else {
        waiting.add(task);
      }
    }

    void runWaiting() {
      List<Runnable> tasks = new ArrayList<>(waiting);
      waiting.clear();
      tasks.forEach(Runnable::run);
    }

    List<Long> offsets() {
      return events.stream().map(Event::offset).toList();
    }

    long lastOffset() {
      return events.isEmpty() ? 0 : events.get(events.size() - 1).offset();
    }
  }
}
