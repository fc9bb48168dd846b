package io.tidings.core;

import java.util.List;
import java.util.concurrent.CompletionStage;

/**
 * Small durable documents kept beside the topic logs: the state of server-initiated deliveries
 * (webhook endpoints and their cursors, Web Push subscriptions, key material). Documents are
 * grouped in named spaces and ordered by id inside a space.
 *
 * <p>Asynchronous for the same reason as {@link Engine}: a networked store fits as well as an
 * embedded one. Stages complete on the store's threads; failures complete them exceptionally
 * with {@link EngineUnavailableException} (retry later) or {@link EngineException}.
 */
public interface Records {
  /** Longest space or id accepted, in characters. */
  int MAX_NAME_LENGTH = 512;

  /** The document {@code id} of {@code space}, or {@code null} when there is none. */
  CompletionStage<String> get(String space, String id);

  /**
   * Up to {@code limit} documents of {@code space} with ids after {@code afterId} (null: from the
   * first), in id order.
   */
  CompletionStage<List<Record>> list(String space, String afterId, int limit);

  /**
   * Applies {@code writes} in order as one atomic, durable unit: the stage completes only once
   * all of them would survive a crash, and a failure applies none.
   */
  CompletionStage<Void> write(List<RecordWrite> writes);
}
