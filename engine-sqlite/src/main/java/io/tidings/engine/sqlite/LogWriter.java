package io.tidings.engine.sqlite;

import io.tidings.core.AppendListeners;
import io.tidings.core.AppendResult;
import io.tidings.core.EngineException;
import io.tidings.core.EngineUnavailableException;
import io.tidings.core.Event;
import io.tidings.core.EventTypes;
import io.tidings.core.NewEvent;
import io.tidings.core.RecordWrite;
import io.tidings.core.StoreProbe;
import io.tidings.core.TopicHead;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The single thread that writes to the database. Appends and record writes queue up while a
 * transaction commits and are then committed together (group commit), which turns one fsync per
 * request into one fsync per batch. A batch that fails is redone with each request under its own
 * savepoint, so that a failing request fails alone.
 *
 * <p>The writer owns the authoritative topic rows; it publishes heads to {@link Heads} only after
 * the change is committed, so nobody ever sees a head the database could lose.
 */
final class LogWriter {
  private static final Logger LOG = LoggerFactory.getLogger(LogWriter.class);

  /** Work run on the writer thread with the writer connection, between append batches. */
  @FunctionalInterface
  interface Task<T> {
    T run() throws SQLException;
  }

  private sealed interface Job permits Write, Maintenance, Stop {}

  /** A request that joins a group-commit batch and counts against the writer queue. */
  // Classes, not records: jobs are compared by identity.
  private abstract static sealed class Write implements Job permits Append, RecordUnit {
    final long submitted = System.nanoTime();

    /** Its share of a batch, against {@code maxBatchEvents}. */
    abstract int weight();

    abstract void fail(EngineException e);
  }

  private static final class Append extends Write {
    final String topic;
    final List<NewEvent> events;
    final CompletableFuture<AppendResult> done = new CompletableFuture<>();

    Append(String topic, List<NewEvent> events) {
      this.topic = topic;
      this.events = events;
    }

    @Override
    int weight() {
      return events.size();
    }

    @Override
    void fail(EngineException e) {
      done.completeExceptionally(e);
    }
  }

  /** One {@code Records.write} unit, already validated. */
  private static final class RecordUnit extends Write {
    final List<RecordWrite> writes;
    final CompletableFuture<Void> done = new CompletableFuture<>();

    RecordUnit(List<RecordWrite> writes) {
      this.writes = writes;
    }

    @Override
    int weight() {
      // An empty unit still takes a place in the batch.
      return Math.max(1, writes.size());
    }

    @Override
    void fail(EngineException e) {
      done.completeExceptionally(e);
    }
  }

  private static final class Maintenance<T> implements Job {
    final Task<T> task;
    final CompletableFuture<T> done = new CompletableFuture<>();

    Maintenance(Task<T> task) {
      this.task = task;
    }

    void run() {
      try {
        done.complete(task.run());
      } catch (Throwable t) {
        done.completeExceptionally(SqlErrors.wrap("store maintenance failed", t));
      }
    }
  }

  private enum Stop implements Job {
    INSTANCE
  }

  /**
   * What one request did inside the transaction, before it is known to be committed: an append's
   * new topic row and result; both {@code null} for a record unit.
   */
  private record Applied(TopicRow row, AppendResult result) {
    static final Applied RECORDS = new Applied(null, null);
  }

  private final Database db;
  private final Clock clock;
  private final AppendListeners listeners;
  private final Heads heads;
  private final int maxQueuedWrites;
  private final int maxBatchEvents;
  private final LinkedBlockingQueue<Job> queue = new LinkedBlockingQueue<>();
  private final CompletableFuture<String> opened = new CompletableFuture<>();
  private final AtomicLong commits = new AtomicLong();
  private volatile StoreProbe probe = StoreProbe.NONE;
  private final Thread thread;
  // Guarded by "this": enqueueing and stopping are ordered, so nothing is enqueued after STOP.
  private boolean stopped;
  private int queuedWrites;
  /** Set when a write transaction failed for a reason that may clear up; cleared by a commit or a probe. */
  private volatile boolean failing;

  // Owned by the writer thread.
  private Connection connection;
  private WriteStatements sql;
  private String epoch;
  private final Map<String, TopicRow> topics = new HashMap<>();

  LogWriter(Database db, SqliteOptions options, Clock clock, AppendListeners listeners, Heads heads) {
    this.db = db;
    this.clock = clock;
    this.listeners = listeners;
    this.heads = heads;
    this.maxQueuedWrites = options.writerQueue();
    this.maxBatchEvents = options.maxBatchEvents();
    this.thread = new Thread(this::run, "tidings-sqlite-writer");
    // Durability comes from each commit, not from outliving the JVM.
    this.thread.setDaemon(true);
  }

