package io.tidings.core.hub;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.tidings.core.Cursor;
import io.tidings.core.DedupeWindow;
import io.tidings.core.NewEvent;
import io.tidings.core.Position;
import io.tidings.core.RetentionPolicy;
import io.tidings.core.StateEntry;
import io.tidings.core.StoreProbe;
import io.tidings.core.memory.MemoryEngine;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** What the hub tells operators: subscriptions per topic, delivery latency once per append and loop, store probes. */
class HubStatsTest {
  private final ExecutorService loopThread = Executors.newSingleThreadExecutor(r -> new Thread(r, "stats-loop"));
  private final MemoryEngine engine = new MemoryEngine(RetentionPolicy.keepAll(), DedupeWindow.DEFAULT, Clock.systemUTC());

  @AfterEach
  void close() {
    loopThread.shutdownNow();
    engine.close();
  }

  /** A sink that takes everything and counts live events. */
  private static final class Counting implements Sink {
    final AtomicInteger events = new AtomicInteger();

    @Override
    public void subscribed(Feed feed, Cursor start) {}

    @Override
    public void events(Feed feed, EventBatch batch, int from) {
      events.addAndGet(batch.size() - from);
    }

    @Override
    public void reset(Feed feed, Cursor continueAt, String reason, boolean stateFollows) {}

    @Override
    public void state(Feed feed, List<StateEntry> entries, Cursor previous, Cursor continueAt) {}

    @Override
    public void failed(Feed feed, String code, String message) {}

    @Override
    public boolean writable() {
      return true;
    }

    @Override
    public void whenWritable(Runnable task) {
      task.run();
    }
  }

  @Test
  void subscriptionsAreCountedPerTopic_andLiveDeliveriesAreTimedOncePerAppendAndLoop() throws Exception {
    List<Long> latencies = new CopyOnWriteArrayList<>();
    List<int[]> commits = new CopyOnWriteArrayList<>();
    engine.probe(new StoreProbe() {
      @Override
      public void appended(long nanos) {
        assertThat(nanos).isNotNegative();
      }

      @Override
      public void committed(int requests, int events) {
        commits.add(new int[] {requests, events});
      }
    });
    engine.start().toCompletableFuture().join();
    Hub hub = new Hub(engine, Hub.Options.DEFAULT);
    hub.onDeliveryLatency(latencies::add);
    engine.observe(hub);
    Thread owner = loopThread.submit(Thread::currentThread).get();
    HubLoop loop = hub.loop(loopThread, owner, (delay, task) -> loopThread.execute(task));

    Counting a = new Counting();
    Counting b = new Counting();
    Counting c = new Counting();
    Feed fa = loopThread.submit(() -> loop.subscribe("t/one", Position.NOW, false, a)).get();
    Feed fb = loopThread.submit(() -> loop.subscribe("t/one", Position.NOW, false, b)).get();
    Feed fc = loopThread.submit(() -> loop.subscribe("t/two", Position.NOW, false, c)).get();
    assertThat(hub.subscribers("t/one")).isEqualTo(2);
    assertThat(hub.subscribers("t/two")).isEqualTo(1);
    assertThat(hub.subscribers("t/none")).isZero();
    assertThat(hub.mostSubscribed(10)).containsExactly(Map.entry("t/one", 2), Map.entry("t/two", 1));
    assertThat(hub.mostSubscribed(1)).containsExactly(Map.entry("t/one", 2));
    await().atMost(Duration.ofSeconds(10)).until(() -> loopThread.submit(() -> fa.live() && fb.live() && fc.live()).get());

    engine.append("t/one", List.of(NewEvent.message("1"), NewEvent.message("2"))).toCompletableFuture().join();
    await().atMost(Duration.ofSeconds(10)).until(() -> a.events.get() == 2 && b.events.get() == 2);
    await().atMost(Duration.ofSeconds(10)).until(() -> latencies.size() == 1);
    assertThat(latencies).as("one append, one loop, two subscribers: one measurement").hasSize(1);
    assertThat(latencies.get(0)).isNotNegative();
    assertThat(commits).anySatisfy(x -> assertThat(x).containsExactly(1, 2));

    loopThread.submit(fa::close).get();
    loopThread.submit(fc::close).get();
    assertThat(hub.subscribers("t/one")).isEqualTo(1);
    assertThat(hub.subscribers("t/two")).isZero();
    assertThat(hub.mostSubscribed(10)).containsExactly(Map.entry("t/one", 1));
    assertThat(hub.feeds()).isEqualTo(1);
  }

  @Test
  void busiestTopicsAreThoseWithTheHighestRecentRate() {
    long[] now = {1_000_000};
    ChangeRates rates = new ChangeRates(60_000, () -> now[0]);
    rates.onAppend(io.tidings.core.TopicHead.empty("quiet", "e"), List.of(event("quiet")));
    for (int i = 0; i < 10; i++) {
      rates.onAppend(io.tidings.core.TopicHead.empty("busy", "e"), List.of(event("busy")));
    }
    assertThat(rates.busiest(5, 0).stream().map(Map.Entry::getKey)).containsExactly("busy", "quiet");
    assertThat(rates.busiest(1, 0).stream().map(Map.Entry::getKey)).containsExactly("busy");
    now[0] += 3_600_000;
    assertThat(rates.busiest(5, 1e-3)).as("an hour later both have faded").isEmpty();
  }

  private static io.tidings.core.Event event(String topic) {
    return new io.tidings.core.Event(topic, "e", 1, "message", null, "1", null, 0);
  }
}
