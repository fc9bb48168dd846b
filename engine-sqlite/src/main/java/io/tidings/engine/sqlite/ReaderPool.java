package io.tidings.engine.sqlite;

import io.tidings.core.EngineUnavailableException;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A fixed set of threads, each with its own read connection, serving reads from a bounded queue.
 * SQLite connections are not meant to be shared between threads, and in WAL mode any number of
 * readers run beside the writer.
 */
final class ReaderPool {
  private static final Logger LOG = LoggerFactory.getLogger(ReaderPool.class);

  /** A read, run with the calling thread's connection. */
  @FunctionalInterface
  interface Read<T> {
    T run(ReadConnection connection) throws SQLException;
  }

  private final Database db;
  private final String epoch;
  private final ThreadPoolExecutor executor;
  private final List<ReadConnection> opened = new CopyOnWriteArrayList<>();

  ReaderPool(Database db, String epoch, int threads, int queue) {
    this.db = db;
    this.epoch = epoch;
    AtomicInteger n = new AtomicInteger();
    this.executor = new ThreadPoolExecutor(threads, threads, 0, TimeUnit.MILLISECONDS,
        new ArrayBlockingQueue<>(queue), r -> {
          Thread t = new ReaderThread(r, "tidings-sqlite-reader-" + n.incrementAndGet());
          t.setDaemon(true);
          return t;
        }, new ThreadPoolExecutor.AbortPolicy());
  }

  private final class ReaderThread extends Thread {
    private ReadConnection connection;

    ReaderThread(Runnable r, String name) {
      super(r, name);
    }

    // Opened on first use, on this thread; a failed open is retried by the next read.
    ReadConnection connection() throws SQLException {
      if (connection == null) {
        connection = new ReadConnection(db.openReader(), epoch);
        opened.add(connection);
      }
      return connection;
    }
  }

  /** Queues a read; fails at once when the queue is full or the pool is closed. */
  <T> CompletableFuture<T> submit(String what, Read<T> read) {
    CompletableFuture<T> done = new CompletableFuture<>();
    try {
      executor.execute(() -> run(what, read, done));
    } catch (RejectedExecutionException e) {
      done.completeExceptionally(new EngineUnavailableException(
          executor.isShutdown() ? "engine is closed" : "store is overloaded"));
    }
    return done;
  }

  private static <T> void run(String what, Read<T> read, CompletableFuture<T> done) {
    try {
      done.complete(read.run(((ReaderThread) Thread.currentThread()).connection()));
    } catch (Throwable t) {
      done.completeExceptionally(SqlErrors.wrap(what + " failed", t));
    }
  }

  /** Finishes queued reads, then closes the connections. */
  void close(Duration timeout) throws InterruptedException {
    executor.shutdown();
    if (!executor.awaitTermination(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      LOG.warn("SQLite readers did not finish within {}", timeout);
      executor.shutdownNow();
    }
    for (ReadConnection c : opened) {
      c.close();
    }
    opened.clear();
  }
}
