package io.tidings.core;

import java.util.List;
import java.util.concurrent.CompletionStage;

/**
 * Where topic logs live. Every operation is asynchronous so that a networked store fits as well
 * as an embedded one: implementations never block the calling thread on I/O, and complete their
 * stages on their own threads (callers hop back to their event loop).
 *
 * <p>Failures complete the stage exceptionally: {@link EngineUnavailableException} when the store
 * cannot be reached or is overloaded (retry later), {@link EngineException} otherwise.
 */
public interface Engine extends AutoCloseable {

  /**
   * Reads stop early once the {@code data} they return reaches this many characters (about 4 MiB),
   * always returning at least one item, so a page stays bounded whatever the event sizes.
   */
  int READ_BUDGET_CHARS = 4 << 20;

  /** Opens the store; completes when the engine accepts requests. */
  CompletionStage<Void> start();

  /**
   * Appends events to a topic as one atomic, durable unit. Events whose id is already in the
   * topic's dedupe window are reported as duplicates and not appended. {@code put} and
   * {@code delete} events update the topic state in the same unit. The stage completes only
   * once the append is durable, and listeners are told before it completes.
   */
  CompletionStage<AppendResult> append(String topic, List<NewEvent> events);

  /**
   * Reads up to {@code limit} events with offsets greater than {@code afterOffset} (fewer once
   * their data reaches {@link #READ_BUDGET_CHARS}), together with the head seen in the same snapshot. The first event returned may be later than
   * {@code afterOffset + 1} when retention removed the ones between; callers compare with
   * {@link TopicHead#firstOffset()}.
   */
  CompletionStage<ReadResult> read(String topic, long afterOffset, int limit);

  /**
   * Reads up to {@code limit} state entries with keys after {@code afterKey} (null: from the start),
   * fewer once their data reaches {@link #READ_BUDGET_CHARS}; {@code nextKey} says where to go on.
   */
  CompletionStage<StatePage> state(String topic, String afterKey, int limit);

  /** The current head of a topic; an unknown topic has an empty head. */
  CompletionStage<TopicHead> head(String topic);

  /**
   * Heads of known topics whose names start with {@code prefix} and sort after {@code after}
   * (null: from the start), sorted by name, at most {@code limit}.
   */
  CompletionStage<List<TopicHead>> topics(String prefix, String after, int limit);

  /**
   * The store's durable documents, kept with the logs (and lost with them): what server-initiated
   * deliveries remember across restarts.
   */
  Records records();

  /** Completes when the store is reachable; fails otherwise. Used by readiness checks. */
  CompletionStage<Void> ping();

  /**
   * Registers a listener for appends made through any node sharing this store. The new head is
   * visible through {@link #head} before listeners are told, and each topic's appends reach a
   * listener in offset order.
   *
   * @return a handle whose {@code close()} unregisters it
   */
  AutoCloseable observe(AppendListener listener);

  /**
   * Installs a probe of the write path (append latency, commit sizes). Call before {@link #start};
   * an engine with nothing to measure ignores it.
   */
  default void probe(StoreProbe probe) {}

  /** Stops accepting work, finishes what is in flight, and releases the store. */
  @Override
  void close();
}