  /** Starts the thread, which opens the database; completes with the store epoch. */
  CompletableFuture<String> start() {
    thread.start();
    return opened;
  }

  /** Queues an append; fails at once when the queue is full or the writer stopped. */
  CompletableFuture<AppendResult> append(String topic, List<NewEvent> events) {
    Append job = new Append(topic, events);
    EngineException refused = enqueue(job);
    return refused == null ? job.done : CompletableFuture.failedFuture(refused);
  }

  /**
   * Queues a unit of record writes, committed with the appends around it; fails at once when the
   * queue is full or the writer stopped. The caller has validated the writes.
   */
  CompletableFuture<Void> writeRecords(List<RecordWrite> writes) {
    RecordUnit job = new RecordUnit(writes);
    EngineException refused = enqueue(job);
    return refused == null ? job.done : CompletableFuture.failedFuture(refused);
  }

  // Appends and record units share one bound: both wait for the same transactions.
  private EngineException enqueue(Write job) {
    synchronized (this) {
      if (stopped) {
        return new EngineUnavailableException("engine is closed");
      }
      if (queuedWrites >= maxQueuedWrites) {
        return new EngineUnavailableException("store is overloaded");
      }
      queuedWrites++;
      queue.add(job);
    }
    return null;
  }

  /** Queues work to run on the writer thread (never refused for a full queue: the caller bounds it). */
  <T> CompletableFuture<T> submit(Task<T> task) {
    Maintenance<T> job = new Maintenance<>(task);
    synchronized (this) {
      if (stopped) {
        return CompletableFuture.failedFuture(new EngineUnavailableException("engine is closed"));
      }
      queue.add(job);
    }
    return job.done;
  }

  /** Stops accepting work; what is already queued still runs. */
  void stop() {
    synchronized (this) {
      if (stopped) {
        return;
      }
      stopped = true;
      queue.add(Stop.INSTANCE);
    }
  }

  /** Waits for the thread to finish; returns whether it did. */
  boolean join(Duration timeout) throws InterruptedException {
    if (thread.isAlive()) {
      thread.join(Math.max(1, timeout.toMillis()));
    }
    return !thread.isAlive();
  }

  boolean isAlive() {
    return thread.isAlive();
  }

  /** Whether the last write transaction failed with the store unavailable (locked, full, I/O error). */
  boolean failing() {
    return failing;
  }

  /**
   * Checks that the writer can take the database's write lock again; completes exceptionally with
   * {@link EngineUnavailableException} while it cannot. Readiness asks this once writes have failed,
   * so that a store readers can use but nobody can write to is not reported ready.
   */
  CompletableFuture<Void> probeWriteLock() {
    return submit(() -> {
      sql.begin();
      sql.commit();
      failing = false;
      return null;
    });
  }

  void probe(StoreProbe probe) {
    this.probe = probe;
  }

  /** Write transactions (appends and record writes) committed so far. */
  long commits() {
    return commits.get();
  }

  // ---- for tasks running on the writer thread ----

  Connection connection() {
    return connection;
  }

  WriteStatements statements() {
    return sql;
  }

  /** The committed row of {@code topic}, or {@code null}. Writer thread only. */
  TopicRow topic(String topic) {
    return topics.get(topic);
  }

  /** Adopts rows whose changes were just committed and publishes their heads. Writer thread only. */
  void committed(Collection<TopicRow> rows) {
    for (TopicRow row : rows) {
      topics.put(row.head().topic(), row);
      heads.publish(row.head());
    }
  }

  // ---- the writer thread ----

  private void run() {
    try {
      open();
    } catch (Throwable t) {
      EngineException e = SqlErrors.wrap("cannot open " + db.file(), t);
      LOG.error("cannot open the SQLite store {}", db.file(), t);
      closeConnection();
      failQueued(new EngineUnavailableException("engine failed to start", e));
      opened.completeExceptionally(e);
      return;
    }
    opened.complete(epoch);
    try {
      while (true) {
        Job job = take();
        if (job == Stop.INSTANCE) {
          // Nothing is queued behind STOP: every accepted job has run.
          break;
        }
        dispatch(job);
      }
    } finally {
      closeConnection();
      LOG.debug("SQLite writer stopped after {} commits", commits.get());
    }
  }

