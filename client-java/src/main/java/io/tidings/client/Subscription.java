package io.tidings.client;

import java.util.Map;

/**
 * A live subscription to one or more topics, from {@link TidingsClient#subscribe}. It connects
 * with the first transport of {@link SubscribeOptions#transports()} that works, reconnects with
 * backoff after failures, resumes every topic from the last event it delivered, and moves back to
 * a better transport when one becomes available. Close it when done.
 */
public interface Subscription extends AutoCloseable {
  /** The topics, in the order given. */
  java.util.List<String> topics();

  /**
   * Where each topic would resume now: the cursor of the last delivered event, or the starting
   * position ({@code earliest}, {@code now}, or a cursor) while nothing was delivered. Pass it to a
   * later {@link TidingsClient#subscribe(Map, SubscribeOptions, SubscriptionListener)} to continue.
   */
  Map<String, String> cursors();

  /** {@link #cursors()} of one topic, or null when it is not one of this subscription's. */
  String cursor(String topic);

  /** The transport delivering now, or null while connecting or after closing. */
  Transport transport();

  /** The current status. */
  Status status();

  /** The error that ended the subscription (see {@link SubscriptionListener#onError}), or null. */
  TidingsException failure();

  /**
   * Stops the subscription: connections are closed, pending requests cancelled and the
   * subscription's thread ends. Returns once that thread has finished (unless called from a
   * listener, on that thread). Idempotent.
   */
  @Override
  void close();

  /** Where a subscription stands. */
  enum Status {
    /** Connecting for the first time. */
    CONNECTING,
    /** A transport is delivering. */
    LIVE,
    /** The connection was lost; trying again (after a backoff delay). */
    RECONNECTING,
    /** Closed by {@link #close()} or ended by an error ({@link #failure()}). */
    CLOSED
  }
}
