package io.tidings.engine.sqlite;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import io.tidings.core.AppendResult;
import io.tidings.core.DedupeWindow;
import io.tidings.core.EngineException;
import io.tidings.core.EngineUnavailableException;
import io.tidings.core.NewEvent;
import io.tidings.core.Record;
import io.tidings.core.RecordWrite;
import io.tidings.core.Records;
import io.tidings.core.RetentionPolicy;
import io.tidings.core.TopicHead;
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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the SQLite engine's records add to the shared contract (EngineContractTest runs the rest):
 * durability across restarts and crashes, the writer's group commit, queue bound and failure
 * handling, and the engine's lifecycle.
 */
class SqliteRecordsTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(30);

  @TempDir
  Path tmp;

  private final Clock clock = Clock.systemUTC();
  private SqliteOptions options = SqliteOptions.DEFAULTS;
  private final List<SqliteEngine> engines = new ArrayList<>();

  @AfterEach
  void closeEngines() {
    for (SqliteEngine e : engines) {
      e.close();
    }
  }

  // ---- helpers ----

  private Path dir() {
    return tmp.resolve("data");
  }

  private SqliteEngine newEngine() {
    SqliteEngine e = new SqliteEngine(dir(), options, RetentionPolicy.keepAll(), DedupeWindow.DEFAULT, clock);
    engines.add(e);
    return e;
  }

  private SqliteEngine open() {
    SqliteEngine e = newEngine();
    await(e.start());
    return e;
  }

  private static <T> T await(CompletionStage<T> stage) {
    try {
      return stage.toCompletableFuture().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw new AssertionError("stage failed: " + e.getCause(), e.getCause());
    } catch (InterruptedException | TimeoutException e) {
      throw new AssertionError("stage did not complete: " + e, e);
    }
  }

  private static Throwable failure(CompletionStage<?> stage) {
    try {
      Object value = stage.toCompletableFuture().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      throw new AssertionError("expected a failure, got " + value);
    } catch (ExecutionException e) {
      return e.getCause();
    } catch (InterruptedException | TimeoutException e) {
      throw new AssertionError("stage did not complete: " + e, e);
    }
  }

  private static void assertFailedAlready(CompletionStage<?> stage, Class<? extends Throwable> type) {
    if (!stage.toCompletableFuture().isDone()) {
      fail("the stage should have failed at once");
    }
    assertThat(failure(stage)).isInstanceOf(type);
  }

  private static void write(SqliteEngine e, RecordWrite... writes) {
    await(e.records().write(List.of(writes)));
  }

  private static List<Record> all(SqliteEngine e, String space) {
    return await(e.records().list(space, null, Integer.MAX_VALUE));
  }

  private static CompletionStage<AppendResult> appendOne(SqliteEngine e, String topic, String data) {
    return e.append(topic, List.of(NewEvent.message(data)));
  }

  private void execute(String sql) throws Exception {
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + dir().resolve("tidings.db"));
        Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }

  // ---- durability ----

  @Test
  void recordsSurviveACloseAndReopen() {
    SqliteEngine e = open();
    write(e, RecordWrite.put("hooks", "h1", "{\"url\":\"https://a.example\"}"),
        RecordWrite.put("hooks", "h2", "{\"url\":\"https://b.example\"}"),
        RecordWrite.put("vapid", "key", "secret"));
    write(e, RecordWrite.delete("hooks", "h2"));
    String epoch = e.epoch();
    e.close();
    assertThat(dir().resolve("tidings.db-wal")).as("a clean close checkpoints the WAL").doesNotExist();

    SqliteEngine again = open();
    assertThat(again.epoch()).isEqualTo(epoch);
    assertThat(all(again, "hooks")).containsExactly(new Record("hooks", "h1", "{\"url\":\"https://a.example\"}"));
    assertThat(await(again.records().get("vapid", "key"))).isEqualTo("secret");
    assertThat(await(again.records().get("hooks", "h2"))).isNull();
  }

  @Test
  void acknowledgedRecordWritesSurviveKillNine() throws Exception {
    Process child = KillNineChild.start(dir(), "records");
    Map<Integer, Long> acked = new HashMap<>();
    int lines = 0;
    try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while (lines < 300 && (line = out.readLine()) != null) {
        String[] parts = line.split(" ");
        acked.merge(Integer.parseInt(parts[0]), Long.parseLong(parts[1]), Math::max);
        lines++;
      }
      // SIGKILL while the child is still writing: no shutdown hook, no close.
      child.destroyForcibly();
      assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
    }
    assertThat(lines).isEqualTo(300);

    SqliteEngine e = open();
    Map<Integer, List<String>> logByThread = new HashMap<>();
    for (Record r : all(e, "log")) {
      String[] parts = r.id().split("-");
      int thread = Integer.parseInt(parts[0]);
      assertThat(r.value()).isEqualTo(KillNineChild.logValue(thread, Long.parseLong(parts[1])));
      logByThread.computeIfAbsent(thread, t -> new ArrayList<>()).add(r.id());
    }
    for (Map.Entry<Integer, Long> a : acked.entrySet()) {
      int thread = a.getKey();
      String cursor = await(e.records().get("cursors", Integer.toString(thread)));
      assertThat(cursor).as("cursor of thread %d", thread).isNotNull();
      long stored = Long.parseLong(cursor);
      // Every acknowledged unit is there; one more may have committed without its acknowledgement.
      assertThat(stored).isGreaterThanOrEqualTo(a.getValue());
      // Each unit is whole: the log holds exactly the entries up to the stored cursor.
      List<String> expected = new ArrayList<>();
      for (long n = 1; n <= stored; n++) {
        expected.add(thread + "-" + n);
      }
      assertThat(logByThread.get(thread)).containsExactlyInAnyOrderElementsOf(expected);
    }
  }

  @Test
  void aStoreFromBeforeRecordsGainsTheTableOnOpen() throws Exception {
    SqliteEngine e = open();
    await(appendOne(e, "t", "1"));
    String epoch = e.epoch();
    e.close();
    // What a store written by a build before records looks like.
    execute("DROP TABLE records");

    SqliteEngine again = open();
    assertThat(again.epoch()).isEqualTo(epoch);
    assertThat(await(again.head("t")).lastOffset()).isEqualTo(1);
    assertThat(all(again, "s")).isEmpty();
    write(again, RecordWrite.put("s", "a", "1"));
    assertThat(all(again, "s")).containsExactly(new Record("s", "a", "1"));
  }

  // ---- the writer ----

  @Test
  void queuedRecordWritesAndAppendsCommitInOneTransaction() {
    SqliteEngine e = open();
    List<CompletionStage<Void>> writes = new ArrayList<>();
    List<CompletionStage<AppendResult>> appends = new ArrayList<>();
    List<CompletionStage<String>> completedOn = new ArrayList<>();
    long before;
    WriterStall stall = new WriterStall(e);
    try {
      before = e.commits();
      for (int i = 0; i < 32; i++) {
        // A webhook attempt: log the new one, drop the oldest.
        CompletionStage<Void> w = e.records().write(List.of(
            RecordWrite.put("attempts", String.format("%03d", i), "{\"i\":" + i + "}"),
            RecordWrite.delete("attempts", String.format("%03d", i - 4))));
        assertThat(w.toCompletableFuture().isDone()).as("not before its commit").isFalse();
        writes.add(w);
        completedOn.add(w.thenApply(v -> Thread.currentThread().getName()));
        appends.add(appendOne(e, "t", Integer.toString(i)));
      }
    } finally {
      stall.release();
    }
    // The dependents first: waiting on a stage itself may run its dependents on the waiting thread.
    for (CompletionStage<String> thread : completedOn) {
      assertThat(await(thread)).as("completed by the writer, after its commit").isEqualTo("tidings-sqlite-writer");
    }
    for (int i = 0; i < 32; i++) {
      await(writes.get(i));
      assertThat(await(appends.get(i)).lastOffset()).isEqualTo(i + 1);
    }
    assertThat(e.commits() - before).as("64 queued requests, one transaction").isEqualTo(1);
    assertThat(all(e, "attempts")).extracting(Record::id).containsExactly("028", "029", "030", "031");
  }

  @Test
  void concurrentRecordWritersShareTransactions() throws Exception {
    SqliteEngine e = open();
    int writers = 16;
    int each = 25;
    ExecutorService pool = Executors.newFixedThreadPool(writers);
    CountDownLatch go = new CountDownLatch(1);
    List<Future<?>> done = new ArrayList<>();
    long before = e.commits();
    try {
      for (int t = 0; t < writers; t++) {
        int thread = t;
        done.add(pool.submit(() -> {
          go.await();
          for (int i = 0; i < each; i++) {
            // As a webhook delivery does: record the attempt and move the endpoint's cursor.
            await(e.records().write(List.of(
                RecordWrite.put("attempts/" + thread, String.format("%04d", i), "{\"ok\":true}"),
                RecordWrite.put("cursors", "hook-" + thread, Integer.toString(i)))));
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
    assertThat(commits).as("group commit").isGreaterThan(0).isLessThan(writers * each);
    for (int t = 0; t < writers; t++) {
      assertThat(all(e, "attempts/" + t)).hasSize(each);
      assertThat(await(e.records().get("cursors", "hook-" + t))).isEqualTo(Integer.toString(each - 1));
    }
    assertThat(all(e, "cursors")).hasSize(writers);
  }

  @Test
  void aFailingRecordUnitFailsAloneInItsBatch() throws Exception {
    SqliteEngine e = open();
    write(e, RecordWrite.put("s", "keep", "0"));
    // A trigger makes any record with id "boom" fail inside the writer's transaction.
    execute("CREATE TRIGGER boom BEFORE INSERT ON records WHEN NEW.id = 'boom'"
        + " BEGIN SELECT RAISE(ABORT, 'boom'); END");
    CompletionStage<Void> a;
    CompletionStage<Void> bad;
    CompletionStage<AppendResult> append;
    CompletionStage<Void> c;
    long before;
    WriterStall stall = new WriterStall(e);
    try {
      before = e.commits();
      a = e.records().write(List.of(RecordWrite.put("s", "a", "1")));
      bad = e.records().write(List.of(
          RecordWrite.put("s", "x", "2"),
          RecordWrite.delete("s", "keep"),
          RecordWrite.clear("other"),
          RecordWrite.put("s", "boom", "3")));
      append = appendOne(e, "t", "1");
      c = e.records().write(List.of(RecordWrite.put("s", "c", "4")));
    } finally {
      stall.release();
    }
    await(a);
    assertThat(failure(bad)).isInstanceOf(EngineException.class).hasMessageContaining("boom");
    assertThat(await(append).lastOffset()).isEqualTo(1);
    await(c);
    assertThat(e.commits() - before).isEqualTo(1);
    // None of the failed unit's writes happened, and the others in its batch all did.
    assertThat(all(e, "s")).containsExactly(
        new Record("s", "a", "1"), new Record("s", "c", "4"), new Record("s", "keep", "0"));

    e.close();
    SqliteEngine again = open();
    assertThat(all(again, "s")).extracting(Record::id).containsExactly("a", "c", "keep");
  }

  @Test
  void aBatchWhoseTransactionDiesFailsEveryUnitAndChangesNothing() throws Exception {
    SqliteEngine e = open();
    write(e, RecordWrite.put("s", "keep", "0"));
    // RAISE(ROLLBACK) ends the whole transaction: nothing in the batch can commit, so no stage
    // may have completed successfully before the commit.
    execute("CREATE TRIGGER abort BEFORE INSERT ON records WHEN NEW.id = 'abort'"
        + " BEGIN SELECT RAISE(ROLLBACK, 'abort'); END");
    List<CompletionStage<?>> batch = new ArrayList<>();
    WriterStall stall = new WriterStall(e);
    try {
      batch.add(e.records().write(List.of(RecordWrite.put("s", "a", "1"), RecordWrite.delete("s", "keep"))));
      batch.add(appendOne(e, "t", "1"));
      batch.add(e.records().write(List.of(RecordWrite.put("s", "abort", "2"))));
      batch.add(e.records().write(List.of(RecordWrite.clear("s"))));
    } finally {
      stall.release();
    }
    for (CompletionStage<?> s : batch) {
      assertThat(failure(s)).isInstanceOf(EngineException.class);
    }
    assertThat(all(e, "s")).containsExactly(new Record("s", "keep", "0"));
    assertThat(await(e.head("t")).lastOffset()).isZero();
    // The writer carries on.
    write(e, RecordWrite.put("s", "b", "3"));
    assertThat(all(e, "s")).extracting(Record::id).containsExactly("b", "keep");
  }

  @Test
  void recordWritesFailWhileTheStoreIsLockedAndRecoverAfter() throws Exception {
    SqliteEngine e = open();
    write(e, RecordWrite.put("s", "a", "1"));
    try (Connection other = DriverManager.getConnection("jdbc:sqlite:" + dir().resolve("tidings.db"));
        Statement s = other.createStatement()) {
      // Another process holds the write lock past the writer's busy timeout.
      s.execute("BEGIN IMMEDIATE");
      try {
        CompletionStage<Void> locked = e.records().write(List.of(RecordWrite.put("s", "b", "2")));
        assertThat(failure(locked)).isInstanceOf(EngineUnavailableException.class);
        // Reads go on meanwhile.
        assertThat(all(e, "s")).containsExactly(new Record("s", "a", "1"));
      } finally {
        s.execute("ROLLBACK");
      }
    }
    await(e.ping());
    write(e, RecordWrite.put("s", "c", "3"));
    assertThat(all(e, "s")).extracting(Record::id).containsExactly("a", "c");
  }

  @Test
  void aFullWriterQueueRefusesRecordWritesToo() {
    options = new SqliteOptions(2, 8192, 2, 100);
    SqliteEngine e = open();
    CompletionStage<Void> accepted;
    CompletionStage<AppendResult> acceptedAppend;
    WriterStall stall = new WriterStall(e);
    try {
      accepted = e.records().write(List.of(RecordWrite.put("s", "a", "1")));
      acceptedAppend = appendOne(e, "t", "1");
      // Record writes and appends share the queue's bound.
      CompletionStage<Void> refused = e.records().write(List.of(RecordWrite.put("s", "b", "2")));
      assertFailedAlready(refused, EngineUnavailableException.class);
      assertThat(failure(refused)).hasMessageContaining("overloaded");
      assertFailedAlready(appendOne(e, "t", "2"), EngineUnavailableException.class);
    } finally {
      stall.release();
    }
    await(accepted);
    assertThat(await(acceptedAppend).lastOffset()).isEqualTo(1);
    write(e, RecordWrite.put("s", "c", "3"));
    assertThat(all(e, "s")).extracting(Record::id).containsExactly("a", "c");
  }

  @Test
  void invalidUnitsAreRefusedBeforeTheWriter() {
    SqliteEngine e = open();
    long before = e.commits();
    String tooLong = "x".repeat(Records.MAX_NAME_LENGTH + 1);
    CompletionStage<Void> refused = e.records().write(List.of(
        RecordWrite.put("s", "ok", "1"), RecordWrite.delete("s", tooLong)));
    assertFailedAlready(refused, IllegalArgumentException.class);
    assertThat(e.commits()).as("never queued").isEqualTo(before);
    assertThat(all(e, "s")).isEmpty();
  }

  @Test
  void aQueuedUnitIsACopyOfTheCallersList() {
    SqliteEngine e = open();
    List<RecordWrite> unit = new ArrayList<>(List.of(RecordWrite.put("s", "a", "1")));
    CompletionStage<Void> written;
    WriterStall stall = new WriterStall(e);
    try {
      written = e.records().write(unit);
      unit.add(RecordWrite.put("s", "b", "2"));
    } finally {
      stall.release();
    }
    await(written);
    assertThat(all(e, "s")).extracting(Record::id).containsExactly("a");
  }

  @Test
  void readsRunOnTheReaderPool() throws Exception {
    options = new SqliteOptions(100, 8192, 1, 100);
    SqliteEngine e = open();
    write(e, RecordWrite.put("s", "a", "1"));
    // Occupies the only reader, so that the record reads below must wait in its queue.
    CountDownLatch release = new CountDownLatch(1);
    CompletionStage<Boolean> blocker = e.readers().submit("block", c -> {
      try {
        return release.await(30, TimeUnit.SECONDS);
      } catch (InterruptedException ie) {
        Thread.currentThread().interrupt();
        return false;
      }
    });
    CompletionStage<String> get = e.records().get("s", "a").thenApply(v -> v + "@" + Thread.currentThread().getName());
    CompletionStage<String> list = e.records().list("s", null, 10)
        .thenApply(v -> v.size() + "@" + Thread.currentThread().getName());
    assertThat(get.toCompletableFuture().isDone()).isFalse();
    assertThat(list.toCompletableFuture().isDone()).isFalse();
    release.countDown();
    assertThat(await(blocker)).isTrue();
    assertThat(await(get)).startsWith("1@tidings-sqlite-reader-");
    assertThat(await(list)).startsWith("1@tidings-sqlite-reader-");
  }

  // ---- lifecycle ----

  @Test
  void nothingIsServedBeforeStart() {
    SqliteEngine e = newEngine();
    Records records = e.records();
    assertFailedAlready(records.get("s", "a"), EngineUnavailableException.class);
    assertFailedAlready(records.list("s", null, 10), EngineUnavailableException.class);
    assertFailedAlready(records.write(List.of(RecordWrite.put("s", "a", "1"))), EngineUnavailableException.class);
  }

  @Test
  void aStoreThatFailedToStartServesNoRecords() throws IOException {
    Files.createDirectories(tmp);
    Files.writeString(dir(), "a file where the data directory should be");
    SqliteEngine e = newEngine();
    assertThat(failure(e.start())).isInstanceOf(EngineException.class);
    assertFailedAlready(e.records().get("s", "a"), EngineUnavailableException.class);
    assertFailedAlready(e.records().write(List.of(RecordWrite.put("s", "a", "1"))), EngineUnavailableException.class);
  }

  @Test
  void closeCompletesQueuedRecordWritesAndRefusesNewOnes() throws Exception {
    SqliteEngine e = open();
    List<CompletionStage<Void>> queued = new ArrayList<>();
    ExecutorService closer = Executors.newSingleThreadExecutor();
    try {
      Future<?> closed;
      WriterStall stall = new WriterStall(e);
      try {
        for (int i = 0; i < 20; i++) {
          queued.add(e.records().write(List.of(RecordWrite.put("s", String.format("%02d", i), "v"))));
        }
        closed = closer.submit(e::close);
        Awaitility.await().atMost(Duration.ofSeconds(10))
            .until(() -> e.ping().toCompletableFuture().isCompletedExceptionally());
        assertFailedAlready(e.records().write(List.of(RecordWrite.put("s", "late", "v"))),
            EngineUnavailableException.class);
        assertFailedAlready(e.records().get("s", "00"), EngineUnavailableException.class);
        assertFailedAlready(e.records().list("s", null, 10), EngineUnavailableException.class);
        assertThat(closed.isDone()).as("close waits for the queue").isFalse();
      } finally {
        stall.release();
      }
      closed.get(30, TimeUnit.SECONDS);
    } finally {
      closer.shutdownNow();
    }
    for (CompletionStage<Void> s : queued) {
      await(s);
    }
    SqliteEngine again = open();
    assertThat(all(again, "s")).hasSize(20).extracting(Record::id).doesNotContain("late");
    TopicHead stallTopic = await(again.head("stall"));
    assertThat(stallTopic.lastOffset()).isEqualTo(1);
  }
}
