package io.tidings.engine.sqlite;

/**
 * Tuning for {@link SqliteEngine}.
 *
 * @param writerQueue append requests and record write units that may wait for the writer; beyond
 *     that they fail fast with {@link io.tidings.core.EngineUnavailableException}
 * @param maxBatchEvents most events committed in one group-commit transaction (a single larger
 *     request still goes through, alone)
 * @param readers threads (each with its own connection) serving reads
 * @param readQueue reads that may wait for a reader thread; beyond that reads fail fast
 */
public record SqliteOptions(int writerQueue, int maxBatchEvents, int readers, int readQueue) {
  /** 10,000 queued appends, 8,192 events per transaction, 4 readers, 10,000 queued reads. */
  public static final SqliteOptions DEFAULTS = new SqliteOptions(10_000, 8192, 4, 10_000);

  public SqliteOptions {
    if (writerQueue < 1 || maxBatchEvents < 1 || readers < 1 || readQueue < 1) {
      throw new IllegalArgumentException("sqlite options must all be positive");
    }
  }
}
