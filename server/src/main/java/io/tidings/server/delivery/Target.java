package io.tidings.server.delivery;

import io.vertx.core.Future;

/**
 * Somewhere the {@link Dispatcher} delivers topic events to on its own initiative: a webhook
 * endpoint or a Web Push subscription. Implementations are immutable snapshots of their
 * definition; a changed definition is a new target with the same id.
 */
public interface Target {

  /** Unique among all targets of the dispatcher. */
  String id();

  /** The prefix of the record spaces that hold this target's delivery state. */
  String space();

  /** False while disabled: nothing is sent, the cursor and a pending message are kept. */
  boolean enabled();

  /** Whether events of {@code topic} go to this target (its patterns and its owner's grants). */
  boolean wants(String topic);

  /** Topic-name prefixes that cover every topic it may want ("" for all), to find them in the store. */
  java.util.List<String> prefixes();

  /** Most events per message. */
  int maxEvents();

  /** Most bytes of event JSON per message (roughly). */
  long maxBytes();

  /** How long to wait for a message to fill up to {@link #maxEvents} before sending what there is. */
  long maxWaitMillis();

  /** Whether a reset is followed by the topic's state as {@code put} items. */
  boolean sendsState();

  /** Messages per second at most; 0 for no limit. */
  double rateLimit();

  /** Sends one attempt of {@code batch}. The future never fails: failures are outcomes. */
  Future<Outcome> send(Batch batch);
}
