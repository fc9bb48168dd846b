package io.tidings.engine.sqlite;

import io.tidings.core.AppendListeners;
import io.tidings.core.AppendResult;
import io.tidings.core.EngineException;
import io.tidings.core.EngineUnavailableException;
import io.tidings.core.Event;
import io.tidings.core.EventTypes;
import io.tidings.core.NewEvent;
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
 * The single thread that writes to the database. Appends queue up while a transaction commits and
 * are then committed together (group commit), which turns one fsync per request into one fsync
 * per batch. Each request runs under its own savepoint so that a failing request fails alone.
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

  private sealed interface Job permits Append, Maintenance, Stop {}

  // A class, not a record: jobs are compared by identity.
  private static final class Append implements Job {
    final String topic;
    final List<NewEvent> events;
    final CompletableFuture<AppendResult> done = new CompletableFuture<>();
    final long submitted = System.nanoTime();

    Append(String topic, List<NewEvent> events) {
      this.topic = topic;
      this.events = events;
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

  /** What one request did inside the transaction, before it is known to be committed. */
  private record Applied(TopicRow row, AppendResult result) {}

  private final Database db;
  private final Clock clock;
  private final AppendListeners listeners;
  private final Heads heads;
  private final int maxQueuedAppends;
  private final int maxBatchEvents;
  private final LinkedBlockingQueue<Job> queue = new LinkedBlockingQueue<>();
  private final CompletableFuture<String> opened = new CompletableFuture<>();
  private final AtomicLong commits = new AtomicLong();
  private volatile StoreProbe probe = StoreProbe.NONE;
  private final Thread thread;
  // Guarded by "this": enqueueing and stopping are ordered, so nothing is enqueued after STOP.
  private boolean stopped;
  private int queuedAppends;
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
    this.maxQueuedAppends = options.writerQueue();
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
    synchronized (this) {
      if (stopped) {
        return CompletableFuture.failedFuture(new EngineUnavailableException("engine is closed"));
      }
      if (queuedAppends >= maxQueuedAppends) {
        return CompletableFuture.failedFuture(new EngineUnavailableException("store is overloaded"));
      }
      queuedAppends++;
      queue.add(job);
    }
    return job.done;
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

  /** Append transactions committed so far. */
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
    List<Append> batch = collect((Append) job);
    try {
      runBatch(batch);
    } catch (Throwable t) {
      // Last line of defence: no stage may stay incomplete, whatever went wrong.
      LOG.error("SQLite writer failed on a batch of {} appends", batch.size(), t);
      sql.rollbackQuietly();
      EngineException e = SqlErrors.wrap("append failed", t);
      for (Append a : batch) {
        a.done.completeExceptionally(e);
      }
    }
  }

  /** Takes {@code first} plus whatever appends queued behind it, up to the batch size. */
  private List<Append> collect(Append first) {
    List<Append> batch = new ArrayList<>();
    batch.add(first);
    long events = first.events.size();
    while (true) {
      // Only this thread removes from the queue, so the peeked job is the one polled.
      Job next = queue.peek();
      if (!(next instanceof Append a) || events + a.events.size() > maxBatchEvents) {
        break;
      }
      queue.poll();
      batch.add(a);
      events += a.events.size();
    }
    synchronized (this) {
      queuedAppends -= batch.size();
    }
    return batch;
  }

  private void runBatch(List<Append> batch) {
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
  private boolean runTransaction(List<Append> batch, boolean isolated) {
    Map<String, TopicRow> staged = new HashMap<>();
    AppendResult[] results = new AppendResult[batch.size()];
    EngineException[] errors = new EngineException[batch.size()];
    boolean begun = false;
    try {
      sql.begin();
      begun = true;
      for (int i = 0; i < batch.size(); i++) {
        Append request = batch.get(i);
        TopicRow before = staged.containsKey(request.topic) ? staged.get(request.topic) : topics.get(request.topic);
        if (!isolated) {
          Applied applied = apply(before, request);
          staged.put(request.topic, applied.row());
          results[i] = applied.result();
          continue;
        }
        sql.savepoint();
        try {
          Applied applied = apply(before, request);
          sql.release();
          staged.put(request.topic, applied.row());
          results[i] = applied.result();
        } catch (SQLException | RuntimeException e) {
          // The savepoint undoes this request only; later requests build on the state before it.
          sql.rollbackToSavepoint();
          errors[i] = SqlErrors.wrap("append to " + request.topic + " failed", e);
          LOG.warn("append to {} failed", request.topic, e);
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
      LOG.error("SQLite write transaction of {} appends failed", batch.size(), e);
      for (Append a : batch) {
        a.done.completeExceptionally(failure);
      }
      return true;
    }
    long committedAt = System.nanoTime();
    commits.incrementAndGet();
    failing = false;
    committed(staged.values());
    try {
      // Per topic, requests were applied in queue order, so listeners see offsets in order.
      for (AppendResult r : results) {
        if (r != null) {
          listeners.fire(r.head(), r.appended());
        }
      }
    } finally {
      for (int i = 0; i < batch.size(); i++) {
        if (results[i] != null) {
          batch.get(i).done.complete(results[i]);
        } else {
          batch.get(i).done.completeExceptionally(errors[i]);
        }
      }
      measure(batch, results, committedAt);
    }
    return true;
  }

  // After the acknowledgements: measuring never delays them.
  private void measure(List<Append> batch, AppendResult[] results, long committedAt) {
    StoreProbe p = probe;
    int requests = 0;
    int events = 0;
    try {
      for (int i = 0; i < batch.size(); i++) {
        if (results[i] != null) {
          p.appended(committedAt - batch.get(i).submitted);
          requests++;
          events += results[i].appended().size();
        }
      }
      p.committed(requests, events);
    } catch (RuntimeException e) {
      LOG.warn("store probe failed", e);
    }
  }

  /** Writes one request inside the open transaction; the returned row is not yet committed. */
  private Applied apply(TopicRow row, Append request) throws SQLException {
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
      if (job instanceof Append a) {
        a.done.completeExceptionally(e);
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