  private void open() throws SQLException {
    connection = db.openWriter();
    epoch = Database.prepare(connection);
    topics.putAll(Database.loadTopics(connection, epoch));
    for (TopicRow row : topics.values()) {
      heads.publish(row.head());
    }
    sql = new WriteStatements(connection);
    LOG.info("opened SQLite store {} (epoch {}, {} topics)", db.file(), epoch, topics.size());
  }

  private Job take() {
    while (true) {
      try {
        return queue.take();
      } catch (InterruptedException e) {
        // Nobody should interrupt us; treat it as a stop, which still finishes what is queued.
        stop();
      }
    }
  }

  private void dispatch(Job job) {
    if (job instanceof Maintenance<?> m) {
      m.run();
      return;
    }
    List<Write> batch = collect((Write) job);
    try {
      runBatch(batch);
    } catch (Throwable t) {
      // Last line of defence: no stage may stay incomplete, whatever went wrong.
      LOG.error("SQLite writer failed on a batch of {} writes", batch.size(), t);
      sql.rollbackQuietly();
      EngineException e = SqlErrors.wrap("write failed", t);
      for (Write w : batch) {
        w.fail(e);
      }
    }
  }

  /** Takes {@code first} plus whatever writes queued behind it, up to the batch size. */
  private List<Write> collect(Write first) {
    List<Write> batch = new ArrayList<>();
    batch.add(first);
    long events = first.weight();
    while (true) {
      // Only this thread removes from the queue, so the peeked job is the one polled.
      Job next = queue.peek();
      if (!(next instanceof Write w) || events + w.weight() > maxBatchEvents) {
        break;
      }
      queue.poll();
      batch.add(w);
      events += w.weight();
    }
    synchronized (this) {
      queuedWrites -= batch.size();
    }
    return batch;
  }

  private void runBatch(List<Write> batch) {
    // The common case pays for no savepoints; only a batch that fails is redone request by request.
    if (!runTransaction(batch, false)) {
      runTransaction(batch, true);
    }
  }

  /**
   * Runs {@code batch} in one transaction. With {@code isolated}, each request runs under its own
   * savepoint so that a failing request fails alone; without, any failure rolls back everything
   * and returns false, completing nothing, so that the caller can redo the batch isolated.
   */
  private boolean runTransaction(List<Write> batch, boolean isolated) {
    Map<String, TopicRow> staged = new HashMap<>();
    Applied[] results = new Applied[batch.size()];
    EngineException[] errors = new EngineException[batch.size()];
    boolean begun = false;
    try {
      sql.begin();
      begun = true;
      for (int i = 0; i < batch.size(); i++) {
        Write request = batch.get(i);
        if (!isolated) {
          results[i] = apply(staged, request);
          continue;
        }
        sql.savepoint();
        try {
          Applied applied = applyStatements(staged, request);
          sql.release();
          stage(staged, applied);
          results[i] = applied;
        } catch (SQLException | RuntimeException e) {
          // The savepoint undoes this request only; later requests build on the state before it.
          sql.rollbackToSavepoint();
          String what = request instanceof Append a ? "append to " + a.topic : "records write";
          errors[i] = SqlErrors.wrap(what + " failed", e);
          LOG.warn("{} failed", what, e);
        }
      }
      // One update per topic per batch, however many requests it took.
      for (TopicRow row : staged.values()) {
        TopicRow committed = topics.get(row.head().topic());
        if (committed == null || !committed.head().equals(row.head())) {
          sql.updateTopic(row.id(), row.head());
        }
      }
      sql.commit();
    } catch (SQLException | RuntimeException e) {
      sql.rollbackQuietly();
      // A transaction that could not even begin (the database is locked or unreadable) has
      // nothing to do with any one request: redoing it request by request would only wait again.
      if (!isolated && begun) {
        LOG.debug("batch of {} appends failed; redoing it request by request", batch.size(), e);
        return false;
      }
      // Nothing of the batch is durable: fail it all and keep the heads as they were.
      EngineException failure = SqlErrors.wrap("write transaction failed", e);
      failing = failure instanceof EngineUnavailableException;
      LOG.error("SQLite write transaction of {} writes failed", batch.size(), e);
      for (Write w : batch) {
        w.fail(failure);
      }
      return true;
    }
    long committedAt = System.nanoTime();
    commits.incrementAndGet();
    failing = false;
    committed(staged.values());
    try {
      // Per topic, requests were applied in queue order, so listeners see offsets in order.
      for (Applied r : results) {
        if (r != null && r.result() != null) {
          listeners.fire(r.result().head(), r.result().appended());
        }
      }
    } finally {
      for (int i = 0; i < batch.size(); i++) {
        Write w = batch.get(i);
        if (results[i] == null) {
          w.fail(errors[i]);
        } else if (w instanceof Append a) {
          a.done.complete(results[i].result());
        } else {
          ((RecordUnit) w).done.complete(null);
        }
      }
      measure(batch, results, committedAt);
    }
    return true;
  }

