package io.tidings.engine.sqlite;

import io.tidings.core.TopicHead;
import java.util.ArrayList;
import java.util.List;
import java.util.NavigableSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListSet;

/**
 * The topic heads as last committed, published by the writer and read by anyone without touching
 * the database. Head lookups answer every conditional poll, so each head is stored together with
 * a ready-made completed stage and a lookup allocates nothing.
 */
final class Heads {
  private record Published(TopicHead head, CompletionStage<TopicHead> stage) {}

  private final ConcurrentHashMap<String, Published> byName = new ConcurrentHashMap<>();
  // Names only, for sorted listing; topics are never removed.
  private final ConcurrentSkipListSet<String> names = new ConcurrentSkipListSet<>();

  /** Publishes a head. Called by the writer thread only, after the change is committed. */
  void publish(TopicHead head) {
    // A plain completed future (a minimal stage throws on isDone/join, which callers may use);
    // completing it again is a no-op, so sharing it is safe short of obtrudeValue.
    byName.put(head.topic(), new Published(head, CompletableFuture.completedFuture(head)));
    // After the head, so that a listing never meets a name without a head.
    names.add(head.topic());
  }

  /** The head of {@code topic}, or {@code null} when the topic is unknown. */
  TopicHead get(String topic) {
    Published p = byName.get(topic);
    return p == null ? null : p.head();
  }

  /** A completed stage holding the head of {@code topic}, or {@code null} when unknown. */
  CompletionStage<TopicHead> stage(String topic) {
    Published p = byName.get(topic);
    return p == null ? null : p.stage();
  }

  /** All known topic names, sorted. */
  List<String> names() {
    return new ArrayList<>(names);
  }

  /** Heads of topics starting with {@code prefix} and sorting after {@code after}, by name. */
  List<TopicHead> list(String prefix, String after, int limit) {
    List<TopicHead> out = new ArrayList<>();
    if (limit <= 0) {
      return out;
    }
    String from = prefix == null ? "" : prefix;
    NavigableSet<String> view = after != null && after.compareTo(from) >= 0
        ? names.tailSet(after, false)
        : names.tailSet(from, true);
    for (String name : view) {
      // Names sharing a prefix are contiguous in sort order: the first miss ends the range.
      if (out.size() >= limit || (prefix != null && !name.startsWith(prefix))) {
        break;
      }
      Published p = byName.get(name);
      if (p != null) {
        out.add(p.head());
      }
    }
    return out;
  }
}
