package io.tidings.server.delivery;

/**
 * What became of one attempt.
 *
 * @param kind how the dispatcher goes on
 * @param status the HTTP status answered, or 0 when there was no answer
 * @param latencyNanos from sending to the answer (or the failure)
 * @param retryAfterMillis a delay the target asked for, or -1
 * @param detail the start of the response body, or what went wrong
 */
public record Outcome(Kind kind, int status, long latencyNanos, long retryAfterMillis, String detail) {

  /** How the dispatcher goes on after an attempt. */
  public enum Kind {
    /** Delivered: move the cursor past the batch. */
    DELIVERED,
    /** Not delivered: try again on the retry schedule. */
    RETRY,
    /** The target is gone for good (410; 404 for a push subscription): stop delivering to it. */
    GONE,
    /** The payload was too large for the target: send the same batch again without data, at once. */
    NOTIFY_ONLY
  }

  /** A failure before any answer: refused target, connection error, timeout. */
  public static Outcome failed(long latencyNanos, String detail) {
    return new Outcome(Kind.RETRY, 0, latencyNanos, -1, detail);
  }
}
