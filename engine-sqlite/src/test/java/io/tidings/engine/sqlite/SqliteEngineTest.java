package io.tidings.engine.sqlite;

import static org.assertj.core.api.Assertions.assertThat;

import io.tidings.core.AppendResult;
import io.tidings.core.AppendResult.Outcome;
import io.tidings.core.DedupeWindow;
import io.tidings.core.Engine;
import io.tidings.core.EngineContractTest;
import io.tidings.core.EngineException;
import io.tidings.core.EngineUnavailableException;
import io.tidings.core.Event;
import io.tidings.core.NewEvent;
import io.tidings.core.RetentionPolicy;
import io.tidings.core.RetentionRule;
import io.tidings.core.StateEntry;
import io.tidings.core.TopicHead;
import io.tidings.core.TopicPattern;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The SQLite engine against the engine contract, plus what only a durable, queued engine has. */
class SqliteEngineTest extends EngineContractTest {
  @TempDir
  Path tmp;

  private SqliteOptions options = SqliteOptions.DEFAULTS;
  private RetentionPolicy lastRetention = RetentionPolicy.keepAll();
  private DedupeWindow lastDedupe = DedupeWindow.DEFAULT;

  private Path dir() {
    return tmp.resolve("data");
  }

  @Override
  protected Engine newEngine(RetentionPolicy retention, DedupeWindow dedupe, Clock clock) {
    lastRetention = retention;
    lastDedupe = dedupe;
    return new SqliteEngine(dir(), options, retention, dedupe, clock);
  }

  @Override
  protected void trimNow(Engine engine) {
    await(((SqliteEngine) engine).trimNow());
  }

  @Override
  protected Engine reopen(Engine engine) {
    engine.close();
    return new SqliteEngine(dir(), options, lastRetention, lastDedupe, clock);
  }

  private SqliteEngine openSqlite() {
    return (SqliteEngine) open();
  }

  // ---- durability ----

  @Test
  void theStoreIsOneFileInWalModeAndKeepsItsEpoch() {
    SqliteEngine e = openSqlite();
    append(e, "t", msg("1"));
    String epoch = e.epoch();
    assertThat(Files.exists(dir().resolve("tidings.db"))).isTrue();
    assertThat(Files.exists(dir().resolve("tidings.db-wal"))).as("WAL mode").isTrue();
    assertThat(await(e.head("t")).epoch()).isEqualTo(epoch);
    assertThat(readAll(e, "t")).hasSize(1); // opens a reader connection too

    Engine closedAndNew = reopen(e);
    assertThat(dir().resolve("tidings.db-wal")).as("a clean close checkpoints the WAL").doesNotExist();
    SqliteEngine again = (SqliteEngine) started(closedAndNew);
    assertThat(again.epoch()).isEqualTo(epoch);
    assertThat(readAll(again, "t")).extracting(Event::epoch).containsExactly(epoch);
  }

  @Test
  void acknowledgedAppendsSurviveKillNine() throws Exception {
    Process child = KillNineChild.start(dir(), "appends");
    Map<String, Long> acked = new HashMap<>();
    try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while (acked.size() < 300 && (line = out.readLine()) != null) {
        String[] parts = line.split(" ");
        acked.put(parts[0], Long.parseLong(parts[1]));
      }
      // SIGKILL while the child is still appending: no shutdown hook, no close.
      child.destroyForcibly();
      assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
    }
    assertThat(acked).hasSize(300);

