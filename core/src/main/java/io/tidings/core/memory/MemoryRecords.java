package io.tidings.core.memory;

import io.tidings.core.EngineUnavailableException;
import io.tidings.core.KeyOrder;
import io.tidings.core.Record;
import io.tidings.core.RecordWrite;
import io.tidings.core.Records;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.BooleanSupplier;

/** {@link Records} held in memory: what {@link MemoryEngine} offers, gone on restart. */
final class MemoryRecords implements Records {
  // One lock for all: writes are small and rare next to appends, and a unit must be atomic.
  private final Map<String, NavigableMap<String, String>> spaces = new TreeMap<>();
  private final BooleanSupplier closed;

  /** @param closed whether the engine is closed, which refuses writes as it refuses appends */
  MemoryRecords(BooleanSupplier closed) {
    this.closed = closed;
  }

  @Override
  public synchronized CompletionStage<String> get(String space, String id) {
    NavigableMap<String, String> docs = spaces.get(space);
    return CompletableFuture.completedFuture(docs == null ? null : docs.get(id));
  }

  @Override
  public synchronized CompletionStage<List<Record>> list(String space, String afterId, int limit) {
    List<Record> out = new ArrayList<>();
    NavigableMap<String, String> docs = spaces.get(space);
    if (docs != null && limit > 0) {
      for (Map.Entry<String, String> e : (afterId == null ? docs : docs.tailMap(afterId, false)).entrySet()) {
        out.add(new Record(space, e.getKey(), e.getValue()));
        if (out.size() == limit) {
          break;
        }
      }
    }
    return CompletableFuture.completedFuture(out);
  }

  @Override
  public synchronized CompletionStage<Void> write(List<RecordWrite> writes) {
    if (closed.getAsBoolean()) {
      return CompletableFuture.failedFuture(new EngineUnavailableException("engine is closed"));
    }
    for (RecordWrite w : writes) {
      if (w.space().length() > MAX_NAME_LENGTH || (w.id() != null && w.id().length() > MAX_NAME_LENGTH)) {
        return CompletableFuture.failedFuture(new IllegalArgumentException("space or id is too long"));
      }
    }
    for (RecordWrite w : writes) {
      if (w.id() == null) {
        spaces.remove(w.space());
      } else if (w.value() == null) {
        NavigableMap<String, String> docs = spaces.get(w.space());
        if (docs != null) {
          docs.remove(w.id());
          if (docs.isEmpty()) {
            spaces.remove(w.space());
          }
        }
      } else {
        // Code point order, as a SQL store's BINARY collation sorts: ids page alike on every engine.
        spaces.computeIfAbsent(w.space(), s -> new TreeMap<>(KeyOrder.CODE_POINT)).put(w.id(), w.value());
      }
    }
    return CompletableFuture.completedFuture(null);
  }
}
