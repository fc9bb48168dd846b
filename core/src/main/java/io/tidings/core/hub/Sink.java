package io.tidings.core.hub;

import io.tidings.core.Cursor;
import io.tidings.core.StateEntry;
import java.util.List;

/**
 * Where the messages of a connection's {@link Feed}s go: implemented by each push transport.
 * Every method is called on the event loop that owns the connection.
 *
 * <p>A sink bounds what it buffers. Live events are always handed over ({@link #events}); a sink
 * that cannot take them any more closes its connection with its transport's resumable signal, so the
 * client comes back from its last cursor. Catch-up from history is paced by {@link #writable()}.
 */
public interface Sink {

  /** The feed starts at {@code start}; replayed and live events follow. */
  void subscribed(Feed feed, Cursor start);

  /**
   * Events {@code batch.events()[from..]} of the feed's topic, next in order. {@link Feed#cursor()}
   * still names the position before them while this runs.
   */
  void events(Feed feed, EventBatch batch, int from);

  /**
   * The feed's cursor can no longer be resumed from (its events were trimmed, or it belongs to
   * another history). The topic's state follows as {@link #state} pages unless {@code stateFollows}
   * is false; live events continue after {@code continueAt}.
   */
  void reset(Feed feed, Cursor continueAt, String reason, boolean stateFollows);

  /**
   * A page of the topic's state after a {@link #reset}, to be delivered as {@code put} events.
   *
   * @param previous the cursor the client had before the reset: resuming from it resets again
   * @param continueAt on the last page, the cursor the feed continues from; {@code null} before it
   */
  void state(Feed feed, List<StateEntry> entries, Cursor previous, Cursor continueAt);

  /** The feed could not start (for instance, its cursor is past the head); it is closed. */
  void failed(Feed feed, String code, String message);

  /** Whether the connection can take more right now; catch-up waits while it cannot. */
  boolean writable();

  /** Runs {@code task} on the event loop once the connection is writable again (or now, if it is). */
  void whenWritable(Runnable task);
}
