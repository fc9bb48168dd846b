package io.tidings.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.tidings.core.AppendResult.Outcome;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The behaviour every {@link Engine} must have, written once and run against each engine. An
 * engine module extends this class and says how to build its engine.
 */
public abstract class EngineContractTest {
  /** A fixed start time, so that event times are predictable. */
  protected static final long T0 = 1_767_225_600_000L;
  private static final Duration TIMEOUT = Duration.ofSeconds(30);

  /** The clock every engine of a test runs on. */
  protected final TestClock clock = new TestClock(T0);
  private final List<Engine> engines = new ArrayList<>();

  /** A new, not yet started engine over an empty store. */
  protected abstract Engine newEngine(RetentionPolicy retention, DedupeWindow dedupe, Clock clock);

  /** Runs one retention pass (retention rules and the dedupe window) on {@code engine} and waits for it. */
  protected abstract void trimNow(Engine engine);

  /**
   * Closes {@code engine} and returns a new, not yet started engine over the same store, or
   * {@code null} when the engine keeps nothing across a restart.
   */
  protected Engine reopen(Engine engine) {
    return null;
  }

  @AfterEach
  void closeEngines() {
    for (Engine e : engines) {
      e.close();
    }
  }

  // ---- helpers ----

  protected Engine open() {
    return open(RetentionPolicy.keepAll(), DedupeWindow.DEFAULT);
  }

  protected Engine open(RetentionPolicy retention, DedupeWindow dedupe) {
    return started(newEngine(retention, dedupe, clock));
  }

  protected Engine started(Engine engine) {
    engines.add(engine);
    await(engine.start());
    return engine;
  }

  protected static <T> T await(CompletionStage<T> stage) {
    try {
      return stage.toCompletableFuture().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw new AssertionError("stage failed: " + e.getCause(), e.getCause());
    } catch (InterruptedException | TimeoutException e) {
      throw new AssertionError("stage did not complete: " + e, e);
    }
  }

  /** The exception a stage failed with; fails the test when it succeeds. */
  protected static Throwable failure(CompletionStage<?> stage) {
    try {
      Object value = stage.toCompletableFuture().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      throw new AssertionError("expected a failure, got " + value);
    } catch (ExecutionException e) {
      return e.getCause();
    } catch (InterruptedException | TimeoutException e) {
      throw new AssertionError("stage did not complete: " + e, e);
    }
  }

  protected static AppendResult append(Engine e, String topic, NewEvent... events) {
    return await(e.append(topic, List.of(events)));
  }

  protected static NewEvent msg(String data) {
    return NewEvent.message(data);
  }

  protected static NewEvent msg(String data, String id) {
    return NewEvent.message(data).withId(id);
  }

  protected static List<Event> readAll(Engine e, String topic) {
    List<Event> out = new ArrayList<>();
    long after = 0;
    while (true) {
      ReadResult page = await(e.read(topic, after, 97));
      if (page.events().isEmpty()) {
        return out;
      }
      out.addAll(page.events());
      after = page.events().get(page.events().size() - 1).offset();
    }
  }

  protected static List<StateEntry> stateAll(Engine e, String topic, int pageSize) {
    List<StateEntry> out = new ArrayList<>();
    String after = null;
    do {
      StatePage page = await(e.state(topic, after, pageSize));
      out.addAll(page.entries());
      after = page.nextKey();
    } while (after != null);
    return out;
  }

  private static List<Long> offsets(List<Outcome> outcomes) {
    return outcomes.stream().map(Outcome::offset).toList();
  }

  private static List<Long> eventOffsets(List<Event> events) {
    return events.stream().map(Event::offset).toList();
  }

  private static List<Long> range(long fromInclusive, long toInclusive) {
    return LongStream.rangeClosed(fromInclusive, toInclusive).boxed().toList();
  }

  private static RetentionPolicy policy(RetentionRule... rules) {
    // A long interval: these tests trim by hand, so a background pass must not interfere.
    return new RetentionPolicy(List.of(rules), Duration.ofHours(1));
  }

  // ---- appends, offsets and heads ----

  @Test
  void offsetsStartAtOneAndGrowWithoutGaps() {
    Engine e = open();
    AppendResult first = append(e, "t", msg("1"), msg("2"), msg("3"));
    assertThat(offsets(first.outcomes())).containsExactly(1L, 2L, 3L);
    assertThat(first.outcomes()).noneMatch(Outcome::duplicate);
    assertThat(eventOffsets(first.appended())).containsExactly(1L, 2L, 3L);

    AppendResult second = append(e, "t", msg("4"), msg("5"));
    assertThat(offsets(second.outcomes())).containsExactly(4L, 5L);
    assertThat(second.lastOffset()).isEqualTo(5);

    // Offsets are per topic.
    assertThat(offsets(append(e, "u", msg("x")).outcomes())).containsExactly(1L);

    List<Event> events = readAll(e, "t");
    assertThat(eventOffsets(events)).isEqualTo(range(1, 5));
    assertThat(events).extracting(Event::data).containsExactly("1", "2", "3", "4", "5");
  }

  @Test
  void appendedEventsCarryEveryField() {
    Engine e = open();
    AppendResult r = append(e, "scores/match-42",
        new NewEvent("goal", null, "{\"by\":\"x\"}", "g-1"), NewEvent.put("home", "{\"goals\":2}"));
    String epoch = r.head().epoch();
    assertThat(Cursor.isEpoch(epoch)).isTrue();
    Event goal = new Event("scores/match-42", epoch, 1, "goal", null, "{\"by\":\"x\"}", "g-1", T0);
    Event put = new Event("scores/match-42", epoch, 2, "put", "home", "{\"goals\":2}", null, T0);
    assertThat(r.appended()).containsExactly(goal, put);
    assertThat(r.outcomes()).containsExactly(new Outcome("g-1", 1, false), new Outcome(null, 2, false));
    assertThat(readAll(e, "scores/match-42")).containsExactly(goal, put);
  }

