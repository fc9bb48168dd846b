package io.tidings.engine.sqlite;

import io.tidings.core.Record;
import io.tidings.core.RecordWrite;
import io.tidings.core.Records;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * {@link Records} in the engine's database ({@code records} table). A write unit goes to the
 * writer thread and shares its group commit, its queue bound and its failure handling with the
 * appends: the stage completes once the transaction holding it committed. Reads run on the reader
 * pool. A stopped or unstarted engine refuses both, as it refuses appends and reads.
 */
final class SqliteRecords implements Records {
  private final SqliteEngine engine;

  SqliteRecords(SqliteEngine engine) {
    this.engine = engine;
  }

  @Override
  public CompletionStage<String> get(String space, String id) {
    Objects.requireNonNull(space, "space");
    Objects.requireNonNull(id, "id");
    CompletionStage<String> refused = engine.refuse();
    return refused != null ? refused : engine.readers().submit("record read", c -> c.record(space, id));
  }

  @Override
  public CompletionStage<List<Record>> list(String space, String afterId, int limit) {
    Objects.requireNonNull(space, "space");
    CompletionStage<List<Record>> refused = engine.refuse();
    return refused != null ? refused : engine.readers().submit("records list", c -> c.records(space, afterId, limit));
  }

  @Override
  public CompletionStage<Void> write(List<RecordWrite> writes) {
    // Copied so that a caller reusing its list cannot change a queued unit.
    List<RecordWrite> unit = List.copyOf(writes);
    CompletionStage<Void> refused = engine.refuse();
    if (refused != null) {
      return refused;
    }
    // Checked before queueing, so an invalid unit never reaches the database at all.
    for (RecordWrite w : unit) {
      if (w.space().length() > MAX_NAME_LENGTH || (w.id() != null && w.id().length() > MAX_NAME_LENGTH)) {
        return CompletableFuture.failedFuture(new IllegalArgumentException(
            "record space and id are limited to " + MAX_NAME_LENGTH + " characters"));
      }
    }
    return engine.writer().writeRecords(unit);
  }
}
