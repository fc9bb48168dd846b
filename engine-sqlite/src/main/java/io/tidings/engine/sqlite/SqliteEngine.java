package io.tidings.engine.sqlite;

import io.tidings.core.AppendListener;
import io.tidings.core.AppendListeners;
import io.tidings.core.AppendResult;
import io.tidings.core.DedupeWindow;
import io.tidings.core.Engine;
import io.tidings.core.EngineUnavailableException;
import io.tidings.core.StoreProbe;
import io.tidings.core.NewEvent;
import io.tidings.core.ReadResult;
import io.tidings.core.Records;
import io.tidings.core.RetentionPolicy;
import io.tidings.core.StatePage;
import io.tidings.core.TopicHead;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded durable engine: one SQLite database ({@code <dir>/tidings.db}) in WAL mode.
 *
 * <ul>
 *   <li>Appends and record writes go to a single writer thread that commits whatever queued up
 *       meanwhile in one fsync'd transaction (group commit); a stage completes only after its
 *       commit.
 *   <li>Reads, records included, run on a small pool of reader threads, each read in one snapshot.
 *   <li>Topic heads are kept in memory, so {@link #head} and {@link #topics} never touch the disk.
 *   <li>Retention and the dedupe window are applied in the background, in small transactions
 *       interleaved with appends.
 * </ul>
 *
 * <p>The store's epoch is created with the database and kept across restarts; a wiped data
 * directory gets a new one, so cursors into the lost history are detected.
 */
public final class SqliteEngine implements Engine {
  private static final Logger LOG = LoggerFactory.getLogger(SqliteEngine.class);
  private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(60);

  private enum State { NEW, STARTING, RUNNING, FAILED, CLOSED }

  private final Database db;
  private final SqliteOptions options;
  private final RetentionPolicy retention;
  private final AppendListeners listeners = new AppendListeners();
  private final Heads heads = new Heads();
  private final LogWriter writer;
  private final Trimmer trimmer;
  private final SqliteRecords records = new SqliteRecords(this);

  // Guarded by "this"; volatile so that the hot paths can check it without the lock.
  private volatile State state = State.NEW;
  private volatile String epoch;
  private CompletionStage<Void> started;
  private volatile ReaderPool readers;
  private ScheduledExecutorService scheduler;

  /**
   * @param dir the data directory, created when missing
   * @param options queue and pool sizes
   * @param retention what history to keep
   * @param dedupe how long idempotency ids are remembered
   * @param clock the source of event times and retention ages
   */
  public SqliteEngine(Path dir, SqliteOptions options, RetentionPolicy retention, DedupeWindow dedupe,
      Clock clock) {
    this.db = new Database(Objects.requireNonNull(dir, "dir"));
    this.options = Objects.requireNonNull(options, "options");
    this.retention = Objects.requireNonNull(retention, "retention");
    Objects.requireNonNull(dedupe, "dedupe");
    Objects.requireNonNull(clock, "clock");
    this.writer = new LogWriter(db, options, clock, listeners, heads);
    this.trimmer = new Trimmer(writer, retention, dedupe, clock);
  }

  /** The epoch of the store's history; {@code null} until {@link #start()} has completed. */
  public String epoch() {
    return epoch;
  }

  @Override
  public void probe(StoreProbe probe) {
    writer.probe(probe);
  }

  /**
   * How many write transactions (appends and record writes) were committed since start; each may
   * hold many requests.
   */
  public long commits() {
    return writer.commits();
  }

  /**
   * Opens (or creates) the database on the writer thread and starts the readers and the
   * background retention. Fails, for example, when the directory cannot be created or written.
   */
  @Override
  public synchronized CompletionStage<Void> start() {
    if (started != null) {
      return started;
    }
    if (state == State.CLOSED) {
      return CompletableFuture.failedFuture(new EngineUnavailableException("engine is closed"));
    }
    state = State.STARTING;
    CompletableFuture<Void> ready = new CompletableFuture<>();
    // The state changes before the stage completes, so a caller reacting to it sees the new state.
    writer.start().whenComplete((storeEpoch, error) -> {
      if (error == null) {
        error = opened(storeEpoch);
      }
      if (error == null) {
        ready.complete(null);
      } else {
        synchronized (this) {
          if (state == State.STARTING) {
            state = State.FAILED;
          }
        }
        ready.completeExceptionally(error);
      }
    });
    // A copy: callers completing what they were given cannot change the engine's own state.
    started = ready.copy();
    return started;
  }

  // Runs once the database is open (usually on the writer thread, before it takes any work).
  private synchronized Throwable opened(String storeEpoch) {
    if (state != State.STARTING) {
      return new EngineUnavailableException("engine was closed while starting");
    }
    epoch = storeEpoch;
    readers = new ReaderPool(db, storeEpoch, options.readers(), options.readQueue());
    scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "tidings-sqlite-retention");
      t.setDaemon(true);
      return t;
    });
    // Runs even without retention rules: the dedupe window needs pruning too.
    long every = retention.interval().toMillis();
    scheduler.scheduleWithFixedDelay(this::backgroundPass, every, every, TimeUnit.MILLISECONDS);
    state = State.RUNNING;
    return null;
  }

  private void backgroundPass() {
    try {
      trimmer.pass(heads.names()).get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException e) {
      if (state == State.RUNNING) {
        LOG.warn("retention pass failed", e.getCause());
      }
    }
  }

  /**
   * Runs one retention pass now (retention rules and the dedupe window) and completes when it is
   * done; appends keep flowing in between its steps.
   */
  public CompletionStage<Void> trimNow() {
    CompletionStage<Void> refused = refuse();
    return refused != null ? refused : trimmer.pass(heads.names());
  }

  @Override
  public CompletionStage<AppendResult> append(String topic, List<NewEvent> events) {
    Objects.requireNonNull(topic, "topic");
    CompletionStage<AppendResult> refused = refuse();
    // Copied so that a caller reusing its list cannot change a queued request.
    return refused != null ? refused : writer.append(topic, List.copyOf(events));
  }

  @Override
  public CompletionStage<ReadResult> read(String topic, long afterOffset, int limit) {
    Objects.requireNonNull(topic, "topic");
    CompletionStage<ReadResult> refused = refuse();
    return refused != null ? refused : readers.submit("read", c -> c.read(topic, afterOffset, limit));
  }

  @Override
  public CompletionStage<StatePage> state(String topic, String afterKey, int limit) {
    Objects.requireNonNull(topic, "topic");
    CompletionStage<StatePage> refused = refuse();
    return refused != null ? refused : readers.submit("state read", c -> c.state(topic, afterKey, limit));
  }

  /** The committed head from memory: no I/O, and no allocation for a known topic. */
  @Override
  public CompletionStage<TopicHead> head(String topic) {
    CompletionStage<TopicHead> refused = refuse();
    if (refused != null) {
      return refused;
    }
    CompletionStage<TopicHead> known = heads.stage(topic);
    return known != null ? known : CompletableFuture.completedFuture(TopicHead.empty(topic, epoch));
  }

  @Override
  public CompletionStage<List<TopicHead>> topics(String prefix, String after, int limit) {
    CompletionStage<List<TopicHead>> refused = refuse();
    return refused != null ? refused : CompletableFuture.completedFuture(heads.list(prefix, after, limit));
  }

  /**
   * The {@code records} table of this database. Writes join the appends' group commit and queue
   * bound; reads use the reader pool.
   */
  @Override
  public Records records() {
    return records;
  }

  /**
   * Completes once a reader has queried the database and the writer is alive, and, after a write
   * failed because the store was unavailable, once the writer can take the write lock again.
   */
  @Override
  public CompletionStage<Void> ping() {
    CompletionStage<Void> refused = refuse();
    if (refused != null) {
      return refused;
    }
    if (!writer.isAlive()) {
      return CompletableFuture.failedFuture(new EngineUnavailableException("the writer has stopped"));
    }
    CompletionStage<Void> read = readers.submit("ping", c -> {
      c.ping();
      return null;
    });
    return read.thenCompose(v -> writer.failing() ? writer.probeWriteLock() : CompletableFuture.completedFuture(null));
  }

  @Override
  public AutoCloseable observe(AppendListener listener) {
    return listeners.add(listener);
  }

  /**
   * Stops accepting work, lets queued appends commit and queued reads finish, then closes the
   * database. Blocks until that is done (or a minute passed); calling it again does nothing.
   */
  @Override
  public void close() {
    ScheduledExecutorService stopScheduler;
    ReaderPool stopReaders;
    synchronized (this) {
      if (state == State.CLOSED) {
        return;
      }
      state = State.CLOSED;
      stopScheduler = scheduler;
      stopReaders = readers;
    }
    if (stopScheduler != null) {
      stopScheduler.shutdownNow();
    }
    try {
      // Queued reads finish while queued appends keep committing; then the writer drains its
      // queue. Closing the last connection checkpoints the WAL into the database file.
      if (stopReaders != null) {
        stopReaders.close(CLOSE_TIMEOUT);
      }
      writer.stop();
      if (!writer.join(CLOSE_TIMEOUT)) {
        LOG.warn("the SQLite writer did not finish within {}", CLOSE_TIMEOUT);
      }
    } catch (InterruptedException e) {
      writer.stop();
      Thread.currentThread().interrupt();
    }
  }

  // ---- for SqliteRecords ----

  /** The writer; queue on it only after {@link #refuse} said the engine runs. */
  LogWriter writer() {
    return writer;
  }

  /** The reader pool; set once the engine runs, so ask {@link #refuse} first. */
  ReaderPool readers() {
    return readers;
  }

  /** A failed stage when the engine is not running, else {@code null}. */
  <T> CompletionStage<T> refuse() {
    State s = state;
    if (s == State.RUNNING) {
      return null;
    }
    String why = switch (s) {
      case NEW, STARTING -> "engine is not started";
      case FAILED -> "engine failed to start";
      default -> "engine is closed";
    };
    return CompletableFuture.failedFuture(new EngineUnavailableException(why));
  }
}