  @Test
  void headOfAnUnknownTopicIsEmpty() {
    Engine e = open();
    TopicHead head = await(e.head("nobody/here"));
    assertThat(Cursor.isEpoch(head.epoch())).isTrue();
    assertThat(head).isEqualTo(TopicHead.empty("nobody/here", head.epoch()));

    AppendResult r = append(e, "somebody", msg("1"));
    assertThat(r.head().epoch()).as("one store, one epoch").isEqualTo(head.epoch());

    ReadResult read = await(e.read("nobody/here", 0, 10));
    assertThat(read.head()).isEqualTo(head);
    assertThat(read.events()).isEmpty();
    StatePage state = await(e.state("nobody/here", null, 10));
    assertThat(state.head()).isEqualTo(head);
    assertThat(state.entries()).isEmpty();
    assertThat(state.nextKey()).isNull();
    assertThat(await(e.topics(null, null, 10))).extracting(TopicHead::topic).containsExactly("somebody");
  }

  @Test
  void headTracksOffsetsTimeAndKeys() {
    Engine e = open();
    AppendResult r1 = append(e, "t", NewEvent.put("a", "1"), msg("m"));
    String epoch = r1.head().epoch();
    assertThat(r1.head()).isEqualTo(new TopicHead("t", epoch, 1, 2, T0, 1));
    assertThat(await(e.head("t"))).isEqualTo(r1.head());

    clock.advance(Duration.ofSeconds(5));
    AppendResult r2 = append(e, "t", NewEvent.put("b", "2"), NewEvent.put("a", "3"));
    assertThat(r2.head()).isEqualTo(new TopicHead("t", epoch, 1, 4, T0 + 5000, 2));
    assertThat(await(e.head("t"))).isEqualTo(r2.head());
    assertThat(await(e.read("t", 0, 1)).head()).isEqualTo(r2.head());
    assertThat(await(e.state("t", null, 1)).head()).isEqualTo(r2.head());
  }

  @Test
  void eventTimesNeverGoBackwardsWithinATopic() {
    Engine e = open();
    clock.set(T0 + 10_000);
    assertThat(append(e, "t", msg("1")).appended().get(0).time()).isEqualTo(T0 + 10_000);

    clock.set(T0); // the wall clock stepped back
    AppendResult back = append(e, "t", msg("2"));
    assertThat(back.appended().get(0).time()).isEqualTo(T0 + 10_000);
    assertThat(back.head().lastTime()).isEqualTo(T0 + 10_000);
    // Another topic has its own history and takes the clock as it is.
    assertThat(append(e, "u", msg("1")).appended().get(0).time()).isEqualTo(T0);

    clock.set(T0 + 20_000);
    assertThat(append(e, "t", msg("3")).appended().get(0).time()).isEqualTo(T0 + 20_000);
    assertThat(readAll(e, "t")).extracting(Event::time).containsExactly(T0 + 10_000, T0 + 10_000, T0 + 20_000);
  }

  // ---- reads ----

  @Test
  void readReturnsEventsAfterAnOffsetUpToALimit() {
    Engine e = open();
    for (int i = 1; i <= 10; i++) {
      append(e, "t", msg(Integer.toString(i)));
    }
    ReadResult middle = await(e.read("t", 3, 4));
    assertThat(eventOffsets(middle.events())).containsExactly(4L, 5L, 6L, 7L);
    assertThat(middle.head().lastOffset()).isEqualTo(10);

    assertThat(eventOffsets(await(e.read("t", 0, 1)).events())).containsExactly(1L);
    assertThat(eventOffsets(await(e.read("t", 8, 100)).events())).containsExactly(9L, 10L);

    ReadResult atHead = await(e.read("t", 10, 5));
    assertThat(atHead.events()).isEmpty();
    assertThat(atHead.head()).isEqualTo(await(e.head("t")));
    assertThat(await(e.read("t", 42, 5)).events()).isEmpty();
  }