    Engine e = started(new SqliteEngine(dir(), options, RetentionPolicy.keepAll(), DedupeWindow.DEFAULT, clock));
    Map<String, Long> stored = new HashMap<>();
    for (Event event : readAll(e, "t")) {
      stored.put(event.id(), event.offset());
    }
    assertThat(stored).containsAllEntriesOf(acked);
    assertThat(stored.values()).as("no gaps").containsExactlyInAnyOrderElementsOf(
        LongStream.rangeClosed(1, stored.size()).boxed().toList());
  }

  @Test
  void aWipedDirectoryGetsANewEpoch() throws IOException {
    SqliteEngine e = openSqlite();
    append(e, "t", msg("1"));
    String epoch = e.epoch();
    e.close();
    try (Stream<Path> files = Files.walk(dir())) {
      for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
    SqliteEngine fresh = openSqlite();
    assertThat(fresh.epoch()).isNotEqualTo(epoch);
    assertThat(await(fresh.head("t"))).isEqualTo(TopicHead.empty("t", fresh.epoch()));
    assertThat(append(fresh, "t", msg("1")).outcomes()).containsExactly(new Outcome(null, 1, false));
  }

  @Test
  void startFailsWhenTheDirectoryCannotBeUsed() throws IOException {
    Files.createDirectories(tmp);
    Files.writeString(dir(), "a file where the data directory should be");
    SqliteEngine e = new SqliteEngine(dir(), options, RetentionPolicy.keepAll(), DedupeWindow.DEFAULT, clock);
    try {
      assertThat(failure(e.start())).isInstanceOf(EngineException.class);
      assertFailedAlready(e.append("t", List.of(msg("1"))), EngineUnavailableException.class);
      assertFailedAlready(e.read("t", 0, 10), EngineUnavailableException.class);
      assertFailedAlready(e.ping(), EngineUnavailableException.class);
    } finally {
      e.close();
    }
  }

  @Test
  void nothingIsServedBeforeStart() {
    SqliteEngine e = new SqliteEngine(dir(), options, RetentionPolicy.keepAll(), DedupeWindow.DEFAULT, clock);
    try {
      assertFailedAlready(e.append("t", List.of(msg("1"))), EngineUnavailableException.class);
      assertFailedAlready(e.head("t"), EngineUnavailableException.class);
      assertFailedAlready(e.state("t", null, 1), EngineUnavailableException.class);
    } finally {
      e.close();
    }
    assertFailedAlready(e.start(), EngineUnavailableException.class);
  }

  // ---- the writer ----

  @Test
  void theWriterCommitsQueuedAppendsTogether() throws Exception {
    SqliteEngine e = openSqlite();
    List<CompletionStage<AppendResult>> stages = new ArrayList<>();
    long before;
    WriterStall stall = new WriterStall(e);
    try {
      before = e.commits();
      for (int i = 0; i < 64; i++) {
        stages.add(e.append("t", List.of(msg(Integer.toString(i)))));
      }
    } finally {
      stall.release();
    }
    List<Long> offsets = new ArrayList<>();
    for (CompletionStage<AppendResult> s : stages) {
      offsets.addAll(await(s).outcomes().stream().map(Outcome::offset).toList());
    }
    assertThat(offsets).as("queue order is offset order").isEqualTo(
        LongStream.rangeClosed(1, 64).boxed().toList());
    assertThat(e.commits() - before).as("64 queued appends, one transaction").isEqualTo(1);
  }

  @Test
  void concurrentAppendersShareTransactions() throws Exception {
    SqliteEngine e = openSqlite();
    int appenders = 64;
    int each = 20;
    ExecutorService pool = Executors.newFixedThreadPool(appenders);
    CountDownLatch go = new CountDownLatch(1);
    List<Future<?>> done = new ArrayList<>();
    long before = e.commits();
    try {
      for (int t = 0; t < appenders; t++) {
        int thread = t;
        done.add(pool.submit(() -> {
          go.await();
          for (int i = 0; i < each; i++) {
            await(e.append("t/" + (thread % 4), List.of(msg(thread + "-" + i))));
          }
          return null;
        }));
      }
      go.countDown();
      for (Future<?> f : done) {
        f.get(60, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    long commits = e.commits() - before;
    assertThat(commits).isLessThan(appenders * each);
    long total = 0;
    for (int topic = 0; topic < 4; topic++) {
      TopicHead head = await(e.head("t/" + topic));
      assertThat(readAll(e, "t/" + topic)).hasSize((int) head.lastOffset());
      total += head.lastOffset();
    }
    assertThat(total).isEqualTo(appenders * each);
  }

  @Test
  void aFullWriterQueueFailsFast() throws Exception {
    options = new SqliteOptions(2, 8192, 2, 100);
    SqliteEngine e = openSqlite();
    List<CompletionStage<AppendResult>> accepted = new ArrayList<>();
    WriterStall stall = new WriterStall(e);
    try {
      accepted.add(e.append("t", List.of(msg("1"))));
      accepted.add(e.append("t", List.of(msg("2"))));
      for (int i = 0; i < 5; i++) {
        CompletionStage<AppendResult> refused = e.append("t", List.of(msg("x")));
        assertFailedAlready(refused, EngineUnavailableException.class);
        assertThat(failure(refused)).hasMessageContaining("overloaded");
      }
    } finally {
      stall.release();
    }
    assertThat(accepted).map(s -> await(s).lastOffset()).containsExactly(1L, 2L);
    assertThat(offsetsOf(append(e, "t", msg("3")))).containsExactly(3L);
  }

  @Test
  void closeCompletesQueuedAppendsAndRefusesNewOnes() throws Exception {
    SqliteEngine e = openSqlite();
    List<CompletionStage<AppendResult>> queued = new ArrayList<>();
    ExecutorService closer = Executors.newSingleThreadExecutor();
    try {
      Future<?> closed;
      WriterStall stall = new WriterStall(e);
      try {
        for (int i = 0; i < 20; i++) {
          queued.add(e.append("t", List.of(msg(Integer.toString(i)))));
        }
        closed = closer.submit(e::close);
        Awaitility.await().atMost(Duration.ofSeconds(10))
            .until(() -> e.ping().toCompletableFuture().isCompletedExceptionally());
        assertFailedAlready(e.append("t", List.of(msg("late"))), EngineUnavailableException.class);
        assertThat(closed.isDone()).as("close waits for the queue").isFalse();
      } finally {
        stall.release();
      }
      closed.get(30, TimeUnit.SECONDS);
    } finally {
      closer.shutdownNow();
    }
    for (int i = 0; i < 20; i++) {
      assertThat(await(queued.get(i)).lastOffset()).isEqualTo(i + 1);
    }
    Engine again = started(new SqliteEngine(dir(), options, RetentionPolicy.keepAll(), DedupeWindow.DEFAULT, clock));
    assertThat(await(again.head("t")).lastOffset()).isEqualTo(20);
  }

  @Test
  void aFailingRequestFailsAloneInItsBatch() throws Exception {
    SqliteEngine e = openSqlite();
    append(e, "t", msg("1"));
    // A trigger makes any event keyed "boom" fail inside the writer's transaction.
    execute("CREATE TRIGGER boom BEFORE INSERT ON events WHEN NEW.key = 'boom'"
        + " BEGIN SELECT RAISE(ABORT, 'boom'); END");
    CompletionStage<AppendResult> a;
    CompletionStage<AppendResult> bad;
    CompletionStage<AppendResult> c;
    CompletionStage<AppendResult> badNewTopic;
    CompletionStage<AppendResult> newTopic;
    long before;
    WriterStall stall = new WriterStall(e);
    try {
      before = e.commits();
      a = e.append("t", List.of(NewEvent.put("k1", "1").withId("i1")));
      bad = e.append("t", List.of(NewEvent.put("k2", "2").withId("i2"), NewEvent.put("boom", "x")));
      c = e.append("t", List.of(msg("3", "i2")));
      badNewTopic = e.append("new", List.of(NewEvent.put("boom", "x")));
      newTopic = e.append("new", List.of(msg("1")));
    } finally {
      stall.release();
    }
    assertThat(offsetsOf(await(a))).containsExactly(2L);
    assertThat(failure(bad)).isInstanceOf(EngineException.class).hasMessageContaining("boom");
    // The failed request left no trace: no gap, its id is not remembered, its key not set.
    assertThat(await(c).outcomes()).containsExactly(new Outcome("i2", 3, false));
    assertThat(failure(badNewTopic)).isInstanceOf(EngineException.class);
    assertThat(offsetsOf(await(newTopic))).containsExactly(1L);
    assertThat(e.commits() - before).isEqualTo(1);

    TopicHead t = await(e.head("t"));
    assertThat(t.lastOffset()).isEqualTo(3);
    assertThat(t.keys()).isEqualTo(1);
    assertThat(readAll(e, "t")).extracting(Event::offset).containsExactly(1L, 2L, 3L);
    assertThat(stateAll(e, "t", 10)).extracting(StateEntry::key).containsExactly("k1");
    TopicHead fresh = await(e.head("new"));
    assertThat(fresh.lastOffset()).isEqualTo(1);

    // What the writer published is what it committed.
    Engine again = started(reopen(e));
    assertThat(await(again.head("t"))).isEqualTo(t);
    assertThat(await(again.head("new"))).isEqualTo(fresh);
  }

  @Test
  void aBatchWhoseTransactionDiesFailsWholeAndChangesNothing() throws Exception {
    SqliteEngine e = openSqlite();
    append(e, "t", NewEvent.put("k", "1"));
    TopicHead before = await(e.head("t"));
    // RAISE(ROLLBACK) ends the whole transaction, not just the statement: nothing can commit.
    execute("CREATE TRIGGER abort BEFORE INSERT ON events WHEN NEW.key = 'abort'"
        + " BEGIN SELECT RAISE(ROLLBACK, 'abort'); END");
    List<Long> heard = new ArrayList<>();
    List<CompletionStage<AppendResult>> batch = new ArrayList<>();
    WriterStall stall = new WriterStall(e);
    try {
      e.observe((head, events) -> events.forEach(ev -> heard.add(ev.offset())));
      batch.add(e.append("t", List.of(NewEvent.put("k", "2"), msg("x", "id-1"))));
      batch.add(e.append("new", List.of(msg("1"))));
      batch.add(e.append("t", List.of(NewEvent.put("abort", "x"))));
      batch.add(e.append("t", List.of(msg("after"))));
    } finally {
      stall.release();
    }
    for (CompletionStage<AppendResult> s : batch) {
      assertThat(failure(s)).isInstanceOf(EngineException.class);
    }
    assertThat(heard).as("nothing committed, nothing told").isEmpty();
    assertThat(await(e.head("t"))).isEqualTo(before);
    assertThat(await(e.head("new"))).isEqualTo(TopicHead.empty("new", e.epoch()));
    assertThat(await(e.topics(null, null, 10))).extracting(TopicHead::topic).containsExactly("stall", "t");
    assertThat(stateAll(e, "t", 10)).containsExactly(new StateEntry("k", "1", 1, T0));

    // The writer carries on: no gap, and the id of the lost request was never remembered.
    assertThat(append(e, "t", msg("x", "id-1")).outcomes()).containsExactly(new Outcome("id-1", 2, false));
    assertThat(offsetsOf(append(e, "new", msg("1")))).containsExactly(1L);
  }

  private void execute(String sql) throws Exception {
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + dir().resolve("tidings.db"));
        Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }

  // ---- heads and retention ----

  @Test
  void headsComeFromMemoryWithoutAllocatingANewStage() {
    SqliteEngine e = openSqlite();
    append(e, "t", msg("1"));
    assertThat((Object) e.head("t")).isSameAs(e.head("t"));
    CompletionStage<TopicHead> old = e.head("t");
    append(e, "t", msg("2"));
    assertThat(await(e.head("t")).lastOffset()).isEqualTo(2);
    assertThat(await(old).lastOffset()).isEqualTo(1);
  }

  @Test
  void bigBacklogsAreTrimmedInSeveralSteps() {
    SqliteEngine e = (SqliteEngine) open(
        new RetentionPolicy(List.of(new RetentionRule(TopicPattern.compile("big"), 10, null)), Duration.ofHours(1)),
        new DedupeWindow(10, Duration.ZERO));
    int total = 12_000;
    for (int start = 0; start < total; start += 1000) {
      List<NewEvent> events = new ArrayList<>();
      for (int i = start; i < start + 1000; i++) {
        events.add(msg("x", "id-" + i));
      }
      await(e.append("big", events));
    }
    clock.advance(Duration.ofMillis(1));
    trimNow(e);
    TopicHead head = await(e.head("big"));
    assertThat(head.firstOffset()).isEqualTo(total - 9);
    assertThat(readAll(e, "big")).hasSize(10);
    // Only the newest ten ids (id-11990 at offset 11991 .. id-11999) are still remembered.
    assertThat(append(e, "big", msg("x", "id-11989"), msg("x", "id-11990")).outcomes())
        .containsExactly(new Outcome("id-11989", total + 1, false), new Outcome("id-11990", total - 9, true));
  }

  @Test
  void retentionAlsoRunsInTheBackground() {
    SqliteEngine e = (SqliteEngine) open(
        new RetentionPolicy(List.of(new RetentionRule(TopicPattern.compile("**"), 2, null)), Duration.ofMillis(50)),
        DedupeWindow.DEFAULT);
    for (int i = 0; i < 5; i++) {
      append(e, "t", msg(Integer.toString(i)));
    }
    Awaitility.await().atMost(Duration.ofSeconds(10))
        .until(() -> e.head("t").toCompletableFuture().join().firstOffset() == 4);
    assertThat(readAll(e, "t")).extracting(Event::offset).containsExactly(4L, 5L);
  }

  private static List<Long> offsetsOf(AppendResult r) {
    return r.outcomes().stream().map(Outcome::offset).toList();
  }
}