  // After the acknowledgements: measuring never delays them. The probe is about appends, so a
  // batch of record writes alone is not reported.
  private void measure(List<Write> batch, Applied[] results, long committedAt) {
    StoreProbe p = probe;
    boolean appends = false;
    int requests = 0;
    int events = 0;
    try {
      for (int i = 0; i < batch.size(); i++) {
        if (!(batch.get(i) instanceof Append a)) {
          continue;
        }
        appends = true;
        if (results[i] != null) {
          p.appended(committedAt - a.submitted);
          requests++;
          events += results[i].result().appended().size();
        }
      }
      if (appends) {
        p.committed(requests, events);
      }
    } catch (RuntimeException e) {
      LOG.warn("store probe failed", e);
    }
  }

  /** Writes one request inside the open transaction and stages its topic row. */
  private Applied apply(Map<String, TopicRow> staged, Write request) throws SQLException {
    Applied applied = applyStatements(staged, request);
    stage(staged, applied);
    return applied;
  }

  /**
   * Writes one request inside the open transaction, on top of the rows staged so far; stages
   * nothing, so that a request undone by its savepoint leaves no trace.
   */
  private Applied applyStatements(Map<String, TopicRow> staged, Write request) throws SQLException {
    if (request instanceof Append a) {
      return applyAppend(staged.containsKey(a.topic) ? staged.get(a.topic) : topics.get(a.topic), a);
    }
    for (RecordWrite w : ((RecordUnit) request).writes) {
      if (w.id() == null) {
        sql.clearRecords(w.space());
      } else if (w.value() == null) {
        sql.deleteRecord(w.space(), w.id());
      } else {
        sql.putRecord(w.space(), w.id(), w.value());
      }
    }
    return Applied.RECORDS;
  }

  private static void stage(Map<String, TopicRow> staged, Applied applied) {
    if (applied.row() != null) {
      staged.put(applied.row().head().topic(), applied.row());
    }
  }

  /** Writes one append inside the open transaction; the returned row is not yet committed. */
  private Applied applyAppend(TopicRow row, Append request) throws SQLException {
    String topic = request.topic;
    if (row == null) {
      row = new TopicRow(sql.insertTopic(topic), TopicHead.empty(topic, epoch));
    }
    long topicId = row.id();
    TopicHead head = row.head();
    // Times never go backwards within a topic, even when the wall clock does.
    long now = Math.max(clock.millis(), head.lastTime());
    long last = head.lastOffset();
    long keys = head.keys();
    List<AppendResult.Outcome> outcomes = new ArrayList<>(request.events.size());
    List<Event> appended = new ArrayList<>(request.events.size());
    for (NewEvent e : request.events) {
      if (e.id() != null) {
        // Ids written earlier in this transaction count too: a repeat is a duplicate of the first.
        long seen = sql.findId(topicId, e.id());
        if (seen >= 0) {
          outcomes.add(new AppendResult.Outcome(e.id(), seen, true));
          continue;
        }
      }
      long offset = ++last;
      sql.insertEvent(topicId, offset, e, now);
      if (EventTypes.PUT.equals(e.type())) {
        if (sql.putState(topicId, e.key(), e.data() == null ? "null" : e.data(), offset, now)) {
          keys++;
        }
      } else if (EventTypes.DELETE.equals(e.type())) {
        if (sql.deleteState(topicId, e.key())) {
          keys--;
        }
      }
      if (e.id() != null) {
        sql.insertId(topicId, e.id(), offset, now);
      }
      appended.add(new Event(topic, epoch, offset, e.type(), e.key(), e.data(), e.id(), now));
      outcomes.add(new AppendResult.Outcome(e.id(), offset, false));
    }
    TopicHead after = appended.isEmpty() ? head : new TopicHead(topic, epoch, head.firstOffset(), last, now, keys);
    return new Applied(row.withHead(after), new AppendResult(after, outcomes, appended));
  }

  private void failQueued(EngineException e) {
    synchronized (this) {
      stopped = true;
    }
    for (Job job = queue.poll(); job != null; job = queue.poll()) {
      if (job instanceof Write w) {
        w.fail(e);
      } else if (job instanceof Maintenance<?> m) {
        m.done.completeExceptionally(e);
      }
    }
  }

  private void closeConnection() {
    if (sql != null) {
      sql.close();
    }
    Database.closeQuietly(connection);
  }
}