  @Test
  void readSeesTheHeadAndTheEventsOfOneSnapshot() throws Exception {
    Engine e = open();
    AtomicBoolean writing = new AtomicBoolean(true);
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      Future<?> writer = pool.submit(() -> {
        for (int i = 0; i < 400; i++) {
          e.append("t", List.of(msg("a"), msg("b")));
        }
        await(e.append("t", List.of(msg("last"))));
        writing.set(false);
      });
      long after = 0;
      int reads = 0;
      while (writing.get() || reads < 10) {
        ReadResult r = await(e.read("t", after, 50));
        long last = r.head().lastOffset();
        // Without retention, the head alone says exactly which events must come back.
        assertThat(eventOffsets(r.events())).isEqualTo(range(after + 1, Math.min(last, after + 50)));
        after = Math.max(0, last - 30);
        reads++;
      }
      writer.get(30, TimeUnit.SECONDS);
    } finally {
      pool.shutdownNow();
    }
  }

  // ---- state ----

  @Test
  void readsStopAtTheByteBudgetButAlwaysReturnSomething() {
    Engine e = open();
    String big = "\"" + "x".repeat(1 << 20) + "\"";  // 1 MiB of data per event
    for (int i = 0; i < 10; i++) {
      append(e, "budget", msg(big), NewEvent.put("k" + i, big));
    }
    ReadResult first = await(e.read("budget", 0, 1000));
    assertThat(first.events()).hasSizeBetween(1, Engine.READ_BUDGET_CHARS / (1 << 20) + 1);
    assertThat(eventOffsets(first.events())).isEqualTo(range(1, first.events().size()));
    assertThat(readAll(e, "budget")).hasSize(20);

    StatePage page = await(e.state("budget", null, 1000));
    assertThat(page.entries()).hasSizeBetween(1, Engine.READ_BUDGET_CHARS / (1 << 20) + 1);
    assertThat(page.nextKey()).isEqualTo(page.entries().get(page.entries().size() - 1).key());
    assertThat(stateAll(e, "budget", 1000)).hasSize(10);
    assertThat(await(e.state("budget", null, 0)).entries()).isEmpty();
  }

  @Test
  void putAndDeleteMaintainTheState() {
    Engine e = open();
    AppendResult r = append(e, "t",
        NewEvent.put("a", "{\"v\":1}"),
        NewEvent.put("b", "{\"v\":2}"),
        msg("not state"),
        NewEvent.put("a", "{\"v\":3}"),
        NewEvent.delete("b"),
        NewEvent.delete("never-there"),
        new NewEvent(EventTypes.PUT, "n", null, null));
    // Every event is in the log, deletes of missing keys included.
    assertThat(offsets(r.outcomes())).isEqualTo(range(1, 7));
    assertThat(r.head().keys()).isEqualTo(2);
    assertThat(await(e.head("t")).keys()).isEqualTo(2);

    StatePage page = await(e.state("t", null, 100));
    assertThat(page.entries()).containsExactly(
        new StateEntry("a", "{\"v\":3}", 4, T0),
        new StateEntry("n", "null", 7, T0));
    assertThat(page.nextKey()).isNull();
    assertThat(page.head()).isEqualTo(r.head());

    Event delete = readAll(e, "t").get(4);
    assertThat(delete.type()).isEqualTo("delete");
    assertThat(delete.key()).isEqualTo("b");
    assertThat(delete.data()).isNull();

    clock.advance(Duration.ofSeconds(1));
    AppendResult again = append(e, "t", NewEvent.delete("a"), NewEvent.delete("a"), NewEvent.put("c", "1"));
    assertThat(again.head().keys()).isEqualTo(2);
    assertThat(stateAll(e, "t", 1)).containsExactly(
        new StateEntry("c", "1", 10, T0 + 1000),
        new StateEntry("n", "null", 7, T0));
  }

  @Test
  void statePagesInCodePointOrder() {
    Engine e = open();
    List<String> keys = List.of(
        "b", "a", "A", "ab", "\u00e9", "\uff5e", "\ud83d\ude00", "z", "\ud83d\ude01");
    List<String> expected = new ArrayList<>(keys);
    expected.sort(KeyOrder.CODE_POINT);
    List<String> utf16 = new ArrayList<>(keys);
    Collections.sort(utf16);
    assertThat(expected).as("the keys must tell code point order from UTF-16 order").isNotEqualTo(utf16);
    assertThat(expected).containsExactly(
        "A", "a", "ab", "b", "z", "\u00e9", "\uff5e", "\ud83d\ude00", "\ud83d\ude01");

    List<NewEvent> puts = new ArrayList<>();
    for (String key : keys) {
      puts.add(NewEvent.put(key, "\"" + key + "\""));
    }
    await(e.append("t", puts));

    // Nine keys in pages of three: the last page is full and still ends the listing.
    List<String> seen = new ArrayList<>();
    String after = null;
    List<String> nextKeys = new ArrayList<>();
    do {
      StatePage page = await(e.state("t", after, 3));
      assertThat(page.entries()).hasSize(3);
      page.entries().forEach(entry -> seen.add(entry.key()));
      after = page.nextKey();
      nextKeys.add(after);
    } while (after != null);
    assertThat(seen).isEqualTo(expected);
    assertThat(nextKeys).containsExactly(expected.get(2), expected.get(5), null);

    StatePage rest = await(e.state("t", "\u00e9", 100));
    assertThat(rest.entries()).extracting(StateEntry::key)
        .containsExactly("\uff5e", "\ud83d\ude00", "\ud83d\ude01");
    assertThat(rest.nextKey()).isNull();
    // afterKey need not be a key that exists.
    assertThat(await(e.state("t", "aa", 2)).entries()).extracting(StateEntry::key).containsExactly("ab", "b");
    assertThat(await(e.state("t", "aa", 2)).nextKey()).isEqualTo("b");
    assertThat(await(e.state("t", "\ud83d\ude01", 2)).entries()).isEmpty();
  }

  // ---- idempotency ----

  @Test
  void duplicateIdsKeepTheOriginalOffset() {
    Engine e = open();
    append(e, "t", msg("1", "x"), msg("2", "y"));

    AppendResult r = append(e, "t", msg("3", "x"), msg("4", "z"), msg("5"));
    assertThat(r.outcomes()).containsExactly(
        new Outcome("x", 1, true), new Outcome("z", 3, false), new Outcome(null, 4, false));
    assertThat(eventOffsets(r.appended())).containsExactly(3L, 4L);
    assertThat(r.head().lastOffset()).isEqualTo(4);
    assertThat(r.lastOffset()).isEqualTo(4);

    // A repeat inside one request is a duplicate of its first occurrence.
    AppendResult same = append(e, "t", msg("6", "w"), msg("7", "w"));
    assertThat(same.outcomes()).containsExactly(new Outcome("w", 5, false), new Outcome("w", 5, true));
    assertThat(eventOffsets(same.appended())).containsExactly(5L);

    // Only duplicates: nothing changes, not even the head's time.
    clock.advance(Duration.ofSeconds(3));
    TopicHead before = await(e.head("t"));
    AppendResult dup = append(e, "t", msg("8", "x"), msg("9", "y"));
    assertThat(dup.outcomes()).containsExactly(new Outcome("x", 1, true), new Outcome("y", 2, true));
    assertThat(dup.appended()).isEmpty();
    assertThat(dup.head()).isEqualTo(before);
    assertThat(dup.lastOffset()).isEqualTo(2);
    assertThat(await(e.head("t"))).isEqualTo(before);

    assertThat(readAll(e, "t")).extracting(Event::data).containsExactly("1", "2", "4", "5", "6");
    // Ids are per topic.
    assertThat(append(e, "u", msg("1", "x")).outcomes()).containsExactly(new Outcome("x", 1, false));
  }

  @Test
  void aDuplicatePutDoesNotChangeTheState() {
    Engine e = open();
    append(e, "t", NewEvent.put("k", "1").withId("p"));
    AppendResult r = append(e, "t", NewEvent.put("k", "2").withId("p"), NewEvent.delete("k").withId("p"));
    assertThat(r.appended()).isEmpty();
    assertThat(stateAll(e, "t", 10)).containsExactly(new StateEntry("k", "1", 1, T0));
  }

  @Test
  void theDedupeWindowForgetsOldIdsBeyondTheNewest() {
    Engine e = open(RetentionPolicy.keepAll(), new DedupeWindow(2, Duration.ofMinutes(1)));
    for (String id : List.of("a", "b", "c", "d")) {
      append(e, "t", msg(id, id));
    }
    trimNow(e);
    // Younger than minAge: remembered although more than minIds.
    assertThat(append(e, "t", msg("again", "a")).outcomes()).containsExactly(new Outcome("a", 1, true));

    clock.advance(Duration.ofMinutes(2));
    forgetOldIds(e, "t");
    // The newest two are always remembered...
    assertThat(append(e, "t", msg("again", "c"), msg("again", "d")).outcomes())
        .containsExactly(new Outcome("c", 3, true), new Outcome("d", 4, true));
    // ...older ones past minAge are forgotten, so they append again.
    assertThat(append(e, "t", msg("again", "a")).outcomes()).containsExactly(new Outcome("a", 6, false));
    assertThat(append(e, "t", msg("again", "b")).outcomes()).containsExactly(new Outcome("b", 7, false));
  }

  /**
   * Gives the engine its chance to forget ids outside the dedupe window: a retention pass, then
   * an append without ids (an engine may prune in the background or as it appends; the window is
   * only a minimum, so both are allowed).
   */
  private void forgetOldIds(Engine e, String topic) {
    trimNow(e);
    append(e, topic, msg("no id"));
  }

  @Test
  void theDedupeWindowKeepsIdsYoungerThanMinAge() {
    Engine e = open(RetentionPolicy.keepAll(), new DedupeWindow(0, Duration.ofMinutes(1)));
    append(e, "t", msg("1", "x"));
    clock.advance(Duration.ofSeconds(30));
    trimNow(e);
    assertThat(append(e, "t", msg("2", "x")).outcomes()).containsExactly(new Outcome("x", 1, true));

    clock.advance(Duration.ofSeconds(31));
    forgetOldIds(e, "t");
    assertThat(append(e, "t", msg("3", "x")).outcomes()).containsExactly(new Outcome("x", 3, false));
  }

  @Test
  void theDedupeWindowKeepsTheNewestIdsWhateverTheirAge() {
    Engine e = open(RetentionPolicy.keepAll(), new DedupeWindow(3, Duration.ZERO));
    for (String id : List.of("a", "b", "c", "d", "e")) {
      append(e, "t", msg(id, id));
    }
    clock.advance(Duration.ofMillis(1));
    forgetOldIds(e, "t");
    assertThat(append(e, "t", msg("x", "c"), msg("x", "d"), msg("x", "e")).outcomes())
        .extracting(Outcome::duplicate).containsExactly(true, true, true);
    assertThat(append(e, "t", msg("x", "a")).outcomes()).containsExactly(new Outcome("a", 7, false));
  }

  // ---- retention ----

  @Test
  void retentionByCountKeepsTheNewestEvents() {
    Engine e = open(policy(new RetentionRule(TopicPattern.compile("logs/**"), 3, null)), DedupeWindow.DEFAULT);
    append(e, "logs/a", NewEvent.put("k1", "1"), NewEvent.put("k2", "2"));
    for (int i = 3; i <= 10; i++) {
      append(e, "logs/a", msg(Integer.toString(i)));
      append(e, "other/a", msg(Integer.toString(i)));
    }
    trimNow(e);

    TopicHead head = await(e.head("logs/a"));
    assertThat(head.firstOffset()).isEqualTo(8);
    assertThat(head.lastOffset()).isEqualTo(10);
    assertThat(head.keys()).isEqualTo(2);
    assertThat(eventOffsets(readAll(e, "logs/a"))).containsExactly(8L, 9L, 10L);
    // A read from before the retained range starts at the oldest retained event.
    ReadResult gap = await(e.read("logs/a", 2, 100));
    assertThat(eventOffsets(gap.events())).containsExactly(8L, 9L, 10L);
    assertThat(gap.head()).isEqualTo(head);
    assertThat(gap.head().retains(2)).isFalse();
    assertThat(gap.head().retains(7)).isTrue();
    // State is never trimmed, even when the events that set it are.
    assertThat(stateAll(e, "logs/a", 10)).containsExactly(
        new StateEntry("k1", "1", 1, T0), new StateEntry("k2", "2", 2, T0));
    // Topics without a matching rule keep everything.
    assertThat(await(e.head("other/a")).firstOffset()).isEqualTo(1);
    assertThat(readAll(e, "other/a")).hasSize(8);
    assertThat(await(e.topics("logs/", null, 10))).containsExactly(head);

    AppendResult more = append(e, "logs/a", msg("11"), msg("12"));
    assertThat(offsets(more.outcomes())).containsExactly(11L, 12L);
    trimNow(e);
    assertThat(await(e.head("logs/a")).firstOffset()).isEqualTo(10);
    assertThat(eventOffsets(readAll(e, "logs/a"))).containsExactly(10L, 11L, 12L);
  }

  @Test
  void theFirstMatchingRuleWins() {
    Engine e = open(policy(
        new RetentionRule(TopicPattern.compile("a/keep"), 0, null),
        new RetentionRule(TopicPattern.compile("a/*"), 1, null)), DedupeWindow.DEFAULT);
    for (int i = 0; i < 3; i++) {
      append(e, "a/keep", msg("x"));
      append(e, "a/trim", msg("x"));
    }
    trimNow(e);
    assertThat(await(e.head("a/keep")).firstOffset()).isEqualTo(1);
    assertThat(await(e.head("a/trim")).firstOffset()).isEqualTo(3);
  }

  @Test
  void retentionByAgeDropsOldEventsAndOffsetsCarryOn() {
    Engine e = open(policy(new RetentionRule(TopicPattern.compile("**"), 0, Duration.ofMinutes(1))),
        DedupeWindow.DEFAULT);
    append(e, "t", msg("1"), msg("2"), msg("3"), NewEvent.put("k", "v"));
    clock.advance(Duration.ofSeconds(30));
    append(e, "t", msg("5"), msg("6"));

    clock.advance(Duration.ofSeconds(40)); // the first four are 70 s old, the others 40 s
    trimNow(e);
    assertThat(await(e.head("t")).firstOffset()).isEqualTo(5);
    assertThat(eventOffsets(readAll(e, "t"))).containsExactly(5L, 6L);

    clock.advance(Duration.ofMinutes(2));
    trimNow(e);
    TopicHead empty = await(e.head("t"));
    assertThat(empty.firstOffset()).as("nothing retained: lastOffset + 1").isEqualTo(7);
    assertThat(empty.lastOffset()).isEqualTo(6);
    assertThat(empty.lastTime()).isEqualTo(T0 + 30_000);
    assertThat(empty.keys()).isEqualTo(1);
    assertThat(readAll(e, "t")).isEmpty();
    assertThat(stateAll(e, "t", 10)).containsExactly(new StateEntry("k", "v", 4, T0));

    // Offsets are never reused, even after everything was trimmed.
    AppendResult next = append(e, "t", msg("7"));
    assertThat(offsets(next.outcomes())).containsExactly(7L);
    assertThat(next.head().firstOffset()).isEqualTo(7);
    assertThat(next.head().lastOffset()).isEqualTo(7);
    assertThat(eventOffsets(await(e.read("t", 0, 10)).events())).containsExactly(7L);
    assertThat(eventOffsets(await(e.read("t", 6, 10)).events())).containsExactly(7L);
  }

  // ---- listeners ----

  @Test
  void listenersHearEachAppendOnceInOrderBeforeItCompletes() throws Exception {
    Engine e = open();
    record Heard(TopicHead head, List<Event> events) {}
    List<Heard> heard = Collections.synchronizedList(new ArrayList<>());
    AutoCloseable handle = e.observe((head, events) -> heard.add(new Heard(head, List.copyOf(events))));

    int seenAtCompletion = await(e.append("t", List.of(msg("1"), msg("2"))).thenApply(r -> heard.size()));
    assertThat(seenAtCompletion).as("listeners are told before the append completes").isEqualTo(1);

    AppendResult r2 = append(e, "u", msg("1", "id"));
    AppendResult r3 = append(e, "t", msg("3", "x"), msg("4"));
    append(e, "t", msg("3 again", "x")); // only a duplicate: nothing to tell
    assertThat(heard).hasSize(3);
    assertThat(heard.get(0).events()).extracting(Event::data).containsExactly("1", "2");
    assertThat(heard.get(0).head().lastOffset()).isEqualTo(2);
    assertThat(heard.get(1)).isEqualTo(new Heard(r2.head(), r2.appended()));
    assertThat(heard.get(2)).isEqualTo(new Heard(r3.head(), r3.appended()));

    handle.close();
    append(e, "t", msg("5"));
    assertThat(heard).hasSize(3);
  }

  @Test
  void aFailingListenerDoesNotAffectOthersOrTheAppend() {
    Engine e = open();
    List<Long> heard = Collections.synchronizedList(new ArrayList<>());
    e.observe((head, events) -> {
      throw new IllegalStateException("listener bug (expected by the test)");
    });
    e.observe((head, events) -> heard.add(head.lastOffset()));
    assertThat(offsets(append(e, "t", msg("1")).outcomes())).containsExactly(1L);
    assertThat(heard).containsExactly(1L);
  }

  // ---- concurrency ----

  @Test
  void concurrentAppendsGetUniqueGaplessOffsetsAndStateMatchesTheLog() throws Exception {
    Engine e = open();
    List<Long> heard = Collections.synchronizedList(new ArrayList<>());
    e.observe((head, events) -> events.forEach(ev -> heard.add(ev.offset())));

    int threads = 8;
    int requestsPerThread = 100;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    CountDownLatch go = new CountDownLatch(1);
    List<Future<List<AppendResult>>> futures = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int thread = t;
      futures.add(pool.submit(() -> {
        Random random = new Random(thread);
        go.await();
        List<CompletionStage<AppendResult>> stages = new ArrayList<>();
        for (int i = 0; i < requestsPerThread; i++) {
          List<NewEvent> events = new ArrayList<>();
          int n = 1 + random.nextInt(3);
          for (int j = 0; j < n; j++) {
            String key = "k" + random.nextInt(20);
            int kind = random.nextInt(4);
            events.add(kind == 0 ? NewEvent.delete(key)
                : kind == 1 ? msg("{\"t\":" + thread + "}")
                : NewEvent.put(key, "{\"t\":" + thread + ",\"i\":" + i + ",\"j\":" + j + "}"));
          }
          stages.add(e.append("t", events));
        }
        List<AppendResult> results = new ArrayList<>();
        for (CompletionStage<AppendResult> s : stages) {
          results.add(await(s));
        }
        return results;
      }));
    }
    go.countDown();
    List<Long> all = new ArrayList<>();
    for (Future<List<AppendResult>> f : futures) {
      for (AppendResult r : f.get(60, TimeUnit.SECONDS)) {
        List<Long> mine = offsets(r.outcomes());
        // A request is one unit: its events are consecutive.
        assertThat(mine).isEqualTo(range(mine.get(0), mine.get(mine.size() - 1)));
        all.addAll(mine);
      }
    }
    pool.shutdown();
    Collections.sort(all);
    assertThat(all).isEqualTo(range(1, all.size()));

    List<Event> log = readAll(e, "t");
    assertThat(eventOffsets(log)).isEqualTo(all);
    assertThat(heard).as("listeners hear every event once, in offset order").isEqualTo(all);

    Map<String, StateEntry> replay = new HashMap<>();
    for (Event ev : log) {
      if (ev.type().equals(EventTypes.PUT)) {
        replay.put(ev.key(), new StateEntry(ev.key(), ev.data(), ev.offset(), ev.time()));
      } else if (ev.type().equals(EventTypes.DELETE)) {
        replay.remove(ev.key());
      }
    }
    List<StateEntry> expected = new ArrayList<>(replay.values());
    expected.sort((a, b) -> KeyOrder.CODE_POINT.compare(a.key(), b.key()));
    assertThat(stateAll(e, "t", 7)).isEqualTo(expected);
    TopicHead head = await(e.head("t"));
    assertThat(head.keys()).isEqualTo(expected.size());
    assertThat(head.lastOffset()).isEqualTo(all.size());
  }

  // ---- topic listing ----

  @Test
  void topicsAreListedByNameWithPrefixAndPaging() {
    Engine e = open();
    for (String topic : List.of("b/1", "a/2", "a", "a/10", "ab", "a/1", "c")) {
      append(e, topic, msg("x"));
    }
    append(e, "a/1", msg("y"));

    assertThat(names(await(e.topics(null, null, 100)))).containsExactly("a", "a/1", "a/10", "a/2", "ab", "b/1", "c");
    assertThat(names(await(e.topics("a/", null, 100)))).containsExactly("a/1", "a/10", "a/2");
    assertThat(names(await(e.topics("a", null, 100)))).containsExactly("a", "a/1", "a/10", "a/2", "ab");
    assertThat(names(await(e.topics("a/", "a/1", 100)))).containsExactly("a/10", "a/2");
    assertThat(names(await(e.topics("a/", "a/2", 100)))).isEmpty();
    assertThat(names(await(e.topics("b/", "a", 100)))).as("after sorts before the prefix").containsExactly("b/1");
    assertThat(names(await(e.topics(null, "ab", 2)))).containsExactly("b/1", "c");
    assertThat(names(await(e.topics("a/", null, 2)))).containsExactly("a/1", "a/10");
    assertThat(names(await(e.topics("a/", "a/10", 2)))).containsExactly("a/2");
    assertThat(await(e.topics("zzz", null, 10))).isEmpty();

    List<TopicHead> heads = await(e.topics("a/1", null, 1));
    assertThat(heads).containsExactly(await(e.head("a/1")));
    assertThat(heads.get(0).lastOffset()).isEqualTo(2);
  }

  private static List<String> names(List<TopicHead> heads) {
    return heads.stream().map(TopicHead::topic).toList();
  }

  // ---- records ----

  private static void writeRecords(Engine e, RecordWrite... writes) {
    await(e.records().write(List.of(writes)));
  }

  private static String getRecord(Engine e, String space, String id) {
    return await(e.records().get(space, id));
  }

  private static List<String> recordIds(Engine e, String space, String afterId, int limit) {
    return await(e.records().list(space, afterId, limit)).stream().map(Record::id).toList();
  }

  @Test
  void recordsArePutReplacedAndReadBack() {
    Engine e = open();
    assertThat(getRecord(e, "hooks", "h1")).as("nothing stored yet").isNull();
    assertThat(await(e.records().list("hooks", null, 10))).isEmpty();

    writeRecords(e, RecordWrite.put("hooks", "h1", "{\"url\":\"https://a.example\"}"));
    assertThat(getRecord(e, "hooks", "h1")).isEqualTo("{\"url\":\"https://a.example\"}");
    writeRecords(e, RecordWrite.put("hooks", "h1", "{\"url\":\"https://b.example\"}"));
    assertThat(getRecord(e, "hooks", "h1")).isEqualTo("{\"url\":\"https://b.example\"}");
    assertThat(await(e.records().list("hooks", null, 10)))
        .containsExactly(new Record("hooks", "h1", "{\"url\":\"https://b.example\"}"));

    // Spaces are separate: the same id elsewhere is another document.
    assertThat(getRecord(e, "cursors", "h1")).isNull();
    // The empty string is a value like any other, not a deletion.
    writeRecords(e, RecordWrite.put("hooks", "empty", ""));
    assertThat(getRecord(e, "hooks", "empty")).isEqualTo("");
    // Records are not topics.
    assertThat(await(e.topics(null, null, 10))).isEmpty();
  }

  @Test
  void aRecordUnitAppliesItsWritesInOrder() {
    Engine e = open();
    writeRecords(e,
        RecordWrite.put("s", "a", "1"),
        RecordWrite.put("s", "b", "2"),
        RecordWrite.put("s", "a", "3"),
        RecordWrite.delete("s", "b"),
        RecordWrite.put("s", "c", "4"));
    assertThat(await(e.records().list("s", null, 10)))
        .containsExactly(new Record("s", "a", "3"), new Record("s", "c", "4"));

    // A clear followed by a put in the same unit leaves just the put.
    writeRecords(e, RecordWrite.clear("s"), RecordWrite.put("s", "z", "5"));
    assertThat(await(e.records().list("s", null, 10))).containsExactly(new Record("s", "z", "5"));
  }

  @Test
  void deletingARecordRemovesOnlyIt() {
    Engine e = open();
    writeRecords(e, RecordWrite.put("s", "a", "1"), RecordWrite.put("s", "b", "2"));
    writeRecords(e, RecordWrite.delete("s", "a"));
    assertThat(getRecord(e, "s", "a")).isNull();
    assertThat(getRecord(e, "s", "b")).isEqualTo("2");
    // Deleting what is not there is no error.
    writeRecords(e, RecordWrite.delete("s", "a"), RecordWrite.delete("nowhere", "x"));
    assertThat(recordIds(e, "s", null, 10)).containsExactly("b");
  }

  @Test
  void clearingASpaceLeavesOtherSpacesAlone() {
    Engine e = open();
    writeRecords(e,
        RecordWrite.put("attempts", "1", "a"),
        RecordWrite.put("attempts", "2", "b"),
        RecordWrite.put("attempts/x", "1", "c"),
        RecordWrite.put("attemptz", "1", "d"),
        RecordWrite.put("other", "1", "e"));
    writeRecords(e, RecordWrite.clear("attempts"));
    assertThat(await(e.records().list("attempts", null, 10))).isEmpty();
    assertThat(getRecord(e, "attempts", "1")).isNull();
    // Spaces are names, not prefixes.
    assertThat(getRecord(e, "attempts/x", "1")).isEqualTo("c");
    assertThat(getRecord(e, "attemptz", "1")).isEqualTo("d");
    assertThat(getRecord(e, "other", "1")).isEqualTo("e");
    // Clearing an empty or unknown space is no error, and a cleared space can be used again.
    writeRecords(e, RecordWrite.clear("attempts"), RecordWrite.clear("never"));
    writeRecords(e, RecordWrite.put("attempts", "3", "f"));
    assertThat(recordIds(e, "attempts", null, 10)).containsExactly("3");
  }

  @Test
  void recordsAreListedInCodePointOrderAndPagedAfterAnId() {
    Engine e = open();
    List<String> ids = List.of("b", "a", "A", "ab", "10", "9", "\u00e9", "\uff5e", "\ud83d\ude00", "z");
    List<RecordWrite> puts = new ArrayList<>();
    for (String id : ids) {
      puts.add(RecordWrite.put("s", id, "\"" + id + "\""));
    }
    writeRecords(e, puts.toArray(RecordWrite[]::new));
    writeRecords(e, RecordWrite.put("s0", "0", "other space"), RecordWrite.put("r", "0", "other space"));
    // Code point order, as for state keys: U+1F600 sorts after U+FF5E (String.compareTo disagrees).
    List<String> expected = List.of("10", "9", "A", "a", "ab", "b", "z", "\u00e9", "\uff5e", "\ud83d\ude00");

    assertThat(recordIds(e, "s", null, 100)).isEqualTo(expected);
    List<String> paged = new ArrayList<>();
    String after = null;
    while (true) {
      List<Record> page = await(e.records().list("s", after, 3));
      assertThat(page.size()).isLessThanOrEqualTo(3);
      if (page.isEmpty()) {
        break;
      }
      assertThat(page).allMatch(r -> r.space().equals("s") && r.value().equals("\"" + r.id() + "\""));
      page.forEach(r -> paged.add(r.id()));
      after = page.get(page.size() - 1).id();
    }
    assertThat(paged).isEqualTo(expected);

    // afterId need not exist, and is exclusive.
    assertThat(recordIds(e, "s", "aa", 2)).containsExactly("ab", "b");
    assertThat(recordIds(e, "s", "ab", 100)).containsExactly("b", "z", "\u00e9", "\uff5e", "\ud83d\ude00");
    assertThat(recordIds(e, "s", "\ud83d\ude00", 10)).isEmpty();
    assertThat(recordIds(e, "s", "", 1)).containsExactly("10");
    // No positive limit, no records.
    assertThat(await(e.records().list("s", null, 0))).isEmpty();
    assertThat(await(e.records().list("s", null, -1))).isEmpty();
    assertThat(await(e.records().list("s", null, Integer.MIN_VALUE))).isEmpty();
    assertThat(recordIds(e, "s", null, Integer.MAX_VALUE)).isEqualTo(expected);
    assertThat(await(e.records().list("nowhere", null, 10))).isEmpty();
  }

  @Test
  void aRecordUnitWithAnInvalidWriteAppliesNothing() {
    Engine e = open();
    writeRecords(e, RecordWrite.put("s", "keep", "1"));
    String tooLong = "x".repeat(Records.MAX_NAME_LENGTH + 1);
    String longest = "y".repeat(Records.MAX_NAME_LENGTH);

    CompletionStage<Void> badId = e.records().write(List.of(
        RecordWrite.put("s", "new", "2"),
        RecordWrite.delete("s", "keep"),
        RecordWrite.put("s", tooLong, "3")));
    assertThat(failure(badId)).isInstanceOf(IllegalArgumentException.class);
    CompletionStage<Void> badSpace = e.records().write(List.of(
        RecordWrite.clear("s"),
        RecordWrite.put(tooLong, "a", "4")));
    assertThat(failure(badSpace)).isInstanceOf(IllegalArgumentException.class);
    assertThat(failure(e.records().write(List.of(RecordWrite.clear(tooLong)))))
        .isInstanceOf(IllegalArgumentException.class);

    assertThat(await(e.records().list("s", null, 10))).containsExactly(new Record("s", "keep", "1"));
    assertThat(await(e.records().list(tooLong, null, 10))).isEmpty();

    // The limit itself is allowed, for spaces and ids alike.
    writeRecords(e, RecordWrite.put(longest, longest, "5"));
    assertThat(getRecord(e, longest, longest)).isEqualTo("5");
    // An empty unit is allowed and changes nothing.
    await(e.records().write(List.of()));
    assertThat(recordIds(e, "s", null, 10)).containsExactly("keep");
  }

  @Test
  void recordValuesKeepUnicodeAndLargeText() {
    Engine e = open();
    String unicode = "{\"name\":\"caf\u00e9 \u65e5\u672c \ud83d\ude00\",\"nul\":\"a\u0000b\",\"nl\":\"x\\ny\"}";
    StringBuilder large = new StringBuilder("\"");
    Random random = new Random(6);
    while (large.length() < 100 * 1024) {
      // Mixed widths: one, two, three and four UTF-8 bytes.
      large.append(switch (random.nextInt(4)) {
        case 0 -> "a";
        case 1 -> "\u00e9";
        case 2 -> "\u4e2d";
        default -> "\ud83d\ude03";
      });
    }
    large.append('"');
    String big = large.toString();
    writeRecords(e,
        RecordWrite.put("\u00e9space \ud83d\ude00", "\u65e5\u672c/\ud83d\ude00", unicode),
        RecordWrite.put("s", "big", big));
    assertThat(getRecord(e, "\u00e9space \ud83d\ude00", "\u65e5\u672c/\ud83d\ude00")).isEqualTo(unicode);
    assertThat(getRecord(e, "s", "big")).isEqualTo(big);
    assertThat(await(e.records().list("\u00e9space \ud83d\ude00", null, 10)))
        .containsExactly(new Record("\u00e9space \ud83d\ude00", "\u65e5\u672c/\ud83d\ude00", unicode));
    assertThat(await(e.records().list("s", null, 10))).containsExactly(new Record("s", "big", big));
  }

  // ---- lifecycle ----

  @Test
  void pingAnswersWhileOpenAndAClosedEngineRefusesAppends() {
    Engine e = open();
    await(e.ping());
    e.close();
    assertThat(failure(e.append("t", List.of(msg("1"))))).isInstanceOf(EngineUnavailableException.class);
    assertThat(failure(e.ping())).isInstanceOf(EngineUnavailableException.class);
    assertThat(failure(e.records().write(List.of(RecordWrite.put("s", "a", "1")))))
        .isInstanceOf(EngineUnavailableException.class);
    e.close(); // closing twice is harmless
  }

  @Test
  void aDurableEngineKeepsEverythingAcrossARestart() {
    Engine e = open();
    append(e, "t", NewEvent.put("k", "1").withId("a"), msg("2", "b"));
    writeRecords(e, RecordWrite.put("hooks", "h1", "{\"v\":1}"), RecordWrite.put("hooks", "h2", "{\"v\":2}"),
        RecordWrite.put("gone", "x", "1"));
    writeRecords(e, RecordWrite.delete("hooks", "h2"), RecordWrite.clear("gone"), RecordWrite.put("keys", "vapid", "k"));
    append(e, "u", msg("1"));
    TopicHead t = await(e.head("t"));
    TopicHead u = await(e.head("u"));
    List<Event> events = readAll(e, "t");

    Engine reopened = reopen(e);
    assumeTrue(reopened != null, "this engine keeps nothing across a restart");
    Engine again = started(reopened);
    assertThat(await(again.head("t"))).isEqualTo(t);
    assertThat(await(again.head("u"))).isEqualTo(u);
    assertThat(readAll(again, "t")).isEqualTo(events);
    assertThat(stateAll(again, "t", 10)).containsExactly(new StateEntry("k", "1", 1, T0));
    assertThat(await(again.topics(null, null, 10))).containsExactly(t, u);
    // The dedupe window survives too.
    assertThat(append(again, "t", msg("x", "a"), msg("3")).outcomes())
        .containsExactly(new Outcome("a", 1, true), new Outcome(null, 3, false));
    // And so do the records, as last written.
    assertThat(await(again.records().list("hooks", null, 10))).containsExactly(new Record("hooks", "h1", "{\"v\":1}"));
    assertThat(await(again.records().list("gone", null, 10))).isEmpty();
    assertThat(await(again.records().get("keys", "vapid"))).isEqualTo("k");
  }

  /** Fails the test unless {@code stage} has already failed with {@code type}. */
  protected static void assertFailedAlready(CompletionStage<?> stage, Class<? extends Throwable> type) {
    if (!stage.toCompletableFuture().isDone()) {
      fail("the stage should have failed at once");
    }
    assertThat(failure(stage)).isInstanceOf(type);
  }
}
