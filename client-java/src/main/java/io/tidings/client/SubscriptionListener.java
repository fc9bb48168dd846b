package io.tidings.client;

/**
 * Receives what a {@link Subscription} delivers. All methods are called on the subscription's own
 * thread, one at a time, in order; a slow listener slows the subscription down (it reads nothing
 * more meanwhile) rather than piling events up in memory. A listener may call
 * {@link Subscription#close()}.
 *
 * <p>Exceptions thrown by a listener are caught and ignored, so that one bad event cannot end the
 * subscription.
 */
@FunctionalInterface
public interface SubscriptionListener {
  /**
   * One event, in offset order per topic, each offset once (a reconnect or a transport switch
   * never repeats or skips one). After {@link #onReset(Reset)} the topic's state arrives as
   * {@code put} events whose offsets are those of the events that last set each key (so not in
   * order), then live events continue.
   */
  void onEvent(Event event);

  /**
   * The topic could not be resumed from its cursor: clear what you keep of it; its current state
   * follows as {@code put} events.
   */
  default void onReset(Reset reset) {
  }

  /**
   * The subscription's status changed.
   *
   * @param status the new status
   * @param transport the transport delivering (for {@link Subscription.Status#LIVE}) or the one
   *     that was lost; null when none
   * @param reason why the previous connection ended or was replaced, or null
   */
  default void onStatus(Subscription.Status status, Transport transport, String reason) {
  }

  /**
   * An error that ended the subscription: credentials refused ({@code status()} 401/403, or code
   * {@code unauthorized} after a WebSocket close 1008), an invalid topic or cursor. The status is
   * {@link Subscription.Status#CLOSED} when this is called. Transient failures (network, server
   * restarts, 429/503) never come here: the subscription retries them itself.
   */
  default void onError(TidingsException error) {
  }
}
